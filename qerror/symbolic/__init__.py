r"""Symbolic derivations of the supplement's Section 9 (Eqs. 1-8) with sympy.

The functions here *derive* the closed forms that the numeric engine evaluates: every
integral is assembled from the partial moments :math:`\int f(x)\,x^k\,dx` that
:func:`sympy.integrate` computes from the family's density, every optimum comes from
:func:`sympy.solve` applied to the stationarity condition.  Nothing is typed in as an
answer.  They return sympy expressions in the symbols of :data:`SYMBOLS`
(:math:`\alpha`, :math:`b`, :math:`s`, :math:`d`, ...); numbers given as keyword
arguments are substituted, so ``sympy.N(expr, 30)`` gives 30 significant digits.

Supported families (symmetric, zero-mean laws with scale :math:`s`):

``"norm"``
    :math:`f(x) = e^{-x^2/(2s^2)}/(s\sqrt{2\pi})`, i.e. ``scipy.stats.norm(scale=s)``.
``"laplace"``
    :math:`f(x) = e^{-|x|/s}/(2s)`, i.e. ``scipy.stats.laplace(0, s)``.
``"uniform"``
    :math:`f(x) = 1/(2s)` on :math:`(-s, s)`, i.e. ``scipy.stats.uniform(-s, 2*s)``
    (here :math:`s` is the *half-width*, not scipy's ``scale=2s``).

Equation numbers are those of the supplement (``shared/seed/supplement.txt``); the
slips listed in ``CONVENTIONS.md`` are checked by :func:`errata`.

This module imports sympy at import time; ``import qerror`` does not import it.
"""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

import sympy as sp

__all__ = [
    "SYMBOLS",
    "FAMILIES",
    "Step",
    "Derivation",
    "aciq_mse",
    "aciq_mse_derivative",
    "optimal_alpha",
    "clamped_mse",
    "exact_mse",
    "rounding_derivation",
    "lemma1_difference",
    "errata",
    "lambdify",
    "to_latex",
]

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

_GRIDS = ("midrise", "midtread")
_DEFAULT_GRID = _GRIDS[0]  # the supplement's grid, Delta = 2 alpha / 2**b


def _family(family) -> _Family:
    if not isinstance(family, str) or family not in _FAMILIES:
        raise ValueError(f"family must be one of {tuple(_FAMILIES)}, got {family!r}")
    return _FAMILIES[family]


def _grid(grid) -> str:
    if not isinstance(grid, str) or grid not in _GRIDS:
        raise ValueError(
            f"grid must be one of {_GRIDS} (the unsigned grid has no symbolic form here),"
            f" got {grid!r}"
        )
    return grid


def _grid_step(grid: str, bits=_BITS, alpha=_ALPHA):
    if grid == "midrise":
        return 2 * alpha / 2**bits
    return alpha / (2 ** (bits - 1) - 1)


def _min_bits(grid: str) -> int:
    """The smallest bit-width the grid allows (midtread needs a level beside 0)."""
    return 2 if grid == "midtread" else 1


def _half_cells(grid: str, bits: int):
    """The cells of the grid with `bits` bits on x >= 0 as ``(lo, hi, level)`` (the
    last one ends at alpha), and the outermost level c; the grid is symmetric."""
    step = _grid_step(grid, bits)
    if grid == "midrise":
        cells = [(i * step, (i + 1) * step, (2 * i + 1) * step / 2)
                 for i in range(2 ** (bits - 1))]
        return cells, _ALPHA - step / 2
    k_max = 2 ** (bits - 1) - 1
    cells = [(0, step / 2, 0)]
    half = sp.Rational(1, 2)
    cells += [((k - half) * step, (k + half) * step, k * step) for k in range(1, k_max)]
    cells.append(((k_max - sp.Rational(1, 2)) * step, _ALPHA, _ALPHA))
    return cells, _ALPHA


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


# --------------------------------------------------------------------------------------
# Eq. 2: rounding error


@lru_cache(maxsize=None)
def rounding_derivation(grid: str = _DEFAULT_GRID) -> Derivation:
    r"""Derive the rounding-error term of Eq. 2 from a locally linear density.

    In each cell of width :math:`\Delta` around its level :math:`q` the density is
    replaced by its first-order Taylor polynomial :math:`f(q) + f'(q)(x-q)`; the linear
    part integrates to zero by symmetry, so

    .. math::

        \int_{q-\Delta/2}^{q+\Delta/2} \bigl(f(q) + f'(q)(x-q)\bigr)(x-q)^2\,dx
        = f(q)\,\frac{\Delta^3}{12},
        \qquad
        \sum_i f(q_i)\,\frac{\Delta^3}{12} \approx \frac{\Delta^2}{12}
        P(|W| \le \alpha) \approx \frac{\Delta^2}{12} = \frac{\alpha^2}{3\cdot 4^b}

    where the last step is ACIQ's (and the supplement's) approximation
    :math:`P(|W|\le\alpha) \approx 1` and :math:`\Delta = 2\alpha/2^b` (midrise).

    Parameters
    ----------
    grid : {"midrise", "midtread"}
        Which step to substitute: :math:`2\alpha/2^b` or :math:`\alpha/(2^{b-1}-1)`.

    Returns
    -------
    Derivation
        ``result`` is the rounding term of the ACIQ model (Eq. 2-4).

    Examples
    --------
    >>> from qerror import symbolic
    >>> symbolic.rounding_derivation().result
    alpha**2/(3*4**b)
    >>> symbolic.rounding_derivation().holds
    True
    """
    grid = _grid(grid)
    u = sp.Symbol("u", real=True)
    f0, f1 = sp.symbols("f_0 f_1", real=True)  # f(q), f'(q)
    q = sp.Function("q")
    cell = sp.Integral((f0 + f1 * u) * u**2, (u, -_STEP / 2, _STEP / 2))
    cell_value = f0 * _STEP**3 / 12
    riemann = sp.Sum(_f(q(_I)) * _STEP**3 / 12, (_I, 0, 2**_BITS - 1))
    mass = sp.Integral(_f(_X), (_X, -_ALPHA, _ALPHA))
    step = _grid_step(grid)
    result = sp.simplify((_STEP**2 / 12).subs(_STEP, step))
    steps = (
        Step(
            "one cell, density linear about its level q (u = x - q)",
            cell,
            cell_value,
        ),
        Step(
            "sum over the cells; a Riemann sum of f",
            riemann,
            _STEP**2 / 12 * mass,
            "approx",
        ),
        Step(
            "ACIQ: count the noise over the whole mass, P(|W| <= alpha) ~ 1",
            _STEP**2 / 12 * mass,
            _STEP**2 / 12,
            "approx",
        ),
        Step(f"{grid} step Delta = {sp.sstr(step)}", _STEP**2 / 12, result),
    )
    identities = (
        Step("cell integral", cell.doit(), cell_value),
        Step("step substitution", (_STEP**2 / 12).subs(_STEP, step), result),
    )
    return Derivation("Eq. 2: rounding error", steps, result, identities)


