"""Tests for qerror.data.solver: data arrays as empirical distributions.

The exact optimum is checked against a brute-force reference written here from the
conventions (levels as multiples of the step, every piece of the piecewise-quadratic
MSE enumerated and evaluated with ``qerror.quantize``), on hypothesis-generated small
arrays with ties, repeated values, all-equal data and a single huge outlier.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qerror
import qerror.data._histsolve as em  # the histogram solver's switches
from qerror.data import _kernels as kern
from qerror.data.solver import empirical_error_parts, optimal_alpha_data
from qerror.data.routes import compare_alphas, fit_alpha, maxabs_alpha, octav_alpha

GRIDS = ("midtread", "midrise", "unsigned")
RTOL = 1e-9  # the contract: within 1e-9 (relative) of the best MSE over alpha > 0
BACKENDS = [False] + ([True] if kern.HAVE_NUMBA else [])


# ----------------------------------------------------------------- reference
def _ref_levels(bits, grid):
    """Non-negative level multipliers and alpha/step, from docs/conventions."""
    if grid == "midtread":
        k = 2 ** (bits - 1) - 1
        return np.arange(k + 1.0), float(k)
    m = 2 ** (bits - 1) if grid == "midrise" else 2**bits
    return np.arange(m) + 0.5, float(m)


def _mse(x, alpha, bits, grid):
    with np.errstate(over="ignore"):  # x / step overflows for tiny alpha; clipped
        return float(np.mean((x - qerror.quantize(x, alpha, bits, grid=grid)) ** 2))


def brute_force(x, bits, grid):
    """Best MSE over alpha > 0 by enumerating every piece of E(step)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    c, fac = _ref_levels(bits, grid)
    mags = np.abs(x) if grid != "unsigned" else x[x > 0]
    mags = mags[mags > 0]
    if mags.size == 0:
        return None
    thresholds = 0.5 * (c[:-1] + c[1:])
    top = 8.0 * mags.max() / max(c[0], 0.5)
    bps = (mags[:, None] / thresholds[None, :]).ravel() if thresholds.size else np.empty(0)
    lo = mags.max() * 1e-12
    edges = np.unique(np.concatenate([[lo, top], bps[(bps > lo) & (bps < top)]]))
    best = np.inf
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        mid = 0.5 * (a + b)
        with np.errstate(over="ignore"):
            q = qerror.quantize(x, fac * mid, bits, grid=grid)
        lev = q / mid  # signed level multipliers of the piece
        cc = float(np.dot(lev, lev))
        vertex = float(np.dot(lev, x)) / cc if cc > 0 else a
        for d in (min(max(vertex, a), b), a, b):
            best = min(best, _mse(x, fac * d, bits, grid))
    return best


def _assert_optimal(x, bits, grid, res):
    x = np.asarray(x, dtype=np.float64).ravel()
    best = brute_force(x, bits, grid)
    scale = float(np.max(np.abs(x))) ** 2
    if best is None:  # nothing to quantize usefully: alpha = 0
        assert res.alpha == 0.0
        return
    ours = _mse(x, res.alpha, bits, grid)
    assert ours <= best * (1 + RTOL) + 1e-20 * scale, (ours, best, res.alpha)
    # the reported error is the error at the reported alpha
    assert res.mse == pytest.approx(ours, rel=1e-9, abs=1e-20 * scale)
    assert res.truncation + res.rounding == pytest.approx(res.mse, rel=1e-12,
                                                          abs=1e-20 * scale)


# ----------------------------------------------------------------- strategies
_base = st.lists(
    st.one_of(
        st.sampled_from([0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 0.25, -3.0]),
        st.floats(-10, 10, allow_nan=False, allow_subnormal=False, width=64),
    ),
    min_size=1,
    max_size=24,
)


@st.composite
def data_arrays(draw):
    x = np.array(draw(_base), dtype=np.float64)
    kind = draw(st.sampled_from(["plain", "repeat", "equal", "outlier", "ints"]))
    if kind == "repeat":
        x = np.repeat(x, draw(st.integers(2, 5)))
    elif kind == "equal":
        x = np.full(draw(st.integers(1, 20)), x[0])
    elif kind == "outlier":
        x = np.append(x, draw(st.sampled_from([1e6, -1e4, 123.0])))
    elif kind == "ints":
        x = np.round(x)
    return x


