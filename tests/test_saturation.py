"""Saturated laws Y = s(g W) (qerror.laws.saturated): the supplement's three properties,
the scipy law, the engine's family, Monte Carlo and mpmath references, bad input.

References: ``tests/reference/robustness_reference.json`` from
``tests/reference/generate_robustness.py`` (mpmath only, integrals in the W variable).
"""

import gc
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, special, stats
from scipy.stats._distn_infrastructure import rv_continuous_frozen

import qerror
from qerror.laws._families import FAMILIES, GenericFamily
from qerror._law_engine import _error_parts
from qerror.laws._protocol import Law, resolve
from qerror.robustness import kurtosis
from qerror.laws.saturated import (
    _BUILTIN,
    SATURATING_FUNCTIONS,
    SaturatedDistribution,
    _check_properties,
    _SaturatedFamily,
    saturate,
)
from qerror.symmetry import bias

REF = json.loads((Path(__file__).parent / "reference" / "robustness_reference.json")
                 .read_text())["records"]

#: MSE / bias of saturated laws vs mpmath: worst seen 2e-14 relative
RTOL_SAT = 1e-13
#: moments (scipy stats of the law, kurtosis) vs mpmath: worst seen 4e-16
RTOL_MOMENTS = 1e-12
N_MC = 400_000
Z_MAX = 5.0  # per check, a correct implementation fails with probability 5.7e-7


def _base(spec):
    name, loc, scale, nu = spec
    return stats.t(nu, loc, scale) if name == "t" else getattr(stats, name)(loc, scale)


# ----------------------------------------------------------------- properties
@pytest.mark.parametrize("name", SATURATING_FUNCTIONS)
def test_builtins_have_the_three_properties(name):
    s = _BUILTIN[name]
    assert _check_properties(s.fn, s.inverse, s.derivative, name) == 1.0
    u = np.linspace(-3, 3, 1001)
    assert np.all(np.diff(s.fn(u)) > 0)
    assert np.allclose(s.inverse(s.fn(u[np.abs(u) < 3])), u[np.abs(u) < 3], atol=1e-12)
    assert np.allclose(np.exp(s.log_derivative(u)), s.derivative(u), rtol=1e-14, atol=0)


def _algebraic(x):
    return x / np.sqrt(1 + x * x)


REFUSED = [  # (fn, inverse, derivative, message fragment)
    (np.arcsinh, np.sinh, lambda x: 1 / np.sqrt(1 + x * x), "not bounded"),
    (special.expit, special.logit, lambda x: special.expit(x) * (1 - special.expit(x)),
     "not odd"),
    (lambda x: np.tanh(x) + 0.1 * np.tanh(x) ** 2, np.arctanh,
     lambda x: 1 / np.cosh(x) ** 2, "not odd"),
    (lambda x: np.tanh(x**3), lambda y: np.cbrt(np.arctanh(y)),
     lambda x: 3 * x**2 / np.cosh(x**3) ** 2, "decreasing slope"),
    (lambda x: np.clip(x, -1, 1), lambda y: y, lambda x: (np.abs(x) < 1).astype(float),
     "flat from"),
    (np.tanh, lambda y: y, lambda x: 1 / np.cosh(x) ** 2, "does not invert"),
    (np.tanh, np.arctanh, lambda x: 1 / np.cosh(x), "does not match the slope"),
    (lambda x: (np.exp(2 * x) - 1) / (np.exp(2 * x) + 1), np.arctanh,
     lambda x: 1 / np.cosh(x) ** 2, "overflow-safe"),
]


@pytest.mark.parametrize("case", range(len(REFUSED)))
def test_user_functions_that_fail_a_property_are_refused(case):
    fn, inv, der, msg = REFUSED[case]
    with pytest.raises(ValueError, match=msg):
        saturate(stats.norm(), fn, inverse=inv, derivative=der)


def test_user_function_accepted_and_equal_to_builtin():
    """x / sqrt(1 + x^2) passes; erf(3x) written by hand equals the built-in with
    gain 3 (its slope underflows at large x without being flat)."""
    y = saturate(stats.norm(), _algebraic, inverse=lambda v: v / np.sqrt(1 - v * v),
                 derivative=lambda x: (1 + x * x) ** -1.5)
    assert tuple(float(v) for v in y.support()) == (-1.0, 1.0)
    e3 = saturate(stats.norm(), lambda x: special.erf(3 * x),
                  inverse=lambda v: special.erfinv(v) / 3,
                  derivative=lambda x: 6 / np.sqrt(np.pi) * np.exp(-9 * x * x))
    builtin = saturate(stats.norm(), "erf", gain=3.0)
    assert qerror.mse(e3, 0.9, 4) == pytest.approx(qerror.mse(builtin, 0.9, 4), rel=1e-13)


