"""The compiled two-sided solver (``qerror.data._rows2``) against the numpy one
(``qerror.data._twosided``, ``use_numba=False``) and against brute force.

Formats whose levels are not symmetric about zero: ``"int"`` (bits 2..8), affine
grids with a zero point, ``"nf4"`` and a user level set with no zero level whose
lowest level on one side is negative.  Brute force here knows nothing of sides,
buckets or bounds: every breakpoint ``x / theta`` of E(step) over all the format's
thresholds, and every piece's vertex.  The building blocks are tested directly too
(a cell's bound on a side with a negative lowest level; the bracket), since a wrong
bound can go unnoticed when Lloyd's start is already optimal.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qerror
from qerror.data import _kernels as kern
from qerror.data._twosided import _MARGIN, solve_twosided
from qerror.data.solver import optimal_alpha_data
from qerror.formats import AffineGrid, LevelSet, get_format

pytestmark = pytest.mark.skipif(not kern.HAVE_NUMBA, reason="numba not installed")

# agreement of two certified solvers: the optimum's error to this relative error,
# plus the certification margin (_MARGIN * sum x^2) for rows whose optimum is ~0
RTOL = 1e-9
# alpha: equal where the optimum is unique (ties: the error at either alpha is equal)
ATOL_MARGIN = 2 * _MARGIN

# no zero level; the negative side's lowest level (-0.2) is below zero, the positive
# side's lowest is the negative level nearest zero
NOZERO = LevelSet(np.array([-1.0, -0.45, -0.2, 0.15, 0.5, 0.8]), name="nozero_test")


def _formats():
    out = [(get_format("int"), b) for b in range(2, 9)]
    out += [(AffineGrid(4, 3), 4), (AffineGrid(6, 50), 6), (AffineGrid(3, 0), 3),
            (get_format("nf4"), 4), (NOZERO, 3)]
    return out


FORMATS = _formats()
IDS = [f"{f.name}-{b}" for f, b in FORMATS]


def brute_force(x, fmt, bits):
    """min over step > 0 of sum (x - Q(x))^2 with Q the nearest of the levels c*step:
    every piece between consecutive breakpoints x_j / theta_k, at its vertex."""
    x = np.asarray(x, dtype=np.float64)
    c, _ = fmt.signed_levels(bits)
    c = np.asarray(c, dtype=np.float64)
    th = 0.5 * (c[1:] + c[:-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = (x[:, None] / th[None, :]).ravel()
    bp = np.unique(bp[np.isfinite(bp) & (bp > 0)])
    if bp.size == 0:
        bp = np.array([1.0])
    edges = np.concatenate([[bp[0] * 1e-9], bp, [bp[-1] * 1e9]])
    mids = np.sqrt(edges[:-1]) * np.sqrt(edges[1:])
    # the level of every value on every piece (the assignment is constant there)
    k = np.searchsorted(th, x[None, :] / mids[:, None])
    lev = c[k]
    B = np.einsum("ij,j->i", lev, x)
    C = np.einsum("ij,ij->i", lev, lev)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(C > 0, B / C, edges[:-1])
    cand = np.concatenate([np.clip(v, edges[:-1], edges[1:]), edges])
    q = c[np.searchsorted(th, x[None, :] / cand[:, None])] * cand[:, None]
    err = ((x[None, :] - q) ** 2).sum(axis=1)
    return float(err.min())


def _row(kind, n, rng, scale):
    if kind == "t4":
        x = rng.standard_t(4, size=n)
    elif kind == "pos":
        x = np.abs(rng.standard_normal(n))
    elif kind == "neg":
        x = -np.abs(rng.laplace(size=n))
    elif kind == "zeros":
        x = rng.standard_normal(n) * (rng.random(n) < 0.3)
    elif kind == "ties":
        x = rng.integers(-3, 4, size=n).astype(float)
    else:  # outliers
        x = rng.standard_normal(n)
        x[rng.integers(0, n, size=max(n // 20, 1))] *= 200.0
    return x * scale


def _check_rows(X, fmt, bits, brute=True):
    al, ms, tr, rd, *_, msg = solve_twosided(X, bits, "exact", fmt, use_numba=True)
    al0, ms0, tr0, rd0, *_ = solve_twosided(X, bits, "exact", fmt, use_numba=False)
    N = X.shape[1]
    for r in range(X.shape[0]):
        x = X[r]
        tol = RTOL * ms0[r] + ATOL_MARGIN * np.dot(x, x) / N
        ulp = 1e-14 * np.dot(x, x) / N  # rounding where levels hit values exactly
        assert abs(ms[r] - ms0[r]) <= tol, (r, ms[r], ms0[r])
        if brute and np.any(x):
            want = brute_force(x, fmt, bits) / N
            assert ms[r] <= want * (1 + RTOL) + ATOL_MARGIN * np.dot(x, x) / N
            assert ms[r] >= want * (1 - RTOL) - ulp
        if al[r] > 0:
            # the reported error is the error at the reported alpha, summed value by
            # value, and splits into truncation and rounding
            e = np.mean((x - qerror.quantize(x, al[r], bits, grid=fmt)) ** 2)
            assert ms[r] == pytest.approx(e, rel=1e-12, abs=ulp)
            assert tr[r] + rd[r] == pytest.approx(ms[r], rel=1e-12, abs=ulp)
        if al[r] != al0[r] and al0[r] > 0:  # tied optima: equal error at both
            e0 = np.mean((x - qerror.quantize(x, al0[r], bits, grid=fmt)) ** 2)
            assert abs(e0 - ms[r]) <= tol
        else:
            assert abs(tr[r] - tr0[r]) <= RTOL * tr0[r] + tol - RTOL * ms0[r]
            assert abs(rd[r] - rd0[r]) <= RTOL * rd0[r] + tol - RTOL * ms0[r]
    return msg


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40),
       kind=st.sampled_from(["t4", "pos", "neg", "zeros", "ties", "outliers"]),
       scale=st.sampled_from([1.0, 0.02, 1e-150, 1e150]),
       which=st.integers(0, len(FORMATS) - 1))
def test_short_rows_match_numpy_and_brute_force(seed, n, kind, scale, which):
    fmt, bits = FORMATS[which]
    rng = np.random.default_rng(seed)
    X = np.stack([_row(kind, n, rng, scale) for _ in range(3)])
    _check_rows(X, fmt, bits)


@pytest.mark.parametrize("fmt,bits", FORMATS, ids=IDS)
@pytest.mark.parametrize("kind", ["t4", "neg", "zeros", "ties", "outliers"])
def test_bucketed_rows_match_numpy(fmt, bits, kind):
    """Rows > 256 values: bucketed sides, branch and bound on cells."""
    rng = np.random.default_rng(bits)
    for n in (257, 2500):
        X = np.stack([_row(kind, n, rng, 0.02) for _ in range(2)])
        msg = _check_rows(X, fmt, bits, brute=n <= 257 and bits <= 6)
        assert "two-sided" in msg


@pytest.mark.parametrize("fmt,bits", [(get_format("int"), 8), (get_format("int"), 4),
                                      (get_format("nf4"), 4), (NOZERO, 3)],
                         ids=["int8", "int4", "nf4", "nozero"])
def test_group_sizes_and_channels_match_numpy(fmt, bits):
    rng = np.random.default_rng(7)
    W = (rng.standard_t(4, size=(6, 256)) * 0.02).astype(np.float32)
    W[1, 5] = 0.9  # an outlier
    W[2] = 0.0  # an all-zero channel
    for g in (1, 2, 3, 8, 16, 32):
        Wg = W[:, :8 * g]  # 8 groups a row
        r = qerror.optimal_alpha(Wg, bits, grid=fmt, group_size=g)
        r0 = optimal_alpha_data(Wg, bits, grid=fmt, group_size=g, use_numba=False)
        assert r.alpha.shape == (6, 8)
        scale = np.mean(Wg.astype(np.float64).reshape(6, -1, g) ** 2, axis=2)
        np.testing.assert_array_less(np.abs(r.mse - r0.mse),
                                     RTOL * r0.mse + ATOL_MARGIN * scale + 1e-300)
        assert np.all(r.alpha[2] == 0) and np.all(r.mse[2] == 0)
        assert r.method.startswith("twosided-rows")
        assert r0.method.startswith("twosided-bnb")
    r = qerror.optimal_alpha(W, bits, grid=fmt, axis=0)
    r0 = optimal_alpha_data(W, bits, grid=fmt, axis=0, use_numba=False)
    np.testing.assert_allclose(r.mse, r0.mse, rtol=RTOL, atol=1e-300)
    np.testing.assert_allclose(r.alpha, r0.alpha, rtol=RTOL)
    one = qerror.optimal_alpha(W[1], bits, grid=fmt)  # a row alone: the same optimum
    assert one.alpha == pytest.approx(r.alpha[1], rel=1e-15)


def test_nonfinite_and_one_sided_formats():
    x = np.array([[0.1, -0.2, np.nan, 0.3]])
    with pytest.raises(ValueError, match="NaN"):
        qerror.optimal_alpha(x, 4, grid="int", axis=0)
    # a level set whose negative side has no level below zero except the one at
    # -1: every negative value is at -step at least
    fmt = LevelSet(np.array([-1.0, 0.5, 1.0]), name="oneneg_test")
    x = np.array([[-3.0, -2.0, 0.5, 1.0, 4.0]])
    _check_rows(x, fmt, 2)


# ---------------------------------------------------------------- building blocks

def _sides(x, fmt, bits):
    from qerror.data import _rows, _rows2, _sides2

    c, _ = fmt.signed_levels(bits)
    cp, thp = _rows2._side_levels(np.asarray(c, float))
    cm, thm = _rows2._side_levels(-np.asarray(c, float)[::-1])
    big = float(np.max(np.abs(x)))
    y = np.where(x < 0, -x, -big)
    out = []
    short = x.size <= _rows2._PRESORT  # short rows are sorted first, as the solver does
    for v, cc, th in ((x, cp, thp), (y, cm, thm)):
        v = np.sort(v) if short else v
        a, P1, P2, bst, srt, bk, n, _, _, _, f = _rows._make_row(v, False, short,
                                                                 1 << 14)
        side = (a, P1, P2, bst, srt, bk, cc, th)
        _sides2._prepare(side)  # as the solver does: sorted in full for galloping
        out.append((side, f))
    return _sides2, out


def _side_error(S, d):
    a, c = np.asarray(S[0])[:S[1].size - 1], S[6]
    return float(np.min((a[:, None] - c[None, :] * d) ** 2, axis=1).sum())


@pytest.mark.parametrize("fmt,bits", [(NOZERO, 3), (get_format("int"), 8),
                                      (get_format("nf4"), 4)],
                         ids=["nozero", "int8", "nf4"])
def test_cell_bound_never_exceeds_the_error(fmt, bits):
    """Sum of both sides' cell bounds <= E everywhere in the cell (the negative
    lowest level of NOZERO's positive side is reachable highest at d1, not d2)."""
    rng = np.random.default_rng(11)
    x = rng.standard_t(3, size=3000)
    SB, ((S, f), (T, _)) = _sides(x, fmt, bits)
    amax = float(np.max(np.abs(x))) * f
    checked = 0
    for _ in range(300):
        d1 = amax * np.exp(rng.uniform(-7, 1))
        d2 = d1 * (1 + np.exp(rng.uniform(-9, 0)))
        A, B, C, gap, nev = SB._cell2(S, T, d1, d2)
        for d in np.linspace(d1, d2, 7):
            e = _side_error(S, d) + _side_error(T, d)
            lb = A - 2 * B * d + C * d * d + gap
            assert lb <= e * (1 + 1e-9) + 1e-9 * amax**2, (d1, d2, d, lb, e)
            checked += 1
        # d1 == d2: the error itself
        A, B, C, gap, nev = SB._cell2(S, T, d1, d1)
        e = _side_error(S, d1) + _side_error(T, d1)
        assert A - 2 * B * d1 + C * d1 * d1 == pytest.approx(e, rel=1e-9)
        assert gap == 0 and nev == 0
    assert checked == 2100


