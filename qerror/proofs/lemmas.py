r"""The supplement's claims and one check per claim, on one :class:`Case` at a time.

:class:`Case` (a law, a clamp bound, a boundary, a bit-width, model and grid),
:data:`CLAIMS`, the checks :func:`check_lemma1`, :func:`check_lemma1_samples`,
:func:`check_eq8`, :func:`check_lemma2`, :func:`check_theorem` and
:func:`check_monte_carlo`, each returning a :class:`CheckResult`, and the pinned
:func:`known_counterexamples`.  Re-exported by :mod:`qerror.proofs`, whose docstring
says what is true.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import integrate, stats

from ..error import clamping_gain, error_parts, mse
from ..formats import MIDRISE, MIDTREAD, UNSIGNED, get_format
from ..laws.clamped import clamp
from ..montecarlo import simulate_mse
from ..optimal import optimal_alpha
from ..quantizer import quantize
from ._common import _fmt

__all__ = [
    "CLAIMS",
    "Case",
    "CheckResult",
    "check_eq8",
    "check_lemma1",
    "check_lemma1_samples",
    "check_lemma2",
    "check_monte_carlo",
    "check_theorem",
    "known_counterexamples",
]

#: families symmetric about their location (``Case.loc``)
SYMMETRIC_FAMILIES = frozenset({"norm", "laplace", "uniform", "logistic", "t", "gennorm",
                                "cauchy"})
#: families with closed-form partial moments (fast in every model and bit-width)
CLOSED_FORM = ("norm", "laplace", "uniform")

#: relative slack for comparisons of two numerically computed errors: the engine is
#: accurate to about 1e-12 relative (closed forms) and 1e-9 (quadrature); the
#: solvers' optima to about 1e-12 relative in the error
RTOL = 1e-9
#: Monte-Carlo band, see ``check_monte_carlo``
Z_BOUND = 5.0


# ----------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
    r"""One test case: a law, a clamp bound, a boundary, a bit-width, model and grid.

    The law is ``family`` centred at ``loc`` with scale ``scale`` (scipy's
    ``getattr(stats, family)(*shapes, loc=loc, scale=scale)``), except
    ``"uniform"``, which is uniform on :math:`[loc - scale, loc + scale]`.

    Attributes
    ----------
    family : str
        A scipy.stats continuous family name (``"norm"``, ``"laplace"``,
        ``"uniform"``, ``"t"``, ``"logistic"``, ``"gennorm"``, ``"skewnorm"``, ...).
    shapes : tuple of float
        Shape parameters (``(5.0,)`` for ``t``).
    loc, scale : float
    d : float or None
        Clamp bound of :math:`W' = \mathrm{clip}(W, -d, d)`.
    alpha : float or None
        The boundary :math:`A` (Lemma 1, Lemma 2); unused by the theorem.
    bits : int
    model : {"aciq", "exact"}
    grid : {"midrise", "midtread", "unsigned"}
    """

    family: str = "norm"
    shapes: tuple = ()
    loc: float = 0.0
    scale: float = 1.0
    d: float | None = None
    alpha: float | None = None
    bits: int = 4
    model: str = "aciq"
    grid: str = MIDRISE.name

    @property
    def dist(self):
        """The unbounded law :math:`W` (a frozen scipy.stats distribution)."""
        fam = getattr(stats, self.family)
        if self.family == "uniform":
            return fam(self.loc - self.scale, 2.0 * self.scale)
        return fam(*self.shapes, loc=self.loc, scale=self.scale)

    @property
    def clamped(self):
        r"""The clamped law :math:`W'` (``qerror.clamp(dist, d)``)."""
        return clamp(self.dist, self.d)

    @property
    def symmetric(self) -> bool:
        """True for a law symmetric about 0."""
        if self.loc != 0.0:
            return False
        if self.family == "skewnorm":
            return bool(self.shapes and self.shapes[0] == 0.0)
        return self.family in SYMMETRIC_FAMILIES

    def law_text(self) -> str:
        args = [_fmt(s) for s in self.shapes]
        if self.loc != 0.0:
            args.append(f"loc={_fmt(self.loc)}")
        if self.scale != 1.0:
            args.append(f"scale={_fmt(self.scale)}")
        if self.family == "uniform":
            return f"uniform[{_fmt(self.loc - self.scale)}, {_fmt(self.loc + self.scale)}]"
        return f"{self.family}({', '.join(args)})"

    def __str__(self) -> str:
        parts = [self.law_text()]
        if self.d is not None:
            parts.append(f"d={_fmt(self.d)}")
        if self.alpha is not None:
            parts.append(f"A={_fmt(self.alpha)}")
        parts += [f"b={self.bits}", self.model, self.grid]
        return ", ".join(parts)

    def tags(self) -> tuple:
        """The ways this case goes past the supplement's stated conditions."""
        out = []
        if self.alpha is not None and self.d is not None and self.alpha >= self.d:
            out.append("A>=d")
        if self.model == "exact":
            out.append("exact")
        if not self.symmetric:
            out.append("asymmetric")
        if self.grid != MIDRISE.name:
            out.append(self.grid)
        return tuple(out)


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one claim on one :class:`Case`.

    Attributes
    ----------
    claim : str
        Key of :data:`CLAIMS`.
    case : Case
    holds : bool or None
        Whether the claim holds on this case; None when the check is inconclusive
        (an optimal-alpha solve that did not certify its optimum).
    smaller, larger : float
        The two sides: the claim says ``smaller <= larger`` (for ``lemma1.eq8`` and
        ``engine.montecarlo``, the two values that must agree).
    margin : float
        ``larger - smaller`` (for the agreement checks: the discrepancy, in its own
        units: absolute for ``lemma1.eq8``, standard errors for the Monte Carlo).
    tol : float
        The claim holds when ``margin >= -tol`` (agreement checks: ``|margin| <= tol``).
    in_scope : bool
        The case satisfies the conditions the supplement states for the claim.
    detail : str
        One line with the numbers.
    extra : dict
        Check-specific numbers (e.g. violation counts on samples).
    """

    claim: str
    case: Case
    holds: bool | None
    smaller: float
    larger: float
    margin: float
    tol: float
    in_scope: bool
    detail: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        verdict = {True: "holds", False: "FAILS", None: "inconclusive"}[self.holds]
        return f"{self.claim} {verdict} on [{self.case}]: {self.detail}"


# ---------------------------------------------------------------------------- claims
@dataclass(frozen=True)
class Claim:
    key: str
    statement: str
    conditions: str


CLAIMS = {
    "lemma1": Claim(
        "lemma1",
        "Lemma 1: E_W(A) >= E_W'(A), the clamped law has the smaller error at the same "
        "boundary A",
        "A < d, law symmetric about 0, ACIQ model (Eqs. 4, 7), midrise grid"),
    "lemma1.pointwise": Claim(
        "lemma1.pointwise",
        "Lemma 1 on samples: (w - Q(w))^2 >= (w' - Q(w'))^2 for every draw w and "
        "w' = clip(w, -d, d) (ACIQ model: squared distance to the range)",
        "A < d, law symmetric about 0, ACIQ model, midrise grid"),
    "lemma1.eq8": Claim(
        "lemma1.eq8",
        "Eq. 8 (corrected): E_W(A) - E_W'(A) = 2 int_d^inf f(x)((x-A)^2 - (d-A)^2) dx",
        "A < d, law symmetric about 0, ACIQ model, midrise grid"),
    "lemma2": Claim(
        "lemma2",
        "Lemma 2: E_W'(A) >= E_W'(alpha') for the optimal alpha' of the clamped law",
        "A < d, law symmetric about 0, ACIQ model, midrise grid"),
    "theorem": Claim(
        "theorem",
        "Theorem: min_alpha E_W'(alpha) <= min_alpha E_W(alpha)",
        "law symmetric about 0, ACIQ model, midrise grid"),
    "engine.montecarlo": Claim(
        "engine.montecarlo",
        f"Engine: qerror.mse agrees with qerror.simulate_mse within {Z_BOUND:g} "
        "standard errors",
        "any law with a finite fourth moment"),
}


def _in_scope(case: Case, claim: str) -> bool:
    tags = set(case.tags())
    if claim == "theorem":
        tags.discard("A>=d")
    if claim == "engine.montecarlo":
        return True
    return not tags


def _tol(*values) -> float:
    scale = max((abs(v) for v in values if np.isfinite(v)), default=0.0)
    return RTOL * scale + 1e-300


# ----------------------------------------------------------------------- the checks
def check_lemma1(case: Case) -> CheckResult:
    r"""Lemma 1 on `case`: :math:`E_W(A) \ge E_{W'}(A)`.

    The margin is :func:`qerror.clamping_gain` (the difference computed directly over
    :math:`|x| > d`, so it stays accurate when both errors are large); the two errors
    are :func:`qerror.mse` of :math:`W'` and that plus the gain.

    Examples
    --------
    >>> from qerror.proofs import Case, check_lemma1
    >>> r = check_lemma1(Case("norm", d=1.0, alpha=2.0, bits=2, model="exact"))
    >>> r.holds, round(r.margin, 6), r.in_scope
    (False, -0.015951, False)
    """
    w, wc = case.dist, case.clamped
    kw = dict(model=case.model, grid=case.grid)
    gain = float(clamping_gain(w, case.d, case.alpha, case.bits, **kw))
    e_c = float(mse(wc, case.alpha, case.bits, **kw))
    e_w = e_c + gain
    tol = _tol(e_w, e_c)
    holds = bool(gain >= -tol)
    detail = f"E_W(A) = {e_w:.10g}, E_W'(A) = {e_c:.10g}, difference {gain:.6g}"
    return CheckResult("lemma1", case, holds, e_c, e_w, gain, tol,
                       _in_scope(case, "lemma1"), detail)


def _sample_errors(x: np.ndarray, case: Case) -> np.ndarray:
    """Per-draw squared error: the quantizer's (exact) or the clipping distance (ACIQ)."""
    if case.model == "exact":
        e = x - quantize(x, case.alpha, case.bits, grid=case.grid)
    else:
        geo = get_format(case.grid).geometry(np.array([case.alpha]), np.array([case.bits]))
        e = x - np.clip(x, float(geo.lo[0]), float(geo.hi[0]))
    return e * e


