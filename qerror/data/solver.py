r"""Quantization error of data arrays, and the clipping boundary that minimises it.

A data array :math:`x_1, \dots, x_N` is an empirical distribution with mass
:math:`1/N` on each element.  For a clipping boundary :math:`\alpha` and the grid's
quantizer :math:`Q_\alpha` (:func:`qerror.quantize`) the exact empirical error is

.. math::

    E(\alpha) = \frac1N \sum_{j=1}^N \bigl(x_j - Q_\alpha(x_j)\bigr)^2 .

Every grid quantizes to the *nearest* level, and the levels are fixed multiples
:math:`c_k \Delta` of the step :math:`\Delta \propto \alpha`, so

.. math::

    E = \frac1N \sum_j \min_k \,(|x_j| - c_k \Delta)^2
      = \frac1N \bigl(A - 2 B \Delta + C \Delta^2\bigr) \quad\text{on each piece},

a continuous, piecewise quadratic function of :math:`\Delta` with up to :math:`N`
times (number of levels) pieces, where :math:`A = \sum x_j^2`,
:math:`B = \sum c_{k(j)} |x_j|`, :math:`C = \sum c_{k(j)}^2` for the assignment
:math:`k(j)` of the piece.  It is not unimodal.  Its kinks are concave (a minimum of
quadratics), so every local minimum is the vertex :math:`\Delta = B/C` of a piece.

:func:`optimal_alpha_data` finds the global minimum and certifies it: a histogram of
:math:`|x|` (count, sum and sum of squares per bin) bounds :math:`E` from below on
intervals of :math:`\Delta` (bins that stay in one cell contribute their exact
quadratic, bins that a decision threshold sweeps contribute the distance to the
nearest possible level) and from above at points; branch and bound discards every
interval whose lower bound exceeds the best upper bound, and on the few intervals left
the values of the bins that thresholds sweep are read back from the data and the pieces
are enumerated exactly.  The histogram and read-back passes are compiled (numba) and
run in fixed chunks on all cores, and so are the branch and bound and the enumeration
of one row (``qerror.data._tensor``); the numpy fallback (``use_numba=False``) adds the
same chunks in the same order (bit-identical histograms) and branches and bounds many
rows at once in vectorised numpy: the same cells and pieces, an alpha equal to
rounding.

Many rows at once (``axis=``, ``group_size=``) go to the compiled row solver of
``qerror.data._rows``: one row per thread, the row's values sorted (lazily, bucket by
bucket), Lloyd's iteration for an upper bound, monotone bounds for a bracket, then the
same branch and bound and exact enumeration on the sorted values.  Each row's answer
is that row's certified optimum, whatever else is in the batch.

The clipping choices that other tools make (max-abs, ACIQ moment fits, OCTAV) are in
:mod:`qerror.data.routes`, for comparison.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .._result import OptimalAlpha
from .._validation import check_alpha, check_model
from ..formats import get_format
from ..formats._base import MagnitudeLevels as _Levels
from ..formats._uniform import MAX_DATA_BITS as MAX_EXACT_BITS
from . import _kernels as _k
from . import _rows
from ._checks import (
    _channels,
    _check_data,
    _check_finite,
    _exact_parts,
    _exact_parts_rows,
    _groups,
    _nonfinite_error,
    _scalar_bits,
)
from ._histsolve import _MARGIN, _solve_compiled, _solve_exact
from ._summary import _sq_dist_sum, _Summary

__all__ = ["empirical_error_parts", "optimal_alpha_data"]


# ============================================================================ levels
def _bits_ok_for_exact(bits: int, fmt) -> None:
    top = MAX_EXACT_BITS - (0 if fmt.signed else 1)
    if bits > top and fmt.uniform:
        raise ValueError(
            f"the exact empirical optimum is supported for bits <= {top} on the "
            f"{fmt.name!r} grid (got {bits}); with more bits the rounding error is below "
            "float64 resolution of the data's energy; use model='aciq' or max-abs"
        )


# ============================================================================ ACIQ
def _solve_aciq(h: _Summary, lv: _Levels, r: int):
    r"""Root of :math:`\kappa \alpha N = \sum_{a > \alpha} (a - \alpha)` for row `r`,
    the stationary point of the (convex) ACIQ-model error; returns alpha and the
    truncation sum at it."""
    N = h.size
    kappa = 1.0 / (12.0 * lv.afac**2)
    nb = h.nb
    o = r * h.stride
    PN, PS = h.PN[o:o + h.stride], h.PS[o:o + h.stride]
    L = h.L[o:o + h.stride]
    # g at the left edge of each bin; every value in bins >= j is >= L[j]
    sN = PN[-1] - PN[:-1]
    sS = PS[-1] - PS[:-1]
    gval = kappa * L[:-1] * N - (sS - L[:-1] * sN)
    j = int(np.searchsorted(gval >= 0, True))  # g is increasing
    for lo_bin, hi_bin in ((max(j - 1, 0), min(j, nb - 1)), (0, nb - 1)):
        flags = np.zeros(nb, dtype=bool)
        flags[lo_bin:hi_bin + 1] = True
        v = h.extract(r, flags)[::-1]  # descending
        above = hi_bin + 1
        S = (PS[-1] - PS[above]) + np.concatenate([[0.0], np.cumsum(v)])
        cnt = (PN[-1] - PN[above]) + np.arange(v.size + 1)
        alpha = S / (kappa * N + cnt)
        upper = np.concatenate([[np.inf if above >= nb else L[above]], v])
        lower = np.concatenate([v, [L[lo_bin]]])
        ok = (alpha >= lower) & (alpha <= upper)
        if ok.any():
            al = float(alpha[np.argmax(ok)])
            break
    else:  # pragma: no cover
        raise RuntimeError("ACIQ root not bracketed")
    # truncation: values in alpha's bin read back, bins above from their sums
    ja = int(min(h.bin_of(np.array([al]), r)[0], nb - 1))
    flags = np.zeros(nb, dtype=bool)
    flags[ja] = True
    v = h.extract(r, flags)
    d = v[v > al] - al
    rr = np.array([r])
    tsse = float(np.dot(d, d)) + float(_sq_dist_sum(h, np.array([ja + 1]),
                                                    np.array([nb - 1]), al, rr)[0])
    return al, tsse


# ============================================================================ public
def _zero_note(lv) -> str:
    if not lv.signed:
        return ("no value is above zero: every value goes to the lowest level step/2, "
                "the MSE falls as alpha -> 0; alpha = 0 (the infimum) reported")
    if lv.c[0] == 0.0:
        return "the data are all zero: every alpha gives MSE 0; alpha = 0 reported"
    return ("the data are all zero: the MSE (step/2)^2 falls as alpha -> 0; alpha = 0 "
            "(the infimum, MSE 0) reported")


def _check_model_grid(model: str, fmt) -> None:
    if model == "aciq" and not fmt.uniform:
        raise ValueError(f"model='aciq' needs a uniform grid; grid {fmt.name!r} has "
                         "unequal steps (use model='exact')")


def _power_of_two_scale(rows: np.ndarray):
    """``(f, extremes)``: f is None, or per row the power of two that brings max |x|
    to about 1 where the squares of a row would overflow (max |x| > 2**400) or lose
    precision to underflow (< 2**-400); extremes the rows' (max, min), which the
    histogram summary then need not compute again.  float32 and smaller data never
    need it (squares in float64): (None, None)."""
    if rows.dtype != np.float64 or not rows.size:
        return None, None
    hi, lo = rows.max(axis=1), rows.min(axis=1)
    with np.errstate(invalid="ignore"):
        amax = np.maximum(hi, -lo)
    out = np.isfinite(amax) & (amax > 0) & ((amax > 2.0**400) | (amax < 2.0**-400))
    if not out.any():
        return None, (hi, lo)
    f = np.ones(rows.shape[0])
    f[out] = 2.0 ** -np.floor(np.log2(amax[out]))
    return f, None


def _solve_rows(xa: np.ndarray, rows: np.ndarray, bits: int, model: str, fmt,
                use_numba):
    """Solve every row; returns per-row arrays and the shared message and method."""
    f, extremes = _power_of_two_scale(rows)
    if f is not None:  # squares would overflow or underflow: solve f x (exact, row by
        # row), scale alpha and the errors back
        out = _solve_rows(xa, rows * f[:, None], bits, model, fmt, use_numba)
        with np.errstate(over="ignore"):
            arrays = (out[0] / f, *(v / f / f for v in out[1:4]))
        msg = out[6] + ("; solved on the data times a power of two (exact; max |x| "
                        "beyond 2**±400), alpha and the errors scaled back")
        if not np.isfinite(arrays[1]).all():
            msg += "; the MSE exceeds the float64 range (inf)"
        elif ((arrays[1] == 0.0) & (out[1] > 0.0)).any():
            msg += "; the MSE is below the float64 range (0)"
        return (*arrays, out[4], out[5], msg, out[7])
    backend = _k.backend(use_numba)
    if rows.shape[0] > 1 and backend == "numba":
        return _solve_batch(xa, rows, bits, model, fmt)
    if rows.shape[0] > _NUMPY_BLOCK:  # bound the (rows x bins) tables' memory
        parts = [_solve_rows(xa, rows[i:i + _NUMPY_BLOCK], bits, model, fmt, use_numba)
                 for i in range(0, rows.shape[0], _NUMPY_BLOCK)]
        arrays = [np.concatenate([p[j] for p in parts]) for j in range(4)]
        first = parts[0]
        return (*arrays, sum(p[4] for p in parts), first[5], first[6], first[7])
    lv = fmt.magnitude_levels(bits)
    h = _Summary(rows, lv.signed, use_numba, lv.c.size, extremes)
    if not np.isfinite(h.amax).all():
        raise _nonfinite_error(xa)
    C, N = h.C, h.size
    alpha = np.zeros(C)
    mse = np.zeros(C)
    tr = np.zeros(C)
    notes = []
    zero = ~h.valid
    if zero.any():
        # nothing to quantize usefully: alpha = 0 and every value's error is x^2
        notes.append(_zero_note(lv))
        for i in np.nonzero(zero)[0]:  # unsigned: negatives count, x^2 each
            xf = rows[i].astype(np.float64)
            mse[i] = tr[i] = float(np.dot(xf, xf)) / N
    todo = np.nonzero(h.valid)[0]
    extra = {"backend": backend, "nbins": h.nb}
    nfev, method, msg = 0, "all-zero", ""
    if todo.size and model == "aciq":
        _check_model_grid(model, fmt)
        for r in todo:
            alpha[r], tsse = _solve_aciq(h, lv, int(r))
            tr[r] = (tsse + (h.neg[r, 2] if not lv.signed else 0.0)) / N
            mse[r] = tr[r] + (alpha[r] / lv.afac) ** 2 / 12.0
        nfev, method = int(todo.size), "aciq-root"
        msg = _ACIQ_MSG
        rd = np.where(h.valid, mse - tr, 0.0)
    elif todo.size:
        _bits_ok_for_exact(bits, fmt)
        if C == 1 and backend == "numba":
            sol = _solve_compiled(h, lv)
        else:
            sol = _solve_exact(h, lv, todo)
        alpha[todo] = lv.afac * sol.step
        mse[todo], tr[todo] = sol.sse / N, sol.trunc_sse / N
        if N * todo.size <= 1 << 16:  # small data: the error evaluated point by point
            t, r = _exact_parts_rows(rows[todo], alpha[todo], bits, fmt)
            tr[todo], mse[todo] = t, t + r
        rd = np.maximum(mse - tr, 0.0)
        nfev, method = sol.pieces, "histogram-bnb+exhaustive-pieces"
        msg = (f"global minimum certified: histogram bounds ({h.nb} bins, {sol.rounds} "
               f"branch-and-bound rounds) exclude every other step within "
               f"{_MARGIN:g}*sum(x^2); {sol.pieces} pieces on {sol.cells} interval(s) "
               f"enumerated exactly from {sol.swept} values read back")
        extra.update(swept=sol.swept, intervals=sol.cells)
    else:
        rd = np.zeros(C)
    return _with_zero_rows(alpha, mse, tr, rd, nfev, method, msg, extra, zero, notes,
                           todo.size)


_ACIQ_MSG = ("the ACIQ-model error of the data is convex in alpha; its unique "
             "stationary point was solved exactly on the sorted values around it")
# rows solved at once by the numpy back end
_NUMPY_BLOCK = 1024


def _with_zero_rows(alpha, mse, tr, rd, nfev, method, msg, extra, zero, notes, ntodo):
    if zero.any():
        rd[zero] = 0.0
        msg = "; ".join(m for m in (msg, *notes) if m)
        if ntodo:
            msg += f" ({int(zero.sum())} all-zero row(s))" if zero.size > 1 else ""
            method = method + "+all-zero"
    return alpha, mse, tr, rd, nfev, method, msg, extra


def _solve_batch(xa, rows, bits: int, model: str, fmt):
    """Many rows at once with the compiled solver of :mod:`qerror.data._rows`."""
    lv = fmt.magnitude_levels(bits)
    _check_model_grid(model, fmt)
    if model == "exact":
        _bits_ok_for_exact(bits, fmt)
    alpha, sse, tsse, valid, bad, pieces = _rows.solve_rows(rows, lv, model == "exact",
                                                            _MARGIN)
    if bad.any():
        raise _nonfinite_error(xa)
    N = rows.shape[1]
    mse, tr = sse / N, tsse / N
    zero = ~valid
    notes = []
    if zero.any():
        notes.append(_zero_note(lv))
        z = rows[zero].astype(np.float64)
        mse[zero] = tr[zero] = np.einsum("ij,ij->i", z, z) / N
        alpha[zero] = 0.0
    if model == "aciq":
        mse = np.where(valid, tr + (alpha / lv.afac) ** 2 / 12.0, mse)
        rd = np.where(valid, mse - tr, 0.0)
        nfev, method, msg = int(valid.sum()), "aciq-root", _ACIQ_MSG
    else:
        rd = np.maximum(mse - tr, 0.0)
        nfev, method = int(pieces.sum()), "sorted-bnb+exhaustive-pieces"
        msg = (f"global minimum certified per row: Lloyd's iteration bounds the error "
               f"from above, clipping and small-value bounds bracket the step, branch "
               f"and bound on the sorted values excludes every other step within "
               f"{_MARGIN:g}*sum(x^2); {nfev} pieces enumerated exactly")
    if not valid.any():
        nfev, method, msg = 0, "all-zero", ""
    extra = {"backend": "numba", "solver": "rows"}
    return _with_zero_rows(alpha, mse, tr, rd, nfev, method, msg, extra, zero, notes,
                           int(valid.sum()))


def optimal_alpha_data(x: ArrayLike, bits, *, model: str = "exact",
                       grid=None, axis=None, group_size=None,
                       use_numba: bool | None = None) -> OptimalAlpha:
    r"""The clipping boundary that minimises the quantization error of a data array.

    With ``model="exact"`` the global minimiser over :math:`\alpha > 0` of

    .. math::

        E(\alpha) = \frac1N \sum_{j=1}^N \bigl(x_j - Q_\alpha(x_j)\bigr)^2,

    where :math:`Q_\alpha` is :func:`qerror.quantize` with `bits` and `grid`, and
    :math:`N` is the number of elements.  :math:`E` is piecewise quadratic in the step
    with many local minima; the answer is certified global by branch and bound on
    histogram bounds followed by exhaustive enumeration of the remaining pieces (see
    :mod:`qerror.data.solver`).  With ``model="aciq"`` the minimiser of the supplement's
    Eq. 3-4 with the data as the distribution,
    :math:`\frac1N\sum_j d(x_j, [lo, hi])^2 + \Delta^2/12`, which is convex.

    Parameters
    ----------
    x : array_like
        The data (any shape; all elements weigh the same).  Integer and float16/32
        data are computed in float64.  Objects with ``__array__`` (e.g. a CPU torch
        tensor) are accepted.
    bits : int
        Bit-width; at most 16 (15 unsigned) for ``model="exact"``.
    model : {"exact", "aciq"}
        Which error to minimise.
    grid : str or qerror.formats.Format, optional
        Quantizer format; default ``"midrise"`` (the supplement's quantizer).
    axis : int, optional
        Channel axis: one alpha per index along it (per-channel quantization).
    group_size : int, optional
        Groups of `group_size` consecutive elements along the last axis, one alpha per
        group (group-wise quantization, as in LLM weight quantization and the OCP MX
        formats); ``alpha`` has shape ``x.shape[:-1] + (x.shape[-1] // group_size,)``.
        Each group's alpha is the certified optimum of that group alone.  Not with
        `axis`.
    use_numba : bool, optional
        Force (True) or forbid (False) the compiled data passes; by default numba is
        used when installed.  Both give the optimum; per tensor, the same alpha.

    Returns
    -------
    OptimalAlpha
        ``alpha``, ``mse``, ``truncation``, ``rounding`` (arrays with ``axis`` or
        ``group_size``); ``message`` and ``method`` say how the optimum was certified;
        ``nfev`` counts the pieces of :math:`E` enumerated.  For all-zero data
        ``alpha`` is 0.

    Raises
    ------
    ValueError
        Empty data, NaN or inf in the data (with their count and first index), or
        `bits` / `grid` / `model` / `group_size` out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from qerror.data.solver import optimal_alpha_data
    >>> x = np.random.default_rng(0).standard_t(4, size=10_000)
    >>> r = optimal_alpha_data(x, 4)
    >>> round(r.alpha, 3), round(r.mse, 5), bool(r.success)
    (6.188, 0.08685, True)
    >>> w = x.reshape(10, 1000)
    >>> optimal_alpha_data(w, 4, group_size=250).alpha.shape   # 4 groups per row
    (10, 4)
    """
    fmt = get_format(grid)
    model = check_model(model)
    b = _scalar_bits(bits, fmt)
    xa = _check_data(x)
    if group_size is not None:
        if axis is not None:
            raise ValueError("give axis or group_size, not both (groups run along the "
                             "last axis)")
        rows = _groups(xa, group_size)
        shape = xa.shape[:-1] + (xa.shape[-1] // int(group_size),)
    elif axis is not None:
        rows = _channels(xa, axis)
        shape = (rows.shape[0],)
    else:
        rows, shape = xa.reshape(1, -1), None
    if fmt.signed and not fmt.symmetric:  # levels not symmetric about zero
        from ._twosided import solve_twosided

        _check_finite(xa)
        if model == "aciq" and not fmt.uniform:
            raise ValueError(f"model='aciq' needs a uniform grid; grid {fmt.name!r} has "
                             "unequal steps (use model='exact')")
        al, ms, tr, rd, nfev, method, msg = solve_twosided(rows, b, model, fmt,
                                                             use_numba)
        extra = {}
    else:
        al, ms, tr, rd, nfev, method, msg, extra = _solve_rows(xa, rows, b, model, fmt,
                                                                use_numba)
    if shape is None:
        conv = float
        success = True
        al, ms, tr, rd = al[0], ms[0], tr[0], rd[0]
    else:
        def conv(v):
            return np.asarray(v).reshape(shape)
        success = np.ones(shape, dtype=bool)
        if group_size is not None:
            msg = (f"per group ({rows.shape[0]} groups of {int(group_size)} along the "
                   f"last axis): {msg}")
            extra["group_size"] = int(group_size)
        else:
            msg = f"per channel ({rows.shape[0]} along axis {axis}): {msg}"
            extra["axis"] = axis
    return OptimalAlpha(alpha=conv(al), mse=conv(ms), truncation=conv(tr),
                        rounding=conv(rd), bits=b, model=model, grid=fmt.name,
                        success=success, message=msg, nfev=int(nfev), method=method,
                        extra=extra)


def empirical_error_parts(x: ArrayLike, alpha: ArrayLike, bits: ArrayLike = None, *,
                          model: str = "exact", grid=None):
    r"""Truncation and rounding parts of the quantization error of a data array.

    With ``model="exact"`` (the real quantizer :func:`qerror.quantize`)

    .. math::

        T = \frac1N \sum_{|x_j| > \alpha} (x_j - Q(x_j))^2, \qquad
        R = \frac1N \sum_{|x_j| \le \alpha} (x_j - Q(x_j))^2,

    ("outside" means beyond the format's range, :math:`[0, \alpha]` on the unsigned
    grid), so that
    :math:`T + R` is the mean-square error.  With ``model="aciq"`` (Eq. 3-4)
    :math:`T = \frac1N\sum_j d(x_j, [lo, hi])^2` and :math:`R = \Delta^2/12`.

    Parameters
    ----------
    x : array_like
        The data, flattened; all elements weigh the same.
    alpha, bits : array_like
        Clipping boundary (> 0) and bit-width; they broadcast against each other, not
        against `x`.
    model : {"exact", "aciq"}
    grid : str or qerror.formats.Format, optional
        Quantizer format; default ``"midrise"``.

    Returns
    -------
    (truncation, rounding) : tuple of float or ndarray
        float64, shaped like ``broadcast(alpha, bits)``; Python floats for scalars.

    Examples
    --------
    >>> from qerror.data.solver import empirical_error_parts
    >>> t, r = empirical_error_parts([-3.0, -0.2, 0.1, 0.4, 1.0], 1.0, 2, grid="midtread")
    >>> round(t, 4), round(r, 4)
    (0.8, 0.042)
    """
    fmt = get_format(grid)
    model = check_model(model)
    _check_model_grid(model, fmt)
    xa = _check_data(x)
    xf = xa.ravel().astype(np.float64)
    _check_finite(xa)
    a = check_alpha(alpha)
    b = fmt.check_bits(bits)
    a, b = np.broadcast_arrays(a, b)
    tr = np.empty(a.shape)
    rd = np.empty(a.shape)
    N = xf.size
    for i in np.ndindex(a.shape):
        ai, bi = float(a[i]), int(b[i])
        if model == "exact":
            tr[i], rd[i] = _exact_parts(xf, ai, bi, fmt)
        else:
            geo = fmt.geometry(np.float64(ai), np.int64(bi))
            d = xf - np.clip(xf, geo.lo, geo.hi)
            tr[i] = float(np.dot(d, d)) / N
            rd[i] = float(geo.step**2 / 12.0)
    if tr.ndim == 0:
        return float(tr), float(rd)
    return tr, rd
