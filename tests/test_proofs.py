"""Property tests of the supplement's Lemma 1, Lemma 2 and theorem (Section 9.2), and
the pinned counterexamples where a claim stops holding.

The claims are checked by the functions of :mod:`qerror.proofs` (shared with
``qerror verify``).  Findings (``docs/proofs.md`` has the numbers):

* ACIQ model: Lemma 1 holds for every A and d (also A >= d), every law (also
  asymmetric) and every grid, and pointwise on samples.  So does the theorem.
* Exact quantizer: Lemma 1 holds, pointwise, as long as d reaches the outermost level
  c (c = A - Delta/2 midrise, A midtread, A - Delta/2 unsigned); this includes A < d.
  Below that it fails pointwise and can fail in expectation (pinned counterexamples).
* Eq. 8's symmetric form is the difference only for symmetric laws; for any law the
  difference is the same integral against f(x) + f(-x).
* Lemma 2 holds wherever the solver certifies its optimum.
* Exact-quantizer theorem: no counterexample (also where alpha* >= d, which the
  supplement's argument does not cover), over closed-form laws, shifts, grids and
  bits 1-8.

Statistical band of the Monte-Carlo checks: see ``qerror.proofs.check_monte_carlo``
(|z| <= 5; at most ~100 comparisons here in the "ci" profile, false-alarm probability
about 6e-5 per run, fixed seeds).
"""

import json
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

import qerror
from qerror.cli import main
from qerror.proofs import (
    CLAIMS,
    Case,
    check_eq8,
    check_lemma1,
    check_lemma1_samples,
    check_lemma2,
    check_monte_carlo,
    check_theorem,
    known_counterexamples,
    run_checks,
    shrink,
)

GRIDS = ["midrise", "midtread", "unsigned"]
CLOSED = ["norm", "laplace", "uniform"]
# (family, shapes); the quadrature families are slow in the exact model beyond ~2^10
# cells and in the exact solver, so they appear where that cost is bounded
ALL_LAWS = [("norm", ()), ("laplace", ()), ("uniform", ()), ("logistic", ()),
            ("t", (5.0,)), ("gennorm", (1.5,)), ("skewnorm", (4.0,))]
SYMMETRIC_LAWS = [law for law in ALL_LAWS if law[0] != "skewnorm"]

laws = st.sampled_from(ALL_LAWS)
scales = st.floats(0.2, 5.0)
locs = st.one_of(st.just(0.0), st.floats(-1.5, 1.5))


def _bits(draw_bits, grid, family, model):
    b = max(draw_bits, 2) if grid == "midtread" else draw_bits
    if model == "exact" and family not in CLOSED:
        b = min(b, 10)
    return b


def _outer_level(alpha, bits, grid):
    """The largest level of the grid: everything above it is quantized to it."""
    return qerror.quantize(1e300, alpha, bits, grid=grid)


# ============================================================================ Lemma 1
@settings(max_examples=40)
@given(law=laws, loc=locs, scale=scales, d=st.floats(0.05, 5.0), a=st.floats(0.05, 8.0),
       bits=st.integers(1, 16), grid=st.sampled_from(GRIDS))
def test_lemma1_aciq_holds_for_every_boundary_law_and_grid(law, loc, scale, d, a, bits,
                                                          grid):
    # beyond the stated A < d, symmetric law, midrise: still true (pointwise argument)
    case = Case(law[0], law[1], loc * scale, scale, d * scale, a * scale,
                _bits(bits, grid, law[0], "aciq"), "aciq", grid)
    r = check_lemma1(case)
    assert r.holds, str(r)


@settings(max_examples=40)
@given(law=laws, loc=locs, scale=scales, d=st.floats(0.05, 5.0),
       frac=st.floats(0.01, 1.0), bits=st.integers(1, 16), grid=st.sampled_from(GRIDS))
