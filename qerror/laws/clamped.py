r"""Distributions accepted by qerror: scipy.stats frozen laws and clamped laws.

Any frozen *continuous* scipy.stats distribution is accepted (``stats.norm(scale=2)``,
``stats.t(4)``, ...).  The families in :data:`qerror.laws._families.FAMILIES` (``norm``,
``laplace``, ``uniform``) have closed-form partial moments; every other family is
integrated numerically.

:func:`clamp` builds the law of :math:`W' = \mathrm{clip}(W, -d, d)` (the output of a
saturating nonlinearity, the supplement's Eqs. 5-7): density :math:`f` on
:math:`(-d, d)` and point masses :math:`F(-d)` at :math:`-d` and :math:`1-F(d)` at
:math:`d`.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_positive_scalar
from ._protocol import (
    _check_clamp_bound,
    _check_scipy_law,
    clamped_law,
    resolve,
)

__all__ = ["clamp", "ClampedDistribution"]


class ClampedDistribution:
    r"""The law of :math:`W' = \mathrm{clip}(W, -d, d)` (supplement Eqs. 5-7).

    Use :func:`clamp` to build one.  It is accepted wherever qerror accepts a
    distribution.

    Attributes
    ----------
    base : scipy.stats frozen distribution
        The law of the unclamped :math:`W`.
    d : float
        The clamp bound.
    """

    def __init__(self, base, d: float):
        _check_scipy_law(base)
        d = check_positive_scalar(d, "d")
        _check_clamp_bound(d, resolve(base).scale)  # also checks base's parameters
        self.base = base
        self.d = d

    def __repr__(self) -> str:
        b = self.base
        args = ", ".join([*(repr(a) for a in b.args), *(f"{k}={v!r}" for k, v in b.kwds.items())])
        return f"clamp({b.dist.name}({args}), d={self.d!r})"

    @property
    def atoms(self):
        """((-d, P(W <= -d)), (d, P(W >= d))): the two point masses."""
        return ((-self.d, float(self.base.cdf(-self.d))), (self.d, float(self.base.sf(self.d))))

    def support(self):
        lo, hi = self.base.support()
        return max(float(lo), -self.d), min(float(hi), self.d)

    def cdf(self, x):
        """CDF of W' (right-continuous; jumps at -d and d)."""
        x = np.asarray(x, dtype=np.float64)
        out = np.where(x < -self.d, 0.0, np.where(x >= self.d, 1.0, self.base.cdf(x)))
        return out[()] if out.ndim == 0 else out

    def pdf(self, x):
        """Density of the continuous part (zero outside (-d, d); the atoms are extra)."""
        x = np.asarray(x, dtype=np.float64)
        out = np.where(np.abs(x) < self.d, self.base.pdf(x), 0.0)
        return out[()] if out.ndim == 0 else out

    def rvs(self, size=None, random_state=None):
        """Draw samples: ``clip(base.rvs(...), -d, d)``."""
        return np.clip(self.base.rvs(size=size, random_state=random_state), -self.d, self.d)

    def _qerror_law_(self):
        """The resolved law (qerror's law protocol)."""
        return clamped_law(self.base, self.d)

    def _moment(self, k: int) -> float:
        """E[W'^k], k = 1, 2."""
        law = resolve(self)
        s, fam = law.scale, law.family
        if k == 2:
            inner = float(fam.seg(np.array([law.lower]), np.array([law.upper]),
                                  np.array([law.z(0.0)]))[0]) * s * s
        else:
            inner = float(self.base.expect(lambda x: x, lb=-self.d, ub=self.d))
        return inner + sum(m * x**k for x, m in law.atoms)

    def mean(self) -> float:
        return self._moment(1)

    def var(self) -> float:
        m1 = self._moment(1)
        return self._moment(2) - m1 * m1


def clamp(dist, d) -> ClampedDistribution:
    r"""Law of :math:`W' = \mathrm{clip}(W, -d, d)`, the supplement's clamped weight.

    .. math::

        P(W' \in dx) = f(x)\,\mathbf 1_{|x|<d}\,dx + F(-d)\,\delta_{-d}(dx)
                       + (1-F(d))\,\delta_{d}(dx)

    (Eqs. 5-7), where :math:`d` is `d` and :math:`f, F` the density and CDF of `dist`.

    Parameters
    ----------
    dist : scipy.stats frozen continuous distribution or ClampedDistribution
        The law of :math:`W`.  Clamping a clamped law clamps at the smaller bound.
    d : float
        Clamp bound, finite and > 0.

    Returns
    -------
    ClampedDistribution

    Examples
    --------
    >>> from scipy import stats
    >>> import qerror
    >>> w = qerror.clamp(stats.norm(), 2.0)
    >>> round(w.atoms[1][1], 6)  # mass of the atom at +d
    0.02275
    """
    d = check_positive_scalar(d, "d")
    if isinstance(dist, ClampedDistribution):
        return ClampedDistribution(dist.base, min(d, dist.d))
    return ClampedDistribution(dist, d)  # checks dist, and d against its scale


