"""The compiled row solver's building blocks, checked against plain numpy.

``qerror.data._rows`` certifies each row's optimum with three ingredients; if any is
wrong the solver may still return a good step (Lloyd's upper bound is usually the
optimum already), so they are tested directly here rather than only through the
optimum:

* the bucket search (a value's bucket computed from its exponent and top mantissa
  bits) must count the values below any threshold exactly, as ``np.searchsorted``;
* a cell's bound (exact quadratic of the values that keep their level plus the swept
  values' distance to their reachable levels) must never exceed the true error
  anywhere in the cell, and with ``d1 == d2`` must be the error itself;
* shrinking a cell must keep every step where the bound can still reach the best.
"""

from __future__ import annotations

import numpy as np
import pytest

from qerror.data import _kernels as kern
from qerror.formats import get_format

pytestmark = pytest.mark.skipif(not kern.HAVE_NUMBA, reason="numba not installed")

GRIDS = ("midtread", "midrise")


def _row(kind, n, seed):
    rng = np.random.default_rng(seed)
    if kind == "t3":
        x = rng.standard_t(3, size=n)
    elif kind == "binades":
        x = np.exp2(rng.uniform(-70, 5, size=n))
    else:  # ties and zeros
        x = rng.choice([0.0, 0.25, 0.5, 1.0, 1.5, 3.0], size=n)
    return x


def _levels(grid, bits):
    """The magnitude levels of a format and their c, theta as float64 arrays."""
    lv = get_format(grid).magnitude_levels(bits)
    return (lv, np.ascontiguousarray(lv.c, dtype=float),
            np.ascontiguousarray(lv.theta, dtype=float))


def _made(x):
    from qerror.data import _rows
    a, P1, P2, bst, srt, bk, n, nn, sn, qn, f = _rows._make_row(x, True, False, 1 << 14)
    assert srt.size > 1  # the bucketed path
    return _rows, (a, P1, P2, bst, srt, bk), n, f


def _tiny_space(th):
    """A work space of the sweeps with room for no cell: they allocate their own."""
    K = th.size
    return (np.empty(K, dtype=np.int64), np.empty(K, dtype=np.int64), np.empty(8),
            np.empty(4, dtype=np.int64), np.empty(1, dtype=np.int64), np.empty(3))


def _error(ax, d, lv):
    """Exact N*E at step d of the magnitudes ax on the levels c*d (nearest level)."""
    levels = lv.c * d
    return float(np.min((ax[:, None] - levels[None, :]) ** 2, axis=1).sum())


@pytest.mark.parametrize("kind", ["t3", "binades", "ties"])
def test_bucket_search_counts_exactly(kind):
    x = _row(kind, 3000, 1)
    rows, row, n, f = _made(x)
    ax = np.sort(np.abs(x) * f)
    rng = np.random.default_rng(2)
    ts = np.concatenate([[0.0, 5e-324, 1e-300, ax[0], ax[-1], 2.0 * ax[-1], 1e300],
                         ax[rng.integers(0, n, 200)],  # exact ties with data
                         np.nextafter(ax[rng.integers(0, n, 200)], 0.0),
                         rng.uniform(0.0, ax[-1], 400),
                         np.exp2(rng.uniform(-80, 1, 400))])
    for t in ts:
        assert rows._idx(*row, t) == np.searchsorted(ax, t, side="left"), t


