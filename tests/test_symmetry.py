"""Quantization bias E[W - Q(W)] (qerror.symmetry): symmetry, closed-form cell sums,
Monte Carlo, mpmath references, the bias^2 + variance split, bad input.

References: ``tests/reference/robustness_reference.json`` from
``tests/reference/generate_robustness.py`` (mpmath only).
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import qerror
from qerror.laws._families import FAMILIES, GenericFamily
from qerror.laws._protocol import Law, resolve
from qerror.symmetry import _bias_law, bias, bias_variance

REF = json.loads((Path(__file__).parent / "reference" / "robustness_reference.json")
                 .read_text())["records"]

#: bias vs mpmath: worst seen 3.3e-14 relative (a 3-bit grid where the sum cancels to
#: 1% of its largest term); the absolute floor is for values that cancel to ~0
RTOL_BIAS = 1e-13
#: the O(1) block sums vs direct summation of every cell (both double precision)
RTOL_BLOCK = 1e-12
#: "exactly zero, up to rounding": |bias| of a symmetric law computed in full
ZERO = 1e-15

N_MC = 400_000
Z_MAX = 5.0  # |z| <= 5: a correct implementation fails with probability 5.7e-7 per check


def _law(name, loc, scale, shape):
    return getattr(stats, name)(*shape.values(), loc=loc, scale=scale)


# ----------------------------------------------------------------- symmetry
@given(family=st.sampled_from(["norm", "laplace", "uniform"]),
       scale=st.floats(0.05, 20.0),
       clamp_d=st.one_of(st.none(), st.floats(0.1, 4.0)),
       grid=st.sampled_from(["midrise", "midtread"]),
       bits=st.integers(2, 64),
       alpha=st.floats(1e-3, 12.0))
def test_symmetric_law_has_zero_bias(family, scale, clamp_d, grid, bits, alpha):
    """Section 2 (SymReg): odd error x - Q(x), so the bias of a law symmetric about 0
    is zero whatever alpha and b; computed in full it is zero up to rounding."""
    dist = (stats.uniform(-scale, 2 * scale) if family == "uniform"
            else getattr(stats, family)(scale=scale))
    if clamp_d is not None:
        dist = qerror.clamp(dist, clamp_d * scale)
    a = alpha * scale
    law = resolve(dist)
    full = _bias_law(law, np.array([a]), np.array([bits]), grid, symmetry=False)[0]
    assert abs(full) <= ZERO * scale
    if clamp_d is None or family != "uniform":
        value = bias(dist, a, bits, grid=grid)
        assert abs(value) <= ZERO * scale
    if family != "uniform":  # resolved as a law symmetric about 0: zero by oddness
        assert bias(dist, a, bits, grid=grid) == 0.0 if clamp_d is None else True


@pytest.mark.parametrize("dist", [stats.t(5), stats.logistic(scale=0.7), stats.gennorm(1.5),
                                  stats.cauchy()])
@pytest.mark.parametrize("bits", [1, 3, 8])
def test_symmetric_generic_laws_zero_to_rounding(dist, bits):
    """Laws outside the closed-form registry go through quadrature cell by cell and
    still sum to zero (the Cauchy law has no mean, so it is clamped first)."""
    if dist.dist.name == "cauchy":
        dist = qerror.clamp(dist, 6.0)
    for grid in ("midrise", "midtread") if bits > 1 else ("midrise",):
        assert abs(bias(dist, [0.8, 2.5], bits, grid=grid)).max() <= 1e-14


def test_atom_on_a_threshold_breaks_the_symmetry():
    """On the midrise grid a threshold belongs to the cell above, so an atom sitting
    exactly on one is not mirrored: clamp(N(0,1), d) with d on a threshold has bias
    -Delta * P(W >= d), not 0.  (Off the thresholds it is 0.)"""
    alpha, bits = 2.0, 3
    step = 2 * alpha / 2**bits
    d = -alpha + 6 * step  # = 1.0, a threshold
    dist = qerror.clamp(stats.norm(), d)
    assert bias(dist, alpha, bits) == pytest.approx(-step * stats.norm.sf(d), rel=1e-14)
    assert bias(dist, alpha, bits, grid="midtread") == 0.0  # ties to even: symmetric
    assert abs(bias(qerror.clamp(stats.norm(), 1.01), alpha, bits)) <= ZERO


def test_unsigned_grid_is_biased_for_symmetric_laws():
    """Half-range grid: every negative value goes to the level Delta/2, so the negative
    half alone contributes E[W; W < 0] - P(W < 0) Delta/2 = -phi(0) - Delta/4."""
    alpha, bits = 3.0, 4
    step = alpha / 2**bits
    b = bias(stats.norm(), alpha, bits, grid="unsigned")
    negative_half = -stats.norm.pdf(0) - step / 4
    positive_half = bias(qerror.clamp(stats.halfnorm(), 50.0), alpha, bits,
                         grid="unsigned") / 2
    assert b == pytest.approx(negative_half + positive_half, rel=1e-13)
    assert b < -0.4


# ----------------------------------------------------------------- cell sums
def _mp_cells1(family, a0, step, n):
    """Sum over cells of the first moment about the midpoint, in mpmath (closed forms:
    int (x - c) f = [M1 - c F], M1 = -phi (normal), Laplace by parts)."""
    import mpmath as mp

    mp.mp.dps = 30

    def FM(x):
        if family == "norm":
            return mp.ncdf(x), -mp.npdf(x)
        if x < 0:
            return mp.exp(x) / 2, (x - 1) * mp.exp(x) / 2
        return 1 - mp.exp(-x) / 2, -(1 + x) * mp.exp(-x) / 2

    a0, step = mp.mpf(a0), mp.mpf(step)
    total = mp.mpf(0)
    for i in range(n):
        u = a0 + i * step
        (fu, mu), (fv, mv) = FM(u), FM(u + step)
        total += (mv - mu) - (u + step / 2) * (fv - fu)
    return float(total)


@given(family=st.sampled_from(["norm", "laplace", "uniform"]),
       a0=st.floats(-6.0, 3.0), step=st.floats(1e-3, 1.5), n=st.integers(1, 300))
def test_cells1_matches_direct_summation(family, a0, step, n):
    """The O(1) block forms (Euler-Maclaurin with B1, geometric series, zero) against
    the sum over every cell, cell by cell in mpmath.  Tolerance: relative 1e-12, and an
    absolute floor eps * Delta^2 * f for sums that cancel to nothing."""
    fam = FAMILIES[family]
    if family == "uniform":  # the engine only passes blocks inside the support: 0
        assert fam.cells1(np.array([0.0]), np.array([1.0 / n]), np.array([n]))[0] == 0.0
        return
    block = fam.cells1(np.array([a0]), np.array([step]), np.array([float(n)]))[0]
    ref = _mp_cells1(family, a0, step, n)
    floor = 1e-15 * step**2 * (0.5 + n * step)
    assert block == pytest.approx(ref, rel=1e-12, abs=floor)


@pytest.mark.parametrize("family", ["norm", "laplace"])
@pytest.mark.parametrize("bits", [10, 14, 16])
def test_closed_forms_match_generic_quadrature(family, bits):
    """Normal EM / Laplace geometric series vs the generic per-cell quadrature path
    (Gauss-Legendre per cell, quad at kinks) on a shifted law."""
    rv = getattr(stats, family)
    law = resolve(rv(loc=0.3, scale=1.2))
    gl = Law(GenericFamily(rv, ()), law.loc, law.scale, law.lower, law.upper, ())
    a = np.array([1.0, 3.5])
    b = np.full(2, bits)
    closed = _bias_law(law, a, b, "midrise")
    generic = _bias_law(gl, a, b, "midrise")
    assert closed == pytest.approx(generic, rel=1e-10)


# ----------------------------------------------------------------- accuracy
@pytest.mark.parametrize("rec", REF["bias"],
                         ids=lambda r: f"{r['law']}-{r['grid']}-{r['bits']}")
def test_bias_against_mpmath(rec):
    dist = _law(rec["law"], rec["loc"], rec["scale"], rec["shape"])
    if rec["d"] is not None:
        dist = qerror.clamp(dist, rec["d"])
    got = bias(dist, rec["alpha"], rec["bits"], grid=rec["grid"])
    assert got == pytest.approx(rec["bias"], rel=RTOL_BIAS, abs=1e-17)


@pytest.mark.parametrize("rec", REF["bias_block"], ids=lambda r: f"{r['law']}-{r['bits']}")
def test_bias_large_bits_against_mpmath(rec):
    """b = 16..64: only the O(1) block forms can do these."""
    dist = _law(rec["law"], rec["loc"], rec["scale"], {})
    got = bias(dist, rec["alpha"], rec["bits"])
    assert got == pytest.approx(rec["bias"], rel=RTOL_BIAS)


# ----------------------------------------------------------------- Monte Carlo
MC_CASES = [  # skewed, shifted and half laws
    (stats.skewnorm(4.0), 2.0, 4, "midrise"),
    (stats.skewnorm(-3.0, scale=0.5), 1.0, 3, "midtread"),
    (stats.norm(0.5), 2.0, 4, "midrise"),
    (stats.laplace(0.3), 3.0, 3, "midtread"),
    (stats.halfnorm(), 2.5, 4, "unsigned"),
    (stats.halfnorm(), 2.5, 4, "midrise"),
    (stats.expon(), 4.0, 3, "unsigned"),
    (stats.uniform(-0.7, 2.0), 1.0, 2, "midrise"),
    (qerror.clamp(stats.norm(0.3), 1.5), 1.2, 3, "midrise"),
    (stats.gamma(2.0, loc=-1.0), 3.0, 5, "midrise"),
]


@pytest.mark.parametrize("case", range(len(MC_CASES)))
def test_bias_and_variance_match_monte_carlo(case):
    dist, alpha, bits, grid = MC_CASES[case]
    rng = np.random.default_rng(7000 + case)
    x = dist.rvs(size=N_MC, random_state=rng)
    e = x - qerror.quantize(x, alpha, bits, grid=grid)
    b = bias(dist, alpha, bits, grid=grid)
    assert abs(b - e.mean()) <= Z_MAX * e.std() / math.sqrt(N_MC)
    b2, var = bias_variance(dist, alpha, bits, grid=grid)
    assert b2 == pytest.approx(b * b, rel=1e-15)
    # sample variance: standard error from the fourth central moment
    c = e - e.mean()
    se = math.sqrt(max(np.mean(c**4) - np.mean(c**2) ** 2, 0.0) / N_MC)
    assert abs(var - c.var()) <= Z_MAX * se + 1e-12
    # data input: the same mean over the sample
    assert bias(x, alpha, bits, grid=grid) == pytest.approx(e.mean(), rel=1e-12, abs=1e-15)


def test_bias_variance_split_adds_up():
    """E = bias^2 + Var(W - Q(W)); how much of the error the bias is, for a shifted
    law as the shift grows."""
    alpha, bits = 2.5, 4
    shifts = np.array([0.0, 0.1, 0.3, 1.0])
    frac = []
    for mu in shifts:
        dist = stats.norm(mu)
        b2, var = bias_variance(dist, alpha, bits)
        total = qerror.mse(dist, alpha, bits)
        assert b2 + var == pytest.approx(total, rel=1e-14)
        assert var > 0
        frac.append(b2 / total)
    assert frac[0] == 0.0
    assert np.all(np.diff(frac) > 0) and frac[-1] > 0.03


def test_bias_scales_with_the_law():
    """bias(loc + s Z; s alpha) = s bias(loc/s + Z; alpha)."""
    for s in (0.01, 3.0, 250.0):
        a = bias(stats.norm(0.4 * s, s), 2.0 * s, [3, 7, 20])
        b = bias(stats.norm(0.4), 2.0, [3, 7, 20])
        assert a == pytest.approx(s * b, rel=1e-13)


def test_broadcasting_and_scalars():
    out = bias(stats.norm(0.2), [[1.0], [2.0]], [2, 4, 8])
    assert out.shape == (2, 3)
    assert isinstance(bias(stats.norm(0.2), 1.0, 3), float)
    assert out[1, 1] == bias(stats.norm(0.2), 2.0, 4)
    b2, var = bias_variance(stats.norm(0.2), [1.0, 2.0], 4)
    assert b2.shape == var.shape == (2,)


# ----------------------------------------------------------------- bad input
def test_bad_input():
    with pytest.raises(ValueError, match="finite mean"):
        bias(stats.cauchy(), 1.0, 4)
    with pytest.raises(ValueError, match="alpha"):
        bias(stats.norm(), -1.0, 4)
    with pytest.raises(ValueError, match="bits"):
        bias(stats.norm(), 1.0, 0)
    with pytest.raises(ValueError, match="bits"):
        bias(stats.norm(), 1.0, 1, grid="midtread")
    with pytest.raises(ValueError, match="grid"):
        bias(stats.norm(), 1.0, 4, grid="round")
    with pytest.raises(TypeError, match="frozen"):
        bias(stats.norm, 1.0, 4)
    with pytest.raises(ValueError, match="NaN|finite|non-finite"):
        bias(np.array([0.1, np.nan]), 1.0, 4)
    with pytest.raises(TypeError, match="dist"):
        bias(np.array(["a", "b"]), 1.0, 4)
