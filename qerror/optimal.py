r"""Optimal clipping: the boundary :math:`\alpha^*` that minimises the error.

``model="aciq"``
    :math:`E_\text{aciq}` is convex in :math:`\alpha` (truncation is a convex
    function of the boundary, rounding is :math:`c\alpha^2`), so the minimum is the
    unique root of the stationarity condition

    .. math::

        \frac{dE}{d\alpha} = -2\int_\alpha^\infty f(x)(x-\alpha)\,dx
                             -2\int_{-\infty}^{-\alpha} f(x)(-\alpha-x)\,dx
                             + 2c\,\alpha = 0, \qquad c = \frac{\Delta^2}{12\alpha^2},

    solved with Brent's method to full double precision (:math:`c = 1/(3\cdot4^b)` on
    the midrise grid).  For a centred Laplace law it is the closed form
    :math:`\alpha^* = b\,W(3\cdot 4^b)` (Lambert W; :math:`12K^2` replaces
    :math:`3\cdot4^b` on the midtread grid and :math:`6\cdot4^b` on the unsigned one).

``model="exact"``
    The real quantizer's error can have many local minima (a clamped law has one near
    every :math:`\alpha` where :math:`\pm d` meets a level).  The solver brackets the
    optimum with two bounds (left: truncation alone, which decreases with
    :math:`\alpha`, exceeds the best error found; right: the error exceeds twice the
    best and keeps growing), scans the bracket on a geometric grid fine enough to
    separate neighbouring minima (relative spacing :math:`\le 1/(16\cdot2^b)` for laws
    with atoms or support edges), and refines every local minimum of the scan by
    Newton's method on the stationarity condition :math:`\mathbb E[Q(W)(W-Q(W))] = 0`
    (derivatives by 5-point differences inside one scan interval), keeping the best.  The result's
    ``message`` says what was scanned and how many local minima were found.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, special

from ._dispatch import law_or_data
from ._law_engine import _error_parts
from ._result import OptimalAlpha
from ._validation import check_model
from .formats import get_format
from .laws._families import Laplace
from .laws._protocol import Law

__all__ = ["optimal_alpha", "optimal_alpha_table"]

_EPS = np.finfo(float).eps


def _rounding_coef(bits: int, fmt) -> float:
    """c with Delta^2/12 = c * alpha^2."""
    return float(fmt.step(np.array([1.0]), np.array([bits]))[0] ** 2 / 12.0)


def _total(law: Law, alpha, bits: int, model: str, fmt):
    a = np.atleast_1d(np.asarray(alpha, dtype=np.float64))
    t, r = _error_parts(law, a, np.full(a.shape, bits), model, fmt)
    return t + r


# ----------------------------------------------------------------------------- ACIQ
def _range_ratios(bits: int, fmt):
    """(r_hi, r_lo) with the format's range [-r_lo alpha, r_hi alpha] (1, 1 for the
    symmetric grids; the full-range int grid reaches below -alpha)."""
    geo = fmt.geometry(np.array([1.0]), np.array([bits]))
    return float(geo.hi[0]), -float(geo.lo[0])


def _aciq_derivative(law: Law, alpha: float, bits: int, fmt) -> float:
    """dE_aciq/dalpha (in units of the law)."""
    fam, s = law.family, law.scale
    L, U = law.lower, law.upper
    r_hi, r_lo = _range_ratios(bits, fmt)
    hi, lo = r_hi * alpha, -r_lo * alpha
    zh = (hi - law.loc) / s
    d = 0.0
    if zh < U:
        a = max(zh, L)
        d += -2.0 * r_hi * s * float(fam.seg1(np.array([a]), np.array([U]),
                                              np.array([zh]))[0])
    if r_lo > 0.0:
        zl = (lo - law.loc) / s
        if L < zl:
            b = min(zl, U)
            d += 2.0 * r_lo * s * float(fam.seg1(np.array([L]), np.array([b]),
                                                 np.array([zl]))[0])
    for x, mass in law.atoms:
        if x > hi:
            d += -2.0 * r_hi * mass * (x - hi)
        elif r_lo > 0.0 and x < lo:
            d += 2.0 * r_lo * mass * (x - lo)  # d/dalpha (x - lo)^2, negative here
    return d + 2.0 * _rounding_coef(bits, fmt) * alpha


def _solve_aciq(law: Law, bits: int, fmt, rtol: float = 4 * _EPS) -> OptimalAlpha:
    c = _rounding_coef(bits, fmt)
    fam = law.family
    if (isinstance(fam, Laplace) and law.loc == 0.0 and not law.atoms
            and _range_ratios(bits, fmt) in ((1.0, 1.0), (1.0, 0.0))):
        k = 2.0 if fmt.signed else 1.0
        alpha = law.scale * float(special.lambertw(k / (2.0 * c)).real)
        method, nfev = "lambertw", 0
        msg = ("closed form alpha = scale * W(k/(2c)) (Lambert W); E_aciq is convex, "
               "so this stationary point is the global minimum")
    else:
        fev = [0]

        def deriv(a):
            fev[0] += 1
            return _aciq_derivative(law, a, bits, fmt)

        lo = law.scale * 1e-9
        if deriv(lo) >= 0:
            return _failed(law, bits, "aciq", fmt, "dE/dalpha >= 0 at alpha -> 0: the "
                           "error is smallest for a vanishing range", fev[0])
        hi = law.scale
        while deriv(hi) <= 0:
            lo, hi = hi, 2.0 * hi
            if hi > law.scale * 1e6:
                return _failed(law, bits, "aciq", fmt, "no sign change of dE/dalpha "
                               "below 1e6 scale units", fev[0])
        alpha = optimize.brentq(deriv, lo, hi, xtol=1e-300, rtol=rtol, maxiter=200)
        method, nfev = "stationarity", fev[0]
        msg = ("root of dE/dalpha by Brent's method (rtol 4 eps); E_aciq is convex, so "
               "the root is the global minimum")
    t, r = _error_parts(law, np.array([alpha]), np.array([bits]), "aciq", fmt)
    return OptimalAlpha(float(alpha), float(t[0] + r[0]), float(t[0]), float(r[0]), bits, "aciq",
                        fmt.name, True, msg, nfev + 1, method)


def _failed(law, bits, model, fmt, msg, nfev):
    return OptimalAlpha(math.nan, math.nan, math.nan, math.nan, bits, model, fmt.name,
                        False, msg, nfev, "failed")


# ---------------------------------------------------------------------------- exact
def _has_features(law: Law) -> bool:
    """Atoms or finite support edges: kinks of E(alpha), many local minima."""
    return bool(law.atoms) or np.isfinite(law.lower) or np.isfinite(law.upper)


def _solve_exact(law: Law, bits: int, fmt, scan_points: int | None = None):
    n_levels = 2.0**bits
    nfev = 0
    if fmt.uniform:
        start = _solve_aciq(law, bits, fmt, rtol=1e-4)  # a starting point only
        nfev += start.nfev
        a0 = start.alpha if start.success else law.scale
    else:
        a0 = 3.0 * law.scale
    best = float(_total(law, a0, bits, "exact", fmt)[0])
    nfev += 1

    # left end: truncation alone (decreasing in alpha) exceeds the best error
    lo = a0
    while True:
        t, _ = _error_parts(law, np.array([lo]), np.array([bits]), "exact", fmt,
                            rounding=False)
        nfev += 1
        if t[0] > best or lo < law.scale * 1e-12:
            break
        lo *= 0.5
    # right end: the error exceeds twice the best, and keeps growing (at most 1e6
    # scale units beyond the format's dynamic range: a floating-point format keeps a
    # heavy-tailed law's error falling while its smallest levels still resolve it)
    cap = law.scale * 1e6
    if not fmt.uniform:
        lv = np.abs(fmt.levels(1.0, bits))
        cap *= float(lv.max() / lv[lv > 0].min())
    hi = a0
    grow = 1.25
    while True:
        hi *= grow
        e = _total(law, [hi, hi * 1.01, hi * 1.02], bits, "exact", fmt)
        nfev += 3
        best = min(best, float(e.min()))
        if (e[0] > 2.0 * best and e[1] >= e[0] and e[2] >= e[1]) or hi > cap:
            break
    if law.atoms or np.isfinite(law.upper):
        edge = max(abs(x) for x, _ in law.atoms) if law.atoms else abs(
            law.upper * law.scale + law.loc)
        hi = max(hi, edge * (1.0 + 8.0 / n_levels))

    # laws with atoms or support edges: one minimum per level crossing, resolve them;
    # smooth laws: every case in the mpmath references has a single minimum, a 1 %
    # scan separates any two minima more than 2 % apart
    rel = min(2e-3, 1.0 / (16.0 * n_levels)) if _has_features(law) else 1e-2
    m = int(math.ceil(math.log(hi / lo) / math.log1p(rel))) + 1
    if scan_points is not None:
        m = scan_points
    max_scan = 400_000
    truncated = m > max_scan
    m = min(m, max_scan)
    grid_a = np.geomspace(lo, hi, m)
    vals = _total(law, grid_a, bits, "exact", fmt)
    nfev += m
    # local minima of the scan (plateaus count once)
    interior = np.flatnonzero((vals[1:-1] <= vals[:-2]) & (vals[1:-1] < vals[2:])) + 1
    cands = list(interior)
    if vals[0] <= vals[1]:
        cands.append(0)
    if vals[-1] < vals[-2]:
        cands.append(m - 1)
    n_local = len(cands)
    cands = sorted(cands, key=lambda j: vals[j])[:12]

    def f(a):
        e = _total(law, a, bits, "exact", fmt)
        return e if np.ndim(a) else float(e[0])

    best_a, best_e = float(grid_a[int(np.argmin(vals))]), float(vals.min())
    for j in cands:
        a_lo = grid_a[max(j - 1, 0)]
        a_hi = grid_a[min(j + 1, m - 1)]
        a_star, e_star, k = _refine(f, a_lo, a_hi, rel)
        nfev += k
        if e_star < best_e:
            best_a, best_e = a_star, e_star
    t, r = _error_parts(law, np.array([best_a]), np.array([bits]), "exact", fmt)
    success = not truncated and lo < best_a < hi
    msg = (f"global minimum over [{lo:.6g}, {hi:.6g}] (left end: truncation alone "
           f"exceeds the best error; right end: error > 2x best and rising), scanned at "
           f"{m} points (relative spacing {math.expm1(math.log(hi / lo) / (m - 1)):.2e}); "
           f"{n_local} local minima, best {min(12, n_local)} refined by Newton on "
           f"E[Q(W)(W-Q(W))] = 0")
    if truncated:
        msg = "NOT CERTIFIED: scan capped at 400000 points; " + msg
    return OptimalAlpha(float(best_a), float(t[0] + r[0]), float(t[0]), float(r[0]), bits,
                        "exact", fmt.name, bool(success), msg, nfev, "scan+brent")


def _refine(f, a_lo, a_hi, rel):
    """Minimise f on [a_lo, a_hi]: Newton on 5-point differences, else bounded Brent.

    The stencil half-width is a quarter of the scan spacing, so it never straddles more
    than the kinks the scan itself resolves.  Newton stops when the step is below
    1e-12 relative, or below 1e-10 and no longer shrinking (the noise floor of the
    differences); the fixed point is where the 5-point derivative (error
    O(h^4) + O(eps E/h)) vanishes.  Bounded Brent on E is the fallback.
    """
    nfev = 0
    a = 0.5 * (a_lo + a_hi)
    h = min(0.25 * rel, 5e-4) * a
    last_step = np.inf
    for _ in range(12):
        e = f(np.array([a - 2 * h, a - h, a, a + h, a + 2 * h]))
        nfev += 5
        d1 = (e[0] - 8 * e[1] + 8 * e[3] - e[4]) / (12 * h)
        d2 = (-e[0] + 16 * e[1] - 30 * e[2] + 16 * e[3] - e[4]) / (12 * h * h)
        if not d2 > 0:
            break
        a_new = min(max(a - d1 / d2, a_lo), a_hi)
        step = abs(a_new - a)
        a = a_new
        # converged, or stalled at the noise floor of the differences (~1e-13 a)
        if step <= 1e-12 * a or (step <= 1e-10 * a and step >= 0.5 * last_step):
            return a, float(f(a)), nfev + 1
        last_step = step
    if last_step <= 1e-10 * a:
        return a, float(f(a)), nfev + 1
    res = optimize.minimize_scalar(f, bounds=(a_lo, a_hi), method="bounded",
                                   options={"xatol": 1e-13 * a})
    return float(res.x), float(res.fun), nfev + int(res.nfev)


# --------------------------------------------------------------------------- public
def optimal_alpha(dist, bits: ArrayLike = None, *, model: str = "exact", grid=None,
                  axis=None) -> OptimalAlpha:
    r"""Clipping boundary :math:`\alpha^*` minimising the quantization error.

    .. math::

        \alpha^* = \operatorname*{arg\,min}_{\alpha>0} E(\alpha)

    where :math:`E` is :func:`qerror.mse` of `dist` with `bits` bits on `grid` in
    `model`.  In the ACIQ model this is the :math:`\alpha` of the supplement's Eq. 4
    (Eq. 7 and Lemma 2's :math:`\alpha'` for a clamped law).

    Parameters
    ----------
    dist : scipy.stats frozen continuous distribution, ClampedDistribution or array_like
        The law (or data; see :mod:`qerror.data.solver`).
    bits : int or array_like of int
        Bit-width(s); an array gives array fields, one entry per bit-width.
    model : {"exact", "aciq"}
    grid : str or qerror.formats.Format, optional
        Quantizer format; default ``"midrise"``.
    axis : int, optional
        Data only: the channel axis, one optimum per channel.

    Returns
    -------
    OptimalAlpha
        ``alpha``, ``mse``, ``truncation``, ``rounding``, ``success``, ``message`` (how
        the optimum was certified), ``nfev`` and ``method``.

    Examples
    --------
    >>> from scipy import stats
    >>> import qerror
    >>> r = qerror.optimal_alpha(stats.norm(), 8, model="aciq")
    >>> round(r.alpha, 4), r.method
    (3.924, 'stationarity')
    >>> round(qerror.optimal_alpha(stats.laplace(), 8, model="aciq").alpha, 4)
    9.8968
    >>> r = qerror.optimal_alpha(stats.norm(), 4)
    >>> round(r.alpha, 6), r.success
    (2.681605, True)
    """
    model = check_model(model)
    fmt = get_format(grid)
    law, data = law_or_data(dist)
    if law is None:
        from .data import solver

        return solver.optimal_alpha_data(data, bits, model=model, grid=fmt, axis=axis)
    if axis is not None:
        raise ValueError("axis applies to data arrays only, not to distributions")
    if model == "aciq" and not fmt.uniform:
        raise ValueError(f"model='aciq' needs a uniform grid; grid {fmt.name!r} has "
                         "unequal steps (use model='exact')")
    b = fmt.check_bits(bits)
    if law.family.infinite_variance and not (np.isfinite(law.lower)
                                             and np.isfinite(law.upper)):
        # the clipped tail's error is infinite for every alpha: nothing to minimise
        raise ValueError("dist has infinite variance, so its quantization error is "
                         "infinite for every alpha; clamp it first (qerror.clamp)")
    if b.ndim == 0:
        return _solve_one(law, int(b), model, fmt)
    results = [_solve_one(law, int(bi), model, fmt) for bi in b.ravel()]
    return _stack(results, b.shape, model, fmt)


def _solve_one(law, bits, model, fmt):
    if model == "aciq":
        return _solve_aciq(law, bits, fmt)
    return _solve_exact(law, bits, fmt)


def _stack(results, shape, model, fmt):
    def arr(name, dtype=float):
        return np.array([getattr(r, name) for r in results], dtype=dtype).reshape(shape)

    msgs = sorted({r.message for r in results})
    return OptimalAlpha(arr("alpha"), arr("mse"), arr("truncation"), arr("rounding"),
                        arr("bits", np.int64), model, fmt.name, arr("success", bool),
                        msgs[0] if len(msgs) == 1 else " | ".join(msgs),
                        int(sum(r.nfev for r in results)),
                        ",".join(sorted({r.method for r in results})))


def optimal_alpha_table(dists, bits=range(1, 9), *, models=("aciq", "exact"),
                        grid=None):
    """Optimal alpha for several laws, bit-widths and models, as a list of rows.

    Parameters
    ----------
    dists : dict of {str: distribution}
        Named laws, e.g. ``{"norm": stats.norm(), "laplace": stats.laplace()}``.
    bits : iterable of int
    models : iterable of {"aciq", "exact"}
    grid : str or qerror.formats.Format, optional

    Returns
    -------
    list of dict
        One row per (law, bits) with keys ``law``, ``bits`` and, for each model,
        ``alpha_<model>`` and ``mse_<model>``; with both models, also
        ``penalty_aciq_in_exact``: the exact-model MSE at the ACIQ alpha divided by the
        exact optimum.
    """
    if not hasattr(dists, "items"):
        raise TypeError("dists must be a dict of {name: distribution}, got "
                        f"{type(dists).__name__}")
    try:
        bits = [int(b) for b in get_format(grid).check_bits(list(bits))]
    except TypeError:
        raise TypeError(f"bits must be an iterable of integers, got {bits!r}") from None
    if isinstance(models, str):
        models = (models,)
    try:
        models = [check_model(m) for m in models]
    except TypeError:
        raise TypeError(f"models must be an iterable of model names, got {models!r}") \
            from None
    rows = []
    for name, dist in dists.items():
        for b in bits:
            row = {"law": name, "bits": int(b)}
            res = {m: optimal_alpha(dist, int(b), model=m, grid=grid) for m in models}
            for m, r in res.items():
                row[f"alpha_{m}"] = r.alpha
                row[f"mse_{m}"] = r.mse
            if "aciq" in res and "exact" in res:
                from .error import mse

                row["penalty_aciq_in_exact"] = mse(dist, res["aciq"].alpha, int(b),
                                                   grid=grid) / res["exact"].mse
            rows.append(row)
    return rows
