"""Derivations of the supplement's Eqs. 2-8: rounding error, the ACIQ model, its
derivative and optimum, the clamped law, the exact quantizer and Lemma 1."""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from ._core import (
    _A,
    _ALPHA,
    _BITS,
    _D,
    _F,
    _FAMILIES,
    _I,
    _PARTS,
    _SCALE,
    _STEP,
    _X,
    Derivation,
    Step,
    _cases,
    _disp,
    _f,
    _family,
    _neg_integral,
    _number,
    _part,
    _pos_integral,
    _simplify_in_2b,
    _substitute,
    _tidy,
)
from ._grids import _DEFAULT_GRID, _grid, _grid_step, _min_bits
from ._parts import (
    _aciq_derivative,
    _aciq_parts,
    _clamped_parts,
    _exact_parts,
    _rounding_term,
)

__all__ = [
    "rounding_derivation",
    "aciq_mse",
    "aciq_mse_derivative",
    "optimal_alpha",
    "clamped_mse",
    "exact_mse",
    "lemma1_difference",
]


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
    result = _rounding_term(grid)
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