# ----------------------------------------------------------------- the scipy law
def test_is_a_frozen_scipy_law():
    y = saturate(stats.laplace(0.2, 0.5), "arctan", gain=2.0)
    assert isinstance(y, rv_continuous_frozen) and isinstance(y, SaturatedDistribution)
    assert (y.fn, y.gain, y.bound) == ("arctan", 2.0, 1.0)
    assert repr(y) == "saturate(laplace(0.2, 0.5), fn='arctan', gain=2.0)"
    q = np.linspace(0.01, 0.99, 9)
    assert y.cdf(y.ppf(q)) == pytest.approx(q, rel=1e-12)
    # cdf(y) = P(W < s^-1(y)/g); pdf integrates to the cdf
    v = np.array([-0.6, 0.1, 0.7])
    w = 2 / np.pi * np.tan(np.pi * v / 2) / 2.0
    assert y.cdf(v) == pytest.approx(stats.laplace(0.2, 0.5).cdf(w), rel=1e-14)
    assert integrate.quad(y.pdf, -0.6, 0.7)[0] == pytest.approx(y.cdf(0.7) - y.cdf(-0.6),
                                                                rel=1e-10)
    # samples are s(g W) of the base law's samples
    x = y.rvs(size=5, random_state=np.random.default_rng(3))
    w = stats.laplace(0.2, 0.5).rvs(size=5, random_state=np.random.default_rng(3))
    assert x == pytest.approx(2 / np.pi * np.arctan(np.pi * 2.0 * w / 2), rel=1e-15)


def test_bounded_base_gives_a_narrower_support():
    y = saturate(stats.uniform(-0.5, 1.0), "tanh", gain=2.0)
    support = tuple(float(v) for v in y.support())
    assert support == pytest.approx((-np.tanh(1.0), np.tanh(1.0)))


def test_engine_uses_the_family_of_the_law_protocol_and_no_registry():
    y = saturate(stats.norm(), "tanh")
    name = y.dist.name
    assert name not in FAMILIES  # no global registry
    assert isinstance(resolve(y).family, _SaturatedFamily)
    assert isinstance(resolve(qerror.clamp(y, 0.8)).family, _SaturatedFamily)
    z = y.dist.freeze()  # a plain scipy frozen law of the same family
    del y
    gc.collect()
    assert isinstance(resolve(z).family, _SaturatedFamily)
    assert resolve(z).family is resolve(z).family  # built once per family
    assert name not in FAMILIES


@pytest.mark.parametrize("fn", ["tanh", "softsign"])
@pytest.mark.parametrize("bits", [3, 8])
def test_family_agrees_with_plain_quadrature_where_that_works(fn, bits):
    """For a tame law (density small near the bound) the tail-probability family and
    scipy-style quadrature of f_Y give the same error."""
    y = saturate(stats.norm(), fn)
    law = resolve(y)
    plain = Law(GenericFamily(y.dist, ()), 0.0, 1.0, law.lower, law.upper, ())
    a, b = np.array([0.6, 0.95, 1.2]), np.full(3, bits)
    t1, r1 = _error_parts(law, a, b, "exact", "midrise")
    t2, r2 = _error_parts(plain, a, b, "exact", "midrise")
    assert t1 + r1 == pytest.approx(t2 + r2, rel=1e-11)


# ----------------------------------------------------------------- accuracy
@pytest.mark.parametrize("rec", REF["saturated"],
                         ids=lambda r: f"{r['fn']}-{r['base'][0]}-{r['gain']}-{r['bits']}")
def test_mse_and_bias_against_mpmath(rec):
    y = saturate(_base(rec["base"]), rec["fn"], gain=rec["gain"])
    got = qerror.mse(y, rec["alpha"], rec["bits"])
    assert got == pytest.approx(rec["mse"], rel=RTOL_SAT)
    assert bias(y, rec["alpha"], rec["bits"]) == pytest.approx(rec["bias"], rel=RTOL_SAT,
                                                              abs=1e-16)


@pytest.mark.parametrize("rec", REF["kurtosis_saturated"],
                         ids=lambda r: f"{r['fn']}-{r['base'][0]}-{r['gain']}")