@pytest.mark.parametrize("fmt,bits", [(NOZERO, 3), (get_format("int"), 8),
                                      (AffineGrid(4, 3), 4), (get_format("nf4"), 4)],
                         ids=["nozero", "int8", "affine", "nf4"])
@pytest.mark.parametrize("kind", ["t4", "pos", "outliers"])
def test_bracket_holds_the_optimum(fmt, bits, kind):
    """Outside [dlo, dhi] the error exceeds the bracket's upper bound, and the upper
    bound is the error at its step."""
    rng = np.random.default_rng(5)
    for n in (40, 3000):
        x = _row(kind, n, rng, 1.0)
        SB, ((S, f), (T, _)) = _sides(x, fmt, bits)
        A0 = float(S[2][-1] + T[2][-1])
        best, bestd, dlo, dhi = SB._bracket2(S, T, A0, _MARGIN * A0)
        assert 0 < dlo <= bestd <= dhi < np.inf
        e = _side_error(S, bestd) + _side_error(T, bestd)
        assert best == pytest.approx(e, rel=1e-9)
        for d in np.concatenate([dlo * np.geomspace(1e-6, 1 - 1e-6, 40),
                                 dhi * np.geomspace(1 + 1e-6, 1e6, 40)]):
            e = _side_error(S, d) + _side_error(T, d)
            assert e >= best * (1 - 1e-9), (d, e, best, dlo, dhi)


