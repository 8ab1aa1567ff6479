"""``qerror verify``: test the supplement's Lemma 1, Lemma 2 and theorem.

Runs :func:`qerror.proofs.run_checks`: random cases inside and beyond the conditions
the supplement states (A < d, symmetric law, ACIQ model, midrise grid), the known
counterexamples, and prints a report of the claims, the cases tried and the smallest
counterexample of each claim.  Exit status 0 when nothing contradicts a claim within
its stated conditions and every known counterexample still reproduces, 1 otherwise.
"""

from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    from qerror.proofs import CLAIMS

    p = subparsers.add_parser(
        "verify",
        help="check Lemma 1, Lemma 2 and the theorem of the supplement on random cases",
        description=(
            "Test the supplement's Section 9.2 claims (Lemma 1: clamping lowers the "
            "error at a fixed boundary; Lemma 2: the optimal boundary of the clamped law; "
            "the theorem: the clamped law's optimal error is no larger) on BUDGET random "
            "cases per claim, inside and beyond the stated conditions (A >= d, the exact "
            "quantizer, asymmetric laws, the midtread and unsigned grids), plus the "
            "engine against Monte Carlo.  Counterexamples are shrunk to the smallest "
            "failing case.  Exit status 1 if a claim fails within its stated "
            "conditions or a known counterexample no longer reproduces."
        ),
        epilog="claims: " + ", ".join(CLAIMS),
    )
    p.add_argument("--budget", type=int, default=20, metavar="N",
                   help="random cases per claim (default 20)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the random cases (default 0)")
    p.add_argument("--claims", nargs="+", default=None, metavar="CLAIM",
                   choices=list(CLAIMS), help="check only these claims (default: all)")
    p.add_argument("--samples", type=int, default=100_000, metavar="N",
                   help="Monte-Carlo draws per case for the sample-based checks "
                   "(default 100000)")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="show the case counts by condition for every claim")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress on stderr")
    p.set_defaults(func=run)


def _progress(stream):
    state = {"claim": None}

    def show(claim, i, budget):
        if claim != state["claim"]:
            if state["claim"] is not None:
                stream.write("\n")
            state["claim"] = claim
        stream.write(f"\r  {claim}: {i}/{budget}")
        if i == budget:
            stream.write("\n")
            state["claim"] = None
        stream.flush()

    return show


def _as_json(report) -> dict:
    def case(c):
        return dict(family=c.family, shapes=list(c.shapes), loc=c.loc, scale=c.scale,
                    d=c.d, alpha=c.alpha, bits=c.bits, model=c.model, grid=c.grid,
                    text=str(c))

    def check(r):
        return None if r is None else dict(claim=r.claim, case=case(r.case),
                                           holds=r.holds, margin=r.margin, tol=r.tol,
                                           in_scope=r.in_scope, detail=r.detail)

    return dict(
        budget=report.budget, seed=report.seed, ok=report.ok, seconds=report.seconds,
        claims=[dict(claim=c.claim, statement=c.statement, conditions=c.conditions,
                     cases=c.cases, in_scope=c.in_scope,
                     failures_in_scope=c.failures_in_scope,
                     failures_beyond=c.failures_beyond, inconclusive=c.inconclusive,
                     by_tags=[dict(tags=list(t), cases=n, failures=f)
                              for t, (n, f) in sorted(c.by_tags.items())],
                     counterexample=check(c.counterexample), verdict=c.verdict)
                for c in report.claims],
        known=[check(k) for k in report.known],
    )


def run(args) -> int:
    from qerror.proofs import run_checks

    if args.budget < 1:
        raise SystemExit("qerror verify: --budget must be at least 1")
    if args.samples < 2:
        raise SystemExit("qerror verify: --samples must be at least 2")
    if args.seed < 0:
        raise SystemExit("qerror verify: --seed must be non-negative")
    show = None if (args.quiet or args.json or not sys.stderr.isatty()) else \
        _progress(sys.stderr)
    report = run_checks(args.budget, args.seed, claims=args.claims,
                        n_samples=args.samples, progress=show)
    if args.json:
        print(json.dumps(_as_json(report), indent=2))
    else:
        print(report.format(verbose=args.verbose))
    return 0 if report.ok else 1