@pytest.mark.parametrize("n", [1, 7, 32, 128, 256])
@pytest.mark.parametrize("K", [1, 3, 7, 8])
def test_all_thresholds_counted_in_one_pass(n, K):
    """_count8 (the counts of up to 8 thresholds in one pass over a short sorted
    row) equals the searches, ties with data included; the short-row routes use it
    (_short8) only where it applies."""
    from qerror.data import _rowdata
    rng = np.random.default_rng(n + 10 * K)
    x = np.sort(np.abs(_row("ties" if n % 2 else "t3", n, K)))
    a, P1, P2, bst, srt, bk, m, nn, sn, qn, f = _rowdata._make_row(x, True, True, 16)
    row = (a, P1, P2, bst, srt, bk)
    # dyadic thresholds: th[k] * a_i / th[j] is often a data value exactly (a tie)
    th = np.sort(rng.choice(np.arange(1, 17) * 0.25, K, replace=False))
    assert _rowdata._short8(bst, srt, th)
    assert not _rowdata._short8(bst, srt, np.arange(9.0))
    for d in np.concatenate([[0.0, 1e-300], a[rng.integers(0, m, 20)] / th[0],
                             a[rng.integers(0, m, 20)] / th[-1],
                             rng.uniform(0.0, 2.0, 20)]):
        got = _rowdata._count8(a, bst, th, d)
        assert len(got) == 8
        assert list(got[:K]) == [_rowdata._idx(*row, t * d) for t in th], d
        assert list(got[:K]) == list(np.searchsorted(a, th * d, side="left"))


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("kind", ["t3", "binades", "ties"])
def test_cell_bound_never_exceeds_the_error(grid, kind):
    x = _row(kind, 1500, 3)
    rows, row, n, f = _made(x)
    ax = np.abs(x) * f
    lv, c, th = _levels(grid, 4)
    rng = np.random.default_rng(4)
    d0 = ax.max() / c[-1]
    for _ in range(60):
        d1 = d0 * np.exp2(rng.uniform(-6, 0.2))
        d2 = d1 * (1.0 + rng.choice([1e-4, 1e-2, 0.1, 0.5]))
        A, B, C, gap, nev = rows._cell(*row, c, th, d1, d2)
        # every piece boundary in the cell and a fine grid: E's least value there
        cuts = (ax[:, None] / th[None, :]).ravel()
        ds = np.concatenate([np.linspace(d1, d2, 200), cuts[(cuts > d1) & (cuts < d2)]])
        true_min = min(_error(ax, d, lv) for d in ds)
        v = min(max(B / C, d1), d2) if C > 0 else d1
        lb = A - 2 * B * v + C * v * v + gap
        assert lb <= true_min * (1 + 1e-12) + 1e-300, (d1, d2, lb, true_min)
        # a point: the bound is the error
        A, B, C, gap, nev = rows._cell(*row, c, th, d1, d1)
        assert gap == 0.0 and nev == 0
        assert A - 2 * B * d1 + C * d1 * d1 == pytest.approx(_error(ax, d1, lv), rel=1e-12)


@pytest.mark.parametrize("grid,bits", [("midtread", 4), ("midrise", 3), ("pow2", 4),
                                       ("fp4_e2m1", None), ("unsigned", 4)])
@pytest.mark.parametrize("kind", ["t3", "binades", "ties"])
def test_kink_bound_never_exceeds_the_error(grid, bits, kind):
    """_sweeps._kink_bound (from (B, C) at both ends of a cell: the error's concave
    kinks lie below the chord of their sum) is at most E's least value on the cell,
    also where values change level several times in it (wide cells), and it is E
    itself at both ends."""
    from qerror.data import _sweeps
    x = _row(kind, 1500, 13)
    if grid == "unsigned":
        x = np.abs(x)
    rows, row, n, f = _made(x)
    ax = np.abs(x) * f
    lv, c, th = _levels(grid, bits)
    rng = np.random.default_rng(14)
    d0 = ax.max() / c[-1]
    idx = np.empty(th.size, dtype=np.int64)
    A0 = float(np.sum(ax * ax))
    cuts = (ax[:, None] / th[None, :]).ravel()
    tight = 0
    for _ in range(60):
        u = d0 * np.exp2(rng.uniform(-6, 0.2))
        v = u * (1.0 + rng.choice([1e-4, 1e-2, 0.1, 0.5, 3.0]))
        Bu, Cu = _sweeps._boundary(*row, c, th, 0.0, 0.0, u, idx)
        Bv, Cv = _sweeps._boundary(*row, c, th, 0.0, 0.0, v, idx)
        lb = _sweeps._kink_bound(A0, Bu, Cu, Bu - Bv, Cu - Cv, u, v)
        ds = np.concatenate([np.linspace(u, v, 200), cuts[(cuts > u) & (cuts < v)]])
        errs = np.array([_error(ax, d, lv) for d in ds])
        assert lb <= errs.min() + 1e-12 * A0, (u, v, lb, errs.min())
        tight += lb >= errs.min() - 1e-3 * (errs.max() - errs.min())
        # the quadratic is E at both ends
        Bk, Ck = _sweeps._kink_coefs(Bu, Cu, Bu - Bv, Cu - Cv, u, v)
        for d in (u, v):
            q = A0 - 2.0 * Bk * d + Ck * d * d
            assert q == pytest.approx(_error(ax, d, lv), rel=1e-9, abs=1e-12 * A0)
    assert tight > 10  # not a trivial bound: often at E's least value