def test_lemma1_exact_holds_while_d_reaches_the_outer_level(law, loc, scale, d, frac,
                                                           bits, grid):
    # exact quantizer: holds whenever d >= outermost level c, i.e. A <= d / (1 - 2^-b)
    # midrise, A <= d midtread, A <= d / (1 - 2^-(b+1)) unsigned; this covers A < d
    bits = _bits(bits, grid, law[0], "exact")
    a_max = {"midrise": d / (1 - 2.0**-bits), "midtread": d,
             "unsigned": d / (1 - 2.0 ** -(bits + 1))}[grid]
    a = frac * a_max
    assume(_outer_level(a * scale, bits, grid) <= d * scale)
    case = Case(law[0], law[1], loc * scale, scale, d * scale, a * scale, bits, "exact",
                grid)
    r = check_lemma1(case)
    assert r.holds, str(r)


# the smallest counterexamples hypothesis found (tests/test_proofs.py history and
# docs/proofs.md): (case, E_W(A), E_W'(A))
LEMMA1_EXACT_COUNTEREXAMPLES = [
    # 1 bit, levels +-1: the clamped law sits far below the level
    (Case("norm", d=0.25, alpha=2.0, bits=1, model="exact"),
     2.0 - 2.0 * math.sqrt(2.0 / math.pi), 0.6038499735426472),
    # uniform on [-1, 1]: 1/3 against 5/12
    (Case("uniform", d=0.5, alpha=2.0, bits=1, model="exact"), 1.0 / 3.0, 5.0 / 12.0),
    # Laplace: E_W = 13/4, the gap is exactly 1/e
    (Case("laplace", d=1.0, alpha=5.0, bits=1, model="exact"), 3.25, 3.25 + math.exp(-1)),
    # midtread: levels -2, 0, 2; d = 1 is a tie (rounds to even: 0)
    (Case("norm", d=1.0, alpha=2.0, bits=2, model="exact", grid="midtread"),
     0.33347623529850945, 0.5160585509617133),
    # unsigned grid, asymmetric law (no counterexample found for symmetric laws)
    (Case("norm", loc=1.0, d=1.0, alpha=7.0, bits=1, model="exact", grid="unsigned"),
     1.5484710397461026, 1.6084458294950659),
    # the errata page's example (d on a threshold)
    (Case("norm", d=1.0, alpha=2.0, bits=2, model="exact"),
     0.1188535568, 0.1348049313),
]


@pytest.mark.parametrize("case, e_w, e_c", LEMMA1_EXACT_COUNTEREXAMPLES,
                         ids=lambda v: str(v) if isinstance(v, Case) else "")
def test_lemma1_exact_fails_when_d_is_below_the_outer_level(case, e_w, e_c):
    r = check_lemma1(case)
    assert r.holds is False and not r.in_scope
    assert r.larger == pytest.approx(e_w, rel=1e-9)
    assert r.smaller == pytest.approx(e_c, rel=1e-9)
    assert r.margin == pytest.approx(e_w - e_c, rel=1e-8)
    assert _outer_level(case.alpha, case.bits, case.grid) > case.d
    # the two errors really differ that way: Monte Carlo on common draws agrees
    s = check_lemma1_samples(case, n=100_000, seed=1)
    assert s.extra["mean_gap"] < -10 * s.extra["gap_stderr"]


def test_lemma1_gain_is_the_difference_of_the_two_errors():
    for case in [Case("norm", d=1.5, alpha=1.0, bits=3),
                 Case("laplace", loc=0.3, d=1.0, alpha=2.5, bits=5, model="exact",
                      grid="midtread"),
                 Case("t", (5.0,), d=2.0, alpha=1.2, bits=4, model="exact"),
                 Case("uniform", d=0.7, alpha=0.4, bits=2, grid="unsigned")]:
        e_w = qerror.mse(case.dist, case.alpha, case.bits, model=case.model,
                         grid=case.grid)
        e_c = qerror.mse(case.clamped, case.alpha, case.bits, model=case.model,
                         grid=case.grid)
        assert check_lemma1(case).margin == pytest.approx(e_w - e_c, rel=1e-9, abs=1e-15)


