"""Tests of qerror.symbolic: derived expressions against the numeric engine, and the
slips of the supplement's Section 9 (CONVENTIONS.md items 1-7).

Evaluation of the sympy expressions:

* ``lambdify(expr, ...)`` (double precision, scipy.special.erfc) where the closed form
  is itself accurate in double: the ACIQ totals for alpha/s up to 3.5 (normal) and the
  derivative;
* ``lambdify(expr, ..., dps=30)`` (mpmath, 30 digits) where the closed form cancels in
  double: normal tails far out (the terms are z^4/2 times the result), differences of
  tails (clamped law, Lemma 1) and the exact quantizer's sums of erf differences.

The engine must agree to ``RTOL = 1e-12`` relative.
"""

from __future__ import annotations

import functools
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, optimize, stats

import qerror
from qerror import symbolic as S

RTOL = 1e-12  # engine vs. symbolic expression
FD_RTOL = 1e-7  # engine finite difference vs. symbolic derivative

LAWS = {
    "norm": lambda s: stats.norm(scale=s),
    "laplace": lambda s: stats.laplace(0, s),
    "uniform": lambda s: stats.uniform(-s, 2 * s),
}
FAMILIES = tuple(LAWS)
# alpha/s where the double-precision closed form of the ACIQ total is accurate to 1e-13
DOUBLE_RANGE = {"norm": 3.5, "laplace": 30.0, "uniform": 3.0}

alpha_ratio = st.floats(0.05, 1.0)  # scaled by the family's range below
log_scale = st.floats(-3.0, 3.0)
bits_st = st.integers(1, 16)


# lambdify once per expression (sympy expressions are hashable)
_lam = functools.lru_cache(maxsize=None)(S.lambdify)


def _close(got, want, rtol=RTOL, atol=0.0):
    assert abs(got - want) <= rtol * abs(want) + atol, (got, want, got - want)


def _engine_atol(family, s):
    """Absolute error allowed for a *part* (truncation) of the error.

    Uniform law just below its end, alpha -> s: the engine sees scipy's loc=-s,
    scale=2s and rounds z = (alpha + s)/(2s), an absolute error ~eps in 1 - z.  The
    truncation part then has an absolute error ~1e-17 s^2 (relative 2e-11 at
    alpha = 0.99999 s, where the ACIQ truncation is 3e-16 s^2; 5e-12 for the exact
    one), negligible against the total error.  Elsewhere only the 30-digit evaluation's
    own floor applies (differences of terms of size s^2)."""
    return (1e-16 if family == "uniform" else 1e-25) * s**2


def _bits_for(grid, bits):
    return max(bits, 2) if grid == "midtread" else bits


# ------------------------------------------------------------------------- packaging


def test_import_qerror_does_not_import_sympy():
    code = "import sys, qerror; assert 'sympy' not in sys.modules, 'sympy imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bad_arguments():
    with pytest.raises(ValueError, match="family"):
        S.aciq_mse("cauchy")
    with pytest.raises(ValueError, match="grid"):
        S.aciq_mse("norm", grid="unsigned")
    with pytest.raises(ValueError, match="bits"):
        S.aciq_mse("norm", bits=1, grid="midtread")
    with pytest.raises(ValueError, match="alpha"):
        S.aciq_mse("norm", alpha=-1.0)
    with pytest.raises(TypeError):
        S.exact_mse("norm", bits=S.SYMBOLS["bits"])
    with pytest.raises(ValueError, match="part"):
        S.clamped_mse("norm", part="bogus")


# ------------------------------------------------------------------------- Eq. 2


@pytest.mark.parametrize("grid", ["midrise", "midtread"])
def test_rounding_derivation(grid):
    der = S.rounding_derivation(grid)
    assert der.holds
    a, b = S.SYMBOLS["alpha"], S.SYMBOLS["bits"]
    step = 2 * a / 2**b if grid == "midrise" else a / (2 ** (b - 1) - 1)
    assert sp.simplify(der.result - step**2 / 12) == 0
    if grid == "midrise":
        assert sp.simplify(der.result - a**2 / (3 * 4**b)) == 0  # Eq. 2's right side


