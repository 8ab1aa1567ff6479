"""Per-group and batched per-channel optima (the compiled row solver), and the
parallel per-tensor passes.

Every group's alpha is checked against the brute-force reference of
``tests/test_empirical.py`` (every piece of the piecewise-quadratic MSE enumerated),
and a group solved in a batch against the same group solved alone.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_empirical import RTOL, _mse, brute_force

import qerror
from qerror.data import _kernels as kern
from qerror.data.routes import compare_alphas, fit_alpha, maxabs_alpha, octav_alpha
from qerror.data.solver import empirical_error_parts, optimal_alpha_data
from qerror.formats import get_format

GRIDS = ("midtread", "midrise", "unsigned")
needs_numba = pytest.mark.skipif(not kern.HAVE_NUMBA, reason="numba not installed")


def _check_rows(x2d, res_alpha, res_mse, bits, grid):
    """Every row's alpha is a global optimum and its reported MSE is its MSE."""
    for row, al, ms in zip(x2d, np.ravel(res_alpha), np.ravel(res_mse), strict=True):
        row = np.asarray(row, dtype=np.float64)
        best = brute_force(row, bits, grid)
        scale = float(np.max(np.abs(row))) ** 2
        if best is None:
            assert al == 0.0
            continue
        ours = _mse(row, al, bits, grid)
        assert ours <= best * (1 + RTOL) + 1e-20 * scale, (ours, best, al)
        assert ms == pytest.approx(ours, rel=1e-9, abs=1e-20 * scale)


@st.composite
def group_arrays(draw):
    g = draw(st.sampled_from([1, 2, 3, 8, 16, 32]))
    rows = draw(st.integers(1, 4))
    vals = draw(st.lists(
        st.one_of(st.sampled_from([0.0, 1.0, -1.0, 0.5, -2.0, 3.0]),
                  st.floats(-10, 10, allow_nan=False, allow_subnormal=False)),
        min_size=rows * g, max_size=rows * g))
    x = np.array(vals).reshape(rows, g)
    kind = draw(st.sampled_from(["plain", "ints", "outlier", "equal"]))
    if kind == "ints":
        x = np.round(x)
    elif kind == "outlier":
        x[0, 0] = 1e5
    elif kind == "equal":
        x[:] = x[:, :1]
    return x


@needs_numba
@settings(max_examples=60, deadline=None)
@given(x=group_arrays(), bits=st.integers(1, 5), grid=st.sampled_from(GRIDS))
def test_group_optimum_matches_brute_force(x, bits, grid):
    assume(bits >= 2 or grid != "midtread")  # 1 bit: one level pair (no thresholds)
    res = optimal_alpha_data(x, bits, grid=grid, group_size=x.shape[1])
    assert res.alpha.shape == (x.shape[0], 1) and res.success.all()
    _check_rows(x, res.alpha, res.mse, bits, grid)


@needs_numba
@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("kind", ["t4", "sparse", "ints", "tiny"])
def test_long_rows_match_the_histogram_solver(grid, kind):
    """Rows longer than the presort limit (bucketed, sorted lazily) give the same
    optimal MSE as each row solved alone by the per-tensor histogram solver."""
    rng = np.random.default_rng(3)
    w = rng.standard_t(4, size=(6, 3000)) * 0.02
    if kind == "sparse":
        w[rng.random(w.shape) < 0.7] = 0.0
    elif kind == "ints":
        w = np.round(w * 300)
    elif kind == "tiny":
        w *= 1e-200
    w[1, 5] = 40 * np.abs(w).max()  # an outlier
    for bits in (3, 6):
        res = optimal_alpha_data(w, bits, grid=grid, axis=0)
        for i, row in enumerate(w):
            one = optimal_alpha_data(row, bits, grid=grid, use_numba=False)
            assert res.mse[i] == pytest.approx(one.mse, rel=1e-9, abs=1e-300)
            if res.alpha[i] > 0:
                assert _mse(row, res.alpha[i], bits, grid) == pytest.approx(
                    res.mse[i], rel=1e-9, abs=1e-300)


@needs_numba
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.sampled_from([257, 700, 2500]),
       bits=st.integers(1, 8), grid=st.sampled_from(GRIDS),
       kind=st.sampled_from(["t3", "binades", "few", "halfzero", "uniform"]))
