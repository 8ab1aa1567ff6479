"""Tests of qerror.montecarlo.simulate_mse: agreement with the engine, the algebra of
the chunked accumulation, common random numbers, bounded memory and bad input.

Statistical band.  ``|z| <= Z`` with ``Z = 5`` (``qerror.proofs.Z_BOUND``), where
``z = (engine - estimate) / stderr``.  Under a correct engine z is close to standard
normal (n >= 1e5 draws of a squared error with finite variance: every law here has a
finite fourth moment), so a comparison fails by chance with probability
P(|z| > 5) = 5.7e-7.  This file makes 3 comparisons (total, truncation, rounding) for
each of 126 fixed cases and at most 3 x 25 hypothesis examples in the "ci" profile,
about 450 in all: a false alarm has probability about 450 x 5.7e-7 = 2.6e-4 per run.
The seeds are fixed (and the "ci" profile is derandomized), so the outcome is the same
on every run.  A wrong engine term shows up as |z| in the tens or more at these n
(e.g. dropping the half-step offset of the clipped values, or the rounding term's
P(|W| <= alpha) factor).
"""

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import qerror
from qerror.montecarlo import MonteCarloMSE, simulate_mse
from qerror.proofs import Z_BOUND, Case
from qerror.formats import get_format

GRIDS = ["midrise", "midtread", "unsigned"]
MODELS = ["exact", "aciq"]

LAWS = [
    stats.norm(0.0, 1.5),
    stats.laplace(0.2, 0.7),
    stats.uniform(-1.0, 2.0),
    stats.t(6),
    stats.logistic(),
    stats.skewnorm(3.0),
    qerror.clamp(stats.norm(), 1.3),
]
# (alpha, bits) per law: inside / near / beyond the bulk, low and high bit-widths
POINTS = [(0.8, 2), (2.5, 4), (4.0, 9)]


def _p_outside(dist, alpha, grid):
    """P(W outside the range), from the law's CDF."""
    lo = 0.0 if grid == "unsigned" else -alpha
    below = dist.cdf(lo) if grid == "unsigned" else dist.cdf(np.nextafter(lo, -np.inf))
    return float(below + (1.0 - dist.cdf(alpha)))


def _assert_agrees(r: MonteCarloMSE, dist, alpha, bits, grid, model, what="", j=()):
    """Engine total, truncation and rounding within Z_BOUND standard errors of r[j].

    The z-test needs many draws in each region: where n P(outside) < 30 the clipped
    draws are too rare for the normal approximation (a handful of large squared errors
    decide the truncation estimate), so only the rounding part is compared, and zero
    clipped draws must be plausible: P(none) = (1-p)^n >= exp(-15) = 3e-7.
    """
    t, rd = qerror.error_parts(dist, alpha, bits, model=model, grid=grid)
    n_out = r.n * _p_outside(dist, alpha, grid)

    def at(v):
        return np.asarray(v, dtype=float)[j]

    parts = [("rounding", rd, at(r.rounding), at(r.rounding_stderr))]
    if n_out >= 30:
        parts += [("total", t + rd, at(r.mse), at(r.stderr)),
                  ("truncation", t, at(r.truncation), at(r.truncation_stderr))]
    elif at(r.truncation_stderr) == 0.0 and model == "exact":
        assert n_out <= 15, (what, "no clipped draw although n P(outside) =", n_out)
    for name, exact, est, se in parts:
        if se == 0.0:  # deterministic (ACIQ rounding, or nothing clipped)
            assert est == pytest.approx(exact, rel=1e-12, abs=1e-300), (what, name)
        else:
            z = (exact - est) / se
            assert abs(z) <= Z_BOUND, (what, name, z, exact, est, se)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("law", range(len(LAWS)))
def test_matches_engine_on_fixed_cases(law, grid, model):
    dist = LAWS[law]
    alphas = np.array([a for a, _ in POINTS])
    bits = np.array([b for _, b in POINTS])
    r = simulate_mse(dist, alphas, bits, n=200_000, seed=100 + law, grid=grid, model=model)
    for j, (a, b) in enumerate(POINTS):
        _assert_agrees(r, dist, a, b, grid, model, (law, grid, model, a, b), j)


FAMILIES = {"norm": (), "laplace": (), "uniform": (), "logistic": (), "gennorm": (1.5,),
            "skewnorm": (4.0,)}


@settings(max_examples=25)
@given(family=st.sampled_from(sorted(FAMILIES)),
       loc=st.sampled_from([0.0, 0.4]),
       scale=st.floats(0.1, 10.0),
       d=st.one_of(st.none(), st.floats(0.2, 4.0)),
       alpha=st.floats(0.05, 6.0),
       bits=st.integers(1, 16),
       grid=st.sampled_from(GRIDS),
       model=st.sampled_from(MODELS),
       seed=st.integers(0, 2**32 - 1))