# --------------------------------------------------------------- Lemma 1 pointwise
@settings(max_examples=25)
@given(law=laws, loc=locs, d=st.floats(0.05, 4.0), a=st.floats(0.05, 6.0),
       bits=st.integers(1, 16), grid=st.sampled_from(GRIDS), seed=st.integers(0, 1000))
def test_lemma1_pointwise_aciq_on_every_draw(law, loc, d, a, bits, grid, seed):
    # ACIQ: clipping at +-d moves every value towards the range, so the squared
    # distance to the range never grows: no draw violates, for any A, d, law, grid
    case = Case(law[0], law[1], loc, 1.0, d, a, _bits(bits, grid, law[0], "aciq"),
                "aciq", grid)
    r = check_lemma1_samples(case, n=20_000, seed=seed)
    assert r.holds and r.extra["violations"] == 0, str(r)
    # Monte Carlo on the same draws (simulate_mse, common random numbers)
    assert r.extra["mc_clamped"] <= r.extra["mc_unclamped"]


@settings(max_examples=30)
@given(law=laws, loc=locs, d=st.floats(0.05, 4.0), a=st.floats(0.05, 6.0),
       bits=st.integers(1, 12), grid=st.sampled_from(GRIDS), seed=st.integers(0, 1000))
def test_lemma1_pointwise_exact_iff_d_reaches_the_outer_level(law, loc, d, a, bits, grid,
                                                             seed):
    # exact quantizer, pointwise: holds for every draw iff d >= the outermost level c
    # (or d is itself a level); otherwise the draw w = c violates it: e(c) = 0 < e(d)
    bits = _bits(bits, grid, law[0], "exact")
    case = Case(law[0], law[1], loc, 1.0, d, a, bits, "exact", grid)
    c = _outer_level(a, bits, grid)
    if c <= d:
        r = check_lemma1_samples(case, n=20_000, seed=seed)
        assert r.holds and r.extra["violations"] == 0, str(r)
        assert r.extra["mc_clamped"] <= r.extra["mc_unclamped"]
    else:
        q_d = qerror.quantize(d, a, bits, grid=grid)
        assume(q_d != d)
        assert (c - qerror.quantize(c, a, bits, grid=grid)) ** 2 == 0.0
        assert (d - q_d) ** 2 > 0.0


def test_lemma1_pointwise_fails_on_samples_pinned():
    case = Case("norm", d=0.25, alpha=2.0, bits=1, model="exact")
    r = check_lemma1_samples(case, n=100_000, seed=0)
    assert r.holds is False
    # violated exactly by the draws with 0.25 < |w| < 1.75 (nearer to a level +-1 than
    # d = 0.25 is): probability 2 (Phi(1.75) - Phi(0.25)) = 0.7225
    p = 2 * (stats.norm.cdf(1.75) - stats.norm.cdf(0.25))
    assert abs(r.extra["violations"] / 100_000 - p) < 5 * math.sqrt(p * (1 - p) / 100_000)
    assert r.extra["mean_gap"] == pytest.approx(-0.1996, abs=5 * r.extra["gap_stderr"])


# -------------------------------------------------------------------------- Eq. 8
@settings(max_examples=20)
@given(law=st.sampled_from(SYMMETRIC_LAWS), scale=scales, d=st.floats(0.1, 5.0),
       frac=st.floats(0.01, 0.99))
def test_lemma1_eq8_symmetric_form_for_symmetric_laws(law, scale, d, frac):
    case = Case(law[0], law[1], 0.0, scale, d * scale, frac * d * scale)
    r = check_eq8(case)
    assert r.holds and r.in_scope, str(r)