def _clip_np(S, d):
    a, c = np.asarray(S[0])[:S[1].size - 1], S[6]
    top = c[-1] * d
    return float(np.sum(np.where(a > top, (a - top) ** 2, 0.0)))


def _low_np(S, d):
    """The small-value bound: a^2 for values at a level <= 0, (c d - a)^2 below the
    lowest level c > 0 they can reach."""
    a, c, th = np.asarray(S[0])[:S[1].size - 1], S[6], S[7]
    j = int(np.argmax(th > 0)) if np.any(th > 0) else th.size
    if c[j] <= 0:
        return float(np.sum(np.where(a < th[j] * d, a * a, 0.0))) if j < th.size else 0.0
    x = c[j] * d
    return float(np.sum(np.where(a < x, (x - a) ** 2, 0.0)))


@pytest.mark.parametrize("fmt,bits", [(NOZERO, 3), (get_format("int"), 8),
                                      (AffineGrid(4, 3), 4), (get_format("nf4"), 4)],
                         ids=["nozero", "int8", "affine", "nf4"])
def test_side_bounds_are_the_exact_crossings(fmt, bits):
    """Each side's clipping and small-value bounds equal their numpy definitions, and
    the bracket ends _side_lo / _side_hi are where they cross U (tight, not just safe:
    a bracket end moved inward would cut steps off unchecked)."""
    rng = np.random.default_rng(13)
    for n in (60, 3000):
        x = rng.standard_t(3, size=n)
        SB, sides = _sides(x, fmt, bits)
        for S, _ in sides:
            amax = float(np.max(S[0][:S[1].size - 1]))
            for d in amax * np.geomspace(1e-3, 10, 25):
                assert SB._clip_err(S, d) == pytest.approx(_clip_np(S, d), rel=1e-9,
                                                           abs=1e-12 * amax**2)
                assert SB._low_err(S, d) == pytest.approx(_low_np(S, d), rel=1e-9,
                                                          abs=1e-12 * amax**2)
            tot = float(S[2][-1])
            for U in tot * np.array([1e-4, 1e-2, 0.3]):
                lo = SB._side_lo(S, U)
                if lo > 0:
                    assert _clip_np(S, lo * (1 - 1e-7)) > U
                    assert _clip_np(S, lo * (1 + 1e-6)) <= U
                hi = SB._side_hi(S, U)
                if np.isfinite(hi):
                    assert _low_np(S, hi * (1 + 1e-7)) > U
                    assert _low_np(S, hi * (1 - 1e-6)) <= U


@pytest.mark.parametrize("fmt,bits", [(get_format("int"), 8), (get_format("nf4"), 4),
                                      (NOZERO, 3)], ids=["int8", "nf4", "nozero"])
@pytest.mark.parametrize("scale", [1e-150, 1e150])
def test_bucketed_rows_at_extreme_scales(fmt, bits, scale):
    """Long rows scaled near the ends of float64: the power-of-two scaling keeps sums
    of squares finite and the optimum scales with the data."""
    rng = np.random.default_rng(17)
    X = np.stack([_row(k, 600, rng, 1.0) for k in ("t4", "outliers")])
    _check_rows(X * scale, fmt, bits, brute=False)
    a1 = solve_twosided(X, bits, "exact", fmt)[0]
    a2 = solve_twosided(X * scale, bits, "exact", fmt)[0]
    np.testing.assert_allclose(a2, a1 * scale, rtol=1e-12)