# ----------------------------------------------------------------- exact optimum
@settings(max_examples=60, deadline=None)
@given(x=data_arrays(), bits=st.integers(2, 4), grid=st.sampled_from(GRIDS))
def test_global_optimum_matches_brute_force(x, bits, grid):
    _assert_optimal(x, bits, grid, optimal_alpha_data(x, bits, grid=grid))


@settings(max_examples=25, deadline=None)
@given(x=data_arrays(), bits=st.integers(2, 4), grid=st.sampled_from(GRIDS))
def test_branch_and_bound_path_matches_brute_force(x, bits, grid):
    # force the histogram branch-and-bound route even on tiny arrays
    old = em._DIRECT_LIMIT
    em._DIRECT_LIMIT = 0
    try:
        res = optimal_alpha_data(x, bits, grid=grid)
    finally:
        em._DIRECT_LIMIT = old
    _assert_optimal(x, bits, grid, res)


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("bits", [1, 5])
def test_other_bit_widths_small(grid, bits):
    if grid == "midtread" and bits == 1:
        pytest.skip("midtread needs bits >= 2")
    rng = np.random.default_rng(bits)
    x = rng.standard_t(3, size=40)
    _assert_optimal(x, bits, grid, optimal_alpha_data(x, bits, grid=grid))


def test_not_unimodal_case():
    # two clusters: E(step) has several local minima; the answer is the global one
    x = np.array([1.0] * 10 + [2.9] * 10 + [7.0] * 3)
    res = optimal_alpha_data(x, 3, grid="midtread")
    _assert_optimal(x, 3, "midtread", res)
    alphas = np.linspace(0.5, 12, 20001)
    e = np.array([_mse(x, a, 3, "midtread") for a in alphas])
    interior = (e[1:-1] < e[:-2]) & (e[1:-1] < e[2:])
    assert interior.sum() >= 2  # really multimodal
    assert res.mse <= e.min() * (1 + RTOL)


