r"""Non-uniform quantizers: Lloyd-Max (minimum-MSE) and power-of-two (logarithmic) grids.

This package is a *parallel* API to the uniform one (:func:`qerror.mse`,
:func:`qerror.optimal_alpha`): the grids here are not described by a step, so they get
their own functions.

Lloyd-Max
    :func:`lloyd_max` finds the :math:`N = 2^b`-level quantizer of least mean-square
    error.  For a law it solves Max's conditions (thresholds at the midpoints of
    neighbouring levels, every level at the conditional mean of its cell) by Newton's
    method on the stationarity condition with a tridiagonal Hessian, falling back to a
    Lloyd step whenever Newton does not reduce the residual.  For data it solves 1-D
    k-means exactly (global optimum) by dynamic programming when affordable.

Power-of-two grid
    :func:`pow2_levels`, :func:`pow2_quantize`, :func:`pow2_mse`,
    :func:`pow2_optimal_alpha`.  Convention: the :math:`2^b` levels are
    :math:`\pm\alpha 2^{-k}`, :math:`k = 0, \dots, 2^{b-1}-1`; **zero is not a level**
    (as on the midrise grid), the decision threshold between the two smallest levels is
    0, every other threshold is the midpoint of its neighbouring levels, and inputs
    beyond :math:`\pm\alpha` map to :math:`\pm\alpha` (the outermost level *is* the
    clipping boundary, unlike the midrise grid).

The two ideas live in their own modules, re-exported here: :mod:`qerror.nonuniform.lloyd`
(Lloyd-Max) and :mod:`qerror.nonuniform.pow2` (power-of-two grid).
"""

from __future__ import annotations

# private helpers kept importable from here (tests/test_montecarlo.py uses them)
from ._common import _resolve_any  # noqa: F401
from ._pow2_engine import _pow2_parts  # noqa: F401
from .lloyd import LloydMaxResult, lloyd_max
from .pow2 import pow2_levels, pow2_mse, pow2_optimal_alpha, pow2_quantize

__all__ = ["LloydMaxResult", "lloyd_max", "pow2_levels", "pow2_quantize", "pow2_mse",
           "pow2_optimal_alpha"]
