"""The Format protocol: every registered format answers every engine consistently.

These tests hold any format to the same contract: its geometry tiles the range with
cells whose levels are the quantizer's, the law engine agrees with quadrature of
(x - Q(x))^2 and with Monte Carlo, the data engine with a brute-force scan, and bad
arguments name what is wrong.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

import qerror
from qerror.formats import (
    DEFAULT,
    INTEGER_GRIDS,
    MIDRISE,
    MIDTREAD,
    POW2,
    UNSIGNED,
    Format,
    LevelSet,
    available,
    get_format,
)
from qerror.nonuniform import pow2_mse

FP4 = LevelSet.from_levels([-6, -4, -3, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 3, 4, 6],
                           name="test_fp4")
SKEWED = LevelSet.from_levels([-1.0, -0.4, 0.0, 0.3, 0.5, 0.8], name="test_skewed")
FORMATS = [(MIDRISE, 3), (MIDTREAD, 3), (UNSIGNED, 3), (POW2, 3), (FP4, None),
           (SKEWED, None)]
IDS = [f.name for f, _ in FORMATS]


def _cells(fmt, alpha, bits):
    """Every cell (a, b, level) of the geometry at one alpha, blocks expanded."""
    geo = fmt.geometry(np.array([alpha]), np.array([bits if bits else fmt.fixed_bits]))
    out = []
    for a0, step, n in geo.blocks:
        a0, step, n = float(a0[0]), float(step[0]), int(n[0])
        out += [(a0 + i * step, a0 + (i + 1) * step, a0 + (i + 0.5) * step)
                for i in range(n)]
    for a, b, c in geo.cells:
        for ai, bi, ci in zip(np.ravel(a), np.ravel(b), np.ravel(c), strict=True):
            out.append((float(ai), float(bi), float(ci)))
    return sorted(out), geo


@pytest.mark.parametrize("fmt, bits", FORMATS, ids=IDS)
def test_geometry_tiles_the_range_with_the_quantizers_levels(fmt, bits):
    alpha = 1.7
    cells, geo = _cells(fmt, alpha, bits)
    lo, hi = float(geo.lo[0]), float(geo.hi[0])
    assert cells[0][0] == pytest.approx(lo) and cells[-1][1] == pytest.approx(hi)
    for (a1, b1, _), (a2, _, _) in zip(cells[:-1], cells[1:], strict=True):
        assert b1 == pytest.approx(a2, abs=1e-14)  # no gap, no overlap
    b = np.array(bits if bits else fmt.fixed_bits)
    for a, bb, c in cells:  # the level of a cell is where its interior quantizes to
        mid = np.array([0.5 * (a + bb)])
        q = fmt.quantize(mid, np.array([alpha]), np.broadcast_to(b, (1,)))
        assert q[0] == pytest.approx(c, abs=1e-14)
    # beyond the range: the outermost levels
    q = fmt.quantize(np.array([hi + 5.0, lo - 5.0]), np.full(2, alpha), np.full(2, b))
    assert q[0] == pytest.approx(float(geo.level_hi[0]))
    assert q[1] == pytest.approx(float(geo.level_lo[0]))
    # levels() lists every level the quantizer can return
    lv = fmt.levels(alpha, bits)
    x = np.linspace(lo - 1, hi + 1, 2001)
    qx = np.unique(fmt.quantize(x, np.full(x.shape, alpha), np.full(x.shape, b)))
    assert np.all(np.isin(np.round(qx, 12), np.round(lv, 12)))


@pytest.mark.parametrize("fmt, bits", FORMATS, ids=IDS)
@pytest.mark.parametrize("dist", [stats.norm(0.3, 1.2), stats.laplace(), stats.t(6)],
                         ids=["norm", "laplace", "t6"])
def test_law_engine_matches_quadrature_of_the_quantizer(fmt, bits, dist):
    alpha = 2.1
    cells, geo = _cells(fmt, alpha, bits)
    b = np.array(bits if bits else fmt.fixed_bits)

    def err2(x):
        q = fmt.quantize(np.array([x]), np.array([alpha]), np.broadcast_to(b, (1,)))[0]
        return (x - q) ** 2 * dist.pdf(x)

    edges = sorted({a for a, _, _ in cells} | {cells[-1][1]})
    total = sum(integrate.quad(err2, a, bb, epsabs=0, epsrel=1e-12)[0]
                for a, bb in zip(edges[:-1], edges[1:], strict=True))
    lo, hi = edges[0], edges[-1]
    total += integrate.quad(err2, -np.inf, lo, epsabs=0, epsrel=1e-12)[0]
    total += integrate.quad(err2, hi, np.inf, epsabs=0, epsrel=1e-12)[0]
    got = qerror.mse(dist, alpha, bits, grid=fmt)
    assert got == pytest.approx(total, rel=1e-9)
    t, r = qerror.error_parts(dist, alpha, bits, grid=fmt)
    assert t + r == pytest.approx(got, rel=1e-14)


@pytest.mark.parametrize("fmt, bits", FORMATS, ids=IDS)
def test_law_engine_agrees_with_monte_carlo(fmt, bits):
    dist = qerror.clamp(stats.laplace(0.1), 2.5)  # atoms too
    exact = qerror.mse(dist, 2.0, bits, grid=fmt)
    mc = qerror.simulate_mse(dist, 2.0, bits, grid=fmt, n=300_000, seed=7)
    assert abs(mc.zscore(exact)) < 4.5


@pytest.mark.parametrize("bits", [1, 2, 3, 5])
@pytest.mark.parametrize("dist", [stats.norm(), stats.t(5), qerror.clamp(stats.norm(), 1.5)],
                         ids=["norm", "t5", "clamped"])
def test_pow2_format_equals_the_dedicated_pow2_engine(bits, dist):
    """Two independent implementations: the generic cell engine on the pow2 format and
    the power-of-two grid's own closed-form engine."""
    for alpha in (0.7, 2.0, 5.0):
        assert qerror.mse(dist, alpha, bits, grid="pow2") == pytest.approx(
            pow2_mse(dist, alpha, bits), rel=1e-12)