# --------------------------------------------------------------------------------------
# Eq. 3-4: the ACIQ model


@lru_cache(maxsize=None)
def _aciq_parts(family: str, grid: str):
    fam = _family(family)
    right = _tidy(_pos_integral(fam, (_X - _ALPHA) ** 2, _ALPHA, sp.oo))
    left = _tidy(_neg_integral(fam, (_X + _ALPHA) ** 2, -sp.oo, -_ALPHA))
    truncation = _tidy(left + right)
    rounding = rounding_derivation(grid).result
    return truncation, rounding


_PARTS = ("total", "truncation", "rounding")


def _part(part, allowed=_PARTS):
    if part not in allowed:
        raise ValueError(f"part must be one of {allowed}, got {part!r}")
    return part


def aciq_mse(
    family, *, alpha=None, bits=None, scale=None, grid=_DEFAULT_GRID, part="total"
):
    r"""The ACIQ-model mean-square error of Eq. 3-4 as a sympy expression.

    .. math::

        E(\alpha) = \int_\alpha^\infty f(x)(x-\alpha)^2\,dx
            + \int_{-\infty}^{-\alpha} f(x)(x+\alpha)^2\,dx
            + \frac{\alpha^2}{3\cdot 4^b}
          = 2\int_\alpha^\infty f(x)(x-\alpha)^2\,dx + \frac{\alpha^2}{3\cdot 4^b}

    where :math:`\alpha` is `alpha`, :math:`b` is `bits` and :math:`f` the density of
    `family` with scale :math:`s` = `scale`.  Both tails are integrated (Eq. 3, with the
    left tail measured against :math:`-\alpha`, see erratum 2); for these symmetric
    laws they are equal, which gives Eq. 4.  On the midtread grid the rounding term is
    :math:`\Delta^2/12` with :math:`\Delta = \alpha/(2^{b-1}-1)`.

    Parameters
    ----------
    family : {"norm", "laplace", "uniform"}
        The law; see :data:`FAMILIES` (for ``"uniform"`` `scale` is the half-width).
    alpha, bits, scale : number, sympy expression or None, optional
        Values to substitute; ``None`` leaves the symbol :math:`\alpha`, :math:`b`,
        :math:`s` in place.  Floats are substituted by their exact binary value.
    grid : {"midrise", "midtread"}, optional
        Which step the rounding term uses.
    part : {"total", "truncation", "rounding"}, optional
        The whole error or one of its two terms.

    Returns
    -------
    sympy.Expr

    Examples
    --------
    >>> import sympy
    >>> from qerror import symbolic
    >>> symbolic.aciq_mse("laplace")
    2*s**2*exp(-alpha/s) + alpha**2/(3*4**b)
    >>> print(sympy.N(symbolic.aciq_mse("norm", alpha=2, bits=4, scale=1), 20))
    0.016745786762373197534
    """
    _family(family)
    grid = _grid(grid)
    part = _part(part)
    truncation, rounding = _aciq_parts(family, grid)
    total = sp.piecewise_fold(truncation + rounding)
    expr = {"total": total, "truncation": truncation, "rounding": rounding}[part]
    return _substitute(expr, alpha=alpha, bits=bits, scale=scale, min_bits=_min_bits(grid))


@lru_cache(maxsize=None)
def _aciq_derivative(family: str, grid: str):
    truncation, rounding = _aciq_parts(family, grid)
    dt = _tidy(sp.diff(truncation, _ALPHA))
    return sp.piecewise_fold(dt + sp.diff(rounding, _ALPHA))


def aciq_mse_derivative(family, *, alpha=None, bits=None, scale=None, grid=_DEFAULT_GRID):
    r"""The derivative in :math:`\alpha` of the ACIQ-model error (Eq. 4), for solvers.

    .. math::

        \frac{dE}{d\alpha} = -4\int_\alpha^\infty f(x)(x-\alpha)\,dx
            + \frac{2\alpha}{3\cdot 4^b}

    computed by differentiating :func:`aciq_mse`, where :math:`\alpha` is `alpha`,
    :math:`b` is `bits` (midrise; the midtread grid changes the last term).

    Parameters
    ----------
    family, alpha, bits, scale, grid
        As in :func:`aciq_mse`.

    Returns
    -------
    sympy.Expr

    Examples
    --------
    >>> from qerror import symbolic
    >>> symbolic.aciq_mse_derivative("laplace")
    -2*s*exp(-alpha/s) + 2*alpha/(3*4**b)
    >>> round(float(symbolic.aciq_mse_derivative("norm", alpha=2, bits=4, scale=1)), 6)
    -0.028754
    """
    _family(family)
    grid = _grid(grid)
    return _substitute(
        _aciq_derivative(family, grid), alpha=alpha, bits=bits, scale=scale,
        min_bits=_min_bits(grid),
    )


@lru_cache(maxsize=None)
def _optimal_alpha(family: str, grid: str):
    fam = _family(family)
    deriv = _aciq_derivative(family, grid)
    branch = deriv
    if deriv.has(sp.Piecewise):
        # bounded support: the optimum lies inside it (beyond it only the increasing
        # rounding term is left), so solve on the branch alpha < upper.
        branch = next(e for e, c in deriv.args if c.subs(_ALPHA, fam.upper / 2) == sp.true)
    try:
        roots = sp.solve(sp.Eq(branch, 0), _ALPHA)
    except NotImplementedError:
        roots = []
    # keep the roots that are real and inside the support for a few sample values
    good = []
    for r in roots:
        ok = True
        for bits in (2, 3, 4, 8):
            v = complex(sp.N(r.subs({_BITS: bits, _SCALE: 1})))
            hi = float(fam.upper.subs(_SCALE, 1))
            if abs(v.imag) > 1e-12 or not 0 < v.real < hi:
                ok = False
        if ok:
            good.append(_simplify_in_2b(r))
    if len(good) == 1:
        return good[0]
    return sp.Eq(deriv, 0)


