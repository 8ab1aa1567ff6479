"""The compiled per-tensor solver (``qerror.data._tensor``) against the numpy branch
and bound on the same histogram (``use_numba=False``, an independent implementation
of the same bounds) and against brute force on small data."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qerror.data import _kernels as kern
from qerror.data.solver import _MARGIN, empirical_error_parts, optimal_alpha_data

needs_numba = pytest.mark.skipif(not kern.HAVE_NUMBA, reason="numba not installed")

GRIDS = ["midrise", "midtread", "unsigned", "pow2", "fp4_e2m1"]


def _data(kind, n, seed):
    rng = np.random.default_rng(seed)
    if kind == "t":
        x = rng.standard_t(2.5, size=n) * 0.02
    elif kind == "outliers":
        x = rng.standard_t(4, size=n) * 0.02
        x[rng.choice(n, 5, replace=False)] = rng.uniform(-3, 3, size=5)
    elif kind == "discrete":  # few distinct values: many near-equal minima
        x = rng.choice(np.array([-1.5, -0.7, -0.1, 0.0, 0.2, 0.9, 1.3]), size=n)
    elif kind == "mixture":
        x = np.where(rng.random(n) < 0.9, rng.normal(0, 0.01, n), rng.normal(0, 1, n))
    else:  # "binades": magnitudes spread over 60 binades
        x = rng.choice([-1.0, 1.0], n) * 2.0 ** rng.uniform(-50, 10, n)
    return x


def _agree(a, b, x):
    """The same optimum within the certificate's slack (a margin of sum(x^2))."""
    xf = np.asarray(x, dtype=np.float64).ravel()
    slack = _MARGIN * float(np.dot(xf, xf)) / xf.size * 4 + 1e-300
    assert abs(a.mse - b.mse) <= slack + 1e-12 * b.mse
    # each reported MSE is the error at the reported alpha
    for r in (a, b):
        t, rd = empirical_error_parts(xf, r.alpha, r.bits, grid=r.grid)
        assert t + rd == pytest.approx(r.mse, rel=1e-9, abs=slack)
        assert t == pytest.approx(r.truncation, rel=1e-7, abs=slack)


@needs_numba
@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("kind", ["t", "outliers", "discrete", "mixture", "binades"])
def test_compiled_matches_numpy(grid, kind):
    x = _data(kind, 150_000, 11)
    bits = 4 if grid != "fp4_e2m1" else None
    a = optimal_alpha_data(x, bits, grid=grid, use_numba=True)
    b = optimal_alpha_data(x, bits, grid=grid, use_numba=False)
    assert a.extra["backend"] == "numba" and b.extra["backend"] == "numpy"
    _agree(a, b, x)


@needs_numba
@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(["t", "outliers", "discrete", "mixture", "binades"]),
       n=st.integers(300, 80_000), bits=st.integers(1, 8),
       grid=st.sampled_from(["midrise", "midtread", "unsigned"]),
       seed=st.integers(0, 2**31), f32=st.booleans())
def test_compiled_matches_numpy_random(kind, n, bits, grid, seed, f32):
    if grid == "midtread" and bits < 2:
        bits = 2
    x = _data(kind, n, seed)
    if f32:
        x = x.astype(np.float32)
    a = optimal_alpha_data(x, bits, grid=grid, use_numba=True)
    b = optimal_alpha_data(x, bits, grid=grid, use_numba=False)
    _agree(a, b, x)


@needs_numba
@pytest.mark.parametrize("grid", ["midrise", "midtread", "unsigned"])
@pytest.mark.parametrize("bits", [2, 3])
def test_compiled_against_brute_force(grid, bits):
    """Small data: every piece of E is a quadratic between two level changes; the
    optimum is the best vertex or end among all of them."""
    rng = np.random.default_rng(bits)
    x = rng.standard_t(3, size=700)
    r = optimal_alpha_data(x, bits, grid=grid, use_numba=True)
    best = np.inf
    for al in np.geomspace(r.alpha / 3, r.alpha * 3, 4001):
        t, rd = empirical_error_parts(x, al, bits, grid=grid)
        best = min(best, t + rd)
    assert r.mse <= best * (1 + 1e-12)
    assert r.mse == pytest.approx(best, rel=1e-3)