def _medium(kind, n, rng):
    if kind == "t4":
        x = rng.standard_t(4, size=n) * 0.02
        x[:3] = [1.5, -2.0, 2.5]
        return x.astype(np.float32)
    if kind == "ints":
        return rng.integers(-20, 21, size=n).astype(np.int16)
    x = np.round(rng.normal(size=n), 2)
    x[: n // 2] = 0.0  # sparse, many ties
    return x


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("kind", ["t4", "ints", "sparse"])
def test_medium_arrays_bnb_equals_exhaustive(grid, kind):
    """On 20k values, branch and bound gives the exhaustive-enumeration optimum."""
    rng = np.random.default_rng(7)
    x = _medium(kind, 20_000, rng)
    for bits in (3, 6):
        fast = optimal_alpha_data(x, bits, grid=grid)
        old = em._DIRECT_LIMIT
        em._DIRECT_LIMIT = 1 << 62  # every piece enumerated
        try:
            full = optimal_alpha_data(x, bits, grid=grid)
        finally:
            em._DIRECT_LIMIT = old
        xf = np.asarray(x, dtype=np.float64)
        e_fast = _mse(xf, fast.alpha, bits, grid)
        e_full = _mse(xf, full.alpha, bits, grid)
        assert e_fast <= e_full * (1 + RTOL) + 1e-30
        assert fast.mse == pytest.approx(e_fast, rel=1e-9)
        assert fast.success and "certified" in fast.message


@pytest.mark.skipif(not kern.HAVE_NUMBA, reason="numba not installed")
@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_and_numpy_give_the_same_alpha(grid, dtype):
    # the histograms are bit-identical (test_kernels_agree_bitwise); the compiled
    # branch and bound (qerror.data._tensor) sums the same terms in another order,
    # so the optimum agrees to rounding: the same piece, a few ulp apart
    rng = np.random.default_rng(3)
    x = (rng.standard_t(4, size=50_000) * 0.1).astype(dtype)
    x[10] = -7.0
    a = optimal_alpha_data(x, 4, grid=grid, use_numba=True)
    b = optimal_alpha_data(x, 4, grid=grid, use_numba=False)
    assert a.alpha == pytest.approx(b.alpha, rel=1e-14)
    assert a.mse == pytest.approx(b.mse, rel=1e-13)
    assert a.truncation == pytest.approx(b.truncation, rel=1e-12)
    assert a.extra["swept"] == b.extra["swept"]
    assert a.nfev == b.nfev
    assert a.extra["backend"] == "numba" and b.extra["backend"] == "numpy"
    for model in ("aciq",):
        assert (optimal_alpha_data(x, 4, grid=grid, model=model, use_numba=True).alpha
                == optimal_alpha_data(x, 4, grid=grid, model=model, use_numba=False).alpha)


@pytest.mark.parametrize("use_numba", BACKENDS)
def test_kernels_agree_bitwise(use_numba):
    rng = np.random.default_rng(5)
    x = rng.normal(size=10_001).astype(np.float32)
    x[[3, 7]] = [0.0, -0.0]
    m, nb = 6, 2048
    amax = kern.absmax(x, True)
    base = int(kern.keys(np.array([amax]), 52 - m)[0]) - (nb - 1)
    h, neg, counts = kern.histogram(x, m, base, nb, True, use_numba)
    hn, _, cn = kern.histogram(x, m, base, nb, True, False)
    assert np.array_equal(h, hn)
    assert np.array_equal(np.sum(counts, axis=0), h[:, 0])
    assert h[:, 0].sum() == x.size
    assert h[:, 1].sum() == pytest.approx(np.abs(x.astype(np.float64)).sum())
    flags = np.zeros(nb, dtype=bool)
    flags[-300:] = True
    got = kern.extract(x, m, base, nb, flags, True, counts, use_numba)
    edge = (np.uint64(base + nb - 300) << np.uint64(52 - m)).view(np.float64)
    want = np.abs(x.astype(np.float64))
    assert np.array_equal(got, want[want >= edge])  # every one, in data order
    # the unsigned grid: only the values >= 0 are binned and read back
    hu, neg, cu = kern.histogram(x, m, base, nb, False, use_numba)
    xn = -x[x < 0].astype(np.float64)
    assert neg[0] == xn.size and neg[1] == pytest.approx(xn.sum())
    got = kern.extract(x, m, base, nb, flags, False, cu, use_numba)
    xp = x[x >= 0].astype(np.float64)
    assert np.array_equal(got, xp[xp >= edge])
    # counts that do not describe the data are refused, not overrun
    if use_numba:
        with pytest.raises(RuntimeError, match="counts"):
            kern.extract(x, m, base, nb, flags, True, [c * 0 for c in counts], True)


@pytest.mark.parametrize("use_numba", BACKENDS)
def test_chunked_read_back_is_in_data_order(use_numba):
    """Several chunks (over 2**20 values): each chunk's values land in its own slice,
    in data order, as one sequential scan would give them."""
    rng = np.random.default_rng(6)
    x = (rng.standard_t(4, size=3 * 2**20 + 17) * 0.02).astype(np.float32)
    m, nb = 12, 1 << 16
    base = int(kern.keys(np.array([kern.absmax(x, True)]), 52 - m)[0]) - (nb - 1)
    h, _, counts = kern.histogram(x, m, base, nb, True, use_numba)
    assert len(counts) == kern.chunks(x.size) > 1
    flags = rng.random(nb) < 0.01
    got = kern.extract(x, m, base, nb, flags, True, counts, use_numba)
    a = np.abs(x.astype(np.float64))
    idx = np.clip(kern.keys(a, 52 - m) - base, 0, nb - 1)
    assert np.array_equal(got, a[flags[idx]])


# ----------------------------------------------------------------- per channel
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_per_channel_equals_per_slice(axis):
    rng = np.random.default_rng(11)
    w = rng.laplace(size=(6, 300)) * rng.uniform(0.5, 3, size=(6, 1))
    w[2] = 0.0  # an all-zero channel
    res = optimal_alpha_data(w, 4, axis=axis, grid="midtread")
    n = w.shape[axis]
    assert res.alpha.shape == (n,) and res.mse.shape == (n,)
    assert res.success.dtype == bool and res.success.all()
    for i in range(n):
        one = optimal_alpha_data(np.take(w, i, axis=axis), 4, grid="midtread")
        # same optimal MSE (alpha may differ on exact ties: the batched sums may
        # differ in the last bits)
        assert res.mse[i] == pytest.approx(one.mse, rel=1e-12)
        col = np.take(w, i, axis=axis)
        if res.alpha[i] > 0:
            assert _mse(col, res.alpha[i], 4, "midtread") == pytest.approx(one.mse,
                                                                         rel=1e-9)
    if axis == 0:
        assert res.alpha[2] == 0.0 and res.mse[2] == 0.0


def test_per_channel_3d_and_peers():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 3, 50))
    res = optimal_alpha_data(x, 3, axis=1, grid="midtread")
    assert res.alpha.shape == (3,)
    _assert_optimal(x[:, 1, :], 3, "midtread", optimal_alpha_data(x[:, 1, :], 3, grid="midtread"))
    for fn in (maxabs_alpha, octav_alpha):
        r = fn(x, 3, axis=1, grid="midtread")
        assert r.alpha.shape == (3,)
        assert np.all(r.mse >= res.mse * (1 - 1e-12))