def optimal_alpha(family, *, bits=None, scale=None, grid=_DEFAULT_GRID):
    r"""The clipping value that minimises the ACIQ-model error of Eq. 4.

    Solves the stationarity condition

    .. math::

        \frac{dE}{d\alpha} = -4\int_\alpha^\infty f(x)(x-\alpha)\,dx
            + \frac{2\alpha}{3\cdot 4^b} = 0

    with :func:`sympy.solve`, where :math:`\alpha` is the unknown and :math:`b` is
    `bits`.  For ``"laplace"`` the solution comes out as
    :math:`s\,W(3\cdot 4^b)` (Lambert W); for ``"uniform"`` as the root in
    :math:`(0, s)` of a quadratic.  For ``"norm"`` there is no closed form: the
    function then returns the *implicit* condition as a :class:`sympy.Eq` in
    :math:`\alpha`; solve it numerically, e.g. with
    ``sympy.nsolve(eq.lhs - eq.rhs, symbolic.SYMBOLS["alpha"], 3)``.

    Parameters
    ----------
    family : {"norm", "laplace", "uniform"}
    bits, scale : number, sympy expression or None, optional
        Values to substitute (``None`` keeps the symbol).
    grid : {"midrise", "midtread"}, optional

    Returns
    -------
    sympy.Expr or sympy.Eq
        The optimum, or (``"norm"``) the equation it solves.

    Examples
    --------
    >>> import sympy
    >>> from qerror import symbolic
    >>> symbolic.optimal_alpha("laplace")
    s*LambertW(3*4**b)
    >>> round(float(symbolic.optimal_alpha("laplace", bits=2, scale=1)), 2)
    2.83
    >>> eq = symbolic.optimal_alpha("norm", bits=4, scale=1)
    >>> round(float(sympy.nsolve(eq.lhs - eq.rhs, symbolic.SYMBOLS["alpha"], 3)), 2)
    2.56
    """
    _family(family)
    grid = _grid(grid)
    return _substitute(
        _optimal_alpha(family, grid), bits=bits, scale=scale, min_bits=_min_bits(grid)
    )


# --------------------------------------------------------------------------------------
# Eq. 5-7: the clamped law


@lru_cache(maxsize=None)
def _clamped_parts(family: str, grid: str):
    fam = _family(family)
    in_right = _pos_integral(fam, (_X - _ALPHA) ** 2, _ALPHA, _D)
    in_left = _neg_integral(fam, (_X + _ALPHA) ** 2, -_D, -_ALPHA)
    mass_right = _pos_integral(fam, sp.Integer(1), _D, sp.oo)  # 1 - F(d)
    mass_left = _neg_integral(fam, sp.Integer(1), -sp.oo, -_D)  # F(-d)
    atoms = _tidy(mass_left * (-_D + _ALPHA) ** 2 + mass_right * (_D - _ALPHA) ** 2)
    in_range = _tidy(in_left + in_right)
    # values at the atoms are clipped only if the atoms lie beyond the range
    both = _tidy(atoms + in_range)
    raw = {"atoms_raw": atoms, "in_range_raw": in_range}  # valid for alpha < d
    rounding = rounding_derivation(grid).result

    def below_d(e, other=sp.Integer(0)):
        return sp.piecewise_fold(sp.Piecewise((e, _ALPHA < _D), (other, True)))

    return {"atoms": below_d(atoms), "in_range": below_d(in_range),
            "truncation": below_d(both), "total": below_d(both + rounding, rounding),
            "rounding": rounding, **raw}


def clamped_mse(
    family, *, alpha=None, d=None, bits=None, scale=None, grid=_DEFAULT_GRID, part="total"
):
    r"""The ACIQ-model error of the clamped law :math:`W' = \mathrm{clip}(W, -d, d)`, Eq. 7.

    :math:`W'` has density :math:`f` on :math:`(-d, d)` and atoms :math:`F(-d)` and
    :math:`1 - F(d)` at :math:`\mp d`.  Measuring clipped values against
    :math:`\pm\alpha` and counting the rounding noise over the whole mass,

    .. math::

        E'(\alpha) = 2\left(F(-d)\,(d-\alpha)^2
            + \int_\alpha^d f(x)(x-\alpha)^2\,dx\right) + \frac{\alpha^2}{3\cdot 4^b}
        \quad (\alpha < d),
        \qquad E'(\alpha) = \frac{\alpha^2}{3\cdot 4^b} \quad (\alpha \ge d)

    where :math:`\alpha` (the supplement's :math:`\alpha'`) is `alpha`, :math:`d` is
    `d` and :math:`b` is `bits`.  Both sides of the law are integrated; the result is a
    :class:`sympy.Piecewise` in :math:`\alpha < d`.

    Parameters
    ----------
    family : {"norm", "laplace", "uniform"}
    alpha, d, bits, scale : number, sympy expression or None, optional
        Values to substitute (``None`` keeps the symbol).
    grid : {"midrise", "midtread"}, optional
    part : {"total", "truncation", "rounding", "atoms", "in_range"}, optional
        ``"atoms"`` is the atoms' error of Eq. 6; ``"in_range"`` the integral over
        :math:`\alpha < |x| < d` of Eq. 5; ``"truncation"`` their sum.

    Returns
    -------
    sympy.Expr

    Examples
    --------
    >>> from qerror import symbolic
    >>> symbolic.clamped_mse("laplace", part="atoms")
    Piecewise(((alpha - d)**2*exp(-d/s), alpha < d), (0, True))
    >>> round(float(symbolic.clamped_mse("norm", alpha=2, d=2.5, bits=4, scale=1)), 6)
    0.010339
    """
    _family(family)
    grid = _grid(grid)
    part = _part(part, _PARTS + ("atoms", "in_range"))
    parts = _clamped_parts(family, grid)
    if part == "total":
        expr = parts["total"]
    else:
        expr = parts[part]
    return _substitute(
        expr, alpha=alpha, bits=bits, scale=scale, d=d, min_bits=_min_bits(grid)
    )


# --------------------------------------------------------------------------------------
# Eq. 1 corrected: the exact quantizer, for a given bit-width


