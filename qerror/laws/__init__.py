r"""Laws: what a distribution must provide, and the laws qerror builds.

Every function that takes ``dist`` accepts a frozen continuous ``scipy.stats`` law
(``stats.norm(scale=2)``, ``stats.t(4)``), a clamped law (:func:`clamp`, the
supplement's Eqs. 5-6) or a saturated law (:func:`saturate`).  Internally each is
*resolved* once into a standardized family with partial moments
:math:`\int_a^b f(z)(z-c)^k dz` (closed forms for ``norm``, ``laplace``, ``uniform``;
quadrature for every other law), a location and scale, the bounds of its continuous
part and its atoms.  The protocol (``qerror/laws/_protocol.py``): a scipy family may
provide ``_qerror_family()`` (saturated laws do), any other object
``_qerror_law_()``; see ``docs/architecture.md``.
"""

from .clamped import ClampedDistribution, clamp
from .saturated import SaturatedDistribution, saturate

__all__ = ["clamp", "ClampedDistribution", "saturate", "SaturatedDistribution"]