# ----------------------------------------------------------------- bad and odd input
def test_nan_and_inf_are_reported_with_count_and_first_index():
    x = np.zeros((3, 4))
    x[1, 2] = np.nan
    x[2, 0] = np.inf
    with pytest.raises(ValueError, match=r"2 non-finite.*\(1, 2\)"):
        optimal_alpha_data(x, 4)
    with pytest.raises(ValueError, match=r"1 non-finite.*index 5"):
        empirical_error_parts([0, 1, 2, 3, 4, -np.inf], 1.0, 4)
    with pytest.raises(ValueError, match="non-finite"):
        optimal_alpha_data(np.array([1.0, np.nan], dtype=np.float32), 4, use_numba=False)
    with pytest.raises(ValueError, match="non-finite"):
        octav_alpha([1.0, np.nan], 4)


def test_empty_and_non_numeric():
    with pytest.raises(ValueError, match="empty"):
        optimal_alpha_data([], 4)
    with pytest.raises(ValueError, match="empty"):
        empirical_error_parts(np.empty((0, 3)), 1.0, 4)
    with pytest.raises(TypeError):
        optimal_alpha_data(np.array([1 + 2j]), 4)
    with pytest.raises(TypeError):
        optimal_alpha_data(["a", "b"], 4)


@pytest.mark.parametrize("grid", GRIDS)
def test_all_zero_gives_alpha_zero(grid):
    res = optimal_alpha_data(np.zeros(100), 4, grid=grid)
    assert res.alpha == 0.0 and res.mse == 0.0 and res.success
    assert "zero" in res.message
    assert maxabs_alpha(np.zeros(5), 4, grid=grid).alpha == 0.0


def test_unsigned_grid_with_no_positive_value():
    res = optimal_alpha_data([-1.0, -2.0, 0.0], 3, grid="unsigned")
    assert res.alpha == 0.0 and res.mse == pytest.approx(5.0 / 3)
    assert "above zero" in res.message


def test_integer_float16_zero_d_and_array_like_inputs():
    xi = np.array([-7, -3, 0, 2, 5, 9], dtype=np.int8)
    xf = xi.astype(np.float64)
    assert optimal_alpha_data(xi, 3, grid="midtread").alpha == optimal_alpha_data(xf, 3, grid="midtread").alpha
    h = np.array([0.1, -0.7, 2.0, 0.3], dtype=np.float16)
    r = optimal_alpha_data(h, 3, grid="midtread")
    _assert_optimal(h.astype(np.float64), 3, "midtread", r)
    r0 = optimal_alpha_data(np.float64(2.5), 4, grid="midtread")  # 0-d: one value, quantized exactly
    assert r0.mse == pytest.approx(0.0, abs=1e-28) and r0.alpha > 0
    assert empirical_error_parts(np.array(2.0), 2.0, 3, grid="midtread") == (0.0, 0.0)

    class Tensorish:  # anything with __array__, e.g. a CPU torch tensor
        def __array__(self, dtype=None, copy=None):
            return xf.astype(np.float32)

    assert optimal_alpha_data(Tensorish(), 3, grid="midtread").alpha == pytest.approx(
        optimal_alpha_data(xf, 3, grid="midtread").alpha)


def test_bad_bits_grid_model_axis():
    with pytest.raises(ValueError, match="bits"):
        optimal_alpha_data([1.0, 2.0], 1, grid="midtread")
    with pytest.raises(ValueError, match="bits <= 16"):
        optimal_alpha_data([1.0, 2.0], 20)
    with pytest.raises(ValueError, match="single integer"):
        optimal_alpha_data([1.0, 2.0], [3, 4])
    with pytest.raises(ValueError, match="grid"):
        optimal_alpha_data([1.0], 4, grid="nope")
    with pytest.raises(ValueError, match="model"):
        optimal_alpha_data([1.0], 4, model="nope")
    with pytest.raises(ValueError, match="axis"):
        optimal_alpha_data(np.float64(1.0), 4, axis=0)
    with pytest.raises(np.exceptions.AxisError):
        optimal_alpha_data(np.ones((2, 2)), 4, axis=2)
    # the ACIQ model has no bit limit
    assert optimal_alpha_data([1.0, -3.0, 0.5], 40, model="aciq").alpha > 0