@pytest.mark.parametrize("grid", ["midrise", "midtread"])
@given(ratio=alpha_ratio, ls=log_scale, bits=bits_st)
def test_rounding_term_matches_engine(grid, ratio, ls, bits):
    s, bits = 10.0**ls, _bits_for(grid, bits)
    a = 4 * s * ratio
    g = _lam(S.aciq_mse("norm", grid=grid, part="rounding"), "alpha", "bits")
    _close(g(a, bits), qerror.rounding_error(LAWS["norm"](s), a, bits, model="aciq",
                                             grid=grid))


# ------------------------------------------------------------------------- Eq. 3-4


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("grid", ["midrise", "midtread"])
@given(ratio=alpha_ratio, ls=log_scale, bits=bits_st)
def test_aciq_mse_double_matches_engine(family, grid, ratio, ls, bits):
    s, bits = 10.0**ls, _bits_for(grid, bits)
    a = s * DOUBLE_RANGE[family] * ratio
    g = _lam(S.aciq_mse(family, grid=grid), "alpha", "bits", "scale")
    _close(g(a, bits, s), qerror.mse(LAWS[family](s), a, bits, model="aciq", grid=grid))


@pytest.mark.parametrize("family", FAMILIES)
@given(ratio=st.floats(0.05, 12.0), ls=log_scale, bits=bits_st)
def test_aciq_parts_mpmath_match_engine(family, ratio, ls, bits):
    s = 10.0**ls
    a = s * ratio
    dist = LAWS[family](s)
    for part, fn in (("truncation", qerror.truncation_error), ("total", qerror.mse)):
        g = _lam(S.aciq_mse(family, part=part), "alpha", "bits", "scale", dps=30)
        want = fn(dist, a, bits, model="aciq")
        if want == 0.0:  # uniform law, alpha >= s
            assert g(a, bits, s) == 0.0
        else:
            _close(g(a, bits, s), want, atol=_engine_atol(family, s))


def test_aciq_mse_30_digits_and_independent_quadrature():
    import mpmath

    v = sp.N(S.aciq_mse("norm", alpha=2, bits=4, scale=1), 30)
    with mpmath.workdps(40):
        tail = mpmath.quad(lambda x: mpmath.npdf(x) * (x - 2) ** 2, [2, mpmath.inf])
        ref = 2 * tail + mpmath.mpf(4) / (3 * 4**4)
        assert abs(mpmath.mpf(str(v)) - ref) < mpmath.mpf("1e-28")
    _close(float(v), qerror.mse(stats.norm(), 2.0, 4, model="aciq"), 1e-14)


def test_substitution_keeps_symbols():
    e = S.aciq_mse("laplace", bits=3)
    assert e.free_symbols == {S.SYMBOLS["alpha"], S.SYMBOLS["scale"]}
    assert S.aciq_mse("laplace") == (
        2 * S.SYMBOLS["scale"] ** 2 * sp.exp(-S.SYMBOLS["alpha"] / S.SYMBOLS["scale"])
        + S.SYMBOLS["alpha"] ** 2 / (3 * 4 ** S.SYMBOLS["bits"])
    )


# ------------------------------------------------------------------------- dE/dalpha


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("grid", ["midrise", "midtread"])
def test_derivative_is_derivative(family, grid):
    e = S.aciq_mse(family, grid=grid)
    de = S.aciq_mse_derivative(family, grid=grid)
    diff = sp.piecewise_fold(sp.diff(e, S.SYMBOLS["alpha"]) - de)
    assert sp.simplify(diff) == 0


@pytest.mark.parametrize("family", FAMILIES)
@given(ratio=alpha_ratio, ls=log_scale, bits=bits_st)
def test_derivative_matches_engine_finite_difference(family, ratio, ls, bits):
    s = 10.0**ls
    a = s * min(DOUBLE_RANGE[family], 6.0) * ratio
    if family == "uniform" and abs(a - s) < 0.01 * s:  # kink of the uniform model
        a = 0.9 * s
    dist = LAWS[family](s)
    h = 1e-3 * a

    def m(x):
        return qerror.mse(dist, x, bits, model="aciq")

    fd = (-m(a + 2 * h) + 8 * m(a + h) - 8 * m(a - h) + m(a - 2 * h)) / (12 * h)
    g = _lam(S.aciq_mse_derivative(family), "alpha", "bits", "scale")
    _close(fd, g(a, bits, s), rtol=0.0, atol=FD_RTOL * (abs(fd) + m(a) / a))