def check_lemma1_samples(case: Case, *, n: int = 100_000, seed: int = 0) -> CheckResult:
    r"""Lemma 1 pointwise, on the same draws: :math:`e(w)^2 \ge e(w')^2` for each one.

    Draws :math:`w_1..w_n` from ``case.dist`` with ``numpy.random.default_rng(seed)``,
    clips them to :math:`w'_j = \mathrm{clip}(w_j, -d, d)` and compares the squared
    errors draw by draw: the quantizer's :math:`(w - Q(w))^2` in the exact model, the
    squared distance to the range in the ACIQ model (its rounding term
    :math:`\Delta^2/12` is the same for both laws).  Floating-point rounding is
    monotone, so where the inequality holds mathematically it holds exactly here.

    ``holds`` is True when no draw violates it.  ``extra`` has ``violations``,
    ``n``, ``worst`` (largest :math:`e(w')^2 - e(w)^2`), ``worst_draw``, the paired
    mean difference ``mean_gap`` with its standard error ``gap_stderr``, and the
    :func:`qerror.simulate_mse` estimates of both laws with the same seed (common
    random numbers: the same draws) as ``mc_unclamped`` and ``mc_clamped``.
    """
    rng = np.random.default_rng(seed)
    w = np.asarray(case.dist.rvs(size=n, random_state=rng), dtype=np.float64)
    wc = np.clip(w, -case.d, case.d)
    e_w, e_c = _sample_errors(w, case), _sample_errors(wc, case)
    diff = e_c - e_w
    bad = diff > 0
    k = int(bad.sum())
    j = int(np.argmax(diff))
    gap = e_w - e_c
    mean_gap = float(gap.mean())
    gap_se = float(gap.std(ddof=1) / math.sqrt(n))
    kw = dict(n=n, seed=seed, grid=case.grid, model=case.model)
    mc_w = simulate_mse(case.dist, case.alpha, case.bits, **kw)
    mc_c = simulate_mse(case.clamped, case.alpha, case.bits, **kw)
    extra = dict(violations=k, n=n, worst=float(max(diff[j], 0.0)), worst_draw=float(w[j]),
                 mean_gap=mean_gap, gap_stderr=gap_se, mc_unclamped=mc_w.mse,
                 mc_clamped=mc_c.mse)
    detail = (f"{k} of {n} draws violate it" + (f" (worst at w = {w[j]:.6g}: "
              f"{e_w[j]:.4g} < {e_c[j]:.4g})" if k else "")
              + f"; mean gap {mean_gap:.4g} +- {gap_se:.2g}")
    return CheckResult("lemma1.pointwise", case, k == 0, float(e_c.mean()),
                       float(e_w.mean()), -float(diff[j]) if k else 0.0, 0.0,
                       _in_scope(case, "lemma1.pointwise"), detail, extra)