def test_moments_against_mpmath(rec):
    y = saturate(_base(rec["base"]), rec["fn"], gain=rec["gain"])
    assert float(y.var()) == pytest.approx(rec["var"], rel=RTOL_MOMENTS)
    assert kurtosis(y) == pytest.approx(rec["kurtosis"], rel=RTOL_MOMENTS)
    assert abs(float(y.mean())) <= 1e-15


# ----------------------------------------------------------------- Monte Carlo
MC_CASES = [  # fn, base, gain, alpha, bits, grid
    ("tanh", stats.norm(), 1.0, 1.0, 4, "midrise"),
    ("tanh", stats.t(3), 1.0, 0.7, 3, "midtread"),
    ("erf", stats.laplace(scale=0.7), 2.0, 0.9, 8, "midrise"),  # density singular at 1
    ("erf", stats.t(3), 1.0, 1.0, 4, "midrise"),  # 0.5% of the mass within 1e-16 of 1
    ("softsign", stats.norm(0.3, 1.0), 1.0, 0.8, 5, "midrise"),
    ("arctan", stats.skewnorm(3.0), 1.5, 0.9, 3, "unsigned"),
]


@pytest.mark.parametrize("case", range(len(MC_CASES)))
def test_exact_error_matches_quantizing_saturated_samples(case):
    """Exact MSE and bias vs quantizing fn(gain * samples); also clamped."""
    fn, base, gain, alpha, bits, grid = MC_CASES[case]
    y = saturate(base, fn, gain=gain)
    rng = np.random.default_rng(9100 + case)
    s = _BUILTIN[fn].fn(gain * base.rvs(size=N_MC, random_state=rng))
    for law, x in ((y, s), (qerror.clamp(y, 0.75), np.clip(s, -0.75, 0.75))):
        e = x - qerror.quantize(x, alpha, bits, grid=grid)
        sq = e * e
        m = qerror.mse(law, alpha, bits, grid=grid)
        assert abs(m - sq.mean()) <= Z_MAX * sq.std() / math.sqrt(N_MC)
        b = bias(law, alpha, bits, grid=grid)
        assert abs(b - e.mean()) <= Z_MAX * e.std() / math.sqrt(N_MC)


def test_optimal_alpha_of_a_saturated_law():
    """The solver works on saturated laws; the optimum of tanh(N(0,1)) at 4 bits lies
    just beyond the bound 1 (the outer levels move in to +-0.94)."""
    y = saturate(stats.norm(), "tanh")
    r = qerror.optimal_alpha(y, 4)
    assert r.success and 1.0 < r.alpha < 1.01
    e = qerror.mse(y, r.alpha * np.array([0.999, 1.0, 1.001]), 4)
    assert e[1] < e[0] and e[1] < e[2]
    ra = qerror.optimal_alpha(y, 4, model="aciq")
    assert ra.success and ra.alpha < 1.0


def test_saturation_reduces_the_relative_error():
    """SatNL's point: at 3 bits the optimal error of tanh(W) relative to its variance
    is far below that of the Laplace law W itself (0.012 vs 0.072)."""
    w = stats.laplace()
    y = saturate(w, "tanh")
    ew = qerror.optimal_alpha(w, 3).mse / float(w.var())
    ey = qerror.optimal_alpha(y, 3).mse / float(y.var())
    assert ey < 0.2 * ew


# ----------------------------------------------------------------- bad input
def test_bad_input():
    with pytest.raises(ValueError, match="fn must be one of"):
        saturate(stats.norm(), "relu")
    with pytest.raises(TypeError, match="fn must be one of"):
        saturate(stats.norm(), 3)
    with pytest.raises(TypeError, match="inverse= .* derivative="):
        saturate(stats.norm(), np.tanh)
    with pytest.raises(TypeError, match="inverse and derivative"):
        saturate(stats.norm(), "tanh", inverse=np.arctanh)
    for g in (0, -1.0, np.inf):
        with pytest.raises(ValueError, match="gain"):
            saturate(stats.norm(), gain=g)
    with pytest.raises(TypeError, match="gain"):
        saturate(stats.norm(), gain="2")
    with pytest.raises(TypeError, match="frozen"):
        saturate(stats.norm)
    with pytest.raises(TypeError, match="clamped"):
        saturate(qerror.clamp(stats.norm(), 1.0))
    with pytest.raises(TypeError, match="continuous"):
        saturate(stats.poisson(3))
    with pytest.raises(TypeError, match="frozen scipy.stats"):
        saturate(np.ones(3))