# ------------------------------------------------------------------------- optimum


def test_optimal_alpha_laplace_is_lambert_w():
    s, b = S.SYMBOLS["scale"], S.SYMBOLS["bits"]
    assert S.optimal_alpha("laplace") == s * sp.LambertW(3 * 4**b)
    assert sp.simplify(
        S.optimal_alpha("laplace", grid="midtread") - s * sp.LambertW(3 * (2**b - 2) ** 2)
    ) == 0


# ACIQ (Banner et al. 2018) published optima in units of the scale, M = 2 ...
ACIQ_LAPLACE = {2: 2.83, 3: 3.89, 4: 5.03, 5: 6.2, 6: 7.41, 7: 8.64}
ACIQ_NORMAL = {2: 1.71, 3: 2.15, 4: 2.55, 5: 2.93, 6: 3.28, 7: 3.61, 8: 3.92}


@pytest.mark.parametrize("bits,value", sorted(ACIQ_LAPLACE.items()))
def test_optimal_alpha_laplace_published(bits, value):
    # ACIQ's table is not rounded consistently (W(192) = 3.8972 -> 3.89,
    # W(768) = 5.0286 -> 5.03)
    assert abs(float(S.optimal_alpha("laplace", bits=bits, scale=1)) - value) < 0.01


@pytest.mark.parametrize("bits,value", sorted(ACIQ_NORMAL.items()))
def test_optimal_alpha_normal_published(bits, value):
    eq = S.optimal_alpha("normal" if False else "norm", bits=bits, scale=1)
    assert isinstance(eq, sp.Eq)
    root = float(sp.nsolve(eq.lhs - eq.rhs, S.SYMBOLS["alpha"], value))
    assert abs(root - value) < 0.01  # ACIQ's table truncates to two decimals


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("grid", ["midrise", "midtread"])
@pytest.mark.parametrize("bits", [2, 4, 8])
def test_optimal_alpha_is_engine_minimum(family, grid, bits):
    s = 0.7
    opt = S.optimal_alpha(family, bits=bits, scale=s, grid=grid)
    if isinstance(opt, sp.Eq):
        opt = sp.nsolve(opt.lhs - opt.rhs, S.SYMBOLS["alpha"], 3 * s)
    a = float(opt)
    dist = LAWS[family](s)

    def m(x):
        return qerror.mse(dist, x, bits, model="aciq", grid=grid)

    assert m(a) <= m(a * (1 + 1e-4)) and m(a) <= m(a * (1 - 1e-4))
    res = optimize.minimize_scalar(m, bounds=(0.01 * s, 20 * s), method="bounded",
                                   options={"xatol": 1e-10})
    assert abs(res.x - a) < 1e-5 * a
    g = _lam(S.aciq_mse_derivative(family, grid=grid), "alpha", "bits", "scale")
    assert abs(g(a, bits, s)) < 1e-12 * m(a) / a * 1e3


def test_optimal_alpha_uniform_closed_form():
    opt = S.optimal_alpha("uniform")
    s, b = S.SYMBOLS["scale"], S.SYMBOLS["bits"]
    t = 3 * 4**b
    assert sp.simplify(opt - s * (t + 1 - sp.sqrt(2 * t + 1)) / t) == 0


# ------------------------------------------------------------------------- Eq. 5-7


@pytest.mark.parametrize("family", FAMILIES)
@given(ra=st.floats(0.05, 8.0), rd=st.floats(0.05, 8.0), ls=log_scale, bits=bits_st)
def test_clamped_mse_matches_engine(family, ra, rd, ls, bits):
    s = 10.0**ls
    a, d = ra * s, rd * s
    cd = qerror.clamp(LAWS[family](s), d)
    g = _lam(S.clamped_mse(family), "alpha", "d", "bits", "scale", dps=30)
    _close(g(a, d, bits, s), qerror.mse(cd, a, bits, model="aciq"))
    gt = _lam(S.clamped_mse(family, part="truncation"), "alpha", "d", "scale", dps=30)
    want = qerror.truncation_error(cd, a, bits, model="aciq")
    _close(gt(a, d, s), want, atol=_engine_atol(family, s))