def check_eq8(case: Case) -> CheckResult:
    r"""Eq. 8 (as corrected on the errata page) against the engine's difference.

    .. math::

        2\int_d^\infty f(x)\left((x-A)^2 - (d-A)^2\right)dx
        \overset{?}{=} E_W(A) - E_{W'}(A) \quad\text{(ACIQ model)}

    The left side is integrated by quadrature (:func:`scipy.integrate.quad`).  It is
    the difference for a symmetric law and :math:`A < d`.  For any law on a symmetric
    grid the difference is :math:`\int_d^\infty (f(x) + f(-x))((x-A)^2-(d-A)^2)dx`
    (it depends on the law of :math:`|W|` only), so Eq. 8's form fails for an
    asymmetric law; for :math:`A \ge d` the difference is the truncation error of
    :math:`W`.  ``margin`` is the discrepancy (formula minus engine).
    """
    case = replace(case, model="aciq")
    A, d = case.alpha, case.d
    dist = case.dist
    with warnings.catch_warnings():  # roundoff warnings from a negligible tail
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        # up to the end of the support when it is finite: quad on [d, inf) can miss
        # or misjudge a density that jumps to 0 there (a uniform law)
        top = float(dist.support()[1])
        formula = 2.0 * integrate.quad(
            lambda x: dist.pdf(x) * ((x - A) ** 2 - (d - A) ** 2), d,
            top if top > d else np.inf, epsabs=0.0, epsrel=1e-12, limit=200)[0]
        if top <= d:
            formula = 0.0
    gain = float(clamping_gain(case.dist, d, A, case.bits, model="aciq", grid=case.grid))
    disc = formula - gain
    tol = 1e-7 * max(abs(gain), abs(formula)) + 1e-12 * case.scale**2
    holds = bool(abs(disc) <= tol)
    detail = (f"formula {formula:.10g}, engine difference {gain:.10g}, "
              f"discrepancy {disc:.3g}")
    return CheckResult("lemma1.eq8", case, holds, formula, gain, disc, tol,
                       _in_scope(case, "lemma1.eq8"), detail)