@lru_cache(maxsize=None)
def _cell_antiderivative(family: str):
    fam = _family(family)
    lo, hi = sp.symbols("lo hi", nonnegative=True)
    q = sp.Symbol("q", real=True)
    cell = _pos_integral(fam, (_X - q) ** 2, lo, hi)
    tail = _pos_integral(fam, (_X - q) ** 2, lo, sp.oo)
    return (lo, hi, q), cell, tail


@lru_cache(maxsize=None)
def _exact_parts(family: str, grid: str, bits: int):
    (lo, hi, q), cell, tail = _cell_antiderivative(family)

    def c(a, b_, level):
        return cell.subs({lo: a, hi: b_, q: level}, simultaneous=True)

    # positive half only; the law and both grids are symmetric
    half_cells, outer = _half_cells(grid, bits)
    cells = [c(a, b_, level) for a, b_, level in half_cells]
    rounding = 2 * sp.Add(*cells)
    truncation = 2 * tail.subs({lo: _ALPHA, q: outer}, simultaneous=True)
    return truncation, rounding


_MAX_EXACT_BITS = 10


def exact_mse(family, *, bits, alpha=None, scale=None, grid=_DEFAULT_GRID, part="total"):
    r"""The error of the real quantizer, :math:`E[(W - Q(W))^2]` (Eq. 1 corrected).

    .. math::

        E(\alpha) = \underbrace{2\int_\alpha^\infty f(x)(x-c)^2\,dx}_{\text{truncation}}
          + \underbrace{\sum_i \int_{\text{cell}_i} f(x)(x-q_i)^2\,dx}_{\text{rounding}}

    where :math:`\alpha` is `alpha`, :math:`c` the outermost level
    (:math:`\alpha - \Delta/2` midrise, :math:`\alpha` midtread) and :math:`q_i` the
    levels of the grid with :math:`b` = `bits` (see ``qerror.quantizer``).  Each cell
    integral is computed by sympy; the sum is written out, so `bits` must be a
    concrete integer (at most 10).  For ``"uniform"`` the cells are clipped to the
    support with ``Min``.  For large :math:`\alpha/s` evaluate with
    ``sympy.N(..., 30)``: the differences of ``erf`` of neighbouring cells cancel in
    double precision.

    Parameters
    ----------
    family : {"norm", "laplace", "uniform"}
    bits : int
        Bit-width (>= 2 on the midtread grid).
    alpha, scale : number, sympy expression or None, optional
    grid : {"midrise", "midtread"}, optional
    part : {"total", "truncation", "rounding"}, optional

    Returns
    -------
    sympy.Expr

    Examples
    --------
    >>> import sympy
    >>> from qerror import symbolic
    >>> round(float(sympy.N(symbolic.exact_mse("norm", bits=2, alpha=2, scale=1), 30)), 6)
    0.118854
    """
    _family(family)
    grid = _grid(grid)
    part = _part(part)
    if isinstance(bits, sp.Basic) and not bits.is_Integer:
        raise TypeError("bits must be a concrete integer for exact_mse")
    nb = int(_number(bits, "bits", integer=True, minimum=_min_bits(grid)))
    if nb > _MAX_EXACT_BITS:
        raise ValueError(f"bits must be <= {_MAX_EXACT_BITS} for exact_mse, got {bits!r}")
    truncation, rounding = _exact_parts(family, grid, nb)
    expr = {"total": truncation + rounding, "truncation": truncation, "rounding": rounding}[
        part
    ]
    return _substitute(expr, alpha=alpha, scale=scale, min_bits=_min_bits(grid))


# --------------------------------------------------------------------------------------
# Eq. 8: Lemma 1


def _abstract_lemma1():
    fx = _f(_X)
    sq = (_X - _A) ** 2
    atom = (_D - _A) ** 2
    tail = sp.Integral(fx * sq, (_X, _A, sp.oo))
    inner = sp.Integral(fx * sq, (_X, _A, _D))
    outer = sp.Integral(fx * sq, (_X, _D, sp.oo))
    f_minus_d = sp.Integral(fx, (_X, -sp.oo, -_D))  # F(-d)
    f_minus_d_even = sp.Integral(fx, (_X, _D, sp.oo))  # = F(-d) for an even f
    unbounded = 2 * tail
    clamped = 2 * (f_minus_d * atom + inner)
    true = 2 * sp.Integral(fx * (sq - atom), (_X, _D, sp.oo))
    printed = 2 * inner + true
    named = 2 * inner
    split = {tail: inner + outer, f_minus_d: f_minus_d_even}
    return unbounded, clamped, true, printed, named, split, f_minus_d


def _concrete_lemma1(family: str):
    fam = _family(family)
    sq = (_X - _A) ** 2
    atom = (_D - _A) ** 2
    unbounded = aciq_mse(family, part="truncation").subs(_ALPHA, _A)
    mass_left = _neg_integral(fam, sp.Integer(1), -sp.oo, -_D)
    inner = _pos_integral(fam, sq, _A, _D)
    clamped = 2 * (mass_left * atom + inner)
    true = 2 * _pos_integral(fam, sq - atom, _D, sp.oo)
    named = 2 * inner
    printed = named + true
    return unbounded, clamped, true, printed, named, mass_left