# ----------------------------------------------------------------- error parts
@pytest.mark.parametrize("grid", GRIDS)
def test_error_parts_exact_definition(grid):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(20, 7))
    xf = x.ravel()
    alpha, bits = 1.3, 3
    t, r = empirical_error_parts(x, alpha, bits, grid=grid)
    err = (xf - qerror.quantize(xf, alpha, bits, grid=grid)) ** 2
    out = (np.abs(xf) > alpha) if grid != "unsigned" else ((xf < 0) | (xf > alpha))
    assert isinstance(t, float) and isinstance(r, float)
    assert t == pytest.approx(err[out].sum() / xf.size, rel=1e-14)
    assert r == pytest.approx(err[~out].sum() / xf.size, rel=1e-14)


def test_error_parts_hand_values_and_split_at_alpha():
    # midtread, b=2: levels -1, 0, 1; |x| = alpha exactly is rounding (in range)
    t, r = empirical_error_parts([-3.0, -0.2, 0.1, 0.4, 1.0], 1.0, 2, grid="midtread")
    assert t == pytest.approx(4.0 / 5)
    assert r == pytest.approx((0.04 + 0.01 + 0.16 + 0.0) / 5)
    # ACIQ model: distance to the range, and step^2/12 (midrise step 2*alpha/2^b)
    t, r = empirical_error_parts([-3.0, 0.5, 2.0], 1.0, 2, model="aciq")
    assert t == pytest.approx((4.0 + 1.0) / 3)
    assert r == pytest.approx((2.0 / 4) ** 2 / 12)
    t, r = empirical_error_parts([-3.0, 0.5, 2.0], 1.0, 2, model="aciq", grid="unsigned")
    assert t == pytest.approx((9.0 + 1.0) / 3)
    assert r == pytest.approx((1.0 / 4) ** 2 / 12)


def test_error_parts_broadcast_alpha_and_bits_not_x():
    x = np.linspace(-2, 2, 11)
    t, r = empirical_error_parts(x, [[0.5], [1.0], [2.0]], [2, 3, 4, 5])
    assert t.shape == r.shape == (3, 4)
    assert t.dtype == np.float64
    t1, r1 = empirical_error_parts(x, 1.0, 4)
    assert (t[1, 2], r[1, 2]) == (t1, r1)
    with pytest.raises(ValueError):
        empirical_error_parts(x, [1.0, 2.0], [2, 3, 4])
    with pytest.raises(ValueError, match="alpha"):
        empirical_error_parts(x, 0.0, 4)


# ----------------------------------------------------------------- ACIQ model on data
@pytest.mark.parametrize("grid", GRIDS)
def test_aciq_optimum_on_data(grid):
    rng = np.random.default_rng(4)
    x = rng.standard_t(5, size=3000)
    res = optimal_alpha_data(x, 4, model="aciq", grid=grid)
    t, r = empirical_error_parts(x, res.alpha, 4, model="aciq", grid=grid)
    assert res.mse == pytest.approx(t + r, rel=1e-10)
    assert (res.truncation, res.rounding) == (pytest.approx(t, rel=1e-9),
                                              pytest.approx(r, rel=1e-12))
    for f in (1 - 1e-6, 1 + 1e-6, 0.9, 1.1):
        tt, rr = empirical_error_parts(x, res.alpha * f, 4, model="aciq", grid=grid)
        assert tt + rr >= res.mse * (1 - 1e-13)
    # the data version of the ACIQ stationarity condition holds
    a = np.abs(x) if grid != "unsigned" else x[x >= 0]
    fac = {"midtread": 7.0, "midrise": 8.0, "unsigned": 16.0}[grid]
    lhs = res.alpha / (12 * fac**2) * x.size
    assert lhs == pytest.approx(np.sum(a[a > res.alpha] - res.alpha), rel=1e-10)