def test_bucketed_rows_match_the_histogram_solver(seed, n, bits, grid, kind):
    assume(bits >= 2 or grid != "midtread")
    """The bucketed row solver (bucket found from the float's bits, cells shrunk to
    where their bound can still reach the best) against the independent per-tensor
    histogram solver, on rows spread over many binades, with ties and zeros."""
    rng = np.random.default_rng(seed)
    if kind == "t3":
        w = rng.standard_t(3, size=(3, n))
    elif kind == "binades":  # magnitudes over 2^-60 .. 2^10: most in bucket 0
        w = rng.choice([-1.0, 1.0], size=(3, n)) * np.exp2(rng.uniform(-60, 10, (3, n)))
    elif kind == "few":  # a handful of distinct values, many exact ties
        w = rng.choice([-3.0, -1.0, -0.5, 0.0, 0.25, 1.0, 2.0], size=(3, n))
    elif kind == "halfzero":
        w = rng.standard_normal((3, n)) * (rng.random((3, n)) < 0.5)
    else:
        w = rng.uniform(-1.0, 1.0, size=(3, n))
    res = optimal_alpha_data(w, bits, grid=grid, axis=0)
    for i, row in enumerate(w):
        one = optimal_alpha_data(row, bits, grid=grid, use_numba=False)
        assert res.mse[i] == pytest.approx(one.mse, rel=1e-9, abs=1e-300), (i, kind)


@needs_numba
def test_batched_groups_equal_groups_alone_and_shape():
    rng = np.random.default_rng(0)
    x = (rng.standard_t(4, size=(3, 5, 256)) * 0.05).astype(np.float32)
    x[1, 2, :64] = 0.0  # an all-zero group
    res = optimal_alpha_data(x, 4, grid="midtread", group_size=64)
    assert res.alpha.shape == res.mse.shape == res.success.shape == (3, 5, 4)
    assert res.alpha[1, 2, 0] == 0.0 and res.mse[1, 2, 0] == 0.0
    assert "per group (60 groups of 64" in res.message and res.extra["group_size"] == 64
    for idx in [(0, 0, 0), (2, 4, 3), (1, 2, 1)]:
        g = x[idx[0], idx[1], 64 * idx[2]:64 * (idx[2] + 1)]
        one = optimal_alpha_data(g, 4, grid="midtread", use_numba=False)
        assert res.mse[idx] == pytest.approx(one.mse, rel=1e-12)
    # the same through qerror.optimal_alpha, and the numpy back end agrees
    again = qerror.optimal_alpha(x, 4, grid="midtread", group_size=64)
    assert np.array_equal(again.alpha, res.alpha)
    slow = optimal_alpha_data(x, 4, grid="midtread", group_size=64, use_numba=False)
    np.testing.assert_allclose(slow.mse, res.mse, rtol=1e-12)
    assert (res.truncation + res.rounding == pytest.approx(res.mse, rel=1e-12))


@needs_numba
@pytest.mark.parametrize("grid", GRIDS)
def test_group_aciq_model_matches_numpy(grid):
    rng = np.random.default_rng(1)
    x = rng.standard_t(5, size=(4, 512))
    fast = optimal_alpha_data(x, 4, grid=grid, model="aciq", group_size=128)
    slow = optimal_alpha_data(x, 4, grid=grid, model="aciq", group_size=128,
                              use_numba=False)
    np.testing.assert_allclose(fast.alpha, slow.alpha, rtol=1e-12)
    np.testing.assert_allclose(fast.mse, slow.mse, rtol=1e-10)


@needs_numba
def test_nonuniform_grid_per_group():
    rng = np.random.default_rng(2)
    x = rng.laplace(size=(2, 64))
    res = optimal_alpha_data(x, 3, grid="pow2", group_size=32)
    for i in range(2):
        for j in range(2):
            one = optimal_alpha_data(x[i, 32 * j:32 * (j + 1)], 3, grid="pow2",
                                     use_numba=False)
            assert res.mse[i, j] == pytest.approx(one.mse, rel=1e-9)