_OPT_CACHE: dict = {}


def _optimum(dist_key, dist, bits, model, grid):
    key = (dist_key, bits, model, grid)
    if key not in _OPT_CACHE:
        if len(_OPT_CACHE) > 512:
            _OPT_CACHE.clear()
        _OPT_CACHE[key] = optimal_alpha(dist, bits, model=model, grid=grid)
    return _OPT_CACHE[key]


def _key(case: Case, clamped: bool):
    return (case.family, case.shapes, case.loc, case.scale, case.d if clamped else None)


def check_lemma2(case: Case) -> CheckResult:
    r"""Lemma 2 on `case`: :math:`E_{W'}(A) \ge E_{W'}(\alpha')`.

    :math:`\alpha'` is :func:`qerror.optimal_alpha` of the clamped law (cached per
    law, bit-width, model and grid).  Inconclusive (``holds`` None) if the solver does
    not report ``success``.
    """
    r = _optimum(_key(case, True), case.clamped, case.bits, case.model, case.grid)
    e_a = float(mse(case.clamped, case.alpha, case.bits, model=case.model, grid=case.grid))
    e_opt, a_opt, ok = float(r.mse), float(r.alpha), bool(r.success)
    if not ok and "vanishing range" in r.message:
        # dE/dalpha >= 0 from alpha -> 0 on (e.g. a law below an unsigned range): the
        # infimum is the limit alpha -> 0, which a tiny alpha attains to rounding
        a_opt = 1e-9 * case.scale
        e_opt = float(mse(case.clamped, a_opt, case.bits, model=case.model,
                          grid=case.grid))
        ok = True
    tol = _tol(e_a, e_opt)
    holds = bool(e_a - e_opt >= -tol) if ok else None
    detail = (f"E_W'(A) = {e_a:.10g}, E_W'(alpha') = {e_opt:.10g} at alpha' = "
              f"{a_opt:.10g}" + ("" if r.success else f"; solver: {r.message}"))
    return CheckResult("lemma2", case, holds, e_opt, e_a, e_a - e_opt, tol,
                       _in_scope(case, "lemma2"), detail,
                       dict(alpha_opt=a_opt, success=bool(r.success)))


