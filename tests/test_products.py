"""Quantized products (qerror.products): accuracy against the mpmath references of
``tests/reference/generate_products.py``, consistency against seeded Monte Carlo, the
derivative identity dm/dalpha = -2 g / alpha, the certified two-dimensional optimum
against a dense scan, the bit-split table and the argument checks."""

import json
import pathlib

import numpy as np
import pytest
from scipy import stats

import qerror
from qerror.products import (
    bit_split_table,
    optimal_product_alpha,
    product_mse,
    quantizer_moments,
)

REF = json.loads((pathlib.Path(__file__).parent / "reference" /
                  "products_reference.json").read_text())["records"]

#: product error and S, m against 60-digit references (measured: 3e-14 worst)
RTOL = 1e-12
#: g vanishes at the optimal alpha: compared absolutely, relative to m
ATOL_G_REL_M = 1e-12


def _law(d):
    return getattr(stats, d["family"])(*d["params"])


def _rid(r):
    w, x = r["w"], r["x"]
    return (f"{w['family']}-{w['grid']}-b{w['bits']}-a{w['alpha']:.3g}_x_{x['family']}-"
            f"{x['grid']}-b{x['bits']}-a{x['alpha']:.3g}-n{r['length']}")


@pytest.mark.parametrize("rec", REF, ids=_rid)
def test_product_mse_against_mpmath(rec):
    w, x = rec["w"], rec["x"]
    got = product_mse(_law(w), w["alpha"], w["bits"], _law(x), x["alpha"], x["bits"],
                      grid_w=w["grid"], grid_x=x["grid"], length=rec["length"])
    assert got == pytest.approx(float(rec["product_mse"]), rel=RTOL, abs=0)


@pytest.mark.parametrize("rec", REF, ids=_rid)
def test_quantizer_moments_against_mpmath(rec):
    for side, key in (("w", "moments_w"), ("x", "moments_x")):
        d = rec[side]
        S, m, g = quantizer_moments(_law(d), d["alpha"], d["bits"], grid=d["grid"])
        ref = {k: float(v) for k, v in rec[key].items()}
        assert S == pytest.approx(ref["S"], rel=RTOL, abs=0)
        assert m == pytest.approx(ref["m"], rel=RTOL, abs=0)
        assert abs(g - ref["g"]) <= RTOL * abs(ref["g"]) + ATOL_G_REL_M * ref["m"]


# ------------------------------------------------------------------ consistency
LAWS = [
    (stats.norm(), "midrise"),
    (stats.laplace(scale=0.7), "midtread"),
    (stats.t(6), "midrise"),
    (stats.norm(0.4, 1.2), "unsigned"),
    (qerror.clamp(stats.laplace(), 2.0), "midrise"),
    (stats.norm(), "pow2"),
]


@pytest.mark.parametrize("dist,grid", LAWS, ids=lambda v: getattr(v, "name", str(v)))
def test_g_is_minus_half_alpha_dm_dalpha(dist, grid):
    """On formats whose levels scale with alpha, dm/dalpha = -2 g / alpha: checked
    against central differences of qerror.mse (an independent code path)."""
    for alpha in (0.8, 1.9, 3.3):
        _, _, g = quantizer_moments(dist, alpha, 4, grid=grid)
        h = 1e-5 * alpha
        dm = (qerror.mse(dist, alpha + h, 4, grid=grid)
              - qerror.mse(dist, alpha - h, 4, grid=grid)) / (2 * h)
        assert -0.5 * alpha * dm == pytest.approx(g, rel=1e-7, abs=1e-10)


def _mc(dist_w, aw, bw, dist_x, ax, bx, gw, gx, n, size, seed):
    rng = np.random.default_rng(seed)
    w = dist_w.rvs(size=(size, n), random_state=rng)
    x = dist_x.rvs(size=(size, n), random_state=rng)
    qw = qerror.quantize(w, aw, bw, grid=gw)
    qx = qerror.quantize(x, ax, bx, grid=gx)
    d = ((w * x) - qw * qx).sum(axis=1) ** 2
    return d.mean(), d.std() / np.sqrt(size)


