"""Step-size robustness (supplement Fig. 5A), curvature at the optimum (KURE's
sensitivity) and kurtosis (qerror.robustness), and the checks of Shkolnik et al.'s
argument that docs/robustness.md states.

References: ``tests/reference/robustness_reference.json`` from
``tests/reference/generate_robustness.py`` (mpmath only).
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize, stats

import qerror
from qerror.robustness import (
    StepRobustness,
    StepSensitivity,
    kurtosis,
    step_robustness,
    step_sensitivity,
)
from qerror.laws.saturated import saturate

REF = json.loads((Path(__file__).parent / "reference" / "robustness_reference.json")
                 .read_text())["records"]

#: curvature from extrapolated differences vs mpmath's analytic-precision derivative:
#: worst seen 1.3e-9 relative
RTOL_CURV = 1e-8
#: closed forms of the curvature (uniform exact, ACIQ model): worst seen 2e-11
RTOL_CLOSED = 1e-9
#: kurtosis vs mpmath: worst seen 4e-16
RTOL_KURT = 1e-12

UNIFORM = stats.uniform(-1.0, 2.0)  # R = 1


# ----------------------------------------------------------------- the curve
def test_step_robustness_is_the_error_along_the_scaled_step():
    r = step_robustness(stats.laplace(0.1, 2.0), 5, [0.5, 0.8, 1.0, 1.3], grid="midtread")
    assert isinstance(r, StepRobustness) and "StepRobustness(bits=5" in repr(r)
    assert r.relative[2] == 1.0
    assert r.alpha == pytest.approx(r.scale * r.alpha_opt, rel=1e-15)
    assert r.step == pytest.approx(r.alpha / 15, rel=1e-15)  # midtread: alpha / K
    direct = qerror.mse(stats.laplace(0.1, 2.0), r.alpha, 5, grid="midtread")
    assert r.mse == pytest.approx(direct, rel=1e-15)
    assert r.mse_opt == pytest.approx(qerror.optimal_alpha(stats.laplace(0.1, 2.0), 5,
                                                           grid="midtread").mse)
    d = step_robustness(stats.norm(), 3)
    assert d.scale.size == 101 and d.scale[0] == 0.5 and d.scale[-1] == 1.5
    assert np.argmin(d.mse) == 50


@pytest.mark.parametrize("bits", [2, 4, 6])
def test_uniform_law_error_is_a_cubic_in_the_step(bits):
    """U(-1, 1), s <= 1: N - 2 whole cells and two edge cells [alpha - D, 1] at the
    outermost levels, E(s) = (N-2) D^3/24 + [(1 - s + D/2)^3 + (D/2)^3]/3,
    D = 2s/N; E(1) = D*^2/12.  (b = 4: 38.5 E* at s = 1/2.)"""
    n = 2**bits
    s = np.linspace(0.3, 1.0, 15)
    r = step_robustness(UNIFORM, bits, s)
    d = 2 * s / n
    cubic = (n - 2) * d**3 / 24 + ((1 - s + d / 2) ** 3 + (d / 2) ** 3) / 3
    assert r.mse == pytest.approx(cubic, rel=1e-13)
    assert r.mse_opt == pytest.approx((2 / n) ** 2 / 12, rel=1e-14)
    if bits == 4:
        rel = step_robustness(UNIFORM, 4, [0.5, 1.5]).relative
        assert rel == pytest.approx([38.5, 2.3125], rel=1e-13)


def test_data_input_uses_the_empirical_error():
    x = stats.norm().rvs(size=20_000, random_state=np.random.default_rng(5))
    r = step_robustness(x, 4, [0.8, 1.0, 1.2])
    assert r.relative[1] == 1.0 and np.all(r.relative >= 1.0 - 1e-12)
    with pytest.raises(TypeError, match="distribution"):
        step_sensitivity(x, 4)


# ----------------------------------------------------------------- the curvature
@pytest.mark.parametrize("rec", REF["curvature"], ids=lambda r: f"{r['law']}-{r['bits']}")
def test_curvature_against_mpmath(rec):
    s = step_sensitivity(getattr(stats, rec["law"])(), rec["bits"])
    assert isinstance(s, StepSensitivity) and s.smooth
    assert s.curvature == pytest.approx(rec["d2E_dstep2"], rel=RTOL_CURV)
    assert s.relative_curvature == pytest.approx(rec["kappa"], rel=RTOL_CURV)
    assert s.curvature_left == pytest.approx(s.curvature_right, rel=RTOL_CURV)
    # the optimum is stationary: both one-sided slopes vanish (in units of E'' * 1 s)
    for slope in (s.slope_left, s.slope_right):
        assert abs(slope * s.step_opt) <= 1e-8 * s.curvature * s.step_opt**2
    assert s.error <= 1e-8 * s.curvature


@pytest.mark.parametrize("bits", range(1, 13))
def test_uniform_law_curvature_closed_form(bits):
    """U(-R, R), exact quantizer: E(s) is the cubic above near s = 1, E'(1) = 0 and
    kappa = E''(1)/E(1) = 6 (2^b - 1); the next kink is at s = 1/(1 - 2/N)."""
    n = 2**bits
    s = step_sensitivity(stats.uniform(-3.0, 6.0), bits)
    assert s.relative_curvature == pytest.approx(6 * (n - 1), rel=RTOL_CLOSED)
    assert s.curvature == pytest.approx((n - 1) / 2, rel=RTOL_CLOSED)  # per unit step
    assert s.smooth and s.window[0] == 0.0
    if bits > 1:
        assert s.window[1] == pytest.approx(1 / (1 - 2 / n), rel=1e-12)


ACIQ_LAWS = [stats.norm(), stats.laplace(scale=0.5), stats.norm(0.4, 1.5),
             qerror.clamp(stats.norm(), 3.0), qerror.clamp(stats.laplace(0.2), 4.0)]


@pytest.mark.parametrize("grid", ["midrise", "midtread"])
@pytest.mark.parametrize("case", range(len(ACIQ_LAWS)))
def test_aciq_curvature_closed_form(case, grid):
    """Eq. 3: E''(alpha) = 2 P(|W| > alpha) + 2 Delta^2/(12 alpha^2) (point masses
    beyond alpha included), so d2E/dDelta2 = E''(alpha) (alpha/Delta)^2."""
    dist = ACIQ_LAWS[case]
    bits = 4
    s = step_sensitivity(dist, bits, model="aciq", grid=grid)
    a = s.alpha_opt
    tail = float(dist.cdf(-a)) + (1.0 - float(dist.cdf(a)))
    c = (s.step_opt / a) ** 2 / 12
    expected = (2 * tail + 2 * c) * (a / s.step_opt) ** 2
    assert s.curvature == pytest.approx(expected, rel=RTOL_CLOSED)


def test_gamma_is_half_the_curvature_times_eps_squared():
    """KURE's Gamma(eps) = E(D* + eps) - E(D*) ~ curvature eps^2 / 2 (the mean of
    +eps and -eps cancels the cubic term)."""
    s = step_sensitivity(stats.norm(), 6)
    eps = 1e-3 * s.step_opt
    e = qerror.mse(stats.norm(), (s.step_opt + np.array([-eps, eps])) * s.alpha_opt
                   / s.step_opt, 6)
    gamma = e - s.mse_opt
    assert gamma.mean() == pytest.approx(0.5 * s.curvature * eps**2, rel=1e-5)
    assert gamma == pytest.approx(0.5 * s.curvature * eps**2, rel=1e-2)


def test_one_sided_curvatures_at_a_kink():
    """A clamped law whose atom sits on a decision threshold at the chosen alpha: the
    error has a corner there, and the one-sided curvatures and slopes differ; the
    window gives the next kinks on either side (d/alpha crossing the neighbouring
    thresholds 1/4 and 3/4)."""
    bits, d = 3, 1.0
    alpha = 2.0  # midrise thresholds -2 + k/2: d = 1 is one of them
    s = step_sensitivity(qerror.clamp(stats.norm(), d), bits, alpha_opt=alpha)
    assert s.window == pytest.approx((2 / 3, 2.0), rel=1e-14)
    assert not s.smooth
    assert s.curvature_left == pytest.approx(2.86689, rel=1e-5)
    assert s.curvature_right == pytest.approx(2.26417, rel=1e-5)
    assert s.slope_left > 0 > s.slope_right


def test_features_shrink_the_difference_steps():
    s = step_sensitivity(qerror.clamp(stats.norm(), 2.0), 8)
    assert s.window[1] - 1 < 0.01 and max(s.h) <= 0.05
    assert s.h[1] <= 0.45 * (s.window[1] - 1) + 1e-15


# ----------------------------------------------------------------- kurtosis
def test_kurtosis_pinned_values():
    assert kurtosis(UNIFORM) == pytest.approx(1.8, rel=1e-14)  # KURE's target
    assert kurtosis(stats.norm(3, 2)) == pytest.approx(3.0, rel=1e-14)
    assert kurtosis(stats.laplace()) == pytest.approx(6.0, rel=1e-14)
    assert kurtosis(stats.laplace(), excess=True) == pytest.approx(3.0, rel=1e-13)
    assert kurtosis(stats.t(4)) == math.inf
    assert math.isfinite(kurtosis(qerror.clamp(stats.t(4), 3.0)))


@pytest.mark.parametrize("rec", REF["kurtosis_clamped"],
                         ids=lambda r: f"{r['law']}-{r['d']}")
def test_clamped_kurtosis_against_mpmath(rec):
    k = kurtosis(qerror.clamp(getattr(stats, rec["law"])(), rec["d"]))
    assert k == pytest.approx(rec["kurtosis"], rel=RTOL_KURT)


def test_kurtosis_of_data_and_of_a_shifted_clamped_law():
    x = stats.gamma(3.0).rvs(size=50_000, random_state=np.random.default_rng(2))
    assert kurtosis(x) == pytest.approx(stats.kurtosis(x, fisher=False), rel=1e-12)
    assert kurtosis(x, excess=True) == pytest.approx(stats.kurtosis(x), rel=1e-12)
    law = qerror.clamp(stats.norm(0.7, 1.3), 1.5)
    y = law.rvs(size=400_000, random_state=np.random.default_rng(4))
    # standard error of the sample kurtosis ~ sqrt(var of the 4th-moment terms / n)
    assert kurtosis(law) == pytest.approx(stats.kurtosis(y, fisher=False), abs=0.01)


def test_kurtosis_bad_input():
    with pytest.raises(ValueError, match="zero variance"):
        kurtosis(np.ones(5))
    with pytest.raises(TypeError, match="excess"):
        kurtosis(stats.norm(), excess="yes")
    with pytest.raises(TypeError, match="frozen"):
        kurtosis(stats.norm)


def test_bad_input():
    with pytest.raises(ValueError, match="scales"):
        step_robustness(stats.norm(), 4, [0.5, -1.0])
    with pytest.raises(TypeError, match="scales"):
        step_robustness(stats.norm(), 4, ["a"])
    with pytest.raises(ValueError, match="bits"):
        step_robustness(stats.norm(), [3, 4])
    with pytest.raises(ValueError, match="model"):
        step_sensitivity(stats.norm(), 4, model="noise")
    with pytest.raises(ValueError, match="alpha_opt"):
        step_sensitivity(stats.norm(), 4, alpha_opt=0.0)
    with pytest.raises(ValueError, match="h must"):
        step_sensitivity(stats.norm(), 4, h=-0.1)
    with pytest.raises(ValueError, match="bits"):
        step_sensitivity(stats.norm(), 1, grid="midtread")


# ----------------------------------------------------------------- KURE's argument
@pytest.mark.parametrize("bits", range(1, 9))
def test_uniform_optimal_step_exact_model(bits):
    """Real quantizer: alpha* = R, i.e. Delta* = 2R/2^b (the uniform quantizer is then
    Lloyd-Max optimal), error Delta*^2/12."""
    r = qerror.optimal_alpha(stats.uniform(-1.5, 3.0), bits)
    assert r.alpha == pytest.approx(1.5, rel=1e-12)
    assert r.mse == pytest.approx((3.0 / 2**bits) ** 2 / 12, rel=1e-12)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_uniform_optimal_step_in_the_noise_models(bits):
    """ACIQ (Eq. 3): (R - a)^2 = 2 R a / (3 4^b), alpha* < R.  'In-range noise'
    model E = (R - a)^3/(3R) + (a/R) D^2/12 (clipped values against a, the noise only
    over the mass inside): minimum at Delta = 2R/(2^b + 1), not 2R/2^b."""
    R = 1.5
    a = qerror.optimal_alpha(stats.uniform(-R, 2 * R), bits, model="aciq").alpha
    assert (R - a) ** 2 == pytest.approx(2 * R * a / (3 * 4**bits), rel=1e-10)
    n = 2**bits

    def in_range_model(step):
        alpha = n * step / 2
        clip = (R - alpha) ** 3 / (3 * R) if alpha < R else 0.0
        return clip + min(alpha / R, 1.0) * step**2 / 12

    res = optimize.minimize_scalar(in_range_model, bounds=(R / n, 3 * R / n),
                                   method="bounded", options={"xatol": 1e-13})
    assert res.x == pytest.approx(2 * R / (n + 1), rel=1e-8)
    assert in_range_model(2 * R / (n + 1)) < in_range_model(2 * R / n)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_lower_kurtosis_is_not_flatter(bits):
    """Locally, relative to its own optimum, the uniform law's error is MORE curved
    than the normal's and the Laplace's (kappa = 6(2^b - 1) vs ~10-33), and a step
    decrease hurts it far more; only for a step increase are they comparable."""
    ku = step_sensitivity(UNIFORM, bits).relative_curvature
    kn = step_sensitivity(stats.norm(), bits).relative_curvature
    kl = step_sensitivity(stats.laplace(), bits).relative_curvature
    assert ku > kn > kl
    ru = step_robustness(UNIFORM, bits, [0.5, 1.5]).relative
    rn = step_robustness(stats.norm(), bits, [0.5, 1.5]).relative
    assert ru[0] > (2 if bits >= 3 else 1) * rn[0]
    assert ru[1] < 1.6 * rn[1]


def test_kurtosis_1_8_does_not_make_a_law_uniform():
    """tanh(g N(0,1)) reaches kurtosis 1.8 at g = 0.7734 but its curvature at 4 bits is
    kappa = 71, not the uniform's 90; clamped and saturated laws go below 1.8."""
    g = optimize.brentq(lambda g: kurtosis(saturate(stats.norm(), "tanh", gain=g)) - 1.8,
                        0.5, 1.0, xtol=1e-10)
    assert g == pytest.approx(0.77344, abs=1e-4)
    k = step_sensitivity(saturate(stats.norm(), "tanh", gain=g), 4).relative_curvature
    assert k == pytest.approx(71.17, rel=1e-3)
    assert kurtosis(qerror.clamp(stats.norm(), 0.5)) < 1.3
    assert kurtosis(qerror.clamp(stats.norm(), 1e-3)) == pytest.approx(1.0, abs=1e-3)
