"""Checks of data arrays, shared by every function that takes data (private)."""

from __future__ import annotations

import numpy as np


def _check_data(x, name: str = "x") -> np.ndarray:
    """`x` as a numpy array of float32 or float64 (others converted), not yet checked
    for finiteness (the first data pass does that)."""
    if isinstance(x, np.ndarray):
        xa = x
    else:
        try:
            xa = np.asarray(x)
        except Exception as exc:  # pragma: no cover - exotic objects
            raise TypeError(f"{name} must be array-like: {exc}") from None
    if xa.dtype == object or xa.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {xa.dtype}")
    if xa.size == 0:
        raise ValueError(f"{name} is empty: the empirical error needs at least one value")
    if xa.dtype not in (np.float32, np.float64):
        xa = xa.astype(np.float64)
    return xa


def _nonfinite_error(xa: np.ndarray, name: str = "x") -> ValueError:
    bad = ~np.isfinite(xa)
    count = int(bad.sum())
    first = np.unravel_index(int(np.argmax(bad)), xa.shape) if xa.ndim else ()
    first = tuple(int(i) for i in first)
    where = first[0] if len(first) == 1 else first
    return ValueError(
        f"{name} contains {count} non-finite value(s) (NaN or inf); the first is at "
        f"index {where}"
    )


def _check_finite(xa: np.ndarray, name: str = "x") -> None:
    if not np.isfinite(xa).all():
        raise _nonfinite_error(xa, name)


def _channels(xa: np.ndarray, axis) -> np.ndarray:
    """(channels, elements) view/copy with the channel axis first."""
    if xa.ndim == 0:
        raise ValueError("axis= needs an array with at least one dimension")
    try:
        from numpy.lib.array_utils import normalize_axis_index
    except ImportError:  # pragma: no cover - numpy < 2
        from numpy.core.multiarray import normalize_axis_index  # type: ignore
    ax = int(normalize_axis_index(axis, xa.ndim))
    return np.moveaxis(xa, ax, 0).reshape(xa.shape[ax], -1)


def _groups(xa: np.ndarray, group_size) -> np.ndarray:
    """(groups, group_size) rows: consecutive elements along the last axis."""
    if isinstance(group_size, bool) or not isinstance(group_size, (int, np.integer)):
        raise TypeError(f"group_size must be a positive integer, got {group_size!r}")
    g = int(group_size)
    if xa.ndim == 0:
        raise ValueError("group_size= needs an array with at least one dimension")
    if g < 1 or xa.shape[-1] % g:
        raise ValueError(f"group_size must be a positive divisor of the last axis "
                         f"(length {xa.shape[-1]}), got {g}")
    return xa.reshape(-1, g)


def _scalar_bits(bits, fmt) -> int:
    b = fmt.check_bits(bits)
    if b.ndim != 0:
        raise ValueError(f"bits must be a single integer here, got {bits!r}")
    return int(b)


def _exact_parts_rows(rows: np.ndarray, alpha: np.ndarray, bits: int, fmt):
    """Exact (truncation, rounding) per row at per-row alpha > 0, point by point."""
    xf = rows.astype(np.float64)
    al = np.asarray(alpha, dtype=np.float64)[:, None]
    b = np.int64(bits)
    geo = fmt.geometry(al, b)
    with np.errstate(over="ignore", invalid="ignore"):  # x / step may overflow
        q = fmt.quantize(*np.broadcast_arrays(xf, al, b))
    err = (xf - q) ** 2
    out = (xf < geo.lo) | (xf > geo.hi)
    N = xf.shape[1]
    return (np.where(out, err, 0.0).sum(axis=1) / N,
            np.where(out, 0.0, err).sum(axis=1) / N)


def _exact_parts(xf: np.ndarray, alpha: float, bits: int, fmt):
    t, r = _exact_parts_rows(np.ravel(xf)[None, :], np.array([alpha]), bits, fmt)
    return float(t[0]), float(r[0])