@needs_numba
def test_compiled_counts_what_it_reads_back():
    """The certificate's figures: values read back, pieces, intervals."""
    x = _data("outliers", 300_000, 3).astype(np.float32)
    a = optimal_alpha_data(x, 4, grid="midtread", use_numba=True)
    b = optimal_alpha_data(x, 4, grid="midtread", use_numba=False)
    assert a.extra["swept"] == b.extra["swept"] > 0
    assert a.extra["intervals"] == b.extra["intervals"] >= 1
    assert a.nfev == b.nfev > a.extra["intervals"]
    assert "certified" in a.message


def test_run_spans_covers_every_index_once_and_raises():
    """The caller and the pool threads share the spans: each index exactly once,
    whatever the thread count and span count; an exception in a span reaches the
    caller after every thread has stopped."""
    import threading

    for count, split in [(1, 4), (5, 1), (7, 3), (64, 4), (1000, 2)]:
        seen = np.zeros(count, dtype=np.int64)
        lock = threading.Lock()

        def fn(lo, hi, seen=seen, lock=lock):
            with lock:
                seen[lo:hi] += 1
        kern.run_spans(fn, count, cost=1 << 30, split=split)
        assert (seen == 1).all()

    def bad(lo, hi):
        if hi == 8:
            raise ValueError("span failed")
    with pytest.raises(ValueError, match="span failed"):
        kern.run_spans(bad, 8, cost=1 << 30, split=4)


@pytest.mark.parametrize("scale", [1e250, 1e160, 1e-250])
@pytest.mark.parametrize("use_numba", [True, False] if kern.HAVE_NUMBA else [False])
def test_extreme_magnitudes_scaled_exactly(scale, use_numba):
    """Data whose squares overflow or underflow float64: solved on the data times a
    power of two (exact), alpha scaled back; the MSE out of range is said so."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=3000)
    ref = optimal_alpha_data(x, 5, grid="midtread", use_numba=use_numba)
    with np.errstate(over="ignore", under="ignore"):
        r = optimal_alpha_data(x * scale, 5, grid="midtread", use_numba=use_numba)
    assert r.alpha / scale == pytest.approx(ref.alpha, rel=1e-13)
    if scale > 1:
        assert r.mse == np.inf and "exceeds the float64 range" in r.message
    else:
        assert r.mse == 0.0 and "below the float64 range" in r.message


@needs_numba
@pytest.mark.parametrize("bits", [6, 7, 8])
def test_power_of_two_grid_wide_levels(bits):
    """Levels spanning 2**31 to 2**127 (the "pow2" grid at 6-8 bits): the steps searched
    reach down far enough, both back ends find the same optimum, at least as good as
    a dense scan of alpha."""
    rng = np.random.default_rng(bits)
    x = rng.standard_t(3, size=(5000))
    a = optimal_alpha_data(x, bits, grid="pow2", use_numba=True)
    b = optimal_alpha_data(x, bits, grid="pow2", use_numba=False)
    tot = float(np.dot(x, x)) / x.size
    assert abs(a.mse - b.mse) <= 4 * _MARGIN * tot
    for al in np.geomspace(np.abs(x).max() / 64, np.abs(x).max() * 2, 600):
        t, r = empirical_error_parts(x, al, bits, grid="pow2")
        assert a.mse <= t + r + 4 * _MARGIN * tot


@pytest.mark.parametrize("signed", [True, False])
def test_summary_extremes_match_absmax(signed):
    """The histogram summary's max |x| from extremes computed beforehand equals the
    kernels' absmax, NaN and inf (of either sign) included."""
    from qerror.data._summary import _Summary

    rows = np.array([[1.0, -3.0, 2.0], [np.nan, 1.0, 0.0], [1.0, -np.inf, 0.5],
                     [-1.0, -2.0, -0.5], [0.0, 0.0, 0.0], [np.inf, 1.0, 2.0]])
    ext = (rows.max(axis=1), rows.min(axis=1))
    with np.errstate(invalid="ignore"):
        a = _Summary(rows, signed, False, 8).amax
        b = _Summary(rows, signed, False, 8, ext).amax
    assert np.array_equal(a, b, equal_nan=True)
