r"""Checks of the supplement's Section 9.2: Lemma 1, Lemma 2 and the theorem.

The supplement (Park et al., Section 9.2) proves that a clamped weight
:math:`W' = \mathrm{clip}(W, -d, d)` is quantized with less error than :math:`W`:

Lemma 1 (Eq. 8)
    For :math:`A < d`, :math:`E_W(A) \ge E_{W'}(A)`: at the same boundary the clamped
    law has the smaller error.
Lemma 2
    :math:`E_{W'}(A) \ge E_{W'}(\alpha')` for every :math:`A`, where :math:`\alpha'`
    minimises :math:`E_{W'}`.
Theorem
    :math:`\min_\alpha E_{W'}(\alpha) \le \min_\alpha E_W(\alpha)`.

It argues in the ACIQ model (Eqs. 4 and 7), for a law symmetric about 0, on the
midrise grid and for :math:`A < d` only.  This module tests each claim on a given
:class:`Case` (one law, clamp bound, boundary, bit-width, model and grid) and reports
whether it holds there, by how much, and whether the case lies inside the conditions
the supplement states.  :func:`run_checks` draws random cases inside and beyond those
conditions (:math:`A \ge d`, the exact quantizer, asymmetric laws, the midtread and
unsigned grids), shrinks every counterexample it finds, re-checks the known
counterexamples and returns a :class:`Report`; ``qerror verify`` prints it, and
``tests/test_proofs.py`` drives the same functions with hypothesis.

What is true (see ``docs/proofs.md`` for the numbers):

* ACIQ model: Lemma 1 holds for *every* :math:`A` and :math:`d`, every law and grid,
  and even pointwise: :math:`\mathrm{dist}(w', R) \le \mathrm{dist}(w, R)` for the range
  :math:`R`, since clipping at :math:`\pm d` moves a value towards :math:`R`.  So the
  theorem holds for every law in the ACIQ model.
* Exact quantizer: Lemma 1 holds pointwise whenever :math:`d` is at or beyond the
  outermost level :math:`c` (:math:`c = A - \Delta/2` midrise, :math:`A` midtread),
  which includes :math:`A < d`; for :math:`d < c` it fails pointwise (a value
  :math:`w > d` on a level has error 0, :math:`d` usually does not) and can fail in
  expectation.
* Eq. 8's symmetric form :math:`2\int_d^\infty f(x)((x-A)^2-(d-A)^2)dx` is the
  difference only for a symmetric law (and :math:`A < d`).

The checks live in :mod:`qerror.proofs.lemmas` (cases, claims, one check per claim, the
known counterexamples) and the random search in :mod:`qerror.proofs.search`
(:func:`run_checks`, :func:`shrink` and their result types); both are re-exported here.
"""

from __future__ import annotations

# CLOSED_FORM, MIN_TAIL_HITS, RTOL, SYMMETRIC_FAMILIES, Z_BOUND and Claim are not in
# __all__ but were module-level names of the former single module: still importable
from .lemmas import (
    CLAIMS,
    CLOSED_FORM,  # noqa: F401
    MIN_TAIL_HITS,  # noqa: F401
    RTOL,  # noqa: F401
    SYMMETRIC_FAMILIES,  # noqa: F401
    Z_BOUND,  # noqa: F401
    Case,
    CheckResult,
    Claim,  # noqa: F401
    check_eq8,
    check_lemma1,
    check_lemma1_samples,
    check_lemma2,
    check_monte_carlo,
    check_theorem,
    known_counterexamples,
)
from .search import ClaimSummary, Report, run_checks, shrink

__all__ = [
    "CLAIMS",
    "Case",
    "CheckResult",
    "ClaimSummary",
    "Report",
    "check_eq8",
    "check_lemma1",
    "check_lemma1_samples",
    "check_lemma2",
    "check_monte_carlo",
    "check_theorem",
    "known_counterexamples",
    "run_checks",
    "shrink",
]