@settings(max_examples=15)
@given(law=laws, loc=locs, d=st.floats(0.1, 4.0), frac=st.floats(0.01, 0.99))
def test_lemma1_eq8_general_form_for_any_law(law, loc, d, frac):
    # the difference depends on the law of |W| only: integrate f(x) + f(-x)
    case = Case(law[0], law[1], loc, 1.0, d, frac * d)
    A, dist = case.alpha, case.dist
    val = integrate.quad(lambda x: (dist.pdf(x) + dist.pdf(-x)) * ((x - A) ** 2
                                                                   - (d - A) ** 2),
                         d, np.inf, epsabs=0.0, epsrel=1e-12, limit=200)[0]
    gain = qerror.clamping_gain(dist, d, A, 4, model="aciq")
    assert val == pytest.approx(gain, rel=1e-7, abs=1e-14)


@pytest.mark.parametrize("case, formula, true", [
    # skewnorm(a): |W| is half-normal for every a, so the difference is the normal one
    (Case("skewnorm", shapes=(1.0,), d=1.0, alpha=0.5), 0.6126311254562636,
     0.31731050786291415),
    (Case("norm", loc=1.0, d=2.0, alpha=1.0), 0.48394144903828673, 0.24293846823372572),
])
def test_lemma1_eq8_fails_for_asymmetric_laws(case, formula, true):
    r = check_eq8(case)
    assert r.holds is False and not r.in_scope
    assert r.smaller == pytest.approx(formula, rel=1e-9)
    assert r.larger == pytest.approx(true, rel=1e-9)
    # ... while Lemma 1 itself still holds there
    assert check_lemma1(case).holds


# ============================================================================ Lemma 2
@settings(max_examples=30)
@given(family=st.sampled_from(CLOSED), loc=locs, scale=scales, d=st.floats(0.1, 5.0),
       a=st.floats(0.01, 10.0), bits=st.integers(1, 16), grid=st.sampled_from(GRIDS))
def test_lemma2_aciq_optimum_beats_every_boundary(family, loc, scale, d, a, bits, grid):
    case = Case(family, (), loc * scale, scale, d * scale, a * scale,
                _bits(bits, grid, family, "aciq"), "aciq", grid)
    r = check_lemma2(case)
    assert r.holds, str(r)


@settings(max_examples=25)
@given(family=st.sampled_from(CLOSED), loc=locs, d=st.floats(0.1, 5.0),
       a=st.floats(0.01, 8.0), bits=st.integers(1, 10), grid=st.sampled_from(GRIDS))
def test_lemma2_exact_optimum_beats_every_boundary(family, loc, d, a, bits, grid):
    case = Case(family, (), loc, 1.0, d, a, _bits(bits, grid, family, "exact"), "exact",
                grid)
    r = check_lemma2(case)
    assume(r.holds is not None)  # the solver certified its optimum
    assert r.holds, str(r)


def test_lemma2_with_quadrature_laws():
    for law in [("t", (5.0,)), ("logistic", ()), ("gennorm", (1.5,)), ("skewnorm", (4.0,))]:
        for a in (0.3, 1.4, 2.5):
            r = check_lemma2(Case(law[0], law[1], d=2.0, alpha=a, bits=4))
            assert r.holds, str(r)


# ============================================================================ theorem
@settings(max_examples=30)
@given(family=st.sampled_from(CLOSED), loc=locs, scale=scales, d=st.floats(0.05, 6.0),
       bits=st.integers(1, 16), grid=st.sampled_from(GRIDS))
def test_theorem_aciq(family, loc, scale, d, bits, grid):
    case = Case(family, (), loc * scale, scale, d * scale, None,
                _bits(bits, grid, family, "aciq"), "aciq", grid)
    r = check_theorem(case)
    assume(r.holds is not None)
    assert r.holds, str(r)