# ----------------------------------------------------------------- peer routes
def test_maxabs_and_octav():
    x = np.array([-3.0, 0.5, 1.0])
    r = maxabs_alpha(x, 4, grid="midtread")
    assert r.alpha == 3.0 and r.truncation == 0.0 and not r.success
    assert maxabs_alpha([-3.0, 0.5, 1.0], 4, grid="unsigned").alpha == 1.0
    rng = np.random.default_rng(0)
    y = rng.laplace(size=20_000)
    o = octav_alpha(y, 4, grid="midrise", iterations=200)
    # converged OCTAV satisfies its own fixed-point equation (kappa = 4^-b / 3)
    a = np.abs(y)
    out = a > o.alpha
    fixed = a[out].sum() / (4.0**-4 / 3 * (~out).sum() + out.sum())
    assert o.alpha == pytest.approx(fixed, rel=1e-9)
    best = optimal_alpha_data(y, 4, grid="midrise")
    assert o.mse >= best.mse and maxabs_alpha(y, 4, grid="midrise").mse >= best.mse
    assert octav_alpha(y, 4, iterations=0, alpha0=2.0, grid="midtread").alpha == 2.0


def test_laplace_fit_pins_aciq_constant():
    # ACIQ (Banner et al.): 4-bit Laplace optimum alpha = 5.03 b on the midrise grid
    rng = np.random.default_rng(0)
    y = rng.laplace(scale=0.3, size=20_000)
    r = fit_alpha(y, 4, law="laplace", grid="midrise")
    assert r.alpha / np.abs(y).mean() == pytest.approx(5.03, abs=0.005)
    assert r.mse >= optimal_alpha_data(y, 4, grid="midrise").mse


@pytest.mark.skipif(not hasattr(qerror, "optimal_alpha"),
                    reason="qerror.optimal_alpha (distribution engine) not available")
def test_gaussian_fit_pins_aciq_constant():
    # ACIQ: 4-bit Gaussian optimum alpha = 2.55 sigma (midrise)
    rng = np.random.default_rng(0)
    y = rng.normal(scale=2.0, size=20_000)
    r = fit_alpha(y, 4, law="norm", grid="midrise")
    assert r.alpha / np.sqrt(np.mean(y * y)) == pytest.approx(2.55, abs=0.01)


def test_compare_alphas_optimal_is_best():
    rng = np.random.default_rng(9)
    x = rng.standard_t(4, size=5000) * 0.02
    out = compare_alphas(x, 4, grid="midtread")
    assert {"optimal", "max-abs", "octav", "aciq-laplace"} <= set(out)
    for name, r in out.items():
        assert r.mse >= out["optimal"].mse * (1 - 1e-12), name


# ----------------------------------------------------------------- CLI
def _run_cli(args, capsys):
    from qerror.cli import main

    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_analyze_npz(tmp_path, capsys):
    rng = np.random.default_rng(0)
    w = (rng.standard_t(4, size=(16, 256)) * 0.02).astype(np.float32)
    path = tmp_path / "m.npz"
    np.savez(path, w=w, z=np.zeros(4), i=np.arange(-5, 6))
    rc, out, _ = _run_cli(["analyze", str(path), "--bits", "4", "--grid", "midtread"],
                          capsys)
    assert rc == 0
    for word in ("w  (16x256, float32, per tensor)", "optimal", "max-abs", "octav",
                 "SQNR", "all zero"):
        assert word in out
    best = optimal_alpha_data(w, 4, grid="midtread")
    assert f"{best.alpha:.6g}" in out


def test_cli_analyze_npy_per_channel_and_errors(tmp_path, capsys):
    rng = np.random.default_rng(1)
    path = tmp_path / "w.npy"
    np.save(path, rng.laplace(size=(8, 100)))
    rc, out, err = _run_cli(["analyze", str(path), "--per-channel", "0", "--grid",
                             "midrise", "--no-peers", "--progress"], capsys)
    assert rc == 0 and "per channel, axis 0" in out and "100.0%" in err
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.array([1.0, np.nan]))
    rc, out, _ = _run_cli(["analyze", str(bad)], capsys)
    assert rc == 1 and "non-finite" in out
    rc, _, err = _run_cli(["analyze", str(tmp_path / "missing.npy")], capsys)
    assert rc == 2
    rc, _, err = _run_cli(["analyze", str(path), "--bits", "0"], capsys)
    assert rc == 2 and "bits" in err
    (tmp_path / "x.txt").write_text("1 2 3")
    with pytest.raises(SystemExit, match="unsupported"):
        _run_cli(["analyze", str(tmp_path / "x.txt")], capsys)


def test_cli_analyze_safetensors(tmp_path, capsys):
    st_numpy = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "m.safetensors"
    st_numpy.save_file({"layer.weight": np.linspace(-1, 1, 301, dtype=np.float32)},
                       str(path))
    rc, out, _ = _run_cli(["analyze", str(path), "--tensor", "layer.weight"], capsys)
    assert rc == 0 and "layer.weight" in out