def test_clamped_mse_eq7_shape():
    """Eq. 7 = 2 (F(-d)(d-alpha)^2 + int_alpha^d f (x-alpha)^2) + rounding, alpha < d."""
    a, d, s, x = (S.SYMBOLS[k] for k in ("alpha", "d", "scale", "x"))
    f = sp.exp(-x / s) / (2 * s)
    in_range = sp.integrate(f * (x - a) ** 2, (x, a, d))
    eq7 = 2 * (sp.exp(-d / s) / 2 * (d - a) ** 2 + in_range)
    branch = S.clamped_mse("laplace", part="truncation").args[0]
    assert branch[1] == (a < d)
    assert sp.simplify(branch[0] - eq7) == 0


# ------------------------------------------------------------------------- exact model

EXACT_CASES = [(g, b) for g in ("midrise", "midtread") for b in (1, 2, 3) if (g, b) != (
    "midtread", 1)]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("grid,bits", EXACT_CASES)
@given(ratio=st.floats(0.05, 6.0), ls=log_scale)
def test_exact_mse_matches_engine(family, grid, bits, ratio, ls):
    s = 10.0**ls
    a = ratio * s
    dist = LAWS[family](s)
    for part, fn in (("total", qerror.mse), ("truncation", qerror.truncation_error)):
        g = _lam(S.exact_mse(family, bits=bits, grid=grid, part=part), "alpha",
                       "scale", dps=30)
        want = fn(dist, a, bits, model="exact", grid=grid)
        # atol: see _engine_atol (the uniform law's truncation at alpha = s is
        # H(s) - H(alpha) = 0 up to 1e-30 s^2 in the 30-digit evaluation)
        _close(g(a, s), want, atol=_engine_atol(family, s))


# ------------------------------------------------------------------------- Eq. 8


def test_lemma1_abstract():
    der = S.lemma1_difference()
    assert der.holds
    x, A, d = S.SYMBOLS["x"], S.SYMBOLS["A"], S.SYMBOLS["d"]
    f = sp.Function("f")
    want = 2 * sp.Integral(f(x) * ((x - A) ** 2 - (d - A) ** 2), (x, d, sp.oo))
    assert der.result == want


@pytest.mark.parametrize("family", FAMILIES)
def test_lemma1_concrete_identities(family):
    assert S.lemma1_difference(family).holds


@pytest.mark.parametrize("family", FAMILIES)
@given(ra=st.floats(0.05, 5.0), gap=st.floats(0.01, 4.0), ls=log_scale, bits=bits_st)
def test_lemma1_true_difference_is_engine_gain(family, ra, gap, ls, bits):
    s = 10.0**ls
    a, d = ra * s, (ra + gap) * s
    der = S.lemma1_difference(family)
    true = _lam(der.result, "A", "d", "scale", dps=30)(a, d, s)
    gain = qerror.clamping_gain(LAWS[family](s), d, a, bits, model="aciq")
    _close(gain, true, atol=1e-300)
    assert gain >= 0.0


# ------------------------------------------------------------------------- errata


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("k", range(7))
def test_errata_identities_hold(family, k):
    e = S.errata(family)[k]
    assert e.check() == (0,) * len(e.identities), e.title


def test_slip1_first_line_is_not_the_error():
    """Eq. 1's int f(x)(x-alpha)^2 dx is Var(W) + alpha^2, not E[(W-Q(W))^2]."""
    e1 = S.errata("norm")[0]
    a, s = S.SYMBOLS["alpha"], S.SYMBOLS["scale"]
    assert sp.simplify(e1.result - (s**2 + a**2)) == 0
    printed = float(e1.result.subs({a: 2, s: 1}))
    exact = qerror.mse(stats.norm(), 2.0, 2)
    _close(exact, float(sp.N(S.exact_mse("norm", bits=2, alpha=2, scale=1), 30)))
    assert printed == 5.0 and exact < 0.2
    # and the printed line does not depend on the bit-width while the error does
    assert qerror.mse(stats.norm(), 2.0, 8) < exact / 5