def test_exact_row_with_little_room_for_boundaries():
    """The branch and bound of a long row keeps its cells' boundaries in the work
    space; with room for one it grows its arrays and finds the same step."""
    from qerror.data import _rows
    x = _row("t3", 20000, 15)
    rows, row, n, f = _made(x)
    lv, c, th = _levels("midtread", 4)
    P2 = row[2]
    A0 = float(P2[n])
    W = _rows._sweep_space(n, th.size)
    want = _rows._exact_row(*row, c, th, A0, 0.0, 0.0, 0.0, 0.0, 0.0, 1e-12 * A0,
                            float(lv.afac), W)
    small = W[:6] + (np.empty(3), np.empty(th.size, dtype=np.int64),
                     np.empty(2, dtype=np.int64))
    got = _rows._exact_row(*row, c, th, A0, 0.0, 0.0, 0.0, 0.0, 0.0, 1e-12 * A0,
                           float(lv.afac), small)
    assert got == want


def test_shrink_keeps_every_step_the_bound_allows():
    from qerror.data import _pieces
    rng = np.random.default_rng(5)
    for _ in range(2000):
        C = rng.uniform(0.5, 2.0)
        v = rng.uniform(0.5, 2.0)
        B = C * v
        floor = rng.uniform(0.0, 1.0)
        A = floor + B * B / C  # the quadratic's minimum value is `floor` at D = v
        gap = rng.uniform(0.0, 0.5)
        U = floor + gap + rng.uniform(-0.1, 0.5)
        d1 = rng.uniform(0.1, 2.0)
        d2 = d1 + rng.uniform(0.0, 2.0)
        r1, r2 = _pieces._shrink(A, B, C, gap, U, d1, d2)
        D = np.linspace(d1, d2, 501)
        keep = A - 2 * B * D + C * D * D + gap <= U
        if r2 < r1:
            assert not keep.any()
        else:
            assert d1 <= r1 <= r2 <= d2
            assert np.all((D[keep] >= r1) & (D[keep] <= r2))


@pytest.mark.parametrize("m", [0, 1, 5, 63, 64, 65, 300, 5000])
@pytest.mark.parametrize("kind", ["uniform", "binades", "ties", "equal"])
def test_sort_changes_sorts_and_carries(m, kind):
    """The level changes' sort (bucketed by float bits, then an insertion sort) gives
    np.sort's order and carries the two companion arrays with their steps."""
    from qerror.data._pieces import _sort_changes

    rng = np.random.default_rng(m)
    if kind == "uniform":
        d = rng.uniform(1.0, 1.001, m)
    elif kind == "binades":
        d = 2.0 ** rng.uniform(-40, 40, m)
    elif kind == "ties":
        d = rng.choice([0.5, 0.7, 3.0], m)
    else:
        d = np.full(m, 2.5)
    b = d * 3.0 + 1.0  # companions: functions of d, so they follow it
    cc = -d
    extra = 7
    D = np.concatenate([d, rng.uniform(size=extra)])  # beyond m: untouched
    B = np.concatenate([b, np.zeros(extra)])
    CC = np.concatenate([cc, np.zeros(extra)])
    tail = D[m:].copy()
    _sort_changes(D, B, CC, m)
    assert np.array_equal(D[:m], np.sort(d))
    assert np.array_equal(B[:m], D[:m] * 3.0 + 1.0)
    assert np.array_equal(CC[:m], -D[:m])
    assert np.array_equal(D[m:], tail)