def check_theorem(case: Case) -> CheckResult:
    r"""The theorem on `case`: :math:`\min_\alpha E_{W'} \le \min_\alpha E_W`.

    Both minima come from :func:`qerror.optimal_alpha` (``case.alpha`` is ignored);
    inconclusive (``holds`` None) unless both solves report ``success``.  ``extra``
    records both optima and ``proof_applies``: whether :math:`\alpha^* < d`, the
    condition under which the supplement's argument (Lemma 1 at :math:`\alpha^*`, then
    Lemma 2) covers the case.
    """
    case = replace(case, alpha=None)
    rw = _optimum(_key(case, False), case.dist, case.bits, case.model, case.grid)
    rc = _optimum(_key(case, True), case.clamped, case.bits, case.model, case.grid)
    ew, ec = float(rw.mse), float(rc.mse)
    tol = _tol(ew, ec)
    ok = bool(rw.success) and bool(rc.success)
    holds = bool(ew - ec >= -tol) if ok else None
    a_star = float(rw.alpha)
    detail = (f"min E_W' = {ec:.10g} at alpha' = {float(rc.alpha):.8g}, min E_W = "
              f"{ew:.10g} at alpha* = {a_star:.8g}")
    if not ok:
        detail += "; solver did not certify: " + (rw.message if not rw.success
                                                   else rc.message)
    extra = dict(alpha_star=a_star, alpha_prime=float(rc.alpha),
                 proof_applies=bool(a_star < case.d), success=ok)
    return CheckResult("theorem", case, holds, ec, ew, ew - ec, tol,
                       _in_scope(case, "theorem"), detail, extra)


def _p_outside(dist, alpha: float, grid: str) -> float:
    """P(W outside the quantizer's range), from the law's CDF."""
    lo = -alpha if get_format(grid).signed else 0.0
    below = float(dist.cdf(np.nextafter(lo, -np.inf)))
    return below + (1.0 - float(dist.cdf(alpha)))


#: fewer expected clipped draws than this and the truncation part is a rare event
MIN_TAIL_HITS = 30