def test_group_size_errors():
    x = np.ones((4, 6))
    with pytest.raises(ValueError, match="divisor of the last axis"):
        optimal_alpha_data(x, 4, group_size=4)
    with pytest.raises(ValueError, match="divisor"):
        optimal_alpha_data(x, 4, group_size=0)
    with pytest.raises(TypeError, match="group_size"):
        optimal_alpha_data(x, 4, group_size=2.0)
    with pytest.raises(TypeError, match="group_size"):
        optimal_alpha_data(x, 4, group_size=True)
    with pytest.raises(ValueError, match="not both"):
        optimal_alpha_data(x, 4, group_size=3, axis=0)
    with pytest.raises(ValueError, match="at least one dimension"):
        optimal_alpha_data(np.float64(1.0), 4, group_size=1)
    from scipy import stats
    with pytest.raises(ValueError, match="data arrays only"):
        qerror.optimal_alpha(stats.norm(), 4, group_size=2)
    bad = np.ones((2, 8))
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match=r"1 non-finite.*\(1, 3\)"):
        optimal_alpha_data(bad, 4, group_size=4)


def test_routes_per_group():
    rng = np.random.default_rng(4)
    x = rng.standard_t(4, size=(3, 128)) * 0.1
    x[2, :32] = 0.0
    out = compare_alphas(x, 4, grid="midtread", group_size=32)
    for name, r in out.items():
        assert np.shape(r.alpha) == (3, 4), name
        assert np.all(r.mse >= out["optimal"].mse * (1 - 1e-12)), name
    # the vectorised routes equal the routes on each group alone
    g = x[1, 64:96]
    for fn in (maxabs_alpha, octav_alpha):
        assert fn(x, 4, grid="midtread", group_size=32).alpha[1, 2] == pytest.approx(
            fn(g, 4, grid="midtread").alpha, rel=1e-12)
    fit = fit_alpha(x, 4, law="laplace", grid="midtread", group_size=32)
    assert fit.alpha[1, 2] == pytest.approx(
        fit_alpha(g, 4, law="laplace", grid="midtread").alpha, rel=1e-12)
    assert fit.alpha[2, 0] == 0.0 and fit.mse[2, 0] == 0.0


@needs_numba
def test_read_only_and_mapped_rows(tmp_path):
    rng = np.random.default_rng(5)
    w = rng.normal(size=(8, 300)).astype(np.float32)
    path = tmp_path / "w.npy"
    np.save(path, w)
    mapped = np.load(path, mmap_mode="r")
    a = optimal_alpha_data(mapped, 4, axis=0)
    b = optimal_alpha_data(w, 4, axis=0)
    assert np.array_equal(a.alpha, b.alpha)


@needs_numba
@pytest.mark.parametrize("grid", ["midtread", "unsigned"])
def test_parallel_histogram_is_bit_identical_to_numpy(grid):
    """Above 2**21 values the histogram pass runs in chunks (in parallel); the sums
    are added in chunk order in both back ends, so the prefix sums of the bins agree
    exactly, and the optimum (whose branch and bound adds terms in another order in
    the compiled solver) to rounding."""
    assert kern.chunks(5 << 20) == 5 and kern.chunks(100) == 1
    rng = np.random.default_rng(6)
    x = (rng.standard_t(4, size=(5 << 20) + 17) * 0.02).astype(np.float32)
    x[123] = -3.0
    signed = grid != "unsigned"
    m, base, nb = 12, int(kern.keys(np.array([3.0]), 40)[0]) - 65535, 1 << 16
    P1, n1, c1 = kern.prefix_sums(x, m, base, nb, signed, True)
    P0, n0, c0 = kern.prefix_sums(x, m, base, nb, signed, False)
    assert np.array_equal(P1, P0) and np.array_equal(n1, n0)
    assert all(np.array_equal(a, b) for a, b in zip(c1, c0, strict=True))
    a = optimal_alpha_data(x, 4, grid=grid, use_numba=True)
    b = optimal_alpha_data(x, 4, grid=grid, use_numba=False)
    assert a.alpha == pytest.approx(b.alpha, rel=1e-14)
    assert a.mse == pytest.approx(b.mse, rel=1e-13)