def _made_both(x, signed=True):
    """The row of x bucketed (searches sort buckets lazily) and presorted (one bucket:
    what numpy's sort gives rows of up to 256 values)."""
    from qerror.data import _rows
    bucketed = _rows._make_row(x, signed, False, 1 << 14)
    xs = np.sort(np.abs(x) if signed else x)
    presorted = _rows._make_row(xs, signed, True, 1 << 14)
    assert bucketed[4].size > 1 and presorted[4].size == 1
    return _rows, bucketed, presorted


@pytest.mark.parametrize("grid", ["midtread", "midrise", "unsigned"])
@pytest.mark.parametrize("kind", ["t3", "binades", "ties"])
def test_bracket_searches_in_buckets_as_on_sorted_values(grid, kind):
    """The bracket's four searches (ACIQ root, low and high ends) first find their
    bucket from the buckets' least values and the prefix sums at bucket starts, then
    search inside it: the same bracket as on the sorted values (to the sums'
    rounding: the prefix sums add in another order)."""
    x = _row(kind, 3000, 11)
    if grid == "unsigned":
        x = x - 0.3 * np.max(np.abs(x))  # values below zero: nn, sn, qn
    lv, c, th = _levels(grid, 4)
    rows, rb, rs = _made_both(x, signed=grid != "unsigned")
    out = []
    for row in (rb, rs):
        a, P1, P2, bst, srt, bk, n, nn, sn, qn, f = row
        A0 = P2[n] + qn
        out.append(rows._bracket(a, P1, P2, bst, srt, bk, c, th, A0, -c[0] * sn,
                                 c[0] * c[0] * nn, nn, sn, qn, 1e-12 * A0,
                                 float(lv.afac)))
        aciq = rows._aciq_row(a, P1, P2, bst, srt, bk, 0.01, float(n))
        out[-1] = out[-1] + (aciq,)
    np.testing.assert_allclose(out[0], out[1], rtol=1e-12)


FORMATS = [("midtread", 4), ("midrise", 3), ("fp4_e2m1", 4), ("fp6_e3m2", 6),
           ("midtread", 8), ("fp8_e4m3", 8)]


