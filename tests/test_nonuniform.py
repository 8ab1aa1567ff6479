"""Tests of qerror.nonuniform: Lloyd-Max (laws and data) and power-of-two grids."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

import qerror
from qerror.nonuniform import lloyd_max

REF_PATH = Path(__file__).parent / "reference" / "lloyd_max_reference.json"
REF = json.loads(REF_PATH.read_text())

#: accuracy reached against the mpmath references (measured ~1e-15; asked 1e-9)
RTOL_REF = 1e-9
ATOL_LEVEL = 1e-9


# ------------------------------------------------------------------ Lloyd-Max, laws
# J. Max, "Quantizing for minimum distortion", IRE Trans. Inf. Theory 6 (1960), Table I,
# as printed.  N = 8 and N = 16 disagree with the true optimum in the last printed digit
# (true: 0.0345478 and 0.0095010; mpmath reference below), so those two are checked at
# the precision at which they agree.
MAX_TABLE = {2: (0.3634, 5e-5), 4: (0.1175, 5e-5), 8: (0.03454, 1e-5), 16: (0.009497, 5e-6)}
# the correctly rounded values of the true optimum (mpmath)
TRUE_ROUNDED = {2: 0.3634, 4: 0.1175, 8: 0.03455, 16: 0.009501}


@pytest.mark.parametrize("n", [2, 4, 8, 16])
def test_gaussian_max_table(n):
    r = lloyd_max(stats.norm(), int(np.log2(n)))
    printed, tol = MAX_TABLE[n]
    assert abs(r.mse - printed) <= tol
    sig = len(str(TRUE_ROUNDED[n]).split(".")[1].lstrip("0"))
    assert float(f"{r.mse:.{sig}g}") == TRUE_ROUNDED[n]
    assert r.success and r.is_global and r.levels.size == n


def test_gaussian_closed_form_one_bit():
    r = lloyd_max(stats.norm(), 1)
    c = np.sqrt(2 / np.pi)
    np.testing.assert_allclose(r.levels, [-c, c], rtol=1e-14)
    assert r.mse == pytest.approx(1 - 2 / np.pi, rel=1e-14)
    np.testing.assert_allclose(r.thresholds, [0.0], atol=1e-14)


@pytest.mark.parametrize("name,law", [("norm", stats.norm()), ("laplace", stats.laplace())])
@pytest.mark.parametrize("n", [2, 4, 8, 16])
def test_against_mpmath(name, law, n):
    ref = REF["laws"][name][str(n)]
    r = lloyd_max(law, int(np.log2(n)))
    assert r.mse == pytest.approx(float(ref["mse"]), rel=RTOL_REF)
    np.testing.assert_allclose(r.levels, [float(v) for v in ref["levels"]],
                               rtol=RTOL_REF, atol=ATOL_LEVEL)


def test_loc_scale_equivariance():
    r0 = lloyd_max(stats.norm(), 3)
    r = lloyd_max(stats.norm(loc=3.0, scale=2.0), 3)
    np.testing.assert_allclose(r.levels, 3.0 + 2.0 * r0.levels, rtol=1e-12)
    assert r.mse == pytest.approx(4.0 * r0.mse, rel=1e-12)


@pytest.mark.parametrize("bits", [6, 8])
def test_high_rate_panter_dite(bits):
    """8 bits converges fast; MSE near Panter-Dite sqrt(3) pi / (2 N^2)."""
    r = lloyd_max(stats.norm(), bits, tol=1e-12)
    assert r.success and r.iterations < 30 and r.extra["residual"] <= 1e-12
    pd = np.sqrt(3) * np.pi / 2 / 4.0**bits
    assert r.mse == pytest.approx(pd, rel=0.04)
    assert np.all(np.diff(r.levels) > 0)


def _max_conditions_quad(dist, levels, base, atoms=()):
    """Centroids of the cells by scipy quad (independent of the engine), atoms added."""
    t = np.concatenate(([-np.inf], 0.5 * (levels[1:] + levels[:-1]), [np.inf]))
    lo, hi = dist.support()
    cents = []
    for a, b in zip(t[:-1], t[1:], strict=True):
        a, b = max(a, lo), min(b, hi)
        m0 = integrate.quad(base.pdf, a, b, epsabs=0, epsrel=1e-12)[0] if a < b else 0.0
        m1 = integrate.quad(lambda x: x * base.pdf(x), a, b, epsabs=0,
                            epsrel=1e-12)[0] if a < b else 0.0
        for x, m in atoms:
            if a <= x < b or (x == b == hi and b < np.inf and x == hi):
                m0 += m
                m1 += m * x
        cents.append(m1 / m0)
    return np.array(cents)


def test_clamped_law_max_conditions():
    w = qerror.clamp(stats.norm(), 1.5)
    r = lloyd_max(w, 3)
    assert r.success
    cents = _max_conditions_quad(w, r.levels, stats.norm(), w.atoms)
    np.testing.assert_allclose(cents, r.levels, atol=1e-9)
    # mse by Monte Carlo
    x = w.rvs(size=400_000, random_state=np.random.default_rng(1))
    q = r.levels[np.searchsorted(r.thresholds, x)]
    mc = np.mean((x - q) ** 2)
    assert r.mse == pytest.approx(mc, rel=0.02)


@pytest.mark.parametrize("bits", [1, 3, 6])
def test_uniform_law_gives_uniform_grid(bits):
    """For a uniform law the Lloyd-Max quantizer is the midrise grid: MSE = Delta^2/12."""
    r = lloyd_max(stats.uniform(-1, 2), bits)
    step = 2.0 / 2**bits
    np.testing.assert_allclose(r.levels, -1 + (np.arange(2**bits) + 0.5) * step, atol=1e-14)
    assert r.mse == pytest.approx(step**2 / 12, rel=1e-12)


def test_asymmetric_clamped_law_max_conditions():
    w = qerror.clamp(stats.laplace(loc=0.5), 1.0)  # atoms 0.11 at -1 and 0.30 at +1
    r = lloyd_max(w, 3)
    assert r.success and not r.is_global
    cents = _max_conditions_quad(w, r.levels, stats.laplace(loc=0.5), w.atoms)
    np.testing.assert_allclose(cents, r.levels, atol=1e-9)


@pytest.mark.parametrize("d", [0.3, 3.0])
@pytest.mark.parametrize("bits", [2, 8])
def test_clamped_law_converges(d, bits):
    r = lloyd_max(qerror.clamp(stats.norm(), d), bits)
    assert r.success and r.iterations < 20
    assert r.levels[0] >= -d - 1e-12 and r.levels[-1] <= d + 1e-12
    # never worse than the midrise grid clipping at d
    assert r.mse <= qerror.mse(qerror.clamp(stats.norm(), d), d, bits) * (1 + 1e-12)


def test_generic_family_max_conditions():
    law = stats.t(5)
    r = lloyd_max(law, 1)
    assert r.success and not r.is_global
    cents = _max_conditions_quad(law, r.levels, law)
    np.testing.assert_allclose(cents, r.levels, atol=1e-9)
    # 1 bit, symmetric: levels +-E|T|
    assert r.levels[1] == pytest.approx(law.expect(abs), rel=1e-8)


# ------------------------------------------------------------------ Lloyd-Max, data
def _brute_force(x, k):
    """Best SSE over all partitions of the sorted data into k contiguous groups."""
    x = np.sort(x)
    best = np.inf
    for cuts in itertools.combinations(range(1, x.size), k - 1):
        groups = np.split(x, cuts)
        best = min(best, sum(((g - g.mean()) ** 2).sum() for g in groups))
    return best / x.size


@settings(max_examples=40)
@given(st.lists(st.integers(-50, 50), min_size=5, max_size=10), st.sampled_from([1, 2]))
def test_data_dp_vs_brute_force(vals, bits):
    x = np.array(vals, dtype=float) / 7.0
    r = lloyd_max(x, bits)
    k = 2**bits
    if np.unique(x).size <= k:
        assert r.mse == 0.0
    else:
        assert r.mse == pytest.approx(_brute_force(x, k), rel=1e-9, abs=1e-12)
        assert r.is_global and r.method == "dp" and r.levels.size == k


def test_data_levels_are_centroids():
    x = np.random.default_rng(2).laplace(size=300)
    r = lloyd_max(x, 3)
    idx = np.searchsorted(r.thresholds, x)
    np.testing.assert_allclose([x[idx == i].mean() for i in range(8)], r.levels, rtol=1e-12)


def test_data_large_n_local():
    x = np.random.default_rng(3).normal(size=50_000)
    r = lloyd_max(x, 3)
    assert r.success and not r.is_global and "local" in r.message
    # close to the law's Lloyd-Max quantizer
    assert r.mse == pytest.approx(float(REF["laws"]["norm"]["8"]["mse"]), rel=0.03)


def test_data_large_n_never_worse_than_the_uniform_optimum():
    # heavy-tailed data with > 2000 distinct values: the grouped DP alone merged the
    # sparse tails and lost to the optimal uniform grid by 2.3x at 8 bits
    rng = np.random.default_rng(0)
    rng.standard_normal(640)
    x = 0.1 * rng.standard_t(5, 4096)
    for bits in (4, 8):
        r = lloyd_max(x, bits)
        uniform = qerror.data.optimal_alpha_data(x, bits, grid="midrise").mse
        assert r.mse <= uniform * (1 + 1e-12), (bits, r.mse, uniform)
        assert r.mse == pytest.approx(float(np.mean((x - r.levels[
            np.searchsorted(r.thresholds, x)]) ** 2)), rel=1e-12)
    assert r.mse < 0.2 * uniform  # 8 bits: the non-uniform grid is much better here


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("kwargs,exc,word", [
    ({"bits": 0}, ValueError, "bits"), ({"bits": 13}, ValueError, "bits"),
    ({"bits": 1.5}, TypeError, "bits"), ({"bits": True}, TypeError, "bits"),
    ({"bits": 2, "tol": -1}, ValueError, "tol"),
    ({"bits": 2, "max_iter": 0}, ValueError, "max_iter"),
])
def test_bad_arguments(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        lloyd_max(stats.norm(), **kwargs)


@pytest.mark.parametrize("data,exc", [([], ValueError), ([1.0, np.nan], ValueError),
                                       ("abc", TypeError), (stats.norm, TypeError)])
def test_bad_data(data, exc):
    with pytest.raises(exc, match="dist"):
        lloyd_max(data, 2)


# ------------------------------------------------------------------ power-of-two grid
from qerror.nonuniform import (  # noqa: E402
    pow2_levels,
    pow2_mse,
    pow2_optimal_alpha,
    pow2_quantize,
)

POW2_LAWS = [stats.norm(), stats.laplace(scale=0.7), stats.norm(loc=0.3, scale=2.0),
             qerror.clamp(stats.norm(), 1.2), stats.t(6)]


def test_pow2_levels_convention():
    np.testing.assert_array_equal(pow2_levels(2.0, 3),
                                  [-2, -1, -0.5, -0.25, 0.25, 0.5, 1, 2])
    assert pow2_levels(1.0, 1).tolist() == [-1.0, 1.0]
    assert 0.0 not in pow2_levels(1.0, 8) and pow2_levels(1.0, 8).size == 256


def test_pow2_quantize_thresholds():
    # thresholds 3/4 of each level (midpoints), 0 in the middle, clip to +-alpha
    x = np.array([0.0, 1e-300, 0.374, 0.376, 0.74, 0.76, 3.0, -0.376, -3.0])
    np.testing.assert_array_equal(pow2_quantize(x, 1.0, 2),
                                  [-0.5, 0.5, 0.5, 0.5, 0.5, 1.0, 1.0, -0.5, -1.0])
    q = pow2_quantize(0.8, 1.0, 3)
    assert q == 1.0 and isinstance(q, float)


def _pow2_quad(law, alpha, bits, atoms=()):
    lv = pow2_levels(alpha, bits)
    t = 0.5 * (lv[1:] + lv[:-1])
    t[t.size // 2] = 0.0
    edges = np.concatenate(([-np.inf], t, [np.inf]))
    base = law.base if isinstance(law, qerror.laws.ClampedDistribution) else law
    lo, hi = law.support()
    tot = 0.0
    for a, b, y in zip(edges[:-1], edges[1:], lv, strict=True):
        a, b = max(a, lo), min(b, hi)
        if a < b:
            tot += integrate.quad(lambda x, y=y: base.pdf(x) * (x - y) ** 2, a, b,
                                  epsabs=0, epsrel=1e-12, limit=200)[0]
    for x, m in atoms:
        tot += m * (x - pow2_quantize(x, alpha, bits)) ** 2
    return tot


@pytest.mark.parametrize("law", POW2_LAWS, ids=lambda d: repr(d)[:30])
@pytest.mark.parametrize("bits", [1, 3, 6])
def test_pow2_exact_vs_quadrature(law, bits):
    atoms = law.atoms if isinstance(law, qerror.laws.ClampedDistribution) else ()
    for alpha in (0.4, 1.7):
        assert pow2_mse(law, alpha, bits) == pytest.approx(
            _pow2_quad(law, alpha, bits, atoms), rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("law", POW2_LAWS[:4], ids=lambda d: repr(d)[:30])
def test_pow2_exact_vs_monte_carlo(law):
    rng = np.random.default_rng(11)
    x = law.rvs(size=1_000_000, random_state=rng)
    e = (x - pow2_quantize(x, 1.3, 4)) ** 2
    se = e.std() / np.sqrt(e.size)
    assert abs(pow2_mse(law, 1.3, 4) - e.mean()) < 5 * se
    assert pow2_mse(x, 1.3, 4) == pytest.approx(e.mean(), rel=1e-12)


def test_pow2_parts_split():
    t, r = pow2_mse(stats.norm(), 1.5, 3, parts=True)
    assert t == pytest.approx(2 * (stats.norm.expect(lambda x: (x - 1.5) ** 2, lb=1.5)),
                              rel=1e-9)
    assert t + r == pytest.approx(pow2_mse(stats.norm(), 1.5, 3), rel=1e-14)
    # ACIQ truncation is the same (outermost level is alpha)
    ta, _ = pow2_mse(stats.norm(), 1.5, 3, model="aciq", parts=True)
    assert ta == pytest.approx(t, rel=1e-14)


@pytest.mark.parametrize("bits", [1, 2, 3, 5])
def test_pow2_aciq_exact_for_flat_density(bits):
    """The ACIQ-style rounding term assumes a flat density per cell: exact for uniform."""
    law = stats.uniform(-1, 2)
    for alpha in (0.3, 0.9):
        assert pow2_mse(law, alpha, bits, model="aciq") == pytest.approx(
            pow2_mse(law, alpha, bits), rel=1e-12)


def test_pow2_aciq_pinned_kappas():
    """kappa: 1/48 outer, 1/16 inner, 1/4 innermost (uniform on [-1, 1], alpha = 1)."""
    # b = 2: cells [3/4, 1] (level 1) and [0, 3/4] (level 1/2): innermost kappa 1/4 over
    # the cell [0, 3/2 * 1/2]
    e = 2 * (0.125 * 1 / 48 + 0.375 * 0.25 * 0.25)
    u = stats.uniform(-1, 2)
    assert pow2_mse(u, 1.0, 2, model="aciq") == pytest.approx(e, rel=1e-14)
    # b = 3: levels 1, 1/2, 1/4, 1/8; middle cells [3/8, 3/4], [3/16, 3/8] (kappa 1/16)
    e = 2 * (0.125 / 48 + 0.1875 * 0.25 / 16 + 0.09375 * 0.0625 / 16
             + 0.09375 * 0.015625 / 4)
    assert pow2_mse(u, 1.0, 3, model="aciq") == pytest.approx(e, rel=1e-14)


def test_pow2_aciq_close_to_exact_gaussian():
    # the flat-density assumption is worst in the outer cell [3/4 alpha, alpha]: measured
    # ratios 1.0005 (alpha = 1), 1.06 (alpha = 2), 1.3 (alpha = 3) for 3..6 bits
    for bits in (3, 4, 6):
        for alpha, rel in ((1.0, 1e-3), (2.0, 0.08)):
            e, ea = (pow2_mse(stats.norm(), alpha, bits, model=m)
                     for m in ("exact", "aciq"))
            assert ea == pytest.approx(e, rel=rel)


def test_pow2_broadcast_alpha():
    out = pow2_mse(stats.norm(), [[0.5, 1.0, 2.0]], 3)
    assert out.shape == (1, 3)
    assert out[0, 1] == pow2_mse(stats.norm(), 1.0, 3)


@pytest.mark.parametrize("bits", [1, 3])
@pytest.mark.parametrize("model", ["exact", "aciq"])
def test_pow2_optimal_alpha(bits, model):
    law = stats.norm()
    r = pow2_optimal_alpha(law, bits, model=model)
    assert r.success and r.grid == "pow2" and r.model == model
    fine = np.linspace(0.5 * r.alpha, 1.5 * r.alpha, 401)
    vals = pow2_mse(law, fine, bits, model=model)
    assert r.mse <= vals.min() * (1 + 1e-12)
    assert r.mse == pytest.approx(r.truncation + r.rounding, rel=1e-14)
    h = 1e-4 * r.alpha  # stationary: centred difference ~ 0
    d = (pow2_mse(law, r.alpha + h, bits, model=model)
         - pow2_mse(law, r.alpha - h, bits, model=model)) / (2 * h)
    assert abs(d) < 1e-5


def test_pow2_one_bit_optimum_is_mean_abs():
    # b = 1: levels +-alpha, thresholds 0: the optimum is alpha = E|W| (exact model)
    assert pow2_optimal_alpha(stats.norm(), 1).alpha == pytest.approx(np.sqrt(2 / np.pi),
                                                                      rel=1e-8)
    x = np.random.default_rng(5).laplace(size=2001)
    assert pow2_optimal_alpha(x, 1).alpha == pytest.approx(np.abs(x).mean(), rel=1e-8)


@pytest.mark.parametrize("call,exc,word", [
    (lambda: pow2_mse(stats.norm(), 0.0, 3), ValueError, "alpha"),
    (lambda: pow2_mse(stats.norm(), 1.0, 11), ValueError, "bits"),
    (lambda: pow2_mse(stats.norm(), 1.0, 3, model="x"), ValueError, "model"),
    (lambda: pow2_mse([1.0, 2.0], 1.0, 3, model="aciq"), ValueError, "model"),
    (lambda: pow2_mse("abc", 1.0, 3), TypeError, "dist"),
    (lambda: pow2_levels(-1.0, 3), ValueError, "alpha"),
    (lambda: pow2_optimal_alpha(stats.norm(), 3, scan_points=2), ValueError, "scan_points"),
])
def test_pow2_bad_input(call, exc, word):
    with pytest.raises(exc, match=word):
        call()
