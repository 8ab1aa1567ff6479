r"""Symbolic derivations of the supplement's Section 9 (Eqs. 1-8) with sympy.

The functions here *derive* the closed forms that the numeric engine evaluates: every
integral is computed by :func:`sympy.integrate` from the family's density, every
optimum by :func:`sympy.solve` from the stationarity condition.  Nothing is typed in
as an answer.  They return sympy expressions in the symbols of :data:`SYMBOLS`
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
from dataclasses import dataclass
from functools import lru_cache

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


def _pos_integral(fam: _Family, g, lo, hi):
    r""":math:`\int_{lo}^{hi} f(x) g(x) dx` for :math:`0 \le lo \le hi`, clipped to the support."""
    u = fam.upper
    return sp.integrate(fam.half_density * g, (_X, sp.Min(lo, u), sp.Min(hi, u)))


def _neg_integral(fam: _Family, g, lo, hi):
    r""":math:`\int_{lo}^{hi} f(x) g(x) dx` for :math:`lo \le hi \le 0`, clipped to the support."""
    u = fam.upper
    dens = fam.half_density.subs(_X, -_X)
    return sp.integrate(dens * g, (_X, sp.Max(lo, -u), sp.Max(hi, -u)))


def _tidy(expr):
    """erf -> 1 - erfc (no cancellation in the tails), Min -> Piecewise, simplify."""
    expr = expr.replace(sp.erf, lambda z: 1 - sp.erfc(z))
    if expr.has(sp.Min, sp.Max):
        expr = sp.piecewise_fold(expr.rewrite(sp.Piecewise))
    return sp.simplify(expr)


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
        raise TypeError(f"{name} must be a real number, a sympy expression or None, got {value!r}")
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


def _substitute(expr, *, alpha=None, bits=None, scale=None, d=None, grid="midrise"):
    values = {
        _ALPHA: _number(alpha, "alpha"),
        _BITS: _number(bits, "bits", integer=True, minimum=2 if grid == "midtread" else 1),
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
    """

    title: str
    steps: tuple
    result: sp.Basic
    identities: tuple = ()
    note: str = ""

    def check(self) -> tuple:
        """Return ``simplify(lhs - rhs)`` for every identity (all zero when they hold)."""
        return tuple(_simplify_zero(s.lhs - s.rhs) for s in self.identities)

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
    if expr.has(sp.Piecewise):
        expr = sp.piecewise_fold(expr)
    return sp.simplify(expr)


# --------------------------------------------------------------------------------------
# Eq. 2: rounding error


@lru_cache(maxsize=None)
def rounding_derivation(grid: str = "midrise") -> Derivation:
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
    family, *, alpha=None, bits=None, scale=None, grid="midrise", part="total"
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
    0.0053917034883718669860
    """
    _family(family)
    grid = _grid(grid)
    part = _part(part)
    truncation, rounding = _aciq_parts(family, grid)
    expr = {"total": sp.piecewise_fold(truncation + rounding), "truncation": truncation, "rounding": rounding}[
        part
    ]
    return _substitute(expr, alpha=alpha, bits=bits, scale=scale, grid=grid)


@lru_cache(maxsize=None)
def _aciq_derivative(family: str, grid: str):
    truncation, rounding = _aciq_parts(family, grid)
    dt = _tidy(sp.diff(truncation, _ALPHA))
    return sp.piecewise_fold(dt + sp.diff(rounding, _ALPHA))


def aciq_mse_derivative(family, *, alpha=None, bits=None, scale=None, grid="midrise"):
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
    -0.033694
    """
    _family(family)
    grid = _grid(grid)
    return _substitute(
        _aciq_derivative(family, grid), alpha=alpha, bits=bits, scale=scale, grid=grid
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


def optimal_alpha(family, *, bits=None, scale=None, grid="midrise"):
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
    return _substitute(_optimal_alpha(family, grid), bits=bits, scale=scale, grid=grid)


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
    atoms = sp.Piecewise((atoms, _ALPHA < _D), (0, True))
    in_range = sp.Piecewise((in_range, _ALPHA < _D), (0, True))
    truncation = sp.piecewise_fold(atoms + in_range)
    rounding = rounding_derivation(grid).result
    return {"atoms": atoms, "in_range": in_range, "truncation": truncation,
            "rounding": rounding}


def clamped_mse(
    family, *, alpha=None, d=None, bits=None, scale=None, grid="midrise", part="total"
):
    r"""The ACIQ-model error of the clamped law :math:`W' = \mathrm{clip}(W, -d, d)` (Eq. 7).

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
    0.005053
    """
    _family(family)
    grid = _grid(grid)
    part = _part(part, _PARTS + ("atoms", "in_range"))
    parts = _clamped_parts(family, grid)
    if part == "total":
        expr = sp.piecewise_fold(parts["truncation"] + parts["rounding"])
    else:
        expr = parts[part]
    return _substitute(expr, alpha=alpha, bits=bits, scale=scale, d=d, grid=grid)


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
    if grid == "midrise":
        step = 2 * _ALPHA / 2**bits
        cells = [c(i * step, (i + 1) * step, (2 * i + 1) * step / 2)
                 for i in range(2 ** (bits - 1))]
        outer = _ALPHA - step / 2
    else:
        k_max = 2 ** (bits - 1) - 1
        step = _ALPHA / k_max
        cells = [c(0, step / 2, 0)]
        cells += [c((k - sp.Rational(1, 2)) * step, (k + sp.Rational(1, 2)) * step, k * step)
                  for k in range(1, k_max)]
        cells.append(c((k_max - sp.Rational(1, 2)) * step, _ALPHA, _ALPHA))
        outer = _ALPHA
    rounding = 2 * sp.Add(*cells)
    truncation = 2 * tail.subs({lo: _ALPHA, q: outer}, simultaneous=True)
    return truncation, rounding


_MAX_EXACT_BITS = 10


def exact_mse(family, *, bits, alpha=None, scale=None, grid="midrise", part="total"):
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
    0.122135
    """
    _family(family)
    grid = _grid(grid)
    part = _part(part)
    if isinstance(bits, sp.Basic) and not bits.is_Integer:
        raise TypeError("bits must be a concrete integer for exact_mse")
    nb = int(_number(bits, "bits", integer=True, minimum=2 if grid == "midtread" else 1))
    if nb > _MAX_EXACT_BITS:
        raise ValueError(f"bits must be <= {_MAX_EXACT_BITS} for exact_mse, got {bits!r}")
    truncation, rounding = _exact_parts(family, grid, nb)
    expr = {"total": truncation + rounding, "truncation": truncation, "rounding": rounding}[
        part
    ]
    return _substitute(expr, alpha=alpha, scale=scale, grid=grid)