@lru_cache(maxsize=None)
def lemma1_difference(family=None) -> Derivation:
    r"""Eq. 8: the Lemma 1 difference, the supplement's form and the correct one.

    With :math:`A < d` the ACIQ-model errors of the unbounded law (Eq. 4) and of the
    clamped law (Eq. 7) share the rounding term, and

    .. math::

        E(A) - E'(A) = 2\int_A^\infty f(x)(x-A)^2\,dx
            - 2\left(F(-d)(d-A)^2 + \int_A^d f(x)(x-A)^2\,dx\right)
          = 2\int_d^\infty f(x)\left((x-A)^2 - (d-A)^2\right)dx \;\ge\; 0 .

    The supplement's Eq. 8 leaves out the clamped law's in-range term and prints
    :math:`2\int_A^d f(x)(x-A)^2\,dx + 2\int_d^\infty f(x)((x-A)^2-(d-A)^2)\,dx`,
    which exceeds the true difference by exactly the named term
    :math:`2\int_A^d f(x)(x-A)^2\,dx` (erratum 6).  The lemma survives.

    Parameters
    ----------
    family : {None, "norm", "laplace", "uniform"}, optional
        ``None`` works with an abstract even density :math:`f` (integrals left
        unevaluated; the split of :math:`\int_A^\infty` at :math:`d` and
        :math:`F(-d) = \int_d^\infty f` are applied as rules); a family name evaluates
        every integral in closed form.

    Returns
    -------
    Derivation
        ``result`` is the true difference; the identities are (i) Eq. 4 − Eq. 7 equals
        it, (ii) printed − true equals the named term, (iii) the printed first line
        equals the printed last line (the printed chain is consistent with itself: it
        computes Eq. 4 − Eq. 6, the atoms' error alone).  For a law with bounded
        support the identities are checked in each ordering of :math:`A < d` and
        :math:`s` (see :attr:`Derivation.cases`).

    Examples
    --------
    >>> from qerror import symbolic
    >>> der = symbolic.lemma1_difference()
    >>> der.result
    2*Integral((-(-A + d)**2 + (-A + x)**2)*f(x), (x, d, oo))
    >>> der.holds
    True
    >>> symbolic.lemma1_difference("laplace").result
    2*s*(-A + d + s)*exp(-d/s)
    """
    rounding = _A**2 / (3 * 4**_BITS)
    e_u, e_c = _disp("E(A)"), _disp("E'(A)")
    gap = _disp("E(A) - E'(A)")
    if family is None:
        unbounded, clamped, true, printed, named, split, f_minus_d = _abstract_lemma1()
        unbounded_s = unbounded.subs(split, simultaneous=True)
        clamped_s = clamped.subs(split, simultaneous=True)
        atoms_printed_s = (2 * f_minus_d * (_D - _A) ** 2).subs(split, simultaneous=True)
        note = "abstract even density $f$, $A < d$"
        cases = ()
        shown_u, shown_c = unbounded, clamped.subs(f_minus_d, _F(-_D))
        middle = (
            Step("the rounding terms cancel", gap, shown_u - shown_c),
            Step(
                r"split $\int_A^\infty = \int_A^d + \int_d^\infty$; "
                r"$F(-d) = \int_d^\infty f(x)\,dx$ for an even $f$",
                gap,
                unbounded_s - clamped_s,
            ),
            Step("collect the integrals over $(d, \\infty)$", gap, true),
        )
    else:
        _family(family)
        unbounded, clamped, true, printed, named, mass_left = _concrete_lemma1(family)
        unbounded_s, clamped_s = unbounded, clamped
        atoms_printed_s = 2 * mass_left * (_D - _A) ** 2
        true, named, printed = _tidy(true), _tidy(named), _tidy(printed)
        note = f"family {family!r} (scipy {_FAMILIES[family].scipy}), $A < d$"
        cases = _cases(_FAMILIES[family], _A, _D)
        shown_u, shown_c = _tidy(unbounded), _tidy(clamped)
        middle = (Step("the rounding terms cancel", gap, true),)
    steps = (
        Step("Eq. 4 at $\\alpha = A$ (unbounded law)", e_u, shown_u + rounding),
        Step("Eq. 7 at $\\alpha' = A < d$ (clamped law)", e_c, shown_c + rounding),
        *middle,
        Step("the supplement's Eq. 8 (last line)", _disp("Delta Error (Eq. 8)"), printed),
        Step(
            "printed minus true: the in-range term of Eq. 7",
            _disp("Delta Error (Eq. 8) - (E(A) - E'(A))"),
            named,
        ),
        Step("non-negative, as $(x - A)^2 \\ge (d - A)^2$ for $x \\ge d > A$", gap, 0,
             "ge"),
    )
    identities = (
        Step("Eq. 4 $-$ Eq. 7 = true difference", unbounded_s - clamped_s, true),
        Step("printed $-$ true $= 2\\int_A^d f(x)(x-A)^2\\,dx$", printed - true, named),
        Step(
            "printed first line (Eq. 4 $-$ Eq. 6) = printed last line",
            unbounded_s - atoms_printed_s,
            printed,
        ),
    )
    return Derivation("Eq. 8: the Lemma 1 difference", steps, true, identities, note,
                      cases)


# --------------------------------------------------------------------------------------
# the slips of CONVENTIONS.md


def _erratum1(family):
    fam = _family(family)
    whole = _tidy(
        _pos_integral(fam, (_X - _ALPHA) ** 2, 0, sp.oo)
        + _neg_integral(fam, (_X - _ALPHA) ** 2, -sp.oo, 0)
    )
    variance = _tidy(2 * _pos_integral(fam, _X**2, 0, sp.oo))
    printed_value = whole.subs({_ALPHA: 2, _SCALE: 1})
    exact_value = sp.N(exact_mse(family, bits=2, alpha=2, scale=1), 15)
    fx = _f(_X)
    err = _disp("E[(W - Q(W))^2]")
    return Derivation(
        "Erratum 1 (Eq. 1, first line): the error is not $\\int f(x)(x-\\alpha)^2dx$",
        (
            Step("printed", err, sp.Integral(fx * (_X - _ALPHA) ** 2, (_X, -sp.oo, sp.oo))),
            Step("evaluated: $\\operatorname{Var}(W) + \\alpha^2$, whatever the bit-width",
                 sp.Integral(fx * (_X - _ALPHA) ** 2, (_X, -sp.oo, sp.oo)), whole),
            Step("corrected", err,
                 sp.Integral(fx * (_X - sp.Function("Q")(_X)) ** 2, (_X, -sp.oo, sp.oo))),
            Step("at $\\alpha = 2$, $s = 1$, $b = 2$: printed vs. `exact_mse`",
                 printed_value, exact_value, "neq"),
        ),
        whole,
        (Step("printed $= \\operatorname{Var}(W) + \\alpha^2$", whole,
              variance + _ALPHA**2),),
        "a slip: the printed line is the second moment about $\\alpha$ and does not"
        " depend on $b$",
    )