def test_matches_engine_hypothesis(family, loc, scale, d, alpha, bits, grid, model, seed):
    if grid == "midtread" and bits == 1:
        bits = 2
    if family not in ("norm", "laplace", "uniform") and model == "exact":
        bits = min(bits, 10)  # the quadrature engine is slow beyond ~2^10 cells
    dist = Case(family, FAMILIES[family], loc * scale, scale).dist
    if d is not None:
        dist = qerror.clamp(dist, d * scale)
    r = simulate_mse(dist, alpha * scale, bits, n=100_000, seed=seed, grid=grid,
                     model=model)
    _assert_agrees(r, dist, alpha * scale, bits, grid, model)


# ------------------------------------------------------------- accumulation algebra
def _direct(dist, alpha, bits, n, seed, grid="midrise"):
    x = dist.rvs(size=n, random_state=np.random.default_rng(seed))
    e = (x - qerror.quantize(x, alpha, bits, grid=grid)) ** 2
    out = (x < -alpha) | (x > alpha) if grid != "unsigned" else (x < 0) | (x > alpha)
    return x, e, out


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 18])
def test_chunked_moments_equal_one_pass(chunk):
    # the normal law draws the same stream in any chunking (numpy's ziggurat)
    n = 30_001 if chunk > 1 else 3_001
    dist = stats.norm(0.1, 1.2)
    r = simulate_mse(dist, 1.7, 3, n=n, seed=5, chunk_size=chunk)
    _, e, out = _direct(dist, 1.7, 3, n, 5)
    et = np.where(out, e, 0.0)
    er = e - et
    for est, se, v in ((r.mse, r.stderr, e), (r.truncation, r.truncation_stderr, et),
                       (r.rounding, r.rounding_stderr, er)):
        assert est == pytest.approx(v.mean(), rel=1e-12)
        assert se == pytest.approx(v.std(ddof=1) / math.sqrt(n), rel=1e-9)
    assert r.truncation + r.rounding == pytest.approx(r.mse, rel=1e-14)
    assert r.n == n and r.chunk_size == chunk


def test_common_random_numbers_for_clamped_laws():
    # clamp(W).rvs clips W's draws: same seed, same draws, clipped
    w = stats.laplace(0.0, 0.8)
    d, alpha, bits, n = 1.1, 1.6, 3, 50_000
    rw = simulate_mse(w, alpha, bits, n=n, seed=9)
    rc = simulate_mse(qerror.clamp(w, d), alpha, bits, n=n, seed=9)
    x, e, _ = _direct(w, alpha, bits, n, 9)
    xc = np.clip(x, -d, d)
    ec = (xc - qerror.quantize(xc, alpha, bits)) ** 2
    assert rw.mse == pytest.approx(e.mean(), rel=1e-12)
    assert rc.mse == pytest.approx(ec.mean(), rel=1e-12)


def test_broadcast_shares_draws_and_matches_scalar_calls():
    dist = stats.norm()
    alphas = np.array([[0.5], [1.0], [3.0]])
    bits = np.array([1, 4])
    r = simulate_mse(dist, alphas, bits, n=20_000, seed=3)
    assert r.mse.shape == (3, 2) and r.alpha.shape == (3, 2) and r.bits.shape == (3, 2)
    for i in range(3):
        for j in range(2):
            s = simulate_mse(dist, float(alphas[i, 0]), int(bits[j]), n=20_000, seed=3)
            assert type(s.mse) is float and type(s.bits) is int
            assert r.mse[i, j] == s.mse and r.stderr[i, j] == s.stderr


def test_aciq_model_rounding_is_deterministic():
    dist = stats.t(8)
    r = simulate_mse(dist, [1.0, 2.0], [2, 6], n=10_000, seed=1, model="aciq",
                     grid="midtread")
    geo = get_format("midtread").geometry(np.array([1.0, 2.0]), np.array([2, 6]))
    np.testing.assert_allclose(r.rounding, geo.step**2 / 12.0, rtol=1e-15)
    np.testing.assert_array_equal(r.rounding_stderr, 0.0)
    np.testing.assert_array_equal(r.stderr, r.truncation_stderr)
    # nothing clipped: a deterministic estimate that zscore compares to rounding
    u = simulate_mse(stats.uniform(-1, 2), 1.5, 3, n=1000, seed=0, model="aciq")
    assert u.stderr == 0.0
    assert u.zscore(qerror.mse(stats.uniform(-1, 2), 1.5, 3, model="aciq")) == 0.0
    assert u.zscore(2 * u.mse) == math.inf


