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

# Layout: _core (symbols, families, shared helpers, Step and Derivation), _grids (the
# only module that names the grids), _parts (cached closed-form pieces), derivations
# (Eqs. 2-8), slips (errata(): the slips of Section 9), output (lambdify, to_latex).

from __future__ import annotations

from . import _core
from ._core import Derivation, Step
from .derivations import (
    aciq_mse,
    aciq_mse_derivative,
    clamped_mse,
    exact_mse,
    lemma1_difference,
    optimal_alpha,
    rounding_derivation,
)
from .output import lambdify, to_latex
from .products import (dot_product_derivation, product_derivation,  # issue 15
                       product_optimum_derivation, uniform_product_mse)
from .slips import errata

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
    "product_derivation", "dot_product_derivation", "product_optimum_derivation",
    "uniform_product_mse",
]

#: The symbols the returned expressions are written in, by role.
SYMBOLS = _core.SYMBOLS

#: Family names accepted by the functions of this module, with the scipy law each means.
FAMILIES = _core.FAMILIES