def _erratum2(family):
    fam = _family(family)
    printed_left = _neg_integral(fam, (_X - _ALPHA) ** 2, -sp.oo, -_ALPHA)
    left = _neg_integral(fam, (_X + _ALPHA) ** 2, -sp.oo, -_ALPHA)
    right = _pos_integral(fam, (_X - _ALPHA) ** 2, _ALPHA, sp.oo)
    named = 4 * _ALPHA * _pos_integral(fam, _X, _ALPHA, sp.oo)
    eq1_bracket = (
        right
        + _neg_integral(fam, (_X - _ALPHA) ** 2, -sp.oo, 0)
        + _pos_integral(fam, (_X - _ALPHA) ** 2, 0, _ALPHA)
    )
    whole = _pos_integral(fam, (_X - _ALPHA) ** 2, 0, sp.oo) + _neg_integral(
        fam, (_X - _ALPHA) ** 2, -sp.oo, 0
    )
    fx = _f(_X)
    left_sym = _disp("left tail")
    return Derivation(
        "Erratum 2 (Eqs. 1 and 3, left tail): measure against $-\\alpha$",
        (
            Step("printed (Eq. 3)", left_sym,
                 sp.Integral(fx * (_X - _ALPHA) ** 2, (_X, -sp.oo, -_ALPHA))),
            Step("corrected", left_sym,
                 sp.Integral(fx * (_X + _ALPHA) ** 2, (_X, -sp.oo, -_ALPHA))),
            Step(
                "printed minus corrected ($x \\to -x$, $f$ even)",
                sp.Integral(fx * ((_X - _ALPHA) ** 2 - (_X + _ALPHA) ** 2),
                            (_X, -sp.oo, -_ALPHA)),
                4 * _ALPHA * sp.Integral(_X * fx, (_X, _ALPHA, sp.oo)),
            ),
            Step(f"evaluated for `{family}`",
                 4 * _ALPHA * sp.Integral(_X * fx, (_X, _ALPHA, sp.oo)), _tidy(named)),
            Step(
                "Eq. 1's $\\int_{-\\infty}^{\\alpha}$ makes its truncation bracket the"
                " whole line (the printed first line again)",
                sp.Integral(fx * (_X - _ALPHA) ** 2, (_X, _ALPHA, sp.oo))
                + sp.Integral(fx * (_X - _ALPHA) ** 2, (_X, -sp.oo, _ALPHA)),
                sp.Integral(fx * (_X - _ALPHA) ** 2, (_X, -sp.oo, sp.oo)),
            ),
            Step("corrected left tail = right tail, which gives Eq. 4", left_sym,
                 sp.Integral(fx * (_X - _ALPHA) ** 2, (_X, _ALPHA, sp.oo))),
        ),
        _tidy(left),
        (
            Step("corrected left tail = right tail (so Eq. 3 gives Eq. 4)", left, right),
            Step("printed $-$ corrected $= 4\\alpha\\int_\\alpha^\\infty x f(x)\\,dx$",
                 printed_left - left, named),
            Step("Eq. 1 bracket = whole line", eq1_bracket, whole),
        ),
        "a slip: with $(x - \\alpha)^2$ the left tail is not the mirror image of the"
        " right one, and Eq. 4 would not follow from Eq. 3",
    )


def _erratum3():
    step = 2 * _ALPHA / 2**_BITS
    end = -_ALPHA + 2**_M * step
    solution = sp.solve(sp.Eq(end, _ALPHA), _M)
    widths = sp.Sum(step, (_I, 0, 2**_BITS - 1)).doit()
    res = solution[0] if len(solution) == 1 else sp.FiniteSet(*solution)
    return Derivation(
        "Erratum 3 (Eq. 1): the sum runs over $2^b$ cells; $M$ means $b$",
        (
            Step("right end of the last cell, $\\Delta = 2\\alpha/2^b$",
                 _disp("right end"), end),
            Step("it is $\\alpha$ (the cells tile $[-\\alpha, \\alpha]$) only for", _M,
                 res),
            Step("total width of the $2^b$ cells",
                 sp.Sum(_STEP, (_I, 0, 2**_BITS - 1)), widths),
        ),
        res,
        (
            Step("$M = b$ is the only solution", sp.Tuple(*solution), sp.Tuple(_BITS)),
            Step("$2^b$ cells of width $\\Delta$ cover $2\\alpha$", widths, 2 * _ALPHA),
        ),
        "notation only: $M$ is not defined in Section 9; with $M = b$ the sum is right",
    )


def _erratum4(family):
    fam = _family(family)
    c = _ALPHA - _STEP / 2
    exact_tr = 2 * _pos_integral(fam, (_X - c) ** 2, _ALPHA, sp.oo)
    aciq_tr = 2 * _pos_integral(fam, (_X - _ALPHA) ** 2, _ALPHA, sp.oo)
    named = _STEP * 2 * _pos_integral(fam, _X - _ALPHA, _ALPHA, sp.oo) + _STEP**2 / 4 * (
        2 * _pos_integral(fam, sp.Integer(1), _ALPHA, sp.oo)
    )
    # the uniform law: Eq. 2 with a constant density, exactly, for alpha <= s
    uni = _FAMILIES["uniform"]
    q = sp.Function("q")(_I)
    cell = sp.Integral(uni.half_density * (_X - q) ** 2, (_X, q - _STEP / 2, q + _STEP / 2))
    cells = sp.Sum(cell, (_I, 0, 2**_BITS - 1))
    uni_rounding = cells.doit().subs(_STEP, 2 * _ALPHA / 2**_BITS)
    p_in = sp.integrate(uni.half_density, (_X, -_ALPHA, _ALPHA))  # alpha <= s
    uni_target = (_STEP**2 / 12 * p_in).subs(_STEP, 2 * _ALPHA / 2**_BITS)
    # exact_mse's truncation for b = 3 is the same formula with Delta = 2 alpha / 8
    exact3 = exact_mse(family, bits=3, part="truncation")
    fx = _f(_X)
    prob = _P(sp.Abs(_disp("W")) <= _ALPHA)
    return Derivation(
        "Erratum 4 (Eqs. 2-3): the ACIQ approximations, quantified",
        (
            Step("rounding of the real quantizer (Eq. 2 before the last step)",
                 _disp("rounding"), _STEP**2 / 12 * prob, "approx"),
            Step("uniform law, $\\alpha \\le s$: exact for every $b$ "
                 "($\\Delta = 2\\alpha/2^b$)", cells, _STEP**2 / 12 * p_in),
            Step("clipped values are reconstructed at $\\pm(\\alpha - \\Delta/2)$"
                 " (midrise), not at $\\pm\\alpha$",
                 _disp("truncation"),
                 2 * sp.Integral(fx * (_X - c) ** 2, (_X, _ALPHA, sp.oo))),
            Step("real minus ACIQ truncation",
                 _disp("difference"),
                 2 * _STEP * sp.Integral(fx * (_X - _ALPHA), (_X, _ALPHA, sp.oo))
                 + _STEP**2 / 2 * sp.Integral(fx, (_X, _ALPHA, sp.oo))),
            Step(f"evaluated for `{family}`", _disp("difference"), _tidy(named)),
        ),
        _tidy(named),
        (
            Step("uniform: the $2^b$ cells give $\\Delta^2/12 \\cdot P(|W| \\le \\alpha)$",
                 uni_rounding, uni_target),
            Step("real $-$ ACIQ truncation = named term", exact_tr - aciq_tr, named),
            Step("`exact_mse` truncation ($b = 3$) = the formula",
                 exact3, exact_tr.subs(_STEP, 2 * _ALPHA / 8)),
        ),
        "not an error of the text (Eqs. 2 and 3 are marked as approximations) but a"
        " modelling gap: the ACIQ model over-counts rounding noise by the factor"
        " $1/P(|W| \\le \\alpha)$ and under-counts clipping by the named term",
    )