@pytest.mark.parametrize("family", FAMILIES)
def test_slip2_left_tail_numeric(family):
    """The engine's ACIQ truncation is twice the right tail (corrected Eq. 3), and the
    printed (x - alpha)^2 left tail exceeds it by 4 alpha int_alpha^oo x f(x) dx."""
    s, a = 1.3, 1.1
    dist = LAWS[family](s)
    right = integrate.quad(lambda x: dist.pdf(x) * (x - a) ** 2, a, np.inf)[0]
    printed_left = integrate.quad(lambda x: dist.pdf(x) * (x - a) ** 2, -np.inf, -a)[0]
    named = 4 * a * integrate.quad(lambda x: x * dist.pdf(x), a, np.inf)[0]
    eng = qerror.truncation_error(dist, a, 4, model="aciq")
    _close(eng, 2 * right, 1e-8)
    _close(printed_left - right, named, 1e-8)
    assert abs(eng - (right + printed_left)) > 0.1 * eng


def test_slip3_m_is_b():
    e3 = S.errata()[2]
    assert e3.result == S.SYMBOLS["bits"]
    # the engine's midrise grid has 2^b cells
    q = qerror.quantize(np.linspace(-1, 1, 10001), 1.0, 3)
    assert len(np.unique(q)) == 2**3


@pytest.mark.parametrize("family", FAMILIES)
def test_slip4_rounding_counts_in_range_mass(family):
    """Real quantizer's rounding ~ Delta^2/12 P(|W| <= alpha) (exact for the uniform
    law), not Delta^2/12; clipped values land on alpha - Delta/2."""
    s, a, bits = 1.0, 0.8 if family == "uniform" else 2.5, 12
    dist = LAWS[family](s)
    step = 2 * a / 2**bits
    p_in = dist.cdf(a) - dist.cdf(-a)
    r = qerror.rounding_error(dist, a, bits, model="exact")
    _close(r, step**2 / 12 * p_in, 1e-12 if family == "uniform" else 1e-5)
    assert step**2 / 12 / r > 1 / p_in * (1 - 1e-5)  # the ACIQ term over-counts
    # truncation at alpha - Delta/2: the named term of erratum 4, any b
    named = S.errata(family)[3].result
    extra = _lam(named, "alpha", "scale", "step", dps=30)
    for b in (2, 5, 9):
        st_ = 2 * a / 2**b
        diff = qerror.truncation_error(dist, a, b, model="exact") - qerror.truncation_error(
            dist, a, b, model="aciq")
        _close(diff, extra(a, s, st_), 1e-9)


def test_slip5_references_as_the_project_states_them():
    """Erratum 5 as stated in qerror.symbolic (and so on the errata page): the
    supplement numbers its equations 1-8, so Section 9.1's "Equation 10" means the
    derivation of Eqs. 1-4, and Section 9.2's "Eq. (6)" (the atoms' error only) means
    Eq. (7), the clamped law's error.  Self-contained: the check is against the
    project's statement, not a copy of the supplement outside the repository."""
    e = S.errata("norm")[4]
    assert e.holds
    steps = [(st.label, str(st.lhs), str(st.rhs)) for st in e.steps]
    assert 'Section 9.1 cites "Equation 10"' in steps[0][0]
    assert "numbers 1 to 8" in steps[0][0]
    assert (steps[0][1], steps[0][2]) == ("Equation 10", "Eqs. 1-4")
    assert '"Eq. (4) and Eq. (6)"' in steps[1][0]
    assert (steps[1][1], steps[1][2]) == ("Eq. (6)", "Eq. (7)")
    # what Eq. 6 leaves out: the in-range term and the rounding term of Eq. 7
    left_out = str(steps[2][2])
    assert "Integral" in left_out and "4**b" in left_out


