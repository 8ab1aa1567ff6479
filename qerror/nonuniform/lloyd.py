r"""Lloyd-Max: the minimum-MSE quantizer with :math:`N = 2^b` levels.

:func:`lloyd_max` finds the :math:`N = 2^b`-level quantizer of least mean-square
error.  For a law it solves Max's conditions (thresholds at the midpoints of
neighbouring levels, every level at the conditional mean of its cell) by Newton's
method on the stationarity condition with a tridiagonal Hessian, falling back to a
Lloyd step whenever Newton does not reduce the residual.  For data it solves 1-D
k-means exactly (global optimum) by dynamic programming when affordable.
Re-exported by :mod:`qerror.nonuniform`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg

from .._dispatch import law_or_data
from .._validation import check_positive_scalar
from ..formats import MIDRISE
from ..laws._protocol import Law, resolve
from ._common import _base, _check_bits, _check_data

__all__ = ["LloydMaxResult", "lloyd_max"]

#: largest number of distinct data values solved by the exact O(k n^2) dynamic program
_DP_MAX_N = 2000


# ------------------------------------------------------------------------------ result
@dataclass(frozen=True, repr=False)
class LloydMaxResult:
    r"""Result of :func:`lloyd_max`.

    Attributes
    ----------
    levels : ndarray
        The reconstruction levels :math:`y_1 < \dots < y_N`, :math:`N = 2^b` (fewer
        when data have fewer distinct values).
    thresholds : ndarray
        The :math:`N-1` decision thresholds :math:`t_i = (y_i + y_{i+1})/2`.
    mse : float
        :math:`\mathbb E[(W - Q(W))^2]` (for data: the mean over the data).
    iterations : int
        Newton/Lloyd iterations (law, or data refined by Lloyd), or DP layers (data).
    success : bool
        True if the method converged to its tolerance (law) or finished (data).
    message : str
        How the answer was obtained and whether it is certified as the global optimum.
    is_global : bool
        Whether the answer is certified as the global minimum (exact DP for data;
        a log-concave law without atoms, where the stationary point is unique [2]_).
    method : str
        ``"newton-lloyd"``, ``"dp"`` or ``"binned-dp+lloyd"``.
    bits : int
    """

    levels: np.ndarray
    thresholds: np.ndarray
    mse: float
    iterations: int
    success: bool
    message: str
    is_global: bool = False
    method: str = ""
    bits: int = 0
    extra: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        lines = []
        for name in ("levels", "thresholds", "mse", "iterations", "success", "message",
                     "is_global", "method", "bits"):
            val = getattr(self, name)
            if isinstance(val, np.ndarray) and val.size > 6:
                val = f"array(shape={val.shape}, dtype={val.dtype})"
            lines.append(f"{name:>11}: {val!r}")
        return "LloydMaxResult(\n" + "\n".join(lines) + "\n)"


# -------------------------------------------------------------------------- validation
def _check_tol(tol, name="tol") -> float:
    return check_positive_scalar(tol, name)


def _check_max_iter(max_iter) -> int:
    if isinstance(max_iter, (bool, np.bool_)) or not isinstance(max_iter, numbers.Integral):
        raise TypeError(f"max_iter must be a positive integer, got {max_iter!r}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    return int(max_iter)


# ---------------------------------------------------------------------------- the law
class _Cells:
    """Cell quantities of a resolved law in standardized coordinates."""

    def __init__(self, law: Law):
        self.law = law
        self.fam = law.family
        self.L, self.U = law.lower, law.upper
        self.az = np.array([(x - law.loc) / law.scale for x, _ in law.atoms])
        self.am = np.array([m for _, m in law.atoms])

    def bounds(self, y):
        t = 0.5 * (y[:-1] + y[1:])
        a = np.concatenate(([-np.inf], t))
        b = np.concatenate((t, [np.inf]))
        return t, np.clip(a, self.L, self.U), np.clip(b, self.L, self.U)

    def _atom_cells(self, t):
        return np.searchsorted(t, self.az, side="right")

    def moments(self, y):
        """(M0, R, t): cell masses, R_i = E[(W - y_i) 1_cell], thresholds."""
        t, a, b = self.bounds(y)
        m0 = self.fam.prob(a, b)
        r = self.fam.seg1(a, b, y)
        if self.az.size:
            idx = self._atom_cells(t)
            np.add.at(m0, idx, self.am)
            np.add.at(r, idx, self.am * (self.az - y[idx]))
        return m0, r, t

    def distortion(self, y):
        t, a, b = self.bounds(y)
        d = self.fam.seg(a, b, y)
        if self.az.size:
            idx = self._atom_cells(t)
            np.add.at(d, idx, self.am * (self.az - y[idx]) ** 2)
        return float(math.fsum(d))

    def density(self, t):
        inside = (t > self.L) & (t < self.U)
        out = np.zeros_like(t)
        if inside.any():
            out[inside] = self.fam.pdf(t[inside])
        return out


def _initial_levels(dist, law: Law, n: int) -> np.ndarray:
    """Quantiles of f^(1/3) (the asymptotically optimal point density), standardized."""
    base = _base(dist)
    u = np.linspace(1e-12, 1 - 1e-12, 8193)
    z = (np.asarray(base.ppf(u), dtype=np.float64) - law.loc) / law.scale
    z = z[np.isfinite(z)]
    if z.size:  # add a uniform grid: the quantile grid is sparse in the tails
        z = np.concatenate((z, np.linspace(z.min(), z.max(), 8193)))
    z = np.unique(np.clip(z, law.lower, law.upper))
    if z.size < 2:  # degenerate (e.g. d tiny): spread levels over the support
        lo, hi = law.lower, law.upper
        return lo + (np.arange(n) + 0.5) * (hi - lo) / n
    w = np.cbrt(np.maximum(np.asarray(law.family.pdf(z), dtype=np.float64), 0.0))
    cum = np.concatenate(([0.0], np.cumsum(0.5 * (w[1:] + w[:-1]) * np.diff(z))))
    if cum[-1] <= 0:
        return np.linspace(z[0], z[-1], n)
    y = np.interp((np.arange(n) + 0.5) / n * cum[-1], cum, z)
    if getattr(law.family, "symmetric", False) and law.lower == -law.upper:
        y = 0.5 * (y - y[::-1])  # symmetric law: a symmetric start (keeps 0 a threshold)
    # strictly increasing
    y = np.maximum.accumulate(y)
    for i in range(1, n):
        if y[i] <= y[i - 1]:
            y[i] = np.nextafter(y[i - 1], np.inf)
    return y


def _newton_step(cells: _Cells, y, m0, r, t):
    """Newton step on grad D = -2 R for the levels; tridiagonal Hessian."""
    ft = cells.density(t)
    gap = np.diff(y)
    off = -0.5 * ft * gap  # d g_i / d y_{i+1}
    diag = 2.0 * m0.copy()
    diag[:-1] += off
    diag[1:] += off
    ab = np.zeros((3, y.size))
    ab[0, 1:] = off
    ab[1] = diag
    ab[2, :-1] = off
    return linalg.solve_banded((1, 1), ab, 2.0 * r, check_finite=False)


def _lloyd_max_law(dist, bits: int, tol: float, max_iter: int) -> LloydMaxResult:
    law = resolve(dist)
    cells = _Cells(law)
    n = 2**bits
    y = _initial_levels(dist, law, n)
    # A symmetric law has a symmetric optimum; keeping the iterates symmetric removes a
    # nearly neutral shift mode (exactly neutral to first order for the Laplace law,
    # whose cells beyond the kink are memoryless) that rounding would otherwise excite.
    sym = bool(getattr(law.family, "symmetric", False) and law.lower == -law.upper)

    def proj(v):
        return 0.5 * (v - v[::-1]) if sym else v

    m0, r, t = cells.moments(y)

    def resid(m0, r):
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(m0 > 0, r / m0, 0.0)
        return s, float(np.max(np.abs(s)))

    step, res = resid(m0, r)
    it = 0
    n_newton = 0
    converged = res <= tol
    while not converged and it < max_iter:
        it += 1
        accepted = False
        if np.all(m0 > 0):
            try:
                dy = _newton_step(cells, y, m0, r, t)
            except (linalg.LinAlgError, ValueError):
                dy = None
            lam = 1.0
            while dy is not None and np.all(np.isfinite(dy)) and lam >= 0.125:
                yn = proj(y + lam * dy)  # damped Newton: halve until the residual drops
                lam *= 0.5
                if not np.all(np.diff(yn) > 0):
                    continue
                m0n, rn, tn = cells.moments(yn)
                stepn, resn = resid(m0n, rn)
                if resn < res:
                    y, m0, r, t, step, res = yn, m0n, rn, tn, stepn, resn
                    accepted = True
                    n_newton += 1
                    break
        if not accepted:  # Lloyd step: levels to the centroids (never increases D)
            yn = proj(y + step)
            if not np.all(np.diff(yn) > 0):
                break
            y = yn
            m0, r, t = cells.moments(y)
            step, res = resid(m0, r)
        converged = res <= tol
    mse = law.scale**2 * cells.distortion(y)
    levels = law.loc + law.scale * y
    thresholds = 0.5 * (levels[:-1] + levels[1:])
    log_concave = getattr(law.family, "name", "") in ("norm", "laplace", "uniform")
    is_global = bool(converged and log_concave and not law.atoms)
    msg = (f"{'converged' if converged else 'did not converge'}: max |centroid - level| "
           f"= {res:.3g} scale units after {it} iterations ({n_newton} Newton, "
           f"{it - n_newton} Lloyd steps); ")
    if is_global:
        msg += "log-concave density: the stationary point is the unique (global) optimum"
    else:
        msg += "a stationary point (local optimum); global optimality not certified"
    return LloydMaxResult(levels, thresholds, float(mse), it, bool(converged), msg,
                          is_global, "newton-lloyd", bits, {"residual": res})


# ------------------------------------------------------------------------------ data
def _kmeans_dp(v, w, k):
    """Exact weighted 1-D k-means of sorted distinct v: returns the cluster starts."""
    n = v.size
    W = np.concatenate(([0.0], np.cumsum(w)))
    S1 = np.concatenate(([0.0], np.cumsum(w * v)))
    S2 = np.concatenate(([0.0], np.cumsum(w * v * v)))
    # cost[m, i]: SSE of points m .. i-1 (m < i)
    with np.errstate(divide="ignore", invalid="ignore"):
        dW = W[None, :] - W[:, None]
        d1 = S1[None, :] - S1[:, None]
        cost = (S2[None, :] - S2[:, None]) - d1 * d1 / dW
    cost = np.maximum(cost, 0.0)
    cost[np.tril_indices(n + 1)] = np.inf
    D = cost[0].copy()  # one cluster: points 0..i-1
    arg = np.zeros((k, n + 1), dtype=np.int64)
    for j in range(1, k):
        tot = D[:, None] + cost
        arg[j] = np.argmin(tot, axis=0)
        D = tot[arg[j], np.arange(n + 1)]
    starts = [0] * k
    i = n
    for j in range(k - 1, 0, -1):
        m = int(arg[j, i])
        starts[j] = m
        i = m
    return np.array(starts)


def _levels_from_starts(v, w, starts):
    ends = np.append(starts[1:], v.size)
    W = np.concatenate(([0.0], np.cumsum(w)))
    S1 = np.concatenate(([0.0], np.cumsum(w * v)))
    return (S1[ends] - S1[starts]) / (W[ends] - W[starts])


def _data_mse(x, levels):
    t = 0.5 * (levels[:-1] + levels[1:])
    q = levels[np.searchsorted(t, x, side="right")]
    return float(np.mean((x - q) ** 2))


def _lloyd_max_data(x, bits, tol, max_iter) -> LloydMaxResult:
    k = 2**bits
    v, counts = np.unique(x, return_counts=True)
    w = counts.astype(np.float64)
    if v.size <= k:
        levels = v.copy()
        return LloydMaxResult(levels, 0.5 * (levels[:-1] + levels[1:]), 0.0, 0, True,
                              f"the data have {v.size} <= 2^bits = {k} distinct values: "
                              "each is a level (fewer levels than 2^bits), error 0",
                              True, "dp", bits)
    mu = float(np.average(v, weights=w))
    sd = float(np.sqrt(np.average((v - mu) ** 2, weights=w))) or 1.0
    vs = (v - mu) / sd  # centre and scale: prefix sums without cancellation
    if v.size <= _DP_MAX_N:
        starts = _kmeans_dp(vs, w, k)
        levels = mu + sd * _levels_from_starts(vs, w, starts)
        msg = (f"exact 1-D k-means by dynamic programming over {v.size} distinct values: "
               "the global optimum")
        return LloydMaxResult(levels, 0.5 * (levels[:-1] + levels[1:]),
                              _data_mse(x, levels), k, True, msg, True, "dp", bits)
    # large n: exact DP on contiguous groups (half of them of near-equal weight, half
    # of near-equal width, so that sparse tails keep their own groups), then Lloyd on
    # the data; Lloyd is also run from the optimal uniform grid, and the better result
    # is kept, so the answer is never worse than the best uniform quantizer
    half_n = _DP_MAX_N // 2
    by_weight = np.searchsorted(np.cumsum(w), np.linspace(0, w.sum(), half_n + 1)[1:-1])
    by_width = np.searchsorted(vs, np.linspace(vs[0], vs[-1], half_n + 1)[1:-1])
    edges = np.unique(np.concatenate(([0], by_weight, by_width, [v.size])))
    edges = edges[edges < v.size]
    gw = np.add.reduceat(w, edges)
    gv = np.add.reduceat(w * vs, edges) / gw
    starts = _kmeans_dp(gv, gw, k)
    runs = [_lloyd_data(vs, w, _levels_from_starts(gv, gw, starts), tol, max_iter)]
    from ..data.solver import optimal_alpha_data

    a_u = optimal_alpha_data(vs, bits, grid=MIDRISE).alpha
    runs.append(_lloyd_data(vs, w, a_u * (2.0 * np.arange(k) + 1.0 - k) / k, tol,
                            max_iter))
    errs = [_data_mse(x, mu + sd * y) for y, _, _ in runs]
    best = int(np.argmin(errs))
    y, it, converged = runs[best]
    levels = mu + sd * y
    start = ("the optimal uniform grid" if best else
             f"exact DP on {gw.size} weighted groups")
    msg = (f"{v.size} distinct values > {_DP_MAX_N}: {it} Lloyd iterations on the data "
           f"from {start} ({'converged' if converged else 'not converged'}; the better "
           "of two starts, the other being "
           f"{'the DP on groups' if best else 'the optimal uniform grid'}); a local "
           "optimum, no worse than the optimal uniform quantizer, global optimality "
           "not certified")
    return LloydMaxResult(levels, 0.5 * (levels[:-1] + levels[1:]), errs[best],
                          it, converged, msg, False, "binned-dp+lloyd", bits)


def _lloyd_data(vs, w, y, tol, max_iter):
    """Lloyd's algorithm on sorted distinct values ``vs`` with weights ``w`` from
    levels ``y``; returns (levels, iterations, converged).  Each step moves every level
    to the centroid of its cell (an empty cell keeps its level), so the error never
    increases."""
    W = np.concatenate(([0.0], np.cumsum(w)))
    S1 = np.concatenate(([0.0], np.cumsum(w * vs)))
    it = 0
    while it < max_iter:
        it += 1
        t = 0.5 * (y[:-1] + y[1:])
        b = np.concatenate(([0], np.searchsorted(vs, t, side="right"), [vs.size]))
        mass = W[b[1:]] - W[b[:-1]]
        yn = np.where(mass > 0, (S1[b[1:]] - S1[b[:-1]]) / np.where(mass > 0, mass, 1), y)
        if np.max(np.abs(yn - y)) <= tol:
            return yn, it, True
        y = yn
    return y, it, False


def lloyd_max(dist_or_data, bits, *, tol: float = 1e-12,
              max_iter: int = 500) -> LloydMaxResult:
    r"""Minimum-MSE (Lloyd-Max) quantizer with :math:`N = 2^b` levels.

    Minimises

    .. math::

        D(y, t) = \sum_{i=1}^{N} \int_{t_{i-1}}^{t_i} (x - y_i)^2\, dP(x),
        \qquad t_0 = -\infty,\ t_N = \infty,

    whose stationary points satisfy Max's conditions [1]_

    .. math::

        t_i = \frac{y_i + y_{i+1}}{2}, \qquad
        y_i = \mathbb E[W \mid t_{i-1} < W < t_i],

    where :math:`b` is `bits` and :math:`P` is the law of `dist_or_data`.

    For a law, the cell masses and first moments come from the closed-form partial
    moments (quadrature for other scipy families), atoms of a clamped law included.
    Starting from the quantiles of :math:`f^{1/3}`, Newton's method is applied to
    :math:`\nabla D = -2\,\big(\int_{\text{cell}_i} (x - y_i)\,dP\big)_i` with its
    tridiagonal Hessian; a Lloyd step (levels to centroids) replaces any Newton step that
    does not reduce the residual.  For data, 1-D k-means is solved exactly by dynamic
    programming over the sorted distinct values (up to 2000 of them); beyond that the DP
    runs on up to 2000 contiguous groups (half of near-equal weight, half of near-equal
    width) and Lloyd's algorithm refines on the data, once from the DP's levels and once
    from the optimal uniform (midrise) grid, keeping the better: a local optimum
    (``is_global=False``) never worse than the best uniform quantizer with
    :math:`2^b` levels.

    Parameters
    ----------
    dist_or_data : scipy.stats frozen continuous law, ClampedDistribution, or array_like
        The law of :math:`W`, or data (flattened).
    bits : int
        Bit-width :math:`b`, 1 to 12.
    tol : float, optional
        Convergence: max over cells of :math:`|\mathbb E[W\mid\text{cell}] - y_i|` in
        standardized units of the law (data: units of the data's standard deviation).
    max_iter : int, optional
        Iteration limit.

    Returns
    -------
    LloydMaxResult

    References
    ----------
    .. [1] J. Max, "Quantizing for minimum distortion", IRE Trans. Inf. Theory 6 (1960)
       7-12.
    .. [2] P. E. Fleischer, "Sufficient conditions for achieving minimum distortion in a
       quantizer", IEEE Int. Conv. Rec. (1964) 104-111.

    Examples
    --------
    >>> from scipy import stats
    >>> from qerror.nonuniform import lloyd_max
    >>> r = lloyd_max(stats.norm(), 2)
    >>> round(r.mse, 4), r.levels.round(4).tolist()
    (0.1175, [-1.5104, -0.4528, 0.4528, 1.5104])
    """
    bits = _check_bits(bits)
    tol = _check_tol(tol)
    max_iter = _check_max_iter(max_iter)
    if law_or_data(dist_or_data)[0] is not None:
        return _lloyd_max_law(dist_or_data, bits, tol, max_iter)
    if isinstance(dist_or_data, (str, bytes, dict)):
        raise TypeError("dist_or_data must be a scipy.stats frozen law, a clamped law or "
                        f"an array of real numbers, got {type(dist_or_data).__name__}")
    return _lloyd_max_data(_check_data(dist_or_data), bits, tol, max_iter)