def _erratum5(family):
    fam = _family(family)
    parts = _clamped_parts(family, _DEFAULT_GRID)
    eq6 = parts["atoms_raw"]  # the alpha < d branch
    eq7 = parts["atoms_raw"] + parts["in_range_raw"] + parts["rounding"]
    in_range = 2 * _pos_integral(fam, (_X - _ALPHA) ** 2, _ALPHA, _D)
    rest = in_range + parts["rounding"]
    mass_left = _neg_integral(fam, sp.Integer(1), -sp.oo, -_D)
    fx = _f(_X)
    return Derivation(
        "Erratum 5 (Sections 9.1 and 9.2): equation references",
        (
            Step("Section 9.1 cites \"Equation 10\"; the supplement numbers 1 to 8, and"
                 " the derivation meant is that of Eq. 4", _disp("Equation 10"),
                 _disp("Eqs. 1-4")),
            Step("Section 9.2 compares \"Eq. (4) and Eq. (6)\"; Eq. 6 is only the atoms'"
                 " error, the clamped law's error is Eq. 7", _disp("Eq. (6)"),
                 _disp("Eq. (7)")),
            Step("what Eq. 6 leaves out ($\\alpha' < d$)", _disp("Eq. 7 - Eq. 6"),
                 2 * sp.Integral(fx * (_X - _ALPHA) ** 2, (_X, _ALPHA, _D))
                 + parts["rounding"]),
            Step(f"evaluated for `{family}`", _disp("Eq. 7 - Eq. 6"),
                 _tidy(in_range) + parts["rounding"]),
        ),
        _tidy(in_range) + parts["rounding"],
        (
            Step("Eq. 6 $= 2F(-d)(d - \\alpha)^2$", eq6,
                 2 * mass_left * (_D - _ALPHA) ** 2),
            Step("Eq. 7 $-$ Eq. 6 = in-range term + rounding", eq7 - eq6, rest),
        ),
        "a slip (references only)",
        _cases(fam, _ALPHA, _D),
    )


def _erratum7(family):
    fam = _family(family)
    gap = _disp("E(A) - E'(A)")
    # (a) ACIQ model, A >= d: the clamped law is not clipped at all
    beyond = clamped_mse(family).args[-1][0]  # the alpha >= d branch
    gain_aciq = aciq_mse(family) - beyond
    trunc = aciq_mse(family, part="truncation")
    # (b) exact quantizer, A < d: atoms at +-d reconstructed at c < d
    mass = _pos_integral(fam, sp.Integer(1), _D, sp.oo)
    unb = 2 * _pos_integral(fam, (_X - _C) ** 2, _ALPHA, sp.oo)
    cla = 2 * (_pos_integral(fam, (_X - _C) ** 2, _ALPHA, _D) + mass * (_D - _C) ** 2)
    gain_exact = 2 * _pos_integral(fam, (_X - _C) ** 2 - (_D - _C) ** 2, _D, sp.oo)
    # (c) exact quantizer, A >= d: a counterexample (normal law, s = 1, A = 2, b = 2,
    # d = 1 on the threshold between the levels 1/2 and 3/2; ties go up, so d and
    # everything beyond it is reconstructed at 3/2)
    nrm = _FAMILIES["norm"]
    h = sp.Rational(3, 2)
    ce = 2 * (
        _pos_integral(nrm, (_X - h) ** 2, 1, sp.oo)
        - _pos_integral(nrm, sp.Integer(1), 1, sp.oo) * (1 - h) ** 2
    ).subs(_SCALE, 1)
    ce = sp.simplify(ce.replace(sp.erf, lambda z: 1 - sp.erfc(z)))
    fx = _f(_X)
    return Derivation(
        "Erratum 7 (scope of the proof): $A \\ge d$ and the exact quantizer",
        (
            Step("ACIQ model, $A \\ge d$: the clamped law is not clipped at all, so the"
                 " difference is the unbounded law's truncation error", gap,
                 2 * sp.Integral(fx * (_X - _A) ** 2, (_X, _A, sp.oo))),
            Step(f"evaluated for `{family}`", gap, _tidy(trunc.subs(_ALPHA, _A))),
            Step("exact quantizer, $A < d$, outermost level $c < d$ "
                 "($c = A - \\Delta/2$ midrise, $c = A$ midtread)", gap,
                 2 * sp.Integral(fx * ((_X - _C) ** 2 - (_D - _C) ** 2), (_X, _D, sp.oo))),
            Step("exact quantizer, normal law $s = 1$, $A = 2$, $b = 2$, $d = 1$"
                 " (so $A \\ge d$; $d$ and all of $(d, \\infty)$ map to $3/2$)", gap, ce),
            Step("numerically", ce, sp.N(ce, 6), "approx"),
            Step("so Lemma 1 fails there", ce, 0, "lt"),
        ),
        ce,
        (
            Step("ACIQ, $A \\ge d$: difference = truncation error of the unbounded law",
                 gain_aciq, trunc),
            Step("exact, $A < d$: difference "
                 "$= 2\\int_d^\\infty f(x)((x-c)^2 - (d-c)^2)\\,dx \\ge 0$",
                 unb - cla, gain_exact),
        ),
        "a real gap in the proof's scope: in the ACIQ model Lemma 1 extends to $A \\ge d$"
        " and with the exact quantizer it holds for $A < d$, but with the exact"
        " quantizer and $A \\ge d$ clamping can increase the error",
        _cases(fam, _ALPHA, _D),
    )