def test_cli_analyze_group_size(tmp_path, capsys):
    import json

    from qerror.cli import main

    rng = np.random.default_rng(7)
    w = (rng.standard_t(4, size=(4, 64)) * 0.02).astype(np.float32)
    path = tmp_path / "m.npz"
    np.savez(path, w=w, b=rng.normal(size=5))
    rc = main(["analyze", str(path), "--bits", "4", "--grid", "midtread", "--json",
               "--group-size", "32"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["group_size"] == 32
    t = {r["name"]: r for r in doc["tensors"]}
    best = optimal_alpha_data(w, 4, grid="midtread", group_size=32)
    assert t["w"]["group_size"] == 32 and len(t["w"]["alpha"]) == 8
    np.testing.assert_allclose(t["w"]["alpha"], best.alpha.ravel(), rtol=1e-15)
    assert len(t["w"]["routes"]["octav"]["channel_mse"]) == 8
    assert t["b"]["group_size"] is None and "per tensor" in t["b"]["note"]
    rc = main(["analyze", str(path), "--group-size", "32", "--per-channel", "0"])
    assert rc == 2 and "--group-size" in capsys.readouterr().err


@needs_numba
@pytest.mark.parametrize("grid,bits", [("fp8_e4m3", None), ("midtread", 8),
                                       ("midrise", 6), ("int", 8)])
def test_many_thresholds_rows_match_numpy(grid, bits):
    """Rows with many thresholds (K >= 31: cells with up to 256 K level changes are
    swept, sorted in O(m)) against the numpy solver, row by row."""
    rng = np.random.default_rng(17)
    w = rng.standard_t(3, size=(3, 2048)) * 0.05
    w[1, 7] = 4.0  # an outlier: a wide bracket
    fast = optimal_alpha_data(w, bits, grid=grid, axis=0)
    slow = optimal_alpha_data(w, bits, grid=grid, axis=0, use_numba=False)
    for i in range(w.shape[0]):
        tot = float(np.dot(w[i], w[i])) / w.shape[1]
        assert fast.mse[i] <= slow.mse[i] + 4e-12 * tot
        assert slow.mse[i] <= fast.mse[i] + 4e-12 * tot


@needs_numba
def test_short_rows_handed_to_the_full_solver_match_numpy():
    """Groups of 32 spanning many binades on FP8 E5M2: the bucketed sweep of a short
    row hands such a bracket to the exact walk, so the short-row path
    (_rows._exact_short, which allocates nothing) gives the row to the full solver;
    every group's optimum against the numpy solver."""
    from qerror.data import _rowdata, _rows
    rng = np.random.default_rng(23)
    w = rng.standard_t(2, size=(8, 128)) * np.exp(rng.uniform(-12, 0, size=(8, 128)))
    lv = get_format("fp8_e5m2").magnitude_levels(None)
    c = np.ascontiguousarray(lv.c, dtype=float)
    th = np.ascontiguousarray(lv.theta, dtype=float)
    W = _rows._sweep_space(32, th.size)
    handed = 0
    for x in np.sort(np.abs(w.reshape(-1, 32)), axis=1):
        a, P1, P2, bst, srt, bk, n, nn, sn, qn, f = _rowdata._make_row(x, True, True, 16)
        done = _rows._exact_short(a, P1, P2, bst, srt, bk, c, th, P2[n], 0.0, 0.0, nn,
                                  sn, qn, 1e-12 * P2[n], float(lv.afac), *W[:6])[0]
        handed += not done
    assert handed > 16  # the fallback is what this test exercises
    fast = optimal_alpha_data(w, None, grid="fp8_e5m2", group_size=32)
    slow = optimal_alpha_data(w, None, grid="fp8_e5m2", group_size=32, use_numba=False)
    tot = np.sum(w.reshape(8, 4, 32) ** 2, axis=2) / 32
    assert np.all(fast.mse <= slow.mse + 4e-12 * tot)
    assert np.all(slow.mse <= fast.mse + 4e-12 * tot)


@pytest.mark.parametrize("bits", [5, 7, 8])
def test_power_of_two_rows_wide_levels(bits):
    """Levels spanning 2**15 to 2**127 (the "pow2" grid): along a sweep the running
    B falls by as much, and is summed again exactly where it has lost its digits;
    every row's optimum equals that row solved alone (histogram solver) and is at
    least as good as a dense scan."""
    rng = np.random.default_rng(bits)
    w = rng.standard_t(3, size=(4, 40))
    w[3] = rng.standard_t(3, size=40) * 1e-3
    r = optimal_alpha_data(w, bits, grid="pow2", axis=0)
    for i in range(w.shape[0]):
        one = optimal_alpha_data(w[i], bits, grid="pow2")
        tot = float(np.dot(w[i], w[i])) / w.shape[1]
        assert abs(r.mse[i] - one.mse) <= 4e-12 * tot
        top = np.abs(w[i]).max()
        for al in np.geomspace(top / 8, top * 2, 300):
            t, rd = empirical_error_parts(w[i], al, bits, grid="pow2")
            assert r.mse[i] <= t + rd + 4e-12 * tot