@pytest.mark.parametrize("fmt, bits", FORMATS, ids=IDS)
def test_data_engine_matches_the_quantizer_point_by_point(fmt, bits):
    x = np.random.default_rng(3).standard_t(4, size=501)
    b = bits if bits else fmt.fixed_bits
    for alpha in (0.5, 2.0, 7.0):
        q = qerror.quantize(x, alpha, bits, grid=fmt)
        assert qerror.mse(x, alpha, bits, grid=fmt) == pytest.approx(
            np.mean((x - q) ** 2), rel=1e-13)
    if fmt.symmetric or not fmt.signed:  # the solver takes levels symmetric about 0
        res = qerror.optimal_alpha(x, b, grid=fmt)
        scan = np.geomspace(0.05, 40, 4000)
        best = min(qerror.mse(x, s, bits, grid=fmt) for s in scan)
        assert res.success and res.mse <= best * (1 + 1e-9)


def test_non_uniform_formats_refuse_the_aciq_model():
    for fmt in (POW2, FP4):
        with pytest.raises(ValueError, match="uniform grid"):
            qerror.mse(stats.norm(), 1.0, 3 if fmt is POW2 else None, model="aciq",
                       grid=fmt)
        with pytest.raises(ValueError, match="uniform grid"):
            qerror.optimal_alpha(stats.norm(), 3 if fmt is POW2 else None, model="aciq",
                                 grid=fmt)


def test_registry_and_bad_names():
    assert set(available()) >= {"midrise", "midtread", "unsigned", "pow2"}
    assert DEFAULT is MIDRISE and get_format(None) is DEFAULT
    assert get_format("midtread") is MIDTREAD and get_format(FP4) is FP4
    assert tuple(INTEGER_GRIDS) == (MIDRISE, MIDTREAD, UNSIGNED)
    with pytest.raises(ValueError, match="grid must be one of .*midrise"):
        get_format("midriser")
    with pytest.raises(ValueError, match="grid must be one of"):
        qerror.mse(stats.norm(), 1.0, 4, grid=3)
    with pytest.raises(TypeError, match="register takes a Format"):
        qerror.formats.register("fp4")


def test_fixed_size_formats_take_no_bits_and_refuse_a_conflicting_one():
    assert FP4.fixed_bits == 4 and SKEWED.fixed_bits == 3
    e = qerror.mse(stats.norm(), 2.0, grid=FP4)
    assert e == qerror.mse(stats.norm(), 2.0, 4, grid=FP4)
    with pytest.raises(ValueError, match="has 4 bits"):
        qerror.mse(stats.norm(), 2.0, 8, grid=FP4)
    with pytest.raises(TypeError, match="bits is required"):
        qerror.mse(stats.norm(), 2.0, grid="midrise")
    with pytest.raises(ValueError, match="midtread grid needs bits >= 2"):
        qerror.quantize(0.5, 1.0, 1, grid="midtread")


def test_from_levels_checks_its_input():
    with pytest.raises(ValueError, match="at least two distinct"):
        LevelSet([1.0])
    with pytest.raises(ValueError, match="normalised"):
        LevelSet([-2.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        LevelSet.from_levels([0.0, np.nan])
    with pytest.raises(ValueError, match="all be zero"):
        LevelSet.from_levels([0.0, 0.0])
    s = LevelSet.from_levels([3.0, -1.5, 0.0])
    np.testing.assert_array_equal(s.levels(2.0), [-1.0, 0.0, 2.0])
    assert s.signed and not s.symmetric
    # levels not symmetric about zero: the two-sided solver, checked by a dense scan
    x = np.random.default_rng(5).standard_normal(300) + 0.3
    r = qerror.optimal_alpha(x, grid=s)
    best = min(qerror.mse(x, a, grid=s) for a in np.geomspace(0.05, 20, 6000))
    assert r.success and r.mse <= best * (1 + 1e-9)


@pytest.mark.parametrize("fmt", INTEGER_GRIDS, ids=lambda f: f.name)
@pytest.mark.parametrize("bits", [2, 3, 5])
def test_uniform_thresholds_around_match_the_enumerated_thresholds(fmt, bits):
    """The closed-form neighbours of the uniform grids against the generic search over
    their enumerated levels (Format.thresholds_around)."""
    rng = np.random.default_rng(bits)
    for u in np.concatenate([rng.uniform(-1.3, 1.3, 40), [0.0, 0.5, -0.5]]):
        assert fmt.thresholds_around(float(u), bits) == pytest.approx(
            Format.thresholds_around(fmt, float(u), bits), abs=1e-15)


def test_a_user_format_is_a_first_class_citizen():
    """A user's level set goes through every engine: error, bias, optimum, Monte Carlo,
    robustness and the data solver."""
    dist = stats.norm()
    r = qerror.optimal_alpha(dist, grid=FP4)
    assert r.success and r.grid == "test_fp4"
    assert qerror.bias(dist, r.alpha, grid=FP4) == pytest.approx(0.0, abs=1e-15)
    assert qerror.bias(stats.norm(0.2), r.alpha, grid=SKEWED) != 0.0
    x = np.random.default_rng(0).standard_normal(4000)
    d = qerror.optimal_alpha(x, grid=FP4)
    assert d.success and d.mse <= qerror.mse(x, r.alpha, grid=FP4) * (1 + 1e-12)