@lru_cache(maxsize=None)
def errata(family: str = "norm") -> tuple:
    r"""Checks of the seven slips in the supplement's Section 9 (``CONVENTIONS.md``).

    Each entry is a :class:`Derivation` whose ``steps`` show the printed and the
    corrected form and whose ``identities`` (verified by :meth:`Derivation.check`)
    carry the claim, evaluated in closed form for `family`; ``note`` gives the
    verdict.  Slip 4 turns out to be a labelled approximation rather than an error,
    slip 3 a notational one (see the notes).  Erratum 6 is :func:`lemma1_difference`,
    whose corrected form is

    .. math::

        E(A) - E'(A) = 2\int_d^\infty f(x)\left((x-A)^2 - (d-A)^2\right)dx

    where :math:`A` is the clipping value and :math:`d` the clamp bound.

    Parameters
    ----------
    family : {"norm", "laplace", "uniform"}, optional
        The law the integrals are evaluated for.

    Returns
    -------
    tuple of Derivation
        Errata 1 to 7 in order.

    Examples
    --------
    >>> from qerror import symbolic
    >>> [e.holds for e in symbolic.errata("laplace")]
    [True, True, True, True, True, True, True]
    """
    _family(family)
    return (
        _erratum1(family),
        _erratum2(family),
        _erratum3(),
        _erratum4(family),
        _erratum5(family),
        lemma1_difference(family),
        _erratum7(family),
    )


# --------------------------------------------------------------------------------------
# evaluation and rendering


def _lambertw_real(z):
    import numpy as np
    from scipy.special import lambertw

    return np.real(lambertw(z))


def lambdify(expr, *args, dps=None):
    r"""Turn an expression of this module into a numeric function of `args`.

    .. math::

        g(a_1, \dots, a_n) = \mathrm{expr}\big|_{\text{args} = (a_1, \dots, a_n)}

    where the :math:`a_i` are the values of the symbols named in `args`.

    Parameters
    ----------
    expr : sympy.Expr
    *args : str or sympy.Symbol
        The arguments, by role name (``"alpha"``, ``"bits"``, ``"scale"``, ``"d"``,
        ``"A"``, see :data:`SYMBOLS`) or as symbols.
    dps : int, optional
        ``None`` (default): a broadcasting double-precision function built on
        ``scipy.special`` (``erfc``, ``lambertw``) and numpy.  An integer: evaluate
        with mpmath at that many digits (one point at a time, then rounded to
        float); use it where the closed form cancels in double precision, e.g. a
        difference of two normal tails far out.

    Returns
    -------
    callable
        Scalars in give a float out.

    Examples
    --------
    >>> from qerror import symbolic
    >>> g = symbolic.lambdify(symbolic.aciq_mse("laplace"), "alpha", "bits", "scale")
    >>> round(g(5.03, 4, 1.0), 7)
    0.0460215
    """
    import numpy as np

    syms = [SYMBOLS[a] if isinstance(a, str) else a for a in args]
    if dps is None:
        fn = sp.lambdify(
            syms, expr, modules=[{"LambertW": _lambertw_real}, "scipy", "numpy"]
        )

        def numeric(*values):
            values = [np.asarray(v, dtype=np.float64) for v in values]
            out = np.asarray(fn(*values), dtype=np.float64)
            if values:
                out = np.broadcast_to(out, np.broadcast_shapes(*[v.shape for v in values]))
            return float(out) if out.ndim == 0 else out.copy()

        return numeric

    import mpmath

    fn = sp.lambdify(syms, expr, modules="mpmath")

    def one(*values):
        with mpmath.workdps(int(dps)):
            return float(fn(*[mpmath.mpf(float(v)) for v in values]))

    vec = np.vectorize(one, otypes=[np.float64])

    def precise(*values):
        out = vec(*values)
        return float(out) if out.ndim == 0 else out

    return precise


_RELATIONS = {"=": "=", "approx": r"\approx", "neq": r"\neq", "lt": "<", "ge": r"\ge"}


def _latex_text(label: str) -> str:
    """A label as LaTeX: plain text in ``\\text{}``, ``$...$`` segments as math,
    backquoted names as ``\\texttt{}``."""
    out = []
    for i, seg in enumerate(label.split("$")):
        if i % 2:
            out.append(seg)
            continue
        if not seg:
            continue
        repl = {"_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#", "{": r"\{", "}": r"\}"}
        text = "".join(repl.get(ch, ch) for ch in seg)
        text = re.sub(r"`([^`]*)`", r"}\\texttt{\1}\\text{", text)
        out.append(rf"\text{{{text}}}")
    return " ".join(out)


def _latex(expr) -> str:
    return sp.latex(expr, symbol_names=_DISPLAY)


def to_latex(obj, *, labels: bool = True) -> str:
    r"""LaTeX for an expression, an equation, a :class:`Step` or a :class:`Derivation`.

    .. math::

        \text{lhs} \;\mathrel{R}\; \text{rhs}

    where :math:`R` is the step's relation.  A derivation becomes an ``aligned``
    block, one step a line (with the step's label as ``\text{...}`` when `labels`).
    The output has no ``$$`` delimiters.

    Parameters
    ----------
    obj : sympy.Basic, Step or Derivation
    labels : bool, optional
        Whether to put the steps' labels in the block.

    Returns
    -------
    str

    Examples
    --------
    >>> from qerror import symbolic
    >>> symbolic.to_latex(symbolic.optimal_alpha("laplace"))
    's W\\left(3 \\cdot 4^{b}\\right)'
    """
    if isinstance(obj, Derivation):
        lines = []
        for st in obj.steps:
            line = f"{_latex(st.lhs)} &{_RELATIONS[st.relation]} {_latex(st.rhs)}"
            if labels:
                line += rf" && {_latex_text(st.label)}"
            lines.append(line)
        return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"
    if isinstance(obj, Step):
        return f"{_latex(obj.lhs)} {_RELATIONS[obj.relation]} {_latex(obj.rhs)}"
    if isinstance(obj, str):
        return _latex_text(obj)
    if isinstance(obj, sp.Basic):
        return _latex(obj)
    raise TypeError(f"cannot render {type(obj).__name__} as LaTeX")
