"""The random search over cases: :func:`run_checks` tests every claim on random cases
inside and beyond the supplement's stated conditions, :func:`shrink` reduces each
counterexample, and :class:`ClaimSummary` / :class:`Report` hold the findings
(``qerror verify`` prints the report).  Re-exported by :mod:`qerror.proofs`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from .._validation import check_count
from ..formats import INTEGER_GRIDS, MIDRISE, get_format
from ._common import _fmt
from .lemmas import (
    CLAIMS,
    CLOSED_FORM,
    SYMMETRIC_FAMILIES,
    Case,
    CheckResult,
    check_eq8,
    check_lemma1,
    check_lemma1_samples,
    check_lemma2,
    check_monte_carlo,
    check_theorem,
    known_counterexamples,
)

__all__ = ["ClaimSummary", "Report", "run_checks", "shrink"]


# --------------------------------------------------------------------- random search
_CHECKS = {
    "lemma1": check_lemma1,
    "lemma1.pointwise": check_lemma1_samples,
    "lemma1.eq8": check_eq8,
    "lemma2": check_lemma2,
    "theorem": check_theorem,
    "engine.montecarlo": check_monte_carlo,
}

# (family, shapes) pools; the slow quadrature families only where the cost is bounded
_ALL_FAMILIES = [("norm", ()), ("laplace", ()), ("uniform", ()), ("logistic", ()),
                 ("t", (5.0,)), ("gennorm", (1.5,)), ("skewnorm", (4.0,))]
_FAST_FAMILIES = [("norm", ()), ("laplace", ()), ("uniform", ())]


def _random_case(rng: np.random.Generator, claim: str) -> Case:
    """A random case for `claim`, about half of them inside the stated conditions."""
    inside = rng.random() < 0.4
    pool = _FAST_FAMILIES if claim in ("lemma2", "theorem") else _ALL_FAMILIES
    if inside:
        pool = [p for p in pool if p[0] in SYMMETRIC_FAMILIES]
    family, shapes = pool[rng.integers(len(pool))]
    asym_loc = family != "skewnorm" and not inside and rng.random() < 0.3
    loc = float(np.round(rng.uniform(-1.0, 1.0), 2)) if asym_loc else 0.0
    scale = float(np.round(np.exp(rng.uniform(-1.0, 1.0)), 3))
    model = "aciq" if inside or rng.random() < 0.4 else "exact"
    grid = MIDRISE.name if inside else str(rng.choice([f.name for f in INTEGER_GRIDS]))
    slow = family not in CLOSED_FORM
    hi_bits = 8 if (model == "exact" and (slow or claim in ("lemma2", "theorem"))) else 16
    bits = int(rng.integers(get_format(grid).min_bits, hi_bits + 1))
    d = float(np.round(scale * rng.uniform(0.2, 4.0), 3))
    if claim in ("lemma1", "lemma1.pointwise", "lemma1.eq8", "lemma2"):
        frac = rng.uniform(0.1, 0.999) if inside or rng.random() < 0.4 else \
            rng.uniform(1.0, 3.0)
        alpha = float(np.round(d * frac, 3)) or d * 0.5
        if inside and alpha >= d:
            alpha = d * 0.5
    else:
        alpha = float(np.round(scale * rng.uniform(0.5, 4.0), 3))
    if claim == "theorem":
        alpha = None
    if claim == "lemma1.eq8":  # the ACIQ truncation is the same on symmetric grids
        model, bits, grid = "aciq", 4, MIDRISE.name
    return Case(family, shapes, loc, scale, d, alpha, bits, model, grid)


def _complexity(case: Case):
    digits = sum(len(_fmt(v).replace("-", "").replace(".", "").lstrip("0"))
                 for v in (case.loc, case.scale, case.d or 0.0, case.alpha or 0.0))
    return (case.bits, case.family not in CLOSED_FORM, case.grid != MIDRISE.name,
            case.model != "aciq", case.scale != 1.0, case.loc != 0.0, digits,
            abs(case.loc), case.d or 0.0)


def _round_sig(x: float, sig: int) -> float:
    if x == 0.0:
        return 0.0
    return float(f"{x:.{sig}g}")


def shrink(claim: str, case: Case, *, max_evals: int = 60, check=None) -> CheckResult:
    """Greedy shrink of a failing `case`: fewer bits, rounder numbers, unit scale.

    Tries, in turn, smaller bit-widths, ``scale = 1`` (with ``loc``, ``d`` and
    ``alpha`` divided by the old scale: the claims are scale invariant), ``loc`` and
    the boundaries rounded to 1-3 significant digits, keeping each change under which
    the claim still fails.  Returns the check of the smallest failing case.
    """
    check = check or _CHECKS[claim]
    best = check(case)
    if best.holds is not False:
        return best
    evals = 1

    def candidates(c: Case):
        lo_bits = get_format(c.grid).min_bits
        for b in range(lo_bits, c.bits):
            yield replace(c, bits=b)
        if c.scale != 1.0:
            s = c.scale
            yield replace(c, scale=1.0, loc=c.loc / s,
                          d=None if c.d is None else c.d / s,
                          alpha=None if c.alpha is None else c.alpha / s)
        for name in ("loc", "d", "alpha"):
            v = getattr(c, name)
            if v is None or v == 0.0:
                continue
            for sig in (1, 2, 3):
                r = _round_sig(v, sig)
                if r != v and (r != 0.0 or name == "loc"):
                    yield replace(c, **{name: r})
            if name == "loc":
                yield replace(c, loc=0.0)

    improved = True
    while improved and evals < max_evals:
        improved = False
        for cand in candidates(best.case):
            if evals >= max_evals:
                break
            if _complexity(cand) >= _complexity(best.case):
                continue
            try:
                res = check(cand)
            except (ValueError, TypeError):
                continue
            evals += 1
            if res.holds is False:
                best = res
                improved = True
                break
    return best


@dataclass(frozen=True)
class ClaimSummary:
    """What :func:`run_checks` found for one claim.

    Attributes
    ----------
    claim : str
    statement, conditions : str
        The claim and the conditions the supplement states for it.
    cases, in_scope : int
        Cases tried, and how many of them satisfied the stated conditions.
    failures_in_scope, failures_beyond, inconclusive : int
    by_tags : dict
        ``{tags: (cases, failures)}`` where ``tags`` names the conditions a case goes
        past (``"A>=d"``, ``"exact"``, ``"asymmetric"``, ``"midtread"``,
        ``"unsigned"``; ``()`` for in-scope cases).
    counterexample : CheckResult or None
        The smallest counterexample found (after shrinking).
    seconds : float
    """

    claim: str
    statement: str
    conditions: str
    cases: int
    in_scope: int
    failures_in_scope: int
    failures_beyond: int
    inconclusive: int
    by_tags: dict
    counterexample: CheckResult | None
    seconds: float

    @property
    def verdict(self) -> str:
        if self.failures_in_scope:
            return "FAILS within the stated conditions"
        if self.failures_beyond:
            bad = sorted(" & ".join(t) for t, (_, f) in self.by_tags.items() if f)
            return "holds as stated; fails beyond the stated conditions (" + \
                "; ".join(bad) + ")"
        return f"no counterexample in {self.cases} cases"


@dataclass(frozen=True)
class Report:
    """Result of :func:`run_checks`.

    Attributes
    ----------
    budget, seed : int
    claims : list of ClaimSummary
    known : list of CheckResult
        The re-checked known counterexamples (:func:`known_counterexamples`); each
        should have ``holds`` False.
    seconds : float
    """

    budget: int
    seed: int
    claims: list
    known: list
    seconds: float

    @property
    def ok(self) -> bool:
        """No counterexample within the stated conditions, and every known
        counterexample still reproduces."""
        return (all(c.failures_in_scope == 0 for c in self.claims)
                and all(k.holds is False for k in self.known))

    def format(self, verbose: bool = False) -> str:
        """A readable multi-line report."""
        lines = [f"qerror verify: {self.budget} random cases per claim, seed {self.seed}, "
                 f"{self.seconds:.1f} s", ""]
        for c in self.claims:
            lines.append(f"[{c.claim}] {c.statement}")
            lines.append(f"  stated conditions: {c.conditions}")
            lines.append(f"  cases: {c.cases} ({c.in_scope} within the stated "
                         f"conditions, {c.cases - c.in_scope} beyond)"
                         + (f", {c.inconclusive} inconclusive" if c.inconclusive else ""))
            if verbose or c.failures_beyond or c.failures_in_scope:
                for tags, (n, f) in sorted(c.by_tags.items()):
                    label = " & ".join(tags) if tags else "within stated conditions"
                    lines.append(f"    {label:<38} {f:>3} / {n:<3} fail")
            lines.append(f"  counterexamples: {c.failures_in_scope} within, "
                         f"{c.failures_beyond} beyond the stated conditions")
            if c.counterexample is not None:
                ce = c.counterexample
                lines.append(f"  smallest counterexample: {ce.case}")
                lines.append(f"    {ce.detail}")
            lines.append(f"  verdict: {c.verdict}")
            lines.append("")
        lines.append("known counterexamples (must still fail):")
        for k in self.known:
            mark = "reproduces" if k.holds is False else "NO LONGER FAILS"
            lines.append(f"  [{k.claim}] {k.case}: {mark}")
            lines.append(f"    {k.detail}")
        lines.append("")
        lines.append("result: " + ("OK, no counterexample within the supplement's stated "
                                   "conditions" if self.ok else "PROBLEM: see above"))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def run_checks(budget: int = 20, seed: int = 0, *, claims=None, n_samples: int = 100_000,
               progress=None) -> Report:
    """Test every claim on `budget` random cases, shrink counterexamples, report.

    Parameters
    ----------
    budget : int
        Random cases per claim (at least 1).
    seed : int
        Seed of ``numpy.random.default_rng``; each claim gets its own child stream,
        so the cases of one claim do not depend on which other claims run.
    claims : iterable of str, optional
        Keys of :data:`CLAIMS` (default: all).
    n_samples : int
        Draws per case for the sample-based checks.
    progress : callable, optional
        Called as ``progress(claim, i, budget)`` after each case.

    Returns
    -------
    Report
    """
    budget = check_count(budget, "budget", 1, 10**6)
    n_samples = check_count(n_samples, "n_samples", 2, 10**9)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) \
            or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    keys = list(CLAIMS) if claims is None else list(claims)
    for k in keys:
        if k not in CLAIMS:
            raise ValueError(f"unknown claim {k!r}; choose from {sorted(CLAIMS)}")
    t0 = time.perf_counter()
    children = np.random.SeedSequence(int(seed)).spawn(len(CLAIMS))
    streams = dict(zip(CLAIMS, children, strict=True))
    summaries = []
    for key in keys:
        rng = np.random.default_rng(streams[key])
        t1 = time.perf_counter()
        results = []
        for i in range(budget):
            case = _random_case(rng, key)
            if key in ("lemma1.pointwise", "engine.montecarlo"):
                res = _CHECKS[key](case, n=n_samples, seed=int(rng.integers(2**31)))
            else:
                res = _CHECKS[key](case)
            results.append(res)
            if progress is not None:
                progress(key, i + 1, budget)
        by_tags: dict = {}
        for r in results:
            n, f = by_tags.get(r.case.tags(), (0, 0))
            by_tags[r.case.tags()] = (n + 1, f + (r.holds is False))
        fails = [r for r in results if r.holds is False]
        ce = None
        if fails:
            first = min(fails, key=lambda r: _complexity(r.case))
            if key == "engine.montecarlo":
                ce = first  # an engine bug: reported as found
            elif key == "lemma1.pointwise":
                ce = shrink(key, first.case, check=lambda c: check_lemma1_samples(
                    c, n=n_samples, seed=int(seed)))
            else:
                ce = shrink(key, first.case)
        summaries.append(ClaimSummary(
            key, CLAIMS[key].statement, CLAIMS[key].conditions, len(results),
            sum(r.in_scope for r in results),
            sum(r.holds is False and r.in_scope for r in results),
            sum(r.holds is False and not r.in_scope for r in results),
            sum(r.holds is None for r in results), by_tags, ce,
            time.perf_counter() - t1))
    known = [fn(case) for _, case, fn in known_counterexamples()]
    return Report(budget, int(seed), summaries, known, time.perf_counter() - t0)