def check_monte_carlo(case: Case, *, n: int = 200_000, seed: int = 0,
                      z_bound: float = Z_BOUND, clamped: bool = True) -> CheckResult:
    r"""Analytic :func:`qerror.mse` against :func:`qerror.simulate_mse` on `case`.

    Uses the clamped law when ``clamped`` and ``case.d`` is set, else the unbounded
    one.  ``margin`` is :math:`z = (E - \hat E)/\widehat{\mathrm{se}}`; the check holds
    when :math:`|z| \le` `z_bound`.

    Why 5 by default: under a correct engine :math:`z` is approximately standard
    normal (the squared error has finite variance for the laws used; `n` is large), so
    :math:`P(|z| > 5) \approx 5.7\times10^{-7}` per comparison.  A test file making
    a few hundred such comparisons then has a false-alarm probability near
    :math:`10^{-4}` per run; the seeds are fixed, so a run either always passes or
    always fails, and a wrong engine term shows up as :math:`|z|` in the tens to
    thousands at these `n`.

    The normal approximation needs many draws in every region that carries error:
    when fewer than ``MIN_TAIL_HITS`` (30) clipped draws are expected,
    :math:`n P(W \notin [-\alpha, \alpha]) < 30`, a few rare large squared errors
    decide the estimate and its standard error is meaningless, so only the rounding
    part (draws inside the range) is compared.
    """
    dist = case.clamped if (clamped and case.d is not None) else case.dist
    kw = dict(model=case.model, grid=case.grid)
    t, rd = (float(v) for v in error_parts(dist, case.alpha, case.bits, **kw))
    r = simulate_mse(dist, case.alpha, case.bits, n=n, seed=seed, **kw)
    hits = n * _p_outside(dist, case.alpha, case.grid)
    if hits >= MIN_TAIL_HITS:
        part, exact, est, se = "total", t + rd, r.mse, r.stderr
    else:
        part, exact, est, se = "rounding", rd, r.rounding, r.rounding_stderr
    if se == 0.0:
        same = abs(exact - est) <= 16 * np.finfo(float).eps * abs(exact)
        z = 0.0 if same else math.copysign(math.inf, exact - est)
    else:
        z = (exact - est) / se
    holds = bool(abs(z) <= z_bound)
    detail = (f"{part}: mse {exact:.10g}, Monte Carlo {est:.10g} +- {se:.3g} "
              f"(n = {n}, {hits:.3g} clipped draws expected), z = {z:.3g}")
    return CheckResult("engine.montecarlo", case, holds, exact, est, z, z_bound, True,
                       detail, dict(stderr=se, n=n, part=part, expected_clipped=hits))


# ---------------------------------------------------------------- known counterexamples
def known_counterexamples() -> list:
    """The pinned counterexamples: ``(claim, case, check function)`` triples.

    Each was found by hypothesis (and shrunk); ``tests/test_proofs.py`` asserts that
    each still fails and ``docs/proofs.md`` gives the numbers.
    """
    return [
        ("lemma1", Case("norm", d=0.25, alpha=2.0, bits=1, model="exact"), check_lemma1),
        ("lemma1", Case("uniform", d=0.5, alpha=2.0, bits=1, model="exact"),
         check_lemma1),
        ("lemma1", Case("norm", d=1.0, alpha=2.0, bits=2, model="exact",
                        grid=MIDTREAD.name),
         check_lemma1),
        ("lemma1", Case("norm", loc=1.0, d=1.0, alpha=7.0, bits=1, model="exact",
                        grid=UNSIGNED.name), check_lemma1),
        ("lemma1.pointwise", Case("norm", d=0.25, alpha=2.0, bits=1, model="exact"),
         check_lemma1_samples),
        ("lemma1.eq8", Case("skewnorm", shapes=(1.0,), d=1.0, alpha=0.5), check_eq8),
        ("lemma1.eq8", Case("norm", loc=1.0, d=2.0, alpha=1.0), check_eq8),
    ]
