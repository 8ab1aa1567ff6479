r"""The power-of-two (logarithmic) grid: :func:`pow2_levels`, :func:`pow2_quantize`,
:func:`pow2_mse`, :func:`pow2_optimal_alpha`.

Convention: the :math:`2^b` levels are :math:`\pm\alpha 2^{-k}`,
:math:`k = 0, \dots, 2^{b-1}-1`; **zero is not a level** (as on the midrise grid), the
decision threshold between the two smallest levels is 0, every other threshold is the
midpoint of its neighbouring levels, and inputs beyond :math:`\pm\alpha` map to
:math:`\pm\alpha` (the outermost level *is* the clipping boundary, unlike the midrise
grid).  Re-exported by :mod:`qerror.nonuniform`.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize

from .._result import OptimalAlpha
from .._validation import POW2_MAX_BITS, check_alpha, check_model, scalar_or_array
from ..laws.clamped import ClampedDistribution
from ._common import _base, _check_bits, _resolve_any
from ._pow2_engine import _pow2_grid, _pow2_parts, _pow2_round

__all__ = ["pow2_levels", "pow2_quantize", "pow2_mse", "pow2_optimal_alpha"]


def pow2_levels(alpha: float, bits: int) -> np.ndarray:
    r"""The :math:`2^b` levels of the power-of-two (logarithmic) grid, ascending.

    .. math::

        \{\pm\alpha\,2^{-k} : k = 0, 1, \dots, 2^{b-1}-1\},

    where :math:`\alpha` is `alpha` and :math:`b` is `bits`.  Zero is not a level.

    Examples
    --------
    >>> from qerror.nonuniform import pow2_levels
    >>> pow2_levels(1.0, 2).tolist()
    [-1.0, -0.5, 0.5, 1.0]
    """
    alpha = float(check_alpha(alpha))
    bits = _check_bits(bits, POW2_MAX_BITS)
    return _pow2_grid(alpha, bits)


def pow2_quantize(x: ArrayLike, alpha: float, bits: int):
    r"""Round `x` to the nearest level of the power-of-two grid (:func:`pow2_levels`).

    .. math::

        Q(x) = \operatorname{sign}(x)\,\alpha\,2^{-k(x)}, \qquad
        k(x) = \text{the } k \text{ nearest in value, } 0 \le k \le 2^{b-1}-1,

    where :math:`\alpha` is `alpha` and :math:`b` is `bits`: thresholds at the midpoints
    :math:`\tfrac34\alpha 2^{-k}` of neighbouring levels, 0 between the two smallest,
    and :math:`|x| > \alpha` maps to :math:`\pm\alpha`.  A scalar gives a float.

    Examples
    --------
    >>> from qerror.nonuniform import pow2_quantize
    >>> pow2_quantize([0.1, 0.3, 0.8, 5.0, -0.2], 1.0, 2).tolist()
    [0.5, 0.5, 1.0, 1.0, -0.5]
    """
    levels = pow2_levels(alpha, bits)
    try:
        xa = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"x must be an array of real numbers, got {type(x).__name__}") from None
    return scalar_or_array(_pow2_round(xa, levels))


def pow2_mse(dist, alpha: ArrayLike, bits: int, *, model: str = "exact",
             parts: bool = False):
    r"""Mean-square error of the power-of-two grid clipping at :math:`\pm\alpha`.

    ``model="exact"``: :math:`E(\alpha) = \mathbb E[(W - Q(W))^2]` with :math:`Q` the
    grid of :func:`pow2_quantize`, computed from the partial moments cell by cell:

    .. math::

        E(\alpha) = \underbrace{\int_{|x|>\alpha} (|x|-\alpha)^2\,dP}_{\text{truncation}}
                  + \sum_{\pm}\sum_{k=0}^{K-1} \int_{c_k}
                    (x \mp \alpha 2^{-k})^2\,dP,\qquad K = 2^{b-1},

    with cells :math:`c_0 = [\tfrac34\alpha, \alpha]`,
    :math:`c_k = [\tfrac34\alpha 2^{-k}, \tfrac32\alpha 2^{-k}]` and
    :math:`c_{K-1} = [0, \tfrac32\alpha 2^{1-K}]` (and their mirror images), where
    :math:`\alpha` is `alpha` and :math:`b` is `bits`.

    ``model="aciq"``: the same truncation term (the outermost level *is* :math:`\pm\alpha`,
    so ACIQ's clipping term is exact here) plus a rounding term that takes the density
    constant within each cell,

    .. math::

        E_\text{aciq}(\alpha) = \text{truncation}
            + \sum_{\pm}\sum_{k} P(c_k)\,\kappa_k\,\alpha^2 4^{-k},\quad
        \kappa_0 = \tfrac1{48},\ \kappa_k = \tfrac1{16},\ \kappa_{K-1} = \tfrac14,

    (:math:`\kappa = \tfrac13` when :math:`K = 1`): :math:`\kappa_k y_k^2` is the mean of
    :math:`(x - y_k)^2` for :math:`x` uniform on :math:`c_k`; the level sits off-centre
    (at 1/3 of an inner cell, at the edge of the outer one), so
    :math:`\kappa_k` exceeds the uniform grid's :math:`(\text{width}/y_k)^2/12`.  It is
    exact for a density constant on :math:`[-\alpha,\alpha]`.

    Parameters
    ----------
    dist : scipy.stats frozen law, ClampedDistribution, or array_like (data)
        Data support ``model="exact"`` only.
    alpha : array_like
        Clipping boundary (outermost level), finite and > 0.
    bits : int
        1 to 10.
    model : {"exact", "aciq"}
    parts : bool
        Return ``(truncation, rounding)`` instead of their sum.

    Returns
    -------
    float or ndarray (or a pair of them with ``parts=True``)

    Examples
    --------
    >>> from scipy import stats
    >>> from qerror.nonuniform import pow2_mse
    >>> round(pow2_mse(stats.uniform(-1, 2), 1.0, 1), 6)  # levels +-1: E(1-|U|)^2
    0.333333
    """
    model = check_model(model)
    bits = _check_bits(bits, POW2_MAX_BITS)
    a = check_alpha(alpha)
    obj = _resolve_any(dist)
    flat = a.ravel()
    t = np.empty(flat.shape)
    r = np.empty(flat.shape)
    for i, ai in enumerate(flat):
        t[i], r[i] = _pow2_parts(obj, float(ai), bits, model)
    t, r = t.reshape(a.shape), r.reshape(a.shape)
    if parts:
        return scalar_or_array(t), scalar_or_array(r)
    return scalar_or_array(t + r)


def pow2_optimal_alpha(dist, bits: int, *, model: str = "exact",
                       scan_points: int = 400) -> OptimalAlpha:
    r"""The :math:`\alpha` minimising :func:`pow2_mse` (power-of-two grid).

    .. math::

        \alpha^* = \arg\min_{\alpha>0} E(\alpha),

    where :math:`E` is :func:`pow2_mse` with `model`.  Scan + refine, as
    :func:`qerror.optimal_alpha` does for the exact model: a geometric scan of
    `scan_points` values of :math:`\alpha` from :math:`10^{-3}\,r` to :math:`r`,
    :math:`r` twice the :math:`1-10^{-12}` quantile of :math:`|W|` (the clamp bound for a
    clamped law, :math:`\max|x|` for data), then bounded Brent (relative tolerance 1e-10)
    around every local minimum of the scan, keeping the best.  ``success`` means the best
    minimum is interior to the scan; the scan resolution (relative spacing about 1.7% at
    400 points) is what separates neighbouring minima, so global optimality is not
    certified beyond it.

    Returns
    -------
    qerror.OptimalAlpha
        With ``grid="pow2"`` and ``method="scan+brent"``.

    Examples
    --------
    >>> from scipy import stats
    >>> from qerror.nonuniform import pow2_optimal_alpha
    >>> r = pow2_optimal_alpha(stats.uniform(-1, 2), 1)
    >>> round(r.alpha, 6)  # levels +-alpha at the cell centroid 1/2
    0.5
    """
    model = check_model(model)
    bits = _check_bits(bits, POW2_MAX_BITS)
    if isinstance(scan_points, (bool, np.bool_)) or not isinstance(scan_points,
                                                                   numbers.Integral):
        raise TypeError(f"scan_points must be an integer, got {scan_points!r}")
    if scan_points < 8:
        raise ValueError(f"scan_points must be >= 8, got {scan_points}")
    obj = _resolve_any(dist)
    if isinstance(obj, np.ndarray):
        if model != "exact":
            raise ValueError("model='aciq' needs a law; for data only model='exact'")
        r_hi = 2.0 * float(np.max(np.abs(obj)))
        if r_hi == 0:
            raise ValueError("dist (data) is all zeros: no clipping boundary to optimise")
    else:
        base = _base(dist)
        q = np.abs(np.asarray(base.ppf([1e-12, 1 - 1e-12]), dtype=np.float64))
        r_hi = 2.0 * float(np.max(q[np.isfinite(q)])) if np.isfinite(q).any() else 1e6
        if isinstance(dist, ClampedDistribution):
            r_hi = min(r_hi, 2.0 * dist.d)
    nfev = [0]

    def f(a):
        nfev[0] += 1
        tr, ro = _pow2_parts(obj, float(a), bits, model)
        return tr + ro

    grid = np.geomspace(1e-3 * r_hi, r_hi, scan_points)
    vals = np.array([f(a) for a in grid])
    cands = np.flatnonzero((vals[1:-1] <= vals[:-2]) & (vals[1:-1] <= vals[2:])) + 1
    best_a, best_v = float(grid[np.argmin(vals)]), float(vals.min())
    for i in cands:
        res = optimize.minimize_scalar(f, bounds=(grid[i - 1], grid[i + 1]),
                                       method="bounded",
                                       options={"xatol": 1e-10 * grid[i], "maxiter": 200})
        if res.fun < best_v:
            best_a, best_v = float(res.x), float(res.fun)
    interior = grid[0] < best_a < grid[-1] and cands.size > 0
    tr, ro = _pow2_parts(obj, best_a, bits, model)
    msg = (f"scanned {scan_points} alphas in [{grid[0]:.3g}, {grid[-1]:.3g}], refined "
           f"{cands.size} local minima by bounded Brent; "
           + ("best is interior" if interior
              else "best is at the scan edge: not a minimum"))
    return OptimalAlpha(best_a, tr + ro, tr, ro, bits, model, "pow2", bool(interior), msg,
                        nfev[0], "scan+brent")
