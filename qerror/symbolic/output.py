"""Evaluation and rendering of :mod:`qerror.symbolic`'s expressions: numeric functions
(:func:`lambdify`) and LaTeX (:func:`to_latex`)."""

from __future__ import annotations

import re

import sympy as sp

from ._core import _DISPLAY, SYMBOLS, Derivation, Step

__all__ = ["lambdify", "to_latex"]


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
