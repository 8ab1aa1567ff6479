r"""Other tools' clipping rules on data, each with its exact empirical error.

max-abs (:func:`maxabs_alpha`), ACIQ's moment fits (:func:`fit_alpha`) and OCTAV's
fixed-point iteration (:func:`octav_alpha`) are the choices other quantization tools
make; :func:`compare_alphas` puts them beside the certified optimum of
:func:`qerror.data.solver.optimal_alpha_data`.  None of them is an optimum for the data;
their ``success`` field says so.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from .._result import OptimalAlpha
from ..formats import get_format
from ._checks import (
    _channels,
    _check_data,
    _check_finite,
    _exact_parts_rows,
    _groups,
    _scalar_bits,
)
from .solver import optimal_alpha_data

__all__ = ["maxabs_alpha", "fit_alpha", "octav_alpha", "compare_alphas"]


# ============================================================================ peers
def _route_result(xa, bits, fmt, alphas, method, message, extra=None, shape=None):
    """OptimalAlpha for a heuristic alpha per row of `xa` (2-d), with its exact
    empirical error; `shape`: the shape of the per-row fields (None: per tensor)."""
    alphas = np.asarray(alphas, dtype=np.float64).ravel()
    rows = xa.reshape(alphas.size, -1)
    t = np.empty(alphas.size)
    r = np.empty(alphas.size)
    per = max(1, (1 << 20) // rows.shape[1])  # rows per block: bounded temporaries
    for i in range(0, alphas.size, per):
        blk, al = rows[i:i + per], alphas[i:i + per]
        pos = al > 0
        if pos.all():
            t[i:i + per], r[i:i + per] = _exact_parts_rows(blk, al, bits, fmt)
            continue
        tt, rr = np.empty(al.size), np.zeros(al.size)
        if pos.any():
            tt[pos], rr[pos] = _exact_parts_rows(blk[pos], al[pos], bits, fmt)
        z = blk[~pos].astype(np.float64)  # all-zero data: every value's error is x^2
        tt[~pos] = np.einsum("ij,ij->i", z, z) / blk.shape[1]
        t[i:i + per], r[i:i + per] = tt, rr
    if shape is None:
        def conv(v):
            return float(v[0])
        success = False
    else:
        def conv(v):
            return v.reshape(shape)
        success = np.zeros(shape, bool)
    return OptimalAlpha(alpha=conv(alphas), mse=conv(t + r), truncation=conv(t),
                        rounding=conv(r), bits=bits, model="exact", grid=fmt.name,
                        success=success, message=message, nfev=0, method=method,
                        extra=extra or {})


def _rows(x, axis, group_size=None):
    """(rows, shape of the per-row fields or None per tensor)."""
    xa = _check_data(x)
    _check_finite(xa)
    if group_size is not None:
        if axis is not None:
            raise ValueError("give axis or group_size, not both (groups run along the "
                             "last axis)")
        rows = _groups(xa, group_size)
        return rows, xa.shape[:-1] + (xa.shape[-1] // int(group_size),)
    if axis is None:
        return xa.reshape(1, -1), None
    rows = _channels(xa, axis)
    return rows, (rows.shape[0],)


def maxabs_alpha(x: ArrayLike, bits=None, *, grid=None, axis=None,
                 group_size=None) -> OptimalAlpha:
    r"""The max-abs choice :math:`\alpha = \max_j |x_j|` (unsigned: :math:`\max_j x_j`),
    with its exact empirical error.  No clipping; the rounding step is the largest.

    Examples
    --------
    >>> from qerror.data.routes import maxabs_alpha
    >>> r = maxabs_alpha([-3.0, 0.5, 1.0], 4)
    >>> r.alpha, round(r.mse, 5)
    (3.0, 0.01432)
    """
    fmt = get_format(grid)
    b = _scalar_bits(bits, fmt)
    rows, shape = _rows(x, axis, group_size)
    if not fmt.signed:
        al = np.maximum(rows.max(axis=1), 0.0)
    else:
        al = np.abs(rows).max(axis=1)
    return _route_result(rows, b, fmt, al, "max-abs",
                         "max-abs: no clipping, not an optimum", shape=shape)


@lru_cache(maxsize=64)
def _unit_aciq_alpha(law: str, bits: int, fmt) -> float:
    r"""ACIQ-model optimum (Eq. 4) of the standard law, once per (law, bits, grid).

    The root of :math:`k\,m(\alpha) = 2c\alpha`, with :math:`c\alpha^2 = \Delta^2/12`,
    :math:`k` the number of clipped tails (2 signed, 1 unsigned) and
    :math:`m(\alpha) = 2\int_\alpha^\infty f(x)(x-\alpha)\,dx`: :math:`e^{-\alpha}` for
    the Laplace law (so :math:`\alpha = W(k/2c)`), :math:`2(\varphi(\alpha) -
    \alpha Q(\alpha))` for the normal one (bisection to the last bit).  The same
    optimum as ``qerror.optimal_alpha(stats.norm(), bits, model="aciq")``, without
    loading scipy.stats (``qerror analyze`` starts faster).
    """
    from scipy import special

    step = float(fmt.step(np.array([1.0]), np.array([bits]))[0])
    c = step * step / 12.0
    k = 2.0 if fmt.signed else 1.0
    if law == "laplace":
        return float(special.lambertw(k / (2.0 * c)).real)

    def h(a):  # k m(a) - 2 c a, decreasing; erfcx keeps the tail without underflow
        tail = np.exp(-0.5 * a * a) * (1.0 / np.sqrt(2.0 * np.pi)
                                       - 0.5 * a * special.erfcx(a / np.sqrt(2.0)))
        return 2.0 * k * tail - 2.0 * c * a

    lo, hi = 0.0, 1.0
    while h(hi) > 0.0:
        lo, hi = hi, 2.0 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if h(mid) > 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _fitted_scale(rows: np.ndarray, law: str) -> np.ndarray:
    if law == "norm":
        return np.sqrt(np.einsum("ij,ij->i", rows, rows, dtype=np.float64) / rows.shape[1])
    if law == "laplace":
        return np.abs(rows).sum(axis=1, dtype=np.float64) / rows.shape[1]
    raise ValueError(f"law must be 'norm' or 'laplace', got {law!r}")


def fit_alpha(x: ArrayLike, bits=None, *, law: str = "norm", grid=None,
              axis=None, group_size=None) -> OptimalAlpha:
    r"""ACIQ's moment-fit route: fit a zero-mean law to the data, clip at its optimum.

    The scale is fitted about zero, as the grid is symmetric about zero:
    :math:`\hat\sigma = \sqrt{\tfrac1N\sum x_j^2}` for ``law="norm"`` and
    :math:`\hat b = \tfrac1N\sum |x_j|` for ``law="laplace"``.  Alpha is the analytic
    optimum of the ACIQ model (Eq. 3-4) for the fitted law,
    ``qerror.optimal_alpha(law, bits, model="aciq", grid=grid).alpha``; for the
    Laplace law on the symmetric grids this is

    .. math::

        \alpha = \hat b\, W_0\!\left(12 r^2\right), \qquad r = \alpha / \Delta,

    (:math:`W_0(3\cdot 4^b)` on the midrise grid, ACIQ's constant), where :math:`W_0`
    is the Lambert W function.  The returned error is the exact empirical error of the
    data at that alpha, so the cost of the fit shows.

    Examples
    --------
    >>> import numpy as np
    >>> from qerror.data.routes import fit_alpha
    >>> x = np.random.default_rng(0).laplace(size=10_000)
    >>> r = fit_alpha(x, 4, law="laplace", grid="midrise")
    >>> round(float(r.alpha / np.abs(x).mean()), 2)   # ACIQ's 4-bit Laplace constant
    5.03
    """
    fmt = get_format(grid)
    b = _scalar_bits(bits, fmt)
    if law not in ("norm", "laplace"):
        raise ValueError(f"law must be 'norm' or 'laplace', got {law!r}")
    rows, shape = _rows(x, axis, group_size)
    scale = _fitted_scale(rows, law)
    # a zero-mean location-scale law: the ACIQ optimum is scale times that of scale 1
    alphas = scale * _unit_aciq_alpha(law, b, fmt)
    return _route_result(rows, b, fmt, alphas, f"fit-{law}+aciq",
                         f"moment fit ({law}, scale about zero) then the analytic ACIQ "
                         "optimum of the fitted law: not an optimum for the data",
                         {"scale": scale[0] if shape is None else scale.reshape(shape)},
                         shape=shape)


def octav_alpha(x: ArrayLike, bits=None, *, grid=None, iterations: int = 10,
                alpha0=None, axis=None, group_size=None) -> OptimalAlpha:
    r"""OCTAV's fixed-point iteration (Sakr et al., 2022) for the clipping boundary.

    .. math::

        \alpha_{n+1} = \frac{\sum_{|x_j| > \alpha_n} |x_j|}
                       {\kappa\, \#\{|x_j| \le \alpha_n\} + \#\{|x_j| > \alpha_n\}},
        \qquad \kappa = \frac{(\Delta/\alpha)^2}{12},

    a stationary point of the ACIQ-type error with the rounding noise
    :math:`\Delta^2/12` counted on the in-range values only
    (:math:`\kappa = 4^{-b}/3` on the midrise grid, OCTAV's constant).  The unsigned
    grid uses :math:`x_j \ge 0` only.  `alpha0` defaults to the root mean square of the
    data.  The returned error is the exact empirical error at the last iterate.

    Examples
    --------
    >>> import numpy as np
    >>> from qerror.data.routes import octav_alpha
    >>> x = np.random.default_rng(0).standard_t(4, size=10_000)
    >>> round(octav_alpha(x, 4).alpha, 2)
    6.0
    """
    fmt = get_format(grid)
    b = _scalar_bits(bits, fmt)
    if int(iterations) < 0:
        raise ValueError("iterations must be >= 0")
    rows, shape = _rows(x, axis, group_size)
    step = fmt.step(np.float64(1.0), np.int64(b))
    kappa = float(step * step) / 12.0
    alphas = np.empty(rows.shape[0])
    per = max(1, (1 << 20) // rows.shape[1])  # rows per block: bounded temporaries
    for i in range(0, rows.shape[0], per):
        alphas[i:i + per] = _octav_rows(rows[i:i + per], fmt.signed, kappa,
                                        int(iterations), alpha0, i)
    return _route_result(rows, b, fmt, alphas, f"octav-{int(iterations)}",
                         f"OCTAV fixed-point iteration, {int(iterations)} step(s): a "
                         "stationary point of an approximate error, not certified",
                         shape=shape)


def _octav_rows(rows, signed, kappa, iterations, alpha0, first):
    """OCTAV's iteration on every row of a block at once."""
    rf = rows.astype(np.float64)
    a = np.abs(rf) if signed else np.where(rf >= 0, rf, -1.0)  # -1: not counted
    cnt = (a >= 0).sum(axis=1)
    top = a.max(axis=1)
    live = (cnt > 0) & (top > 0)
    if alpha0 is None:
        al = np.sqrt(np.einsum("ij,ij->i", rf, rf) / rf.shape[1])
    else:
        a0 = np.asarray(alpha0, dtype=np.float64).ravel()
        al = (a0[first:first + rf.shape[0]] if a0.size > 1
              else np.full(rf.shape[0], a0[0]))
    al = np.where(live, al, 0.0)
    for _ in range(iterations):
        out = a > al[:, None]
        n_out = out.sum(axis=1)
        moving = live & (n_out > 0)
        if not moving.any():
            break
        s_out = np.where(out, a, 0.0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            new = s_out / (kappa * (cnt - n_out) + n_out)
        al = np.where(moving, new, al)
        live = moving  # a row with no value beyond alpha has stopped (as before)
    return al


def compare_alphas(x: ArrayLike, bits=None, *, grid=None, axis=None, group_size=None,
                   use_numba: bool | None = None) -> dict:
    """Every clipping route on the same data: ``{name: OptimalAlpha}``.

    Keys: ``"optimal"`` (:func:`optimal_alpha_data`), ``"max-abs"``,
    ``"octav"`` (10 iterations), and ``"aciq-norm"`` / ``"aciq-laplace"``
    (:func:`fit_alpha`) where the ACIQ optimum of the fitted law is available.
    All ``mse`` fields are the exact empirical error of the data; `axis` and
    `group_size` as in :func:`optimal_alpha_data`.  The dict's repr (and
    ``.summary()``) is one table of the routes; ``.to_dict()`` gives plain dicts.
    """
    from .._result import AlphaComparison

    kw = {"grid": grid, "axis": axis, "group_size": group_size}
    out = {"optimal": optimal_alpha_data(x, bits, use_numba=use_numba, **kw),
           "max-abs": maxabs_alpha(x, bits, **kw)}
    if get_format(grid).uniform:
        for law in ("norm", "laplace"):
            out[f"aciq-{law}"] = fit_alpha(x, bits, law=law, **kw)
        out["octav"] = octav_alpha(x, bits, **kw)
    return AlphaComparison(out)
