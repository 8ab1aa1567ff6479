r"""Robustness of the quantization error to the step size, and kurtosis.

The supplement's Fig. 5A measures accuracy when a network optimised for the step
:math:`\Delta'` is run with a scaled step :math:`\Delta = s\,\Delta'`; KURE (Shkolnik et
al., NeurIPS 2020) argues that a law is robust to such changes when the error
:math:`E(\Delta)` is flat around its minimum, and pushes the weights' kurtosis towards
1.8, the uniform law's.  This module computes the three ingredients for any law:

* :func:`step_robustness`: the curve :math:`E(s\Delta^*)` for :math:`s` in
  :math:`[0.5, 1.5]` (the data of Fig. 5A for the MSE; plot it with
  ``qerror.plotting``);
* :func:`step_sensitivity`: the curvature of :math:`E` at the optimum, KURE's
  sensitivity measure :math:`\Gamma(\varepsilon) = E(\Delta^*+\varepsilon) -
  E(\Delta^*) \approx \tfrac12 E''(\Delta^*)\,\varepsilon^2`, one-sided where
  :math:`E` has a kink;
* :func:`kurtosis`: :math:`\mathbb E[(W-\mu)^4]/\sigma^4` of a law, a clamped law or
  data.

Scaling the step at a fixed number of levels scales the range with it:
:math:`\alpha = s\,\alpha^*`, so :math:`E(s) = E(s\,\alpha^*)` on every grid.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import integrate

from ._dispatch import law_or_data
from ._law_engine import _error_parts
from ._validation import check_model, check_positive_scalar
from .data._checks import _check_data, _check_finite
from .error import mse
from .formats import get_format
from .laws._protocol import Law
from .laws.clamped import ClampedDistribution
from .optimal import optimal_alpha

__all__ = ["step_robustness", "step_sensitivity", "kurtosis", "StepRobustness",
           "StepSensitivity"]


# ------------------------------------------------------------------ result types
@dataclass(frozen=True, repr=False)
class StepRobustness:
    r"""The error as the step is scaled away from its optimum (:func:`step_robustness`).

    Attributes
    ----------
    scale : ndarray
        :math:`s`, the step relative to the optimal step.
    step : ndarray
        :math:`s\,\Delta^*`.
    alpha : ndarray
        :math:`s\,\alpha^*`, the clipping boundary that goes with the step.
    mse : ndarray
        :math:`E(s\,\Delta^*)`.
    relative : ndarray
        :math:`E(s\,\Delta^*) / E(\Delta^*)`, 1 at :math:`s = 1`.
    step_opt, alpha_opt, mse_opt : float
        :math:`\Delta^*`, :math:`\alpha^*` and :math:`E(\Delta^*)`.
    bits : int
    model : str
    grid : str
    """

    scale: np.ndarray
    step: np.ndarray
    alpha: np.ndarray
    mse: np.ndarray
    relative: np.ndarray
    step_opt: float
    alpha_opt: float
    mse_opt: float
    bits: int
    model: str
    grid: str

    def __repr__(self) -> str:
        return (f"StepRobustness(bits={self.bits}, model={self.model!r}, "
                f"grid={self.grid!r}, "
                f"step_opt={self.step_opt:.6g}, mse_opt={self.mse_opt:.6g}, "
                f"{self.scale.size} scales in [{self.scale.min():.3g}, "
                f"{self.scale.max():.3g}], relative error up to {self.relative.max():.4g})")


@dataclass(frozen=True, repr=False)
class StepSensitivity:
    r"""Curvature of the error at the optimal step (:func:`step_sensitivity`).

    Attributes
    ----------
    curvature : float
        :math:`\tfrac12(E''_- + E''_+)`, the mean of the one-sided second derivatives
        :math:`d^2E/d\Delta^2` at :math:`\Delta^*` (equal where :math:`E` is smooth).
        KURE's sensitivity is :math:`\Gamma(\varepsilon) \approx \tfrac12\,
        \mathrm{curvature}\;\varepsilon^2`.
    curvature_left, curvature_right : float
        The one-sided second derivatives :math:`d^2E/d\Delta^2` (step decreased,
        increased).
    slope_left, slope_right : float
        The one-sided first derivatives :math:`dE/d\Delta`; both vanish at a smooth
        minimum (a non-zero pair means a corner minimum, where the sensitivity is
        first order in :math:`\varepsilon`).
    relative_curvature : float
        :math:`\kappa = \Delta^{*2} \cdot \mathrm{curvature} / E(\Delta^*)`, so that
        :math:`E(s\Delta^*)/E(\Delta^*) \approx 1 + \tfrac{\kappa}{2}(s-1)^2`;
        dimensionless, comparable across laws and scales.
    smooth : bool
        Whether the two one-sided curvatures agree within their error estimates: no
        kink of :math:`E` at :math:`\Delta^*`.
    window : tuple of float
        :math:`(s_-, s_+)`: the nearest values of :math:`s` around 1 where a point
        mass or a density jump of the law crosses a decision threshold (a kink of
        :math:`E`); the curvature describes :math:`E` between them.  ``(0, inf)`` if
        the law has no such features.
    step_opt, alpha_opt, mse_opt : float
        :math:`\Delta^*`, :math:`\alpha^*`, :math:`E(\Delta^*)`.
    h : tuple of float
        The largest difference steps in :math:`s` (left, right); the one-sided
        second differences are extrapolated to zero step (Ridders' method).
    error : float
        Estimated absolute error of `curvature` (from the extrapolation).
    bits : int
    model : str
    grid : str
    """

    curvature: float
    curvature_left: float
    curvature_right: float
    slope_left: float
    slope_right: float
    relative_curvature: float
    smooth: bool
    window: tuple
    step_opt: float
    alpha_opt: float
    mse_opt: float
    h: tuple
    error: float
    bits: int
    model: str
    grid: str

    def __repr__(self) -> str:
        return (f"StepSensitivity(curvature={self.curvature:.6g}, "
                f"relative_curvature={self.relative_curvature:.6g}, "
                f"smooth={self.smooth}, step_opt={self.step_opt:.6g}, "
                f"mse_opt={self.mse_opt:.6g}, bits={self.bits}, model={self.model!r}, "
                f"grid={self.grid!r})")


# ------------------------------------------------------------------ helpers
def _scalar_bits(bits, fmt) -> int:
    b = fmt.check_bits(bits)
    if b.ndim != 0:
        raise ValueError(f"bits must be a single integer here, got {bits!r}")
    return int(b)


def _optimum(dist, bits: int, model: str, fmt, alpha_opt):
    """(alpha*, E*) from the solver, or E at a given alpha*."""
    if alpha_opt is None:
        res = optimal_alpha(dist, bits, model=model, grid=fmt)
        if not np.all(res.success):
            warnings.warn(f"optimal_alpha did not certify its optimum: {res.message}",
                          RuntimeWarning, stacklevel=3)
        return float(res.alpha), float(res.mse)
    a = check_positive_scalar(alpha_opt, "alpha_opt")
    return a, float(mse(dist, a, bits, model=model, grid=fmt))


def _step_of(alpha: float, bits: int, fmt) -> float:
    return float(fmt.step(np.array([alpha]), np.array([bits]))[0])


def _features(law: Law):
    """Points (real units) where the law has an atom or a density jump."""
    pts = [x for x, m in law.atoms if m > 0.0]
    fam = law.family
    for z, inward in ((law.lower, 1.0), (law.upper, -1.0)):
        if np.isfinite(z):
            probe = z + inward * 1e-9 * max(1.0, abs(z))
            if float(np.asarray(fam.pdf(np.array([probe]))).ravel()[0]) > 1e-9:
                pts.append(law.loc + law.scale * z)
    return pts


def _kink_window(law: Law, alpha: float, bits: int, fmt, model: str):
    """(s_left, s_right): nearest kinks of E(s alpha) below and above s = 1.

    Exact model: where an atom or density jump crosses a decision threshold (the
    range ends are not kinks: values beyond them go to the last level anyway).
    ACIQ model: where the range end crosses an atom or density jump.
    """
    s_lo, s_hi = 0.0, math.inf
    for x0 in _features(law):
        u = x0 / alpha
        if u == 0.0 or (not fmt.signed and u < 0.0):
            continue
        if model == "aciq":
            s0 = abs(u)
            if s0 > 1.0:
                s_hi = min(s_hi, s0)
            elif s0 < 1.0:
                s_lo = max(s_lo, s0)
            continue
        below, above = fmt.thresholds_around(u, bits)
        # u > 0: s up -> u/s down, crosses `below`; s down crosses `above` (mirror if u<0)
        up, down = (below, above) if u > 0 else (above, below)
        if up is not None and up * u > 0:
            s_hi = min(s_hi, u / up)
        if down is not None and down * u > 0:
            s_lo = max(s_lo, u / down)
    return s_lo, s_hi


def _neville(values, con: float, p: int):
    """Ridders' extrapolation to h -> 0 of estimates D(h0 / con**i), i = 0, 1, ...
    whose error is a power series in h**p; returns (estimate, error estimate)."""
    n = len(values)
    tab = np.full((n, n), np.nan)
    best, err = values[0], math.inf
    for i in range(n):
        tab[0, i] = values[i]
        fac = con**p
        for j in range(1, i + 1):
            tab[j, i] = (tab[j - 1, i] * fac - tab[j - 1, i - 1]) / (fac - 1.0)
            fac *= con**p
            errt = max(abs(tab[j, i] - tab[j - 1, i]), abs(tab[j, i] - tab[j - 1, i - 1]))
            if errt <= err:
                best, err = tab[j, i], errt
        if i > 0 and abs(tab[i, i] - tab[i - 1, i - 1]) >= 2.0 * err:
            break
    return float(best), float(err)


_CON, _NTAB = 1.4, 16


def _one_sided(law, a_opt, b, model, fmt, h_l, h_r):
    """One-sided second and first derivatives of E(s a_opt) at s = 1 (per unit s):
    3-point differences at steps h * 1.4**-i, extrapolated by Ridders' method."""
    hs = _CON ** -np.arange(_NTAB)
    nodes = np.concatenate([[1.0], 1.0 + h_r * hs, 1.0 + 2.0 * h_r * hs,
                            1.0 - h_l * hs, 1.0 - 2.0 * h_l * hs])
    t, r = _error_parts(law, nodes * a_opt, np.full(nodes.shape, b), model, fmt)
    e = (t + r).reshape(-1)
    e0 = e[0]
    e_r1, e_r2, e_l1, e_l2 = (e[1 + k * _NTAB:1 + (k + 1) * _NTAB] for k in range(4))
    hr, hl = h_r * hs, h_l * hs
    c2_r, err_r = _neville(list((e_r2 - 2.0 * e_r1 + e0) / hr**2), _CON, 1)
    c2_l, err_l = _neville(list((e_l2 - 2.0 * e_l1 + e0) / hl**2), _CON, 1)
    c1_r, err1_r = _neville(list((4.0 * e_r1 - 3.0 * e0 - e_r2) / (2.0 * hr)), _CON, 1)
    c1_l, err1_l = _neville(list(-(4.0 * e_l1 - 3.0 * e0 - e_l2) / (2.0 * hl)), _CON, 1)
    return c2_l, err_l, c2_r, err_r, c1_l, c1_r, err1_l + err1_r


# ------------------------------------------------------------------ public
def step_robustness(dist, bits, scales: ArrayLike | None = None, *, model: str = "exact",
                    grid=None, alpha_opt=None) -> StepRobustness:
    r"""Error when the step is scaled away from the optimum (supplement Fig. 5A).

    .. math::

        E(s) = \mathbb E\left[\bigl(W - Q_{s\Delta^*}(W)\bigr)^2\right],
        \qquad \frac{E(s)}{E(1)} \quad\text{for } s \in [0.5, 1.5],

    where :math:`Q_\Delta` is the `bits`-bit quantizer of `grid` with step
    :math:`\Delta` (and range :math:`\alpha = s\alpha^*`) and :math:`\Delta^*` the
    optimal step of `model`.  This is the curve data for a plot; it does not draw.

    Parameters
    ----------
    dist : scipy.stats frozen law, ClampedDistribution, saturated law or array_like
        The law of :math:`W` (or data: the empirical error of the values).
    bits : int
        Bit-width.
    scales : array_like, optional
        The values of :math:`s` (> 0); default ``numpy.linspace(0.5, 1.5, 101)``.
    model : {"exact", "aciq"}
        Which error is optimised and reported (:func:`qerror.mse`).
    grid : str or qerror.formats.Format, optional
    alpha_opt : float, optional
        Use this :math:`\alpha^*` instead of solving for it (e.g. a deployed range).

    Returns
    -------
    StepRobustness
        Arrays ``scale``, ``step``, ``alpha``, ``mse``, ``relative`` and the optimum.

    See Also
    --------
    step_sensitivity : the curvature of this curve at :math:`s = 1`.

    Examples
    --------
    >>> from scipy import stats
    >>> import qerror
    >>> r = qerror.robustness.step_robustness(stats.norm(), 4, [0.5, 1.0, 1.5])
    >>> [round(float(v), 3) for v in r.relative]
    [7.388, 1.0, 1.826]
    >>> u = qerror.robustness.step_robustness(stats.uniform(-1, 2), 4, [0.5, 1.0, 1.5])
    >>> [round(float(v), 4) for v in u.relative]
    [38.5, 1.0, 2.3125]
    """
    model, fmt = check_model(model), get_format(grid)
    b = _scalar_bits(bits, fmt)
    if scales is None:
        s = np.linspace(0.5, 1.5, 101)
    else:
        try:
            s = np.asarray(scales, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"scales must be an array of positive numbers, got "
                            f"{scales!r}") from None
        if s.size == 0 or not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise ValueError(f"scales must be finite and > 0, got {scales!r}")
        s = s.ravel()
    a_opt, e_opt = _optimum(dist, b, model, fmt, alpha_opt)
    alphas = s * a_opt
    e = np.asarray(mse(dist, alphas, b, model=model, grid=fmt), dtype=np.float64)
    d_opt = _step_of(a_opt, b, fmt)
    return StepRobustness(s, s * d_opt, alphas, e, e / e_opt, d_opt, a_opt, e_opt, b,
                          model, fmt.name)


def step_sensitivity(dist, bits, *, model: str = "exact", grid=None,
                     alpha_opt=None, h: float = 0.05) -> StepSensitivity:
    r"""Curvature of the error at the optimal step: KURE's sensitivity measure.

    .. math::

        \Gamma(\varepsilon) = E(\Delta^* + \varepsilon) - E(\Delta^*)
            \approx \tfrac12\,E''(\Delta^*)\,\varepsilon^2,
        \qquad \kappa = \frac{\Delta^{*2}\,E''(\Delta^*)}{E(\Delta^*)},

    where :math:`E(\Delta)` is :func:`qerror.mse` with step :math:`\Delta` (range
    :math:`\alpha = \Delta\,\alpha^*/\Delta^*`), :math:`\Delta^*` the optimum and
    :math:`\kappa` the dimensionless curvature
    (:math:`E(s\Delta^*)/E(\Delta^*) \approx 1 + \tfrac{\kappa}{2}(s-1)^2`).

    The exact error of a law with point masses (clamped laws) or density jumps
    (uniform) has kinks where those points cross a decision threshold, at relative
    distances of order :math:`2^{-b}` from the optimum; the derivatives are taken
    one-sided inside the smooth piece on each side (3-point differences extrapolated
    to zero step by Ridders' method), and both are reported.

    Parameters
    ----------
    dist : scipy.stats frozen law, ClampedDistribution or saturated law
        The law of :math:`W` (not data: the empirical error has a kink at every
        sample).
    bits : int
        Bit-width.
    model : {"exact", "aciq"}
    grid : str or qerror.formats.Format, optional
    alpha_opt : float, optional
        Use this :math:`\alpha^*` instead of solving for it.
    h : float
        Largest difference step in :math:`s` (default 0.05); it is reduced to fit
        between kinks, and the extrapolation uses steps down to :math:`h/155`.

    Returns
    -------
    StepSensitivity
        ``curvature`` (:math:`d^2E/d\Delta^2`), the one-sided curvatures and slopes,
        ``relative_curvature`` (:math:`\kappa`), ``smooth`` and the optimum.

    Notes
    -----
    In the ACIQ model (Eq. 3) the curvature has a closed form,
    :math:`E''(\alpha) = 2P(|W| > \alpha) + 2\Delta^2/(12\alpha^2)` (midrise:
    :math:`2/(3\cdot4^b)`), which the tests use as a check.

    Examples
    --------
    >>> from scipy import stats
    >>> import qerror
    >>> r = qerror.robustness.step_sensitivity(stats.norm(), 4)
    >>> round(r.relative_curvature, 3), r.smooth
    (14.513, True)
    >>> u = qerror.robustness.step_sensitivity(stats.uniform(-1, 2), 4)  # kappa = 6(2^b-1)
    >>> round(u.relative_curvature, 6)
    90.0
    """
    model, fmt = check_model(model), get_format(grid)
    b = _scalar_bits(bits, fmt)
    law, _ = law_or_data(dist)
    if law is None:
        raise TypeError("step_sensitivity needs a distribution; for data, whose error "
                        "has a kink at every sample, use step_robustness")
    h = check_positive_scalar(h, "h")
    a_opt, e_opt = _optimum(dist, b, model, fmt, alpha_opt)
    s_lo, s_hi = _kink_window(law, a_opt, b, fmt, model)
    h_l0 = min(h, 0.45 * (1.0 - s_lo))
    h_r0 = min(h, 0.45 * (s_hi - 1.0))
    # E(s) may have structure on the scale of one cell (a steep density near the
    # range end): shrink the starting step until the extrapolation converges
    best = None
    for attempt in range(5):
        shrink = 8.0**-attempt
        res = _one_sided(law, a_opt, b, model, fmt, h_l0 * shrink, h_r0 * shrink)
        # converged when both curvatures and the slopes (whose natural unit is the
        # curvature times one unit of s) are known to 1e-7
        rel = (res[1] + res[3] + res[6]) / max(abs(res[0]) + abs(res[2]), 1e-300)
        if best is None or rel < best[0]:
            best = (rel, res, (h_l0 * shrink, h_r0 * shrink))
        if rel <= 1e-7:
            break
    _, (c2_l, err_l, c2_r, err_r, c1_l, c1_r, _), (h_l, h_r) = best
    d_opt = _step_of(a_opt, b, fmt)
    to_step = 1.0 / d_opt  # d/dDelta = (1/Delta*) d/ds
    c_l, c_r = c2_l * to_step**2, c2_r * to_step**2
    curv = 0.5 * (c_l + c_r)
    tol = 2.0 * (err_l + err_r) + 1e-9 * abs(c2_l + c2_r)
    smooth = abs(c2_l - c2_r) <= tol
    kappa = 0.5 * (c2_l + c2_r) / e_opt
    return StepSensitivity(curv, c_l, c_r, c1_l * to_step, c1_r * to_step, kappa,
                           bool(smooth), (s_lo, s_hi), d_opt, a_opt, e_opt,
                           (h_l, h_r), 0.5 * (err_l + err_r) * to_step**2, b, model, fmt.name)


def _clamped_central_moments(cd: ClampedDistribution):
    """(mean, mu2, mu4) of clip(W, -d, d) by the quantile transform of W."""
    base, d = cd.base, cd.d
    m = float(cd.mean())
    (xl, pl), (xr, pr) = cd.atoms
    u0, u1 = float(base.cdf(-d)), float(base.cdf(d))
    um = float(base.cdf(np.clip(m, -d, d)))
    moments = []
    for k in (2, 4):
        def g(u, k=k):
            return (float(base.ppf(u)) - m) ** k
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            inner = sum(integrate.quad(g, lo, hi, epsabs=0.0, epsrel=1e-12, limit=200)[0]
                        for lo, hi in ((u0, um), (um, u1)) if hi > lo)
        moments.append(inner + pl * (xl - m) ** k + pr * (xr - m) ** k)
    return m, moments[0], moments[1]


def kurtosis(dist, *, excess: bool = False):
    r"""Kurtosis :math:`\mathbb E[(W-\mu)^4] / \sigma^4` of a law or of data.

    .. math::

        \operatorname{Kurt}[W] = \frac{\mathbb E\left[(W-\mu)^4\right]}
                                      {\left(\mathbb E\left[(W-\mu)^2\right]\right)^2}

    where :math:`\mu = \mathbb E[W]`: 1.8 for the uniform law (KURE's target), 3
    for the normal, 6 for the Laplace.  Point masses count (a clamped law), so laws
    with mass piled at the ends, such as a strongly clamped or saturated law, can
    go below 1.8; 1 is the minimum (two equal atoms).

    Parameters
    ----------
    dist : scipy.stats frozen law, ClampedDistribution, saturated law or array_like
        The law, or data (all values pooled; the moment estimator of KURE,
        with :math:`\sigma` the population standard deviation).
    excess : bool
        Subtract 3 (Fisher's definition, ``scipy.stats.kurtosis``'s default).

    Returns
    -------
    float
        ``inf`` if the fourth moment is infinite (e.g. ``stats.t(4)``).

    Examples
    --------
    >>> from scipy import stats
    >>> import qerror
    >>> round(qerror.robustness.kurtosis(stats.uniform(-1, 2)), 12)
    1.8
    >>> [round(qerror.robustness.kurtosis(d), 12) for d in (stats.laplace(), stats.norm())]
    [6.0, 3.0]
    >>> clamped = qerror.clamp(stats.norm(), 1.0)
    >>> round(qerror.robustness.kurtosis(clamped), 6)  # below the uniform's
    1.613168
    """
    if not isinstance(excess, (bool, np.bool_)):
        raise TypeError(f"excess must be True or False, got {excess!r}")
    if isinstance(dist, ClampedDistribution):
        _, mu2, mu4 = _clamped_central_moments(dist)
        k = mu4 / (mu2 * mu2)
    elif law_or_data(dist)[0] is not None:  # validates (frozen, continuous, scalar)
        m, v, g2 = (float(x) for x in dist.stats(moments="mvk"))
        if not np.isfinite(v) or not np.isfinite(m):
            k = math.inf
        else:
            k = g2 + 3.0 if np.isfinite(g2) else math.inf
    else:
        x = _check_data(dist, "dist").astype(np.float64, copy=False).ravel()
        _check_finite(x, "dist")
        c = x - x.mean()
        mu2 = float(np.mean(c * c))
        if mu2 == 0.0:
            raise ValueError("dist has zero variance: the kurtosis is undefined")
        k = float(np.mean(c**4)) / (mu2 * mu2)
    return float(k - 3.0 if excess else k)