def test_seed_is_recorded_and_reproduces():
    r1 = simulate_mse(stats.norm(), 2.0, 3, n=1000)
    assert isinstance(r1.seed, int)
    r2 = simulate_mse(stats.norm(), 2.0, 3, n=1000, seed=r1.seed)
    assert r1 == r2
    r3 = simulate_mse(stats.norm(), 2.0, 3, n=1000, seed=np.random.SeedSequence(r1.seed))
    assert r3.mse == r1.mse
    g = simulate_mse(stats.norm(), 2.0, 3, n=1000, seed=np.random.default_rng(r1.seed))
    assert g.mse == r1.mse and g.seed is None
    assert simulate_mse(stats.norm(), 2.0, 3, n=1e3, seed=0).n == 1000


def test_infinite_variance_reports_inf():
    r = simulate_mse(stats.cauchy(), 2.0, 4, n=1000, seed=0)
    assert r.mse == math.inf and r.truncation == math.inf and r.stderr == math.inf
    assert math.isfinite(r.rounding)
    assert qerror.mse(stats.cauchy(), 2.0, 4) == math.inf
    # clamped, the error is finite and the estimate agrees with the engine
    c = qerror.clamp(stats.cauchy(), 3.0)
    rc = simulate_mse(c, 2.0, 4, n=100_000, seed=1)
    _assert_agrees(rc, c, 2.0, 4, "midrise", "exact")


def test_memory_is_bounded_by_the_chunk():
    # 1e6 draws in chunks of 2^13: peak allocation a small multiple of one chunk
    # (8 MB for one unchunked float64 array of n values)
    chunk = 1 << 13
    tracemalloc.start()
    try:
        simulate_mse(stats.norm(), 2.0, 4, n=1_000_000, seed=0, chunk_size=chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 24 * 8 * chunk, peak


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(n=1), ValueError, "n"),
    (dict(n=0), ValueError, "n"),
    (dict(n=2.5), ValueError, "n"),
    (dict(n=float("nan")), ValueError, "n"),
    (dict(n=True), TypeError, "n"),
    (dict(n="10"), TypeError, "n"),
    (dict(n=2**60), ValueError, "n"),
    (dict(chunk_size=0), ValueError, "chunk_size"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(seed=1.5), TypeError, "seed"),
    (dict(grid="nope"), ValueError, "grid"),
    (dict(model="nope"), ValueError, "model"),
    (dict(alpha=-1.0), ValueError, "alpha"),
    (dict(alpha=float("nan")), ValueError, "alpha"),
    (dict(bits=0), ValueError, "bits"),
    (dict(bits=2.5), ValueError, "bits"),
    (dict(dist=np.ones(5)), TypeError, "dist"),
    (dict(dist=stats.norm), TypeError, "dist"),
    (dict(dist=stats.poisson(3)), TypeError, "dist"),
])
def test_bad_input(kwargs, exc, word):
    args = dict(dist=stats.norm(), alpha=1.0, bits=3, n=100, seed=0)
    args.update(kwargs)
    dist, alpha, bits = args.pop("dist"), args.pop("alpha"), args.pop("bits")
    with pytest.raises(exc, match=word):
        simulate_mse(dist, alpha, bits, **args)


def test_result_is_frozen_and_documented():
    r = simulate_mse(stats.norm(), 1.0, 2, n=100, seed=0)
    with pytest.raises(AttributeError):
        r.mse = 0.0
    for f in MonteCarloMSE.__dataclass_fields__:
        assert f in MonteCarloMSE.__doc__
    assert "MonteCarloMSE(" in repr(r)


@pytest.mark.parametrize("dist", [stats.norm(), stats.laplace(0.2, 0.7),
                                  qerror.clamp(stats.norm(), 1.5)],
                         ids=["norm", "laplace", "clamped"])
@pytest.mark.parametrize("bits", [2, 5])
def test_pow2_grid_agrees_with_pow2_mse(dist, bits):
    from qerror.nonuniform import _pow2_parts, _resolve_any, pow2_mse

    alpha = 1.7
    r = qerror.simulate_mse(dist, alpha, bits, grid="pow2", n=200_000, seed=3)
    assert r.grid == "pow2"
    assert abs(r.zscore(pow2_mse(dist, alpha, bits))) < 4
    trunc, rnd = _pow2_parts(_resolve_any(dist), alpha, bits, "exact")
    assert abs(r.truncation - trunc) < 4 * r.truncation_stderr + 1e-15
    assert abs(r.rounding - rnd) < 4 * r.rounding_stderr


def test_pow2_grid_bad_input():
    with pytest.raises(ValueError, match="bits"):
        qerror.simulate_mse(stats.norm(), 1.0, 11, grid="pow2")
    with pytest.raises(ValueError, match="model"):
        qerror.simulate_mse(stats.norm(), 1.0, 4, grid="pow2", model="aciq")
