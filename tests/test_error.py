"""Consistency of the error engine: closed forms vs quadrature vs Monte Carlo,
scale law, the truncation/rounding split, broadcasting and bad input.

Accuracy against mpmath references is in ``test_accuracy_core.py``.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, stats

import qerror
from qerror.laws._families import GenericFamily
from qerror.laws._protocol import Law, resolve
from qerror._law_engine import _error_parts

GRIDS = ["midrise", "midtread", "unsigned"]
MODELS = ["exact", "aciq"]
CLOSED = {"norm": stats.norm, "laplace": stats.laplace, "uniform": stats.uniform}

#: closed form vs the generic quadrature path (both are double precision)
RTOL_PATHS = 1e-11


def _generic_parts(dist, alpha, bits, model, grid):
    law = resolve(dist)
    rv = (dist.base if isinstance(dist, qerror.laws.ClampedDistribution) else dist).dist
    gl = Law(GenericFamily(rv, ()), law.loc, law.scale, law.lower, law.upper, law.atoms)
    t, r = _error_parts(gl, np.array([alpha], float), np.array([bits]), model, grid)
    return t[0], r[0]


@given(
    family=st.sampled_from(sorted(CLOSED)),
    loc=st.sampled_from([0.0, 0.37, -1.1]),
    scale=st.floats(0.05, 20.0),
    clamp_d=st.one_of(st.none(), st.floats(0.05, 5.0)),
    grid=st.sampled_from(GRIDS),
    model=st.sampled_from(MODELS),
    bits=st.integers(1, 12),
    alpha=st.floats(1e-3, 12.0),
)
def test_closed_form_matches_quadrature(family, loc, scale, clamp_d, grid, model, bits, alpha):
    if grid == "midtread" and bits == 1:
        bits = 2
    dist = CLOSED[family](loc * scale, scale)
    if clamp_d is not None:
        dist = qerror.clamp(dist, clamp_d * scale)
    a = alpha * scale
    t, r = qerror.error_parts(dist, a, bits, model=model, grid=grid)
    tg, rg = _generic_parts(dist, a, bits, model, grid)
    total = tg + rg
    assert t + r == pytest.approx(total, rel=RTOL_PATHS, abs=1e-300)
    assert t == pytest.approx(tg, rel=RTOL_PATHS, abs=RTOL_PATHS * total)
    assert r == pytest.approx(rg, rel=RTOL_PATHS, abs=RTOL_PATHS * total)


# Monte Carlo: n = 4e5 samples per case, |z| <= 5.  With the 48 comparisons below a
# correct engine fails with probability about 48 * 5.7e-7 = 3e-5 per run; the seeds
# are fixed, so the suite is deterministic anyway.  (z uses the sample standard
# deviation of the squared error, which is finite for every law here.)
MC_CASES = [
    (stats.norm(0.3, 2.0), 1.0, 2), (stats.norm(0.3, 2.0), 5.0, 4),
    (stats.laplace(-0.2, 0.5), 1.0, 2), (stats.laplace(-0.2, 0.5), 2.5, 5),
    (stats.t(5), 2.5, 4), (stats.uniform(-0.3, 1.5), 1.0, 3),
    (stats.skewnorm(4.0), 1.5, 3), (stats.gennorm(1.5), 2.0, 4),
]


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("case", range(len(MC_CASES)))
def test_exact_model_matches_monte_carlo(case, grid):
    dist, alpha, bits = MC_CASES[case]
    for clamp_d in (None, 1.2):
        law = dist if clamp_d is None else qerror.clamp(dist, clamp_d)
        rng = np.random.default_rng(1000 + case)
        x = law.rvs(size=400_000, random_state=rng)
        e = (x - qerror.quantize(x, alpha, bits, grid=grid)) ** 2
        z = (qerror.mse(law, alpha, bits, grid=grid) - e.mean()) / (e.std() / np.sqrt(x.size))
        assert abs(z) < 5.0, (case, grid, clamp_d, z)


@pytest.mark.parametrize("family", sorted(CLOSED) + ["t", "logistic"])
@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("model", MODELS)
def test_scale_law(family, grid, model):
    base = getattr(stats, family)
    args = (5.0,) if family == "t" else ()
    s = 3.7
    bits = np.array([2, 5, 9])
    e1 = qerror.mse(base(*args), 1.3, bits, model=model, grid=grid)
    es = qerror.mse(base(*args, scale=s), 1.3 * s, bits, model=model, grid=grid)
    np.testing.assert_allclose(es, s * s * e1, rtol=1e-13)


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("model", MODELS)
def test_parts_add_up(grid, model):
    alpha = np.geomspace(1e-3, 20, 9)[:, None]
    bits = np.arange(2, 12)[None, :]
    for dist in (stats.norm(), qerror.clamp(stats.laplace(0.1, 1.0), 2.0), stats.t(6)):
        t, r = qerror.error_parts(dist, alpha, bits, model=model, grid=grid)
        total = qerror.mse(dist, alpha, bits, model=model, grid=grid)
        assert total.shape == (9, 10)
        np.testing.assert_array_equal(total, t + r)
        np.testing.assert_array_equal(t, qerror.truncation_error(dist, alpha, bits,
                                                                  model=model, grid=grid))
        assert np.all(t >= 0) and np.all(r > 0)


def test_scalar_in_float_out():
    v = qerror.mse(stats.norm(), 2.0, 4)
    assert type(v) is float
    assert type(qerror.mse(stats.norm(), np.float32(2.0), np.int8(4))) is float
    assert qerror.mse(stats.norm(), [2.0], 4).shape == (1,)


def test_uniform_pins_the_grid_convention():
    # U[-1, 1] with alpha = 1: every cell is whole, the error is exactly Delta^2/12 with
    # Delta = 2/2^b.  A 2^b - 1 or 2^b + 1 level grid cannot pass this.
    bits = np.arange(1, 33)
    np.testing.assert_allclose(qerror.mse(stats.uniform(-1, 2), 1.0, bits),
                               1.0 / (3.0 * 4.0**bits), rtol=1e-15)
    # midtread: 2^b - 1 levels k*Delta, Delta = 1/(2^(b-1)-1); half cells at the ends
    b = np.arange(2, 33)
    step = 1.0 / (2.0 ** (b - 1) - 1)
    np.testing.assert_allclose(qerror.mse(stats.uniform(-1, 2), 1.0, b, grid="midtread"),
                               step**2 / 12, rtol=1e-14)


def test_aciq_rounding_is_eq2():
    alpha = np.array([0.5, 2.0, 7.0])[:, None]
    bits = np.arange(1, 65)[None, :]
    for dist in (stats.norm(), qerror.clamp(stats.norm(), 1.0), stats.t(3)):
        np.testing.assert_allclose(qerror.rounding_error(dist, alpha, bits, model="aciq"),
                                   alpha**2 / (3 * 4.0**bits), rtol=1e-15)


@pytest.mark.parametrize("dist", [stats.norm(0.2, 1.0), stats.laplace(), stats.logistic()])
def test_rounding_tends_to_sheppard(dist):
    # for fine grids the exact rounding error is Delta^2/12 * P(|W| <= alpha)
    alpha = 3.0
    bits = np.array([16, 24, 32, 48, 64])
    step = 2 * alpha / 2.0**bits
    p = dist.cdf(alpha) - dist.cdf(-alpha)
    np.testing.assert_allclose(qerror.rounding_error(dist, alpha, bits),
                               step**2 / 12 * p, rtol=2e-9)


def test_high_bits_closed_vs_generic():
    for name in ("norm", "laplace"):
        dist = CLOSED[name](0.25, 1.3)
        for bits in (17, 20, 32):
            t, r = qerror.error_parts(dist, 2.2, bits)
            tg, rg = _generic_parts(dist, 2.2, bits, "exact", "midrise")
            assert r == pytest.approx(rg, rel=1e-10)
            assert t == pytest.approx(tg, rel=1e-12)


def test_infinite_variance_is_inf_and_clamped_is_finite():
    for dist in (stats.cauchy(), stats.t(2), stats.t(1.5)):
        for model in MODELS:
            assert qerror.mse(dist, 3.0, 4, model=model) == np.inf
            assert np.isfinite(qerror.rounding_error(dist, 3.0, 4, model=model))
            assert np.isfinite(qerror.mse(qerror.clamp(dist, 5.0), 3.0, 4, model=model))
        assert qerror.clamping_gain(dist, 5.0, 3.0, 4) == np.inf


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("grid", GRIDS)
def test_clamping_gain_is_the_difference(model, grid):
    for dist, d in ((stats.norm(), 2.0), (stats.laplace(0.3, 0.7), 1.1), (stats.t(5), 3.0)):
        alpha = np.array([0.4, 1.0, 1.9, 2.5, 4.0])
        g = qerror.clamping_gain(dist, d, alpha, 4, model=model, grid=grid)
        diff = (qerror.mse(dist, alpha, 4, model=model, grid=grid)
                - qerror.mse(qerror.clamp(dist, d), alpha, 4, model=model, grid=grid))
        np.testing.assert_allclose(g, diff, rtol=1e-9, atol=1e-14)


def test_clamping_gain_aciq_is_corrected_eq8():
    # ACIQ model, symmetric law, A < d: 2 * int_d^inf f(x) ((x-A)^2 - (d-A)^2) dx
    f = stats.norm().pdf
    for A, d in ((0.5, 1.0), (1.5, 2.0), (2.0, 4.5)):
        ref = 2 * integrate.quad(lambda x: f(x) * ((x - A) ** 2 - (d - A) ** 2), d, np.inf,
                                 epsabs=0, epsrel=1e-13)[0]
        g = qerror.clamping_gain(stats.norm(), d, A, 6, model="aciq")
        assert g == pytest.approx(ref, rel=1e-10)


# ------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "dist, exc, word",
    [
        (stats.norm, TypeError, "frozen"),
        (stats.poisson(3), TypeError, "continuous"),
        ("normal", TypeError, "numeric"),
        (stats.norm(loc=[0, 1]), ValueError, "scalar"),
    ],
)
def test_bad_distribution(dist, exc, word):
    with pytest.raises(exc, match=word):
        qerror.mse(dist, 1.0, 4)


@pytest.mark.parametrize("d", [0.0, -1.0, np.nan, np.inf, "2"])
def test_bad_clamp_bound(d):
    with pytest.raises((ValueError, TypeError), match="d must"):
        qerror.clamp(stats.norm(), d)


@pytest.mark.parametrize("kwargs, word", [
    (dict(model="ACIQ"), "model"), (dict(grid="mid"), "grid"),
])
def test_bad_model_grid(kwargs, word):
    with pytest.raises(ValueError, match=word):
        qerror.mse(stats.norm(), 1.0, 4, **kwargs)


@pytest.mark.parametrize("alpha, bits, word", [
    (0.0, 4, "alpha"), (-1.0, 4, "alpha"), (np.nan, 4, "alpha"), (np.inf, 4, "alpha"),
    (1.0, 0, "bits"), (1.0, -3, "bits"), (1.0, 2.5, "bits"), (1.0, np.nan, "bits"),
    (1.0, 10**6, "bits"),
])
def test_bad_alpha_bits(alpha, bits, word):
    with pytest.raises(ValueError, match=word):
        qerror.mse(stats.norm(), alpha, bits)


def test_midtread_needs_two_bits():
    with pytest.raises(ValueError, match="midtread"):
        qerror.mse(stats.norm(), 1.0, 1, grid="midtread")


def test_import_is_light():
    import subprocess
    import sys

    code = ("import sys, time; t = time.perf_counter(); import qerror; "
            "dt = time.perf_counter() - t; "
            "print(dt, 'sympy' in sys.modules, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[1:] == ["False", "False"]
    assert float(out[0]) < 0.5


@pytest.mark.parametrize("dist, scale, second_moment", [
    (stats.norm(0.5), 1.0, 1.25),
    (stats.logistic(0.5, np.sqrt(3) / np.pi), np.sqrt(3) / np.pi, 1.25),
    (stats.laplace(0.5, 1 / np.sqrt(2)), 1 / np.sqrt(2), 1.25),
    (stats.uniform(0.5 - np.sqrt(3), 2 * np.sqrt(3)), 2 * np.sqrt(3), 1.25),
    (stats.t(30, loc=0.5), 1.0, 30 / 28 + 0.25),
    (stats.expon(), 1.0, 2.0),
    (qerror.clamp(stats.norm(0.5), 3.0), 1.0, None),
])
def test_huge_alpha_central_cell(dist, scale, second_moment):
    # 4-bit midtread with alpha >> scale: every draw rounds to the level 0 (the
    # neighbours are 1e3 scale units away or more), so the MSE is E[W^2].  The cells
    # used to be summed from the grid's end, a0 + i*step, whose edges near the law
    # carry an error of 1e-16 * alpha (20% off at 1e15 scale units, 0.0 at 1e20: the
    # law fell between two cells' float edges); generic laws could also put all of the
    # mass between two Gauss-Legendre nodes of so wide a cell.
    if second_moment is None:  # clip(N(0.5, 1), -3, 3)
        base = stats.norm(0.5)
        second_moment = (integrate.quad(lambda x: x * x * base.pdf(x), -3, 3,
                                        epsabs=0, epsrel=1e-13)[0]
                         + 9.0 * (base.sf(3.0) + base.cdf(-3.0)))
    for ratio in (1e3, 1e6, 1e10, 1e15, 1e20, 1e50):
        got = qerror.mse(dist, ratio * scale, 4, grid="midtread")
        assert got == pytest.approx(second_moment, rel=2e-14), ratio


@pytest.mark.parametrize("alpha", [1e3, 1e8, 1e16, 1e20, 1e100, 1e300])
def test_huge_alpha_bias_locates_the_middle_threshold(alpha):
    # midrise, 4 bits: the law sits in the two cells at the threshold 0, levels -+D/2.
    # The bias D/2 (P(W < 0) - P(W > 0)) + E[W] depends on where that threshold falls
    # inside the law: an error of 1e-16 * alpha in its position shows at once.
    from scipy.special import ndtr

    half = alpha / 16
    want = 0.5 - half * (1.0 - 2.0 * ndtr(-0.5))
    assert qerror.bias(stats.norm(0.5), alpha, 4) == pytest.approx(want, rel=1e-14)
    assert qerror.bias(stats.expon(), alpha, 4) == pytest.approx(1.0 - half, rel=1e-14)
    got = qerror.bias(stats.logistic(0.5), alpha, 4)
    assert got == pytest.approx(0.5 - half * (1.0 - 2.0 * stats.logistic.cdf(-0.5)),
                                rel=1e-13)


