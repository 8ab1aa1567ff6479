"""Shared ground of :mod:`qerror.symbolic`: symbols, the family table, the integral and
simplification helpers, argument checks, and the :class:`Step` / :class:`Derivation`
results."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from functools import cached_property, lru_cache

import sympy as sp

# --------------------------------------------------------------------------------------
# symbols

_X = sp.Symbol("x", real=True)
_ALPHA = sp.Symbol("alpha", positive=True)
_BITS = sp.Symbol("b", positive=True, integer=True)
_SCALE = sp.Symbol("s", positive=True)
_D = sp.Symbol("d", positive=True)
_A = sp.Symbol("A", positive=True)
_STEP = sp.Symbol("Delta", positive=True)
_M = sp.Symbol("M", positive=True, integer=True)
_I = sp.Symbol("i", integer=True, nonnegative=True)
_C = sp.Symbol("c", positive=True)
_GAP = sp.Symbol("epsilon", positive=True)  # d = alpha + epsilon encodes alpha < d
_GAP2 = sp.Symbol("eta", positive=True)
_f = sp.Function("f")
_F = sp.Function("F")
_P = sp.Function("P")

#: The symbols the returned expressions are written in, by role.
SYMBOLS = {
    "x": _X,
    "alpha": _ALPHA,
    "bits": _BITS,
    "scale": _SCALE,
    "d": _D,
    "A": _A,
    "step": _STEP,
    "M": _M,
}

# display-only symbols (names in plain text, rendered by to_latex through this table)
_DISPLAY_LATEX = {
    "E(A)": "E(A)",
    "E'(A)": "E'(A)",
    "E(A) - E'(A)": "E(A) - E'(A)",
    "Delta Error (Eq. 8)": r"\Delta\mathrm{Error}_{\text{Eq. 8}}",
    "Delta Error (Eq. 8) - (E(A) - E'(A))":
        r"\Delta\mathrm{Error}_{\text{Eq. 8}} - \bigl(E(A) - E'(A)\bigr)",
    "E[(W - Q(W))^2]": r"\mathbb{E}\left[(W - Q(W))^2\right]",
    "left tail": r"\text{left tail}",
    "right end": r"\text{right end}",
    "rounding": r"\text{rounding}",
    "truncation": r"\text{truncation}",
    "difference": r"\text{difference}",
    "W": "W",
    "Equation 10": r"\text{``Equation 10''}",
    "Eqs. 1-4": r"\text{Eqs. 1--4}",
    "Eq. (6)": r"\text{``Eq. (6)''}",
    "Eq. (7)": r"\text{Eq. (7)}",
    "Eq. 7 - Eq. 6": r"\text{Eq. 7} - \text{Eq. 6}",
}
_DISPLAY = {}


def _disp(name: str) -> sp.Symbol:
    """A symbol that stands for a named quantity in a displayed step."""
    sym = sp.Symbol(name)
    _DISPLAY[sym] = _DISPLAY_LATEX[name]
    return sym


# --------------------------------------------------------------------------------------
# families: closed forms as data (density on x >= 0 and upper end of the support)


@dataclass(frozen=True)
class _Family:
    name: str
    half_density: sp.Expr  # f(x) for x >= 0; the law is symmetric, f(-x) = f(x)
    upper: sp.Expr  # support is [-upper, upper]
    scipy: str


_FAMILIES = {
    "norm": _Family(
        "norm",
        sp.exp(-(_X**2) / (2 * _SCALE**2)) / (_SCALE * sp.sqrt(2 * sp.pi)),
        sp.oo,
        "scipy.stats.norm(scale=s)",
    ),
    "laplace": _Family(
        "laplace", sp.exp(-_X / _SCALE) / (2 * _SCALE), sp.oo, "scipy.stats.laplace(0, s)"
    ),
    "uniform": _Family("uniform", 1 / (2 * _SCALE), _SCALE, "scipy.stats.uniform(-s, 2*s)"),
}

#: Family names accepted by the functions of this module, with the scipy law each means.
FAMILIES = {name: fam.scipy for name, fam in _FAMILIES.items()}



def _family(family) -> _Family:
    if not isinstance(family, str) or family not in _FAMILIES:
        raise ValueError(f"family must be one of {tuple(_FAMILIES)}, got {family!r}")
    return _FAMILIES[family]



@lru_cache(maxsize=None)
def _partial_moment(family: str, k: int):
    r"""Antiderivative :math:`H_k(x) = \int f(x) x^k dx` (valid for :math:`x \ge 0`) and
    its value at the upper end of the support, by :func:`sympy.integrate`."""
    fam = _FAMILIES[family]
    h = sp.integrate(fam.half_density * _X**k, _X)
    end = sp.limit(h, _X, sp.oo) if fam.upper == sp.oo else h.subs(_X, fam.upper)
    return h, end


def _pos_integral(fam: _Family, g, lo, hi):
    r""":math:`\int_{lo}^{hi} f(x) g(x) dx` for :math:`0 \le lo \le hi` and polynomial
    :math:`g`, clipped to the support: a combination of the partial moments
    :math:`H_k(hi) - H_k(lo)`."""
    u = fam.upper
    poly = sp.Poly(sp.expand(g), _X)
    total = sp.Integer(0)
    for (k,), coeff in poly.terms():
        h, end = _partial_moment(fam.name, k)
        top = end if hi == sp.oo else h.subs(_X, sp.Min(hi, u))
        total += coeff * (top - h.subs(_X, sp.Min(lo, u)))
    return total


def _neg_integral(fam: _Family, g, lo, hi):
    r""":math:`\int_{lo}^{hi} f(x) g(x) dx` for :math:`lo \le hi \le 0`: by the symmetry
    :math:`f(-x) = f(x)`, :math:`\int_{-hi}^{-lo} f(y) g(-y) dy`."""
    return _pos_integral(fam, sp.sympify(g).subs(_X, -_X), -hi, -lo)


def _cases(fam: _Family, lo, hi) -> tuple:
    """Case analysis for lo < hi: one case for an unbounded law, three orderings of
    lo < hi against the support end s for a bounded one (lo < hi < s, lo < s <= hi,
    s <= lo < hi)."""
    if fam.upper == sp.oo:
        return (((hi, lo + _GAP),),)
    return (
        ((hi, lo + _GAP), (_SCALE, lo + _GAP + _GAP2)),
        ((_SCALE, lo + _GAP), (hi, lo + _GAP + _GAP2)),
        ((lo, _SCALE + _GAP2), (hi, _SCALE + _GAP2 + _GAP)),
    )


def _factor_rational(expr):
    """Factor polynomial pieces: (s - alpha)**3 rather than its expansion, which cancels
    in double precision near alpha = s."""
    if isinstance(expr, sp.Piecewise):
        return sp.Piecewise(*[(_factor_rational(e), c) for e, c in expr.args])
    syms = expr.free_symbols
    if syms and expr.is_rational_function(*syms):
        return sp.factor(expr)
    return expr


def _tidy(expr):
    """erf -> 1 - erfc (no cancellation in the tails), Min -> Piecewise, simplify,
    factor polynomial pieces."""
    expr = expr.replace(sp.erf, lambda z: 1 - sp.erfc(z))
    if expr.has(sp.Min, sp.Max):
        expr = sp.piecewise_fold(expr.rewrite(sp.Piecewise))
    if isinstance(expr, sp.Piecewise):
        # branch by branch: sympy's Piecewise simplification (random numeric tests of
        # the conditions) costs seconds and changes little here
        pieces = [(_collect_special(_factor_rational(sp.simplify(e))), c)
                  for e, c in expr.args]
        return sp.Piecewise(*_merge_equal_branches(pieces))
    return _collect_special(_factor_rational(sp.simplify(expr)))


def _collect_special(expr):
    """Collect the coefficients of each exp / erfc and factor them; keep the shorter
    of that and `expr`."""
    expanded = sp.expand(expr)
    atoms = list(expanded.atoms(sp.exp) | expanded.atoms(sp.erfc))
    if not atoms:
        return expr
    collected = sp.collect(expanded, atoms, sp.factor)
    return collected if sp.count_ops(collected) < sp.count_ops(expr) else expr


def _merge_equal_branches(pieces):
    """Drop branches whose condition is False and merge a branch into the next one
    when they carry the same expression."""
    out = []
    for e, c in pieces:
        if c == sp.false:
            continue
        if out and out[-1][0] == e:
            out[-1] = (e, sp.Or(out[-1][1], c))
        else:
            out.append((e, c))
    return out


def _simplify_in_2b(expr):
    """Simplify, also trying t = 2**b as the variable (sympy keeps 4**b and 2**(2*b)
    apart); return the shorter form."""
    plain = sp.simplify(expr)
    t = sp.Symbol("t", positive=True)
    e = sp.powsimp(expr.subs(4**_BITS, 2 ** (2 * _BITS)), force=True).subs(2**_BITS, t)
    if e.has(_BITS):
        return plain
    e = sp.simplify(sp.factor(sp.simplify(e))).subs(t, 2**_BITS)
    return e if sp.count_ops(e) < sp.count_ops(plain) else plain


# --------------------------------------------------------------------------------------
# argument handling


def _number(value, name, *, integer=False, minimum=None):
    if value is None:
        return None
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number, a sympy expression or None, got {value!r}"
        )
    if integer:
        if int(value) != value:
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        value = int(value)
        if minimum is not None and value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
        return sp.Integer(value)
    if not (value > 0) or value == float("inf"):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    if isinstance(value, numbers.Integral):
        return sp.Integer(int(value))
    return sp.Float(float(value), 30)  # the exact binary value of the double


def _substitute(expr, *, alpha=None, bits=None, scale=None, d=None, min_bits=1):
    values = {
        _ALPHA: _number(alpha, "alpha"),
        _BITS: _number(bits, "bits", integer=True, minimum=min_bits),
        _SCALE: _number(scale, "scale"),
        _D: _number(d, "d"),
    }
    values = {k: v for k, v in values.items() if v is not None}
    return expr.subs(values) if values else expr


_PARTS = ("total", "truncation", "rounding")


def _part(part, allowed=_PARTS):
    if part not in allowed:
        raise ValueError(f"part must be one of {allowed}, got {part!r}")
    return part


# --------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class Step:
    r"""One line of a derivation: ``lhs relation rhs`` with a short explanation.

    Attributes
    ----------
    label : str
        Plain-text explanation of the step.
    lhs, rhs : sympy.Basic
        The two sides.
    relation : str
        ``"="``, ``"approx"``, ``"neq"``, ``"lt"`` or ``"ge"``.
    """

    label: str
    lhs: sp.Basic
    rhs: sp.Basic
    relation: str = "="


@dataclass(frozen=True)
class Derivation:
    r"""A derivation: displayed steps, a result, and the identities it relies on.

    Attributes
    ----------
    title : str
        What is derived.
    steps : tuple of Step
        The chain as it would be written on paper (for display).
    result : sympy.Basic
        The final expression.
    identities : tuple of Step
        The exact equalities the chain claims; :meth:`check` verifies each with
        sympy (``simplify(lhs - rhs) == 0``, after merging integrals over equal ranges).
    note : str
        Verdict or remarks in plain text.
    cases : tuple of tuple of (sympy.Symbol, sympy.Expr)
        The hypotheses as substitutions, one tuple per case of a case analysis (e.g.
        ``d -> A + epsilon`` with ``epsilon > 0`` encodes :math:`A < d`; a law with
        bounded support adds the orderings against its end :math:`s`).  Each identity
        is checked in every case; empty means no hypothesis.
    """

    title: str
    steps: tuple
    result: sp.Basic
    identities: tuple = ()
    note: str = ""
    cases: tuple = ()

    def check(self) -> tuple:
        """Return ``simplify(lhs - rhs)`` for every identity (all zero when they hold).

        With several cases, an identity's entry is the first non-zero case result, or 0.
        The result is computed once and cached.
        """
        return self._checked

    @cached_property
    def _checked(self) -> tuple:
        out = []
        for st in self.identities:
            if isinstance(st.lhs, sp.Tuple):
                out.append(sp.Integer(0) if st.lhs == st.rhs else sp.nan)
                continue
            value = sp.Integer(0)
            for case in self.cases or ((),):
                r = _simplify_zero((st.lhs - st.rhs).subs(dict(case), simultaneous=True))
                if r != 0:
                    value = r
                    break
            out.append(value)
        return tuple(out)

    @property
    def holds(self) -> bool:
        """True when every identity simplifies to exactly zero."""
        return all(r == 0 for r in self.check())


def _combine_integrals(expr):
    """Merge integrals over the same range: sum_k c_k Int(g_k) -> Int(sum_k c_k g_k)."""
    expr = sp.expand(expr)
    groups: dict = {}
    rest = []
    for term in sp.Add.make_args(expr):
        coeff, integral = term.as_independent(sp.Integral, as_Add=False)
        if isinstance(integral, sp.Integral) and not any(
            coeff.has(lim[0]) for lim in integral.limits
        ):
            groups.setdefault(integral.limits, []).append(coeff * integral.function)
        else:
            rest.append(term)
    merged = [sp.Integral(sp.expand(sp.Add(*fs)), *lims) for lims, fs in groups.items()]
    return sp.Add(*rest) + sp.Add(*[m for m in merged if m.function != 0])


def _simplify_zero(expr):
    expr = _combine_integrals(expr)
    expr = expr.replace(sp.erf, lambda z: 1 - sp.erfc(z))
    if expr.has(sp.Min, sp.Max):
        expr = expr.rewrite(sp.Piecewise)
    if expr.has(sp.Piecewise):
        expr = sp.piecewise_fold(expr)
    fast = sp.expand(sp.powsimp(sp.expand(expr), force=True))
    if fast == 0:
        return fast
    return sp.simplify(expr)