@pytest.mark.parametrize("d", [0.8, 1.5, 2.5])
def test_slip5_eq7_not_eq6_is_compared(d):
    """The theorem compares min Eq. 7 with min Eq. 4; Eq. 6 is only part of Eq. 7."""
    bits = 4
    dist = stats.norm()
    e4 = optimize.minimize_scalar(lambda a: qerror.mse(dist, a, bits, model="aciq"),
                                  bounds=(0.1, 8), method="bounded").fun
    cd = qerror.clamp(dist, d)
    e7 = optimize.minimize_scalar(lambda a: qerror.mse(cd, a, bits, model="aciq"),
                                  bounds=(0.01, 8), method="bounded")
    assert e7.fun <= e4
    eq6 = _lam(S.clamped_mse("norm", part="atoms"), "alpha", "d", "scale", dps=30)
    assert eq6(e7.x, d, 1.0) < e7.fun


@pytest.mark.parametrize("family", FAMILIES)
def test_slip6_printed_eq8_is_not_the_gain(family):
    """The engine's gain equals the corrected Eq. 8; the printed form exceeds it by
    2 int_A^d f(x)(x-A)^2 dx."""
    s, A, d, bits = 1.0, 0.6, 0.9, 3
    der = S.lemma1_difference(family)
    by_label = {st.label: st.rhs for st in der.steps}
    printed = by_label["the supplement's Eq. 8 (last line)"]
    named = by_label["printed minus true: the in-range term of Eq. 7"]
    ev = {k: _lam(v, "A", "d", "scale", dps=30)(A, d, s)
          for k, v in (("true", der.result), ("printed", printed), ("named", named))}
    gain = qerror.clamping_gain(LAWS[family](s), d, A, bits, model="aciq")
    _close(gain, ev["true"])
    _close(ev["printed"] - gain, ev["named"], 1e-10)
    assert ev["named"] > 1e-3 * gain  # far beyond the 1e-12 agreement


def test_slip7_exact_quantizer_counterexample():
    """Exact quantizer, A >= d: clamping raises the error (Lemma 1 fails)."""
    e7 = S.errata("norm")[6]
    value = float(sp.N(e7.result, 30))
    gain = qerror.clamping_gain(stats.norm(), 1.0, 2.0, 2, model="exact")
    _close(gain, value)
    assert gain < -0.01


@pytest.mark.parametrize("family", FAMILIES)
def test_slip7_other_cases_hold(family):
    """ACIQ model with A >= d: gain = unbounded truncation error >= 0.  Exact quantizer
    with A < d: gain >= 0 (a few points; the full study is elsewhere)."""
    s = 1.0
    dist = LAWS[family](s)
    for A, d in ((1.5, 0.5), (2.0, 2.0), (0.7, 0.3)):
        gain = qerror.clamping_gain(dist, d, A, 4, model="aciq")
        _close(gain, qerror.truncation_error(dist, A, 4, model="aciq"), atol=1e-300)
    for A, d, b in ((0.5, 0.9, 2), (0.9, 1.3, 3), (0.3, 2.0, 4)):
        assert qerror.clamping_gain(dist, d, A, b, model="exact") >= 0.0


# ------------------------------------------------------------------------- rendering


def test_to_latex():
    assert S.to_latex(S.optimal_alpha("laplace")) == r"s W\left(3 \cdot 4^{b}\right)"
    block = S.to_latex(S.lemma1_difference())
    assert block.startswith("\\begin{aligned}")
    assert block.count("\\\\") == len(S.lemma1_difference().steps) - 1
    assert r"\ge" in block
    assert S.to_latex(S.errata()[0].steps[0]).count("=") == 1
    with pytest.raises(TypeError):
        S.to_latex(3.0)


def test_lambdify_broadcasts():
    g = _lam(S.aciq_mse("norm"), "alpha", "bits", "scale")
    out = g(np.array([1.0, 2.0, 3.0]), 4, 1.0)
    assert out.shape == (3,)
    np.testing.assert_allclose(out, qerror.mse(stats.norm(), [1.0, 2.0, 3.0], 4,
                                               model="aciq"), rtol=RTOL)
    assert isinstance(g(1.0, 4, 1.0), float)