@pytest.mark.parametrize("n", [1, 32])
def test_against_monte_carlo(n):
    """Seeded Monte Carlo within 5 standard errors, centred and non-centred laws (the
    n(n-1) E[D]^2 cross terms dominate the latter at n = 32)."""
    cases = [(stats.norm(), 2.5, 4, stats.laplace(), 4.0, 3, "midrise", "midtread"),
             (stats.norm(0.8, 1.0), 3.0, 3, stats.norm(1.0, 0.5), 2.0, 3, "midrise",
              "unsigned")]
    for k, (dw, aw, bw, dx, ax, bx, gw, gx) in enumerate(cases):
        exact = product_mse(dw, aw, bw, dx, ax, bx, grid_w=gw, grid_x=gx, length=n)
        mean, se = _mc(dw, aw, bw, dx, ax, bx, gw, gx, n, 400_000 // n, 100 + k)
        assert abs(mean - exact) < 5 * se, (k, mean, exact, se)


def test_cross_terms_grow_like_n_squared():
    """Non-centred laws with biased quantizers: E_n - n E_1 = n(n-1) E[D]^2 > 0."""
    dw, dx = stats.norm(0.8, 1.0), stats.norm(1.0, 0.5)
    e1, e10, e100 = (product_mse(dw, 2.0, 2, dx, 1.2, 2, grid_x="unsigned", length=n)
                     for n in (1, 10, 100))
    assert e100 - 100 * e1 > 10 * e1
    assert (e100 - 100 * e1) / (e10 - 10 * e1) == pytest.approx(9900 / 90, rel=1e-9)
    c = [product_mse(stats.norm(), 3.0, 3, stats.laplace(), 4.0, 3, length=n)
         for n in (1, 10, 100)]
    assert c[1] == pytest.approx(10 * c[0], rel=1e-13)  # centred: no cross terms
    assert c[2] == pytest.approx(100 * c[0], rel=1e-13)


def test_data_arrays_match_direct_means():
    rng = np.random.default_rng(3)
    w, x = rng.standard_t(5, 5000), rng.laplace(size=3000)
    got = product_mse(w, 2.2, 4, x, 3.1, 4)
    qw, qx = qerror.quantize(w, 2.2, 4), qerror.quantize(x, 3.1, 4)
    # independent empirical laws: the mean over all pairs
    direct = np.mean((np.outer(w, x) - np.outer(qw, qx)) ** 2)
    assert got == pytest.approx(direct, rel=1e-11)


def test_unquantized_factor_reduces_to_scaled_weight_mse():
    """A factor at 16 bits: the product error is S_x m_w + S_w m_x up to the products
    of two quantizer moments (about 1e-8 relative here)."""
    dw, dx = stats.norm(), stats.laplace()
    e = product_mse(dw, 2.5, 4, dx, 25.0, 16)
    mw, mx = qerror.mse(dw, 2.5, 4), qerror.mse(dx, 25.0, 16)
    assert e == pytest.approx(2.0 * mw + mx, rel=1e-7)
    assert e != pytest.approx(2.0 * mw, rel=1e-7)


def test_broadcasting():
    e = product_mse(stats.norm(), [[2.0], [3.0]], 4, stats.norm(), [1.5, 2.5, 3.5],
                    [3, 4, 5])
    assert e.shape == (2, 3)
    assert e[1, 2] == pytest.approx(product_mse(stats.norm(), 3.0, 4, stats.norm(),
                                                3.5, 5), rel=1e-15)
    assert isinstance(product_mse(stats.norm(), 2.0, 4, stats.norm(), 2.0, 4), float)


# ------------------------------------------------------------------ the 2-D optimum
@pytest.mark.parametrize("dw,gw,bw,dx,gx,bx", [
    (stats.norm(), "midrise", 3, stats.laplace(), "midrise", 3),
    (stats.t(5), "midtread", 4, stats.norm(0.5, 1.0), "midrise", 2),
    (stats.laplace(), "midrise", 2, stats.halfnorm(), "unsigned", 3),
])
def test_optimal_pair_beats_a_dense_two_dimensional_scan(dw, gw, bw, dx, gx, bx):
    r = optimal_product_alpha(dw, bw, dx, bx, grid_w=gw, grid_x=gx)
    assert r.success
    aw = r.alpha_w * np.geomspace(0.3, 3.0, 121)
    ax = r.alpha_x * np.geomspace(0.3, 3.0, 121)
    grid = product_mse(dw, aw[:, None], bw, dx, ax[None, :], bx, grid_w=gw, grid_x=gx)
    assert r.mse <= grid.min() * (1 + 1e-12)
    # the minimum value formula S_w S_x - (S_w - m_w*)(S_x - m_x*)
    Sw, mw, _ = quantizer_moments(dw, r.alpha_w, bw, grid=gw)
    Sx, mx, _ = quantizer_moments(dx, r.alpha_x, bx, grid=gx)
    assert r.mse == pytest.approx(Sw * Sx - (Sw - mw) * (Sx - mx), rel=1e-12)
    assert r.relative == pytest.approx(r.mse / (Sw * Sx), rel=1e-15)


def test_optimal_pair_for_data():
    rng = np.random.default_rng(7)
    w, x = rng.normal(size=400), np.abs(rng.normal(size=300))
    r = optimal_product_alpha(w, 3, x, 3, grid_x="unsigned")
    assert r.success
    aw = r.alpha_w * np.geomspace(0.5, 2.0, 61)
    ax = r.alpha_x * np.geomspace(0.5, 2.0, 61)
    grid = product_mse(w, aw[:, None], 3, x, ax[None, :], 3, grid_x="unsigned")
    assert r.mse <= grid.min() * (1 + 1e-12)


def test_theorem_not_claimed_for_unsigned_on_signed_data():
    r = optimal_product_alpha(stats.norm(), 3, stats.norm(), 3, grid_x="unsigned")
    assert not r.success and "NOT CERTIFIED" in r.message


def test_bit_split_table():
    rows = bit_split_table(stats.norm(), stats.laplace(), [6, 8])
    assert [(r["bits_w"], r["bits_x"]) for r in rows if r["total"] == 6] == [
        (2, 4), (3, 3), (4, 2)]
    for total in (6, 8):
        group = [r for r in rows if r["total"] == total]
        best = [r for r in group if r["best"]]
        assert len(best) == 1 and best[0]["mse"] == min(r["mse"] for r in group)
        for r in group:
            e = product_mse(stats.norm(), r["alpha_w"], r["bits_w"], stats.laplace(),
                            r["alpha_x"], r["bits_x"])
            assert r["mse"] == pytest.approx(e, rel=1e-12)
            assert r["certified"]


# ------------------------------------------------------------------ bad input
def test_bad_input():
    n = stats.norm()
    with pytest.raises(ValueError, match="infinite variance"):
        product_mse(stats.cauchy(), 2.0, 4, n, 2.0, 4)
    with pytest.raises(ValueError, match="alpha_x"):
        product_mse(n, 2.0, 4, n, -1.0, 4)
    with pytest.raises(ValueError, match="length"):
        product_mse(n, 2.0, 4, n, 2.0, 4, length=0)
    with pytest.raises(TypeError, match="length"):
        product_mse(n, 2.0, 4, n, 2.0, 4, length=2.5)
    with pytest.raises(ValueError, match="16 bits"):
        product_mse(n, 2.0, 20, n, 2.0, 4)
    with pytest.raises(ValueError, match="grid"):
        product_mse(n, 2.0, 4, n, 2.0, 4, grid_w="nope")
    with pytest.raises(ValueError, match="non-finite"):
        product_mse(np.array([1.0, np.nan]), 2.0, 4, n, 2.0, 4)
    with pytest.raises(ValueError, match="no split"):
        bit_split_table(n, n, 3)


# ------------------------------------------------------------------ symbolic
def test_symbolic_derivations_hold_and_match_the_numbers():
    pytest.importorskip("sympy")
    from qerror import symbolic

    for d in (symbolic.product_derivation(), symbolic.dot_product_derivation(),
              symbolic.dot_product_derivation(4), symbolic.product_optimum_derivation()):
        assert d.holds, d.title
    u = stats.uniform(-1.5, 3.0)  # half-width 1.5
    for bw, bx in ((2, 3), (4, 4), (8, 5)):
        exact = float(symbolic.uniform_product_mse(bits_w=bw, bits_x=bx, scale_w=1.5,
                                                   scale_x=1.0))
        got = product_mse(u, 1.5, bw, stats.uniform(-1, 2), 1.0, bx)
        assert got == pytest.approx(exact, rel=RTOL)
    # the symbolic product formula against the numeric moments
    f = symbolic.product_derivation().result
    Sw, mw, gw = quantizer_moments(stats.norm(), 2.0, 3)
    Sx, mx, gx = quantizer_moments(stats.laplace(), 3.0, 4, grid="midtread")
    sym = {s.name: s for s in f.free_symbols}
    val = float(f.subs({sym["S_W"]: Sw, sym["m_W"]: mw, sym["g_W"]: gw, sym["S_X"]: Sx,
                        sym["m_X"]: mx, sym["g_X"]: gx}))
    assert val == pytest.approx(product_mse(stats.norm(), 2.0, 3, stats.laplace(), 3.0,
                                            4, grid_x="midtread"), rel=1e-14)
    with pytest.raises(ValueError, match="length"):
        symbolic.dot_product_derivation(9)