@pytest.mark.parametrize("law", [("t", (5.0,)), ("logistic", ()), ("skewnorm", (4.0,))])
def test_theorem_aciq_quadrature_laws(law):
    for d in (0.8, 2.5):
        r = check_theorem(Case(law[0], law[1], d=d, bits=3))
        assert r.holds, str(r)


@settings(max_examples=30)
@given(family=st.sampled_from(CLOSED), loc=locs, frac=st.floats(0.3, 1.5),
       bits=st.integers(1, 8), grid=st.sampled_from(GRIDS))
def test_theorem_exact_also_where_the_proof_does_not_apply(family, loc, frac, bits, grid):
    # d = frac * alpha*: mostly alpha* >= d, where Lemma 1 at alpha* is not available
    bits = _bits(bits, grid, family, "exact")
    base = Case(family, (), loc, 1.0, None, None, bits, "exact", grid)
    a_star = qerror.optimal_alpha(base.dist, bits, grid=grid).alpha
    case = Case(family, (), loc, 1.0, max(frac * a_star, 1e-3), None, bits, "exact", grid)
    r = check_theorem(case)
    assume(r.holds is not None)  # degenerate laws (optimum at alpha -> 0) are skipped
    assert r.holds, str(r)


# ===================================================================== Monte Carlo
@settings(max_examples=15)
@given(law=laws, loc=locs, scale=scales, d=st.one_of(st.none(), st.floats(0.2, 4.0)),
       a=st.floats(0.05, 6.0), bits=st.integers(1, 16), grid=st.sampled_from(GRIDS),
       model=st.sampled_from(["exact", "aciq"]), seed=st.integers(0, 2**31))
def test_engine_agrees_with_monte_carlo(law, loc, scale, d, a, bits, grid, model, seed):
    case = Case(law[0], law[1], loc * scale, scale, None if d is None else d * scale,
                a * scale, _bits(bits, grid, law[0], model), model, grid)
    r = check_monte_carlo(case, n=100_000, seed=seed)
    assert r.holds, str(r)


# ===================================================== counterexamples, report, CLI
def test_known_counterexamples_still_fail():
    for claim, case, fn in known_counterexamples():
        r = fn(case)
        assert r.claim == claim and r.holds is False and not r.in_scope, str(r)


def test_shrink_reaches_a_small_counterexample():
    big = Case("norm", scale=1.7, d=0.634 * 1.7, alpha=2.345 * 1.7, bits=3, model="exact")
    assert check_lemma1(big).holds is False
    r = shrink("lemma1", big)
    assert r.holds is False
    assert r.case.bits == 1 and r.case.scale == 1.0
    assert len(f"{r.case.d:g}") <= 4 and len(f"{r.case.alpha:g}") <= 4


def test_run_checks_report():
    rep = run_checks(budget=3, seed=2, n_samples=5_000)
    assert rep.ok, rep.format()
    assert [c.claim for c in rep.claims] == list(CLAIMS)
    assert all(c.cases == 3 and c.failures_in_scope == 0 for c in rep.claims)
    text = rep.format(verbose=True)
    for key in CLAIMS:
        assert f"[{key}]" in text
    assert "known counterexamples" in text and "reproduces" in text
    # same seed, same cases
    again = run_checks(budget=3, seed=2, n_samples=5_000, claims=["lemma1"])
    assert again.claims[0].by_tags == rep.claims[0].by_tags
    with pytest.raises(ValueError, match="claim"):
        run_checks(budget=1, claims=["lemma3"])
    with pytest.raises(ValueError, match="budget"):
        run_checks(budget=0)


def test_cli_verify(capsys):
    code = main(["verify", "--budget", "2", "--claims", "lemma1", "theorem", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert "[lemma1]" in out and "[theorem]" in out and "result: OK" in out
    code = main(["verify", "--budget", "1", "--claims", "lemma2", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["ok"] and data["claims"][0]["claim"] == "lemma2"
    assert all(k["holds"] is False for k in data["known"])
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    assert "Lemma 1" in capsys.readouterr().out
