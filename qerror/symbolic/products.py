r"""Quantized products with sympy: the error of :math:`Q(W)Q(X)`, of a dot product, and
why the separately optimal boundaries are jointly optimal (:mod:`qerror.products`).

The expectation of a polynomial in :math:`W, Q_W = Q(W), X, Q_X = Q(X)` is taken
monomial by monomial with independence,
:math:`\mathbb E[W^iQ_W^jX^kQ_X^l] = \mathbb E[W^iQ_W^j]\,\mathbb E[X^kQ_X^l]`, so every
result below is *derived* from the definitions
:math:`S = \mathbb E[W^2]`, :math:`m = \mathbb E[(W-Q_W)^2]`,
:math:`g = \mathbb E[Q_W(W-Q_W)]` by :func:`sympy.expand` and :func:`sympy.solve`, not
typed in.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from ._core import _STEP, _X, Derivation, Step

__all__ = ["product_derivation", "dot_product_derivation", "product_optimum_derivation",
           "uniform_product_mse"]

_E = sp.Function("E")
_W, _QW, _XX, _QX = sp.symbols("W Q_W X Q_X", real=True)
_N = sp.Symbol("n", positive=True, integer=True)


def _side(tag):
    return {k: sp.Symbol(f"{k}_{tag}", real=True) for k in ("S", "m", "g", "mu", "beta")}


_SW, _SX = _side("W"), _side("X")


def _moment(v, q, i, j):
    """E[v^i q^j] as an unevaluated expectation (1 for i = j = 0)."""
    if i == 0 and j == 0:
        return sp.Integer(1)
    return _E(v**i * q**j)


def _expect(expr, pairs):
    r"""Expectation of a polynomial in the variables of ``pairs`` (a list of (value,
    quantized) symbol pairs, mutually independent): monomial by monomial."""
    gens = [s for p in pairs for s in p]
    poly = sp.Poly(sp.expand(expr), *gens)
    total = sp.Integer(0)
    for powers, coeff in poly.terms():
        term = coeff
        for k, (v, q) in enumerate(pairs):
            term *= _moment(v, q, powers[2 * k], powers[2 * k + 1])
        total += term
    return total


def _raw_in_terms_of_smg(v, q, side):
    r"""E[vq] and E[q^2] from S, m, g, solved from the definitions."""
    ewq, eq2 = _E(v * q), _E(q**2)
    m_def = sp.Eq(side["m"], _expect((v - q) ** 2, [(v, q)]).subs(_E(v**2), side["S"]))
    g_def = sp.Eq(side["g"], _expect(q * (v - q), [(v, q)]))
    sol = sp.solve([m_def, g_def], [ewq, eq2], dict=True)[0]
    return {_E(v**2): side["S"], ewq: sol[ewq], eq2: sol[eq2]}


@lru_cache(maxsize=None)
def product_derivation() -> Derivation:
    r"""Derive the error of a product of independent quantized factors.

    .. math::

        \mathbb E\bigl[(WX - Q_WQ_X)^2\bigr]
          = S_W m_X + S_X m_W - m_W m_X + 2\,g_W g_X

    where :math:`S = \mathbb E[W^2]`, :math:`m = \mathbb E[(W-Q_W)^2]` and
    :math:`g = \mathbb E[Q_W(W - Q_W)]` of each factor.

    Returns
    -------
    Derivation
        ``result`` is the right-hand side; ``holds`` checks every step with sympy.

    Examples
    --------
    >>> from qerror import symbolic
    >>> d = symbolic.product_derivation()
    >>> d.result
    S_W*m_X + S_X*m_W + 2*g_W*g_X - m_W*m_X
    >>> d.holds
    True
    """
    err = _W * _XX - _QW * _QX
    raw = _expect(err**2, [(_W, _QW), (_XX, _QX)])
    subs = {**_raw_in_terms_of_smg(_W, _QW, _SW), **_raw_in_terms_of_smg(_XX, _QX, _SX)}
    result = sp.expand(raw.subs(subs))
    eW, eX = sp.symbols("e_W e_X", real=True)
    split = eW * _XX + _QW * eX
    steps = (
        Step("the error of the product, e = W - Q(W)", err,
             split),
        Step("expand and factor the expectations (W, X independent)",
             _E(err**2), raw),
        Step("E[WQ] = S - m - g and E[Q^2] = S - m - 2g (from the definitions of m, g)",
             raw, result),
    )
    identities = (
        Step("error split", err, split.subs({eW: _W - _QW, eX: _XX - _QX})),
        Step("moments", raw.subs(subs), result),
    )
    return Derivation("Error of a quantized product", steps, result, identities,
                      note="independence of W and X is the only assumption; g = 0 at "
                           "the MSE-optimal alpha of each factor")


@lru_cache(maxsize=None)
def dot_product_derivation(length: int = 3) -> Derivation:
    r"""Derive the error of a dot product :math:`\sum_{k=1}^n W_kX_k` of i.i.d. terms.

    .. math::

        \mathbb E\Bigl[\Bigl(\sum_k D_k\Bigr)^2\Bigr] = n\,\mathbb E[D^2]
            + n(n-1)\,\mathbb E[D]^2,\qquad
        \mathbb E[D] = \mu_W\beta_X + \mu_X\beta_W - \beta_W\beta_X,

    with :math:`D = WX - Q_WQ_X`, :math:`\mu = \mathbb E[W]` and
    :math:`\beta = \mathbb E[W - Q_W]`.  The general formula is checked against the
    full expansion for ``length`` terms (every factor independent).

    Parameters
    ----------
    length : int
        Number of terms expanded in full for the check (2 to 5).

    Returns
    -------
    Derivation

    Examples
    --------
    >>> from qerror import symbolic
    >>> d = symbolic.dot_product_derivation()
    >>> d.result
    n*(n - 1)*(-beta_W*beta_X + beta_W*mu_X + beta_X*mu_W)**2 + n*E(D**2)
    >>> d.holds
    True
    """
    if isinstance(length, bool) or not isinstance(length, int) or not 2 <= length <= 5:
        raise ValueError(f"length must be an integer from 2 to 5, got {length!r}")
    D = sp.Symbol("D", real=True)
    n = length
    ws = sp.symbols(f"W1:{n + 1}", real=True)
    qw = sp.symbols(f"QW1:{n + 1}", real=True)
    xs = sp.symbols(f"X1:{n + 1}", real=True)
    qx = sp.symbols(f"QX1:{n + 1}", real=True)
    total = sum(ws[k] * xs[k] - qw[k] * qx[k] for k in range(n))
    full = _expect(total**2, [p for k in range(n) for p in ((ws[k], qw[k]),
                                                             (xs[k], qx[k]))])
    # identical laws: rename every factor's moments to those of W and X
    ren = {}
    for k in range(n):
        for (v, q), (V, Q) in (((ws[k], qw[k]), (_W, _QW)), ((xs[k], qx[k]), (_XX, _QX))):
            for i in range(3):
                for j in range(3):
                    if i + j:
                        ren[_E(v**i * q**j)] = _E(V**i * Q**j)
    full = sp.expand(full.subs(ren))
    d2 = _expect((_W * _XX - _QW * _QX) ** 2, [(_W, _QW), (_XX, _QX)])
    d1 = _expect(_W * _XX - _QW * _QX, [(_W, _QW), (_XX, _QX)])
    general = _N * _E(D**2) + _N * (_N - 1) * _E(D) ** 2
    mean_subs = {_E(_W): _SW["mu"], _E(_QW): _SW["mu"] - _SW["beta"],
                 _E(_XX): _SX["mu"], _E(_QX): _SX["mu"] - _SX["beta"]}
    mean_d = sp.factor(sp.expand(d1.subs(mean_subs)))
    mean_form = _SW["mu"] * _SX["beta"] + _SX["mu"] * _SW["beta"] - _SW["beta"] * _SX["beta"]
    result = _N * _E(D**2) + _N * (_N - 1) * mean_form**2
    steps = (
        Step("sum of n i.i.d. terms D_k = W_k X_k - Q(W_k) Q(X_k)",
             sp.Symbol("E[(sum_k D_k)^2]"), general),
        Step("E[D] with E[Q] = mu - beta", _E(D), mean_form),
    )
    identities = (
        Step(f"full expansion for n = {n}", full,
             sp.expand(general.subs({_N: n, _E(D**2): d2, _E(D): d1}))),
        Step("mean of one term", sp.expand(d1.subs(mean_subs)), sp.expand(mean_form)),
    )
    return Derivation("Error of a dot product of quantized factors", steps, result,
                      identities, note=f"mean of D: {mean_d}; zero for laws symmetric "
                                       f"about 0 on symmetric formats (beta = 0, mu = 0)")


@lru_cache(maxsize=None)
def product_optimum_derivation() -> Derivation:
    r"""The identity behind the joint optimum of :func:`qerror.products.
    optimal_product_alpha`, and the minimum value.

    .. math::

        S_WS_X - 2ac + bd = S_W\Bigl(S_X - \frac{c^2}{d}\Bigr)
            + \frac{c^2}{d}\,\mathbb E\bigl[(W - \tfrac{d}{c}Q_W)^2\bigr],
        \qquad E^* = S_WS_X - (S_W - m_W^*)(S_X - m_X^*),

    with :math:`a = \mathbb E[WQ_W]`, :math:`b = \mathbb E[Q_W^2]`,
    :math:`c = \mathbb E[XQ_X]`, :math:`d = \mathbb E[Q_X^2]`; the second is the product
    error at :math:`g_W = g_X = 0`.

    Returns
    -------
    Derivation

    Examples
    --------
    >>> from qerror import symbolic
    >>> symbolic.product_optimum_derivation().holds
    True
    """
    a, b, c, d = _E(_W * _QW), _E(_QW**2), _E(_XX * _QX), _E(_QX**2)
    S_w, S_x = _E(_W**2), _E(_XX**2)
    lhs = S_w * S_x - 2 * a * c + b * d
    mu = d / c
    scaled = _expect((_W - mu * _QW) ** 2, [(_W, _QW)])
    rhs = S_w * (S_x - c**2 / d) + c**2 / d * scaled
    prod = product_derivation().result
    at_opt = prod.subs({_SW["g"]: 0, _SX["g"]: 0})
    value = _SW["S"] * _SX["S"] - (_SW["S"] - _SW["m"]) * (_SX["S"] - _SX["m"])
    steps = (
        Step("complete the square in the weights' quantizer", lhs, rhs),
        Step("at the separately optimal alphas g_W = g_X = 0", prod, value),
    )
    identities = (Step("square", lhs, rhs), Step("minimum value", at_opt, value))
    return Derivation("Joint optimum of a quantized product", steps, value, identities,
                      note="E[(W - mu Q_W)^2] >= m_W* (mu Q_W rounds to the levels of "
                           "Q at mu alpha, not always to the nearest) and S_X - c^2/d = "
                           "min_lambda E[(X - lambda Q_X)^2] >= m_X*: the minimum is "
                           "attained at the separate optima")


@lru_cache(maxsize=None)
def _uniform_product():
    bw, bx = sp.symbols("b_W b_X", positive=True, integer=True)
    sw, sx = sp.symbols("s_W s_X", positive=True)
    out = {}
    for b, s, tag in ((bw, sw, "W"), (bx, sx, "X")):
        q = sp.Symbol("q", real=True)
        f = 1 / (2 * s)  # uniform on (-s, s)
        cell2 = sp.integrate(f * (_X - q) ** 2, (_X, q - _STEP / 2, q + _STEP / 2))
        cell_g = sp.integrate(f * q * (_X - q), (_X, q - _STEP / 2, q + _STEP / 2))
        step = 2 * s / 2**b  # midrise at alpha = s: 2^b whole cells, no clipping
        out[tag] = {"S": sp.integrate(f * _X**2, (_X, -s, s)),
                    "m": sp.simplify((2**b * cell2).subs(_STEP, step)),
                    "g": sp.simplify(cell_g)}  # zero whatever the level
    res = product_derivation().result.subs({
        _SW["S"]: out["W"]["S"], _SW["m"]: out["W"]["m"], _SW["g"]: out["W"]["g"],
        _SX["S"]: out["X"]["S"], _SX["m"]: out["X"]["m"], _SX["g"]: out["X"]["g"]})
    return sp.simplify(res), (bw, bx, sw, sx)


def uniform_product_mse(*, bits_w=None, bits_x=None, scale_w=None, scale_x=None):
    r"""Closed-form product error of two uniform laws, each on the midrise grid
    clipping at its half-width :math:`s` (no clipping error).

    .. math::

        E = \frac{s_W^2}{3}\frac{\Delta_X^2}{12} + \frac{s_X^2}{3}\frac{\Delta_W^2}{12}
            - \frac{\Delta_W^2\Delta_X^2}{144}, \qquad \Delta = \frac{2s}{2^b},

    derived from the cell integrals (every cell is whole and symmetric about its
    level, so :math:`g = 0`).

    Parameters
    ----------
    bits_w, bits_x, scale_w, scale_x : optional
        Values to substitute (bit-widths and half-widths :math:`s`).

    Returns
    -------
    sympy.Expr
        In the symbols ``b_W, b_X, s_W, s_X`` (those not substituted).

    Examples
    --------
    >>> from qerror import symbolic
    >>> symbolic.uniform_product_mse(bits_w=4, bits_x=4, scale_w=1, scale_x=1)
    511/589824
    """
    expr, (bw, bx, sw, sx) = _uniform_product()
    subs = {k: v for k, v in ((bw, bits_w), (bx, bits_x), (sw, scale_w), (sx, scale_x))
            if v is not None}
    return sp.simplify(expr.subs(subs)) if subs else expr

