r"""Partial moments of standardized laws: the numerical heart of qerror.

Every error quantity reduces to two primitives of a *standardized* law (``loc = 0``,
``scale = 1``) with density :math:`f`:

``seg(a, b, c)``
    :math:`\int_a^b f(x)\,(x-c)^2\,dx` for :math:`a < b` (either may be infinite),
    used with :math:`c` inside a narrow cell, or with :math:`c` outside the interval
    on the side of the grid (the clipping tails).

``cells(a0, step, n)``
    :math:`\sum_{i=0}^{n-1} \int_{a_i}^{a_i+\Delta} f(x)\,(x - a_i - \Delta/2)^2\,dx`,
    :math:`a_i = a_0 + i\Delta`: the rounding error of a block of ``n`` whole cells.
    ``n`` can be :math:`2^{64}`, so families provide an :math:`O(1)` form.

The registry :data:`FAMILIES` maps a scipy.stats family name to a class with closed
forms; every other continuous family goes through :class:`GenericFamily` (adaptive
quadrature, Gauss-Legendre per cell, Euler-Maclaurin for very many cells).

All functions take and return float64 ndarrays of one common shape.
"""

from ._base import _FirstMomentView
from ._closed import Laplace, Uniform
from ._generic import GenericFamily, generic_family
from ._normal import Normal

__all__ = ["FAMILIES", "GenericFamily", "Laplace", "Normal", "Uniform", "generic_family",
           "_FirstMomentView"]

#: scipy name -> family with closed-form partial moments
FAMILIES = {"norm": Normal(), "laplace": Laplace(), "uniform": Uniform()}