@pytest.mark.parametrize("grid,bits", FORMATS)
@pytest.mark.parametrize("kind", ["t3", "ties"])
@pytest.mark.parametrize("n", [32, 128, 1500])
def test_bucketed_sweep_finds_the_exact_sweeps_best(grid, bits, kind, n):
    """_bsweep (level changes in buckets of steps, only the buckets whose bound can
    reach the best + margin walked) returns the best of _sweep (every piece walked)
    on the same cell to within the margin the solver certifies (1e-12 sum a^2: the
    bounds' sums cancel to about 1e-16 of it), for coarse buckets too (a value then
    changes level more than once in one bucket; the concave bounds this gives are
    tested on many rows below)."""
    from qerror.data import _rows
    x = _row(kind, n, 20 + n)
    lv, c, th = _levels(grid, bits)
    presorted = n <= 256
    xs = np.sort(np.abs(x)) if presorted else x
    rng = np.random.default_rng(n + bits)
    for trial in range(6):
        for per in (1, 4, 16, 64):
            row = _rows._make_row(xs, True, presorted, 1 << 14)
            a, P1, P2, bst, srt, bk, m, nn, sn, qn, f = row
            A0 = P2[m]
            best, bestd, dlo, dhi = _rows._bracket(a, P1, P2, bst, srt, bk, c, th, A0,
                                                   0.0, 0.0, nn, sn, qn, 0.0,
                                                   float(lv.afac))
            # a sub-cell of the bracket, and an upper bound from a worse step
            u = np.sort(rng.uniform(0.0, 1.0, 2)) if trial else np.array([0.0, 1.0])
            d1, d2 = dlo + (dhi - dlo) * u[0], dlo + (dhi - dlo) * u[1]
            start = best * (1.0 + 0.2 * trial)
            margin = 1e-12 * A0
            W = _rows._sweep_space(xs.size, th.size)
            ref = _rows._sweep(a, P1, P2, bst, srt, bk, c, th, d1, d2, A0, 0.0, 0.0,
                               start, bestd, margin, W)
            got = _rows._bsweep(a, P1, P2, bst, srt, bk, c, th, d1, d2, A0, 0.0, 0.0,
                                start, bestd, margin, per, 1 << 40, W)
            assert abs(got[0] - ref[0]) <= margin
            # a work space too small for the cell: the sweep allocates its own arrays
            # and gives the same result
            small = _rows._bsweep(a, P1, P2, bst, srt, bk, c, th, d1, d2, A0, 0.0, 0.0,
                                  start, bestd, margin, per, 1 << 40, _tiny_space(th))
            assert small == got
            # more changes per value than allowed: the cell is walked whole on the same
            # runs (the fallback is wired to the walk)
            whole = _rows._bsweep(a, P1, P2, bst, srt, bk, c, th, d1, d2, A0, 0.0,
                                  0.0, start, bestd, margin, per, 0, W)
            assert whole[:2] == ref[:2]
            if ref[0] < start:  # the sweep improved: the step is a piece's best
                e1 = _error(np.abs(xs) * f, got[1], lv)
                assert e1 == pytest.approx(ref[0], rel=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_absmax_of_a_row(dtype):
    from qerror.data._rowdata import _absmax_row
    rng = np.random.default_rng(7)
    for x in (rng.standard_normal(1000), -np.exp2(rng.uniform(-140, 60, 300)),
              np.array([-0.0, 0.0]), np.array([1.0, -np.inf, 2.0]),
              np.array([1.0, np.nan, -3.0]), np.array([5e-324, -1e-310])):
        x = x.astype(dtype)
        got = _absmax_row(x)
        with np.errstate(invalid="ignore"):
            want = float(np.max(np.abs(x)))
        if np.isnan(want):
            assert np.isnan(got)
        else:
            assert got == want


@pytest.mark.parametrize("grid,bits", [("midtread", 4), ("fp4_e2m1", 4)])
@pytest.mark.parametrize("n", [32, 128])
def test_bucketed_sweep_on_many_short_rows(grid, bits, n):
    """As above on 1500 heavy-tailed rows each, with buckets of 4 changes (the
    solver's) and 8: a concave bucket bound turns up in a few of them (taking its
    vertex only missed the optimum of 0.4 % of the groups of 32 at 8)."""
    import numba

    from qerror.data import _rows
    lv, c, th = _levels(grid, bits)
    rng = np.random.default_rng(n * bits)
    X = np.sort(np.abs(rng.standard_t(4, size=(1500, n))), axis=1)

    @numba.njit
    def worst(X, c, th, afac, per):
        out = 0.0
        W = _rows._sweep_space(X.shape[1], th.size)
        for r in range(X.shape[0]):
            a, P1, P2, bst, srt, bk, m, nn, sn, qn, f = _rows._make_row(X[r], True,
                                                                         True, 16)
            A0 = P2[m]
            best, bestd, dlo, dhi = _rows._bracket(a, P1, P2, bst, srt, bk, c, th, A0,
                                                   0.0, 0.0, nn, sn, qn, 0.0, afac)
            ref = _rows._sweep(a, P1, P2, bst, srt, bk, c, th, dlo, dhi, A0, 0.0, 0.0,
                               best, bestd, 1e-12 * A0, W)
            got = _rows._bsweep(a, P1, P2, bst, srt, bk, c, th, dlo, dhi, A0, 0.0, 0.0,
                                best, bestd, 1e-12 * A0, per, 1 << 40, W)
            out = max(out, (abs(got[0] - ref[0]) - 1e-12 * A0) / A0)
        return out

    for per in (4, 8):
        assert worst(X, c, th, float(lv.afac), per) <= 0.0


def _wide_row(rng, n):
    """The presorted row of n values spanning many binades: scale 1e-8 to 1e-3 but
    three of about 1."""
    from qerror.data import _rows
    x = rng.standard_normal(n) * 10.0 ** rng.uniform(-8, -3)
    x[:3] = rng.standard_normal(3)
    return _rows._make_row(np.sort(np.abs(x)), True, True, 16)


def test_walks_keep_their_sums_exact_over_wide_spans():
    """FP8 rows whose values span many binades: the bracket spans thousands in the
    step and the running sums of B and C fall by up to 1e8 along it.  The value each
    sweep claims is the true error at its step (exact, from the levels) to within the
    margin, and the step is the best one to within it (before the running C was
    re-summed, 17 % of such rows were off by up to 3e-11 sum a^2)."""
    from qerror.data import _rows
    lv, c, th = _levels("fp8_e4m3", 8)
    rng = np.random.default_rng(9)
    for _ in range(250):
        a, P1, P2, bst, srt, bk, n, nn, sn, qn, f = _wide_row(rng, 32)
        A0 = P2[n]
        margin = 1e-12 * A0
        best, bestd, dlo, dhi = _rows._bracket(a, P1, P2, bst, srt, bk, c, th, A0, 0.0,
                                               0.0, nn, sn, qn, margin, float(lv.afac))
        W = _rows._sweep_space(n, th.size)
        s = _rows._sweep(a, P1, P2, bst, srt, bk, c, th, dlo, dhi, A0, 0.0, 0.0, best,
                         bestd, margin, W)
        b = _rows._bsweep(a, P1, P2, bst, srt, bk, c, th, dlo, dhi, A0, 0.0, 0.0, best,
                          bestd, margin, 4, 1 << 40, W)
        true = [_error(a, d, lv) for d in (s[1], b[1])]
        assert abs(s[0] - true[0]) <= margin
        assert abs(b[0] - true[1]) <= margin
        assert abs(true[0] - true[1]) <= margin


@pytest.mark.parametrize("grid", ["unsigned", "midrise"])
def test_bucketed_sweep_unsigned_rows(grid):
    """Rows on a one-sided grid with values below zero (the constant parts Bn, Cn of
    B and C and qn of A are not zero): the bucketed sweep finds the exact walk's
    best."""
    from qerror.data import _rows
    lv, c, th = _levels(grid, 4)
    rng = np.random.default_rng(31)
    for _ in range(40):
        n = int(rng.choice([40, 128, 900]))
        x = rng.standard_t(4, size=n) + 0.5
        presorted = n <= 256
        xs = np.sort(x) if presorted else x
        a, P1, P2, bst, srt, bk, m, nn, sn, qn, f = _rows._make_row(xs, False,
                                                                     presorted, 1 << 14)
        A0 = P2[m] + qn
        Bn, Cn = -c[0] * sn, c[0] * c[0] * nn
        margin = 1e-12 * A0
        best, bestd, dlo, dhi = _rows._bracket(a, P1, P2, bst, srt, bk, c, th, A0, Bn,
                                               Cn, nn, sn, qn, margin, float(lv.afac))
        W = _rows._sweep_space(n, th.size)
        ref = _rows._sweep(a, P1, P2, bst, srt, bk, c, th, dlo, dhi, A0, Bn, Cn, best,
                           bestd, margin, W)
        got = _rows._bsweep(a, P1, P2, bst, srt, bk, c, th, dlo, dhi, A0, Bn, Cn, best,
                            bestd, margin, 4, 1 << 40, W)
        assert abs(got[0] - ref[0]) <= margin


def test_walk_over_thirty_thousand_changes_keeps_its_sums():
    """A cell of an FP8 E5M2 row of 4096 values spanning many binades (30 096 level
    changes): the claimed minimum is the true error at its step to within the margin
    (running sums whose rounding was estimated as sqrt(j) u drifted to 1.17e-12
    sum a^2; they are compensated now)."""
    from qerror.data import _rows
    lv, c, th = _levels("fp8_e5m2", 8)
    rng = np.random.default_rng(61)
    for _ in range(47):
        row = _wide_row(rng, 4096)
    a, P1, P2, bst, srt, bk, n, nn, sn, qn, f = row
    A0 = P2[n]
    d1, d2 = 5.6795357915667716e-09, 8.998749116283727e-08
    val, d, pieces = _rows._sweep(a, P1, P2, bst, srt, bk, c, th, d1, d2, A0, 0.0,
                                  0.0, np.inf, d1, 1e-12 * A0,
                                  _rows._sweep_space(4096, th.size))
    assert pieces > 30000
    k = np.searchsorted(th * d, a[:n], side="right")
    true = float(np.sum((a[:n] - c[k] * d) ** 2))
    assert abs(true - val) <= 0.25e-12 * A0
