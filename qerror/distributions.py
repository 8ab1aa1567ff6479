r"""Distributions accepted by qerror: scipy.stats frozen laws and clamped laws.

Any frozen *continuous* scipy.stats distribution is accepted (``stats.norm(scale=2)``,
``stats.t(4)``, ...).  The families in :data:`qerror._families.FAMILIES` (``norm``,
``laplace``, ``uniform``) have closed-form partial moments; every other family is
integrated numerically.

:func:`clamp` builds the law of :math:`W' = \mathrm{clip}(W, -d, d)` (the output of a
saturating nonlinearity, the supplement's Eqs. 5-7): density :math:`f` on
:math:`(-d, d)` and point masses :math:`F(-d)` at :math:`-d` and :math:`1-F(d)` at
:math:`d`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ._families import FAMILIES, generic_family
from ._validation import check_positive_scalar

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
        _check_clamp_bound(d, _resolve_scipy(base)[2])  # also checks base's parameters
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

    def mean(self) -> float:
        from .error import _clamped_moment  # local: avoids an import cycle

        return _clamped_moment(self, 1)

    def var(self) -> float:
        from .error import _clamped_moment

        m1 = _clamped_moment(self, 1)
        return _clamped_moment(self, 2) - m1 * m1


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


def _check_scipy_law(dist):
    if isinstance(dist, stats.rv_continuous):
        raise TypeError(
            "dist must be a frozen distribution, e.g. stats.norm(loc, scale), "
            f"not the unfrozen family {dist.name!r}")
    if isinstance(dist, stats.rv_discrete) or (
            hasattr(dist, "dist") and isinstance(dist.dist, stats.rv_discrete)):
        raise TypeError("dist must be a continuous distribution; discrete laws are not "
                        "supported")
    if not (hasattr(dist, "dist") and isinstance(dist.dist, stats.rv_continuous)):
        raise TypeError(f"dist must be a frozen scipy.stats continuous distribution, got "
                        f"{type(dist).__name__}")


@dataclass(frozen=True)
class Law:
    """Internal resolved law: standardized family + loc/scale + region + atoms."""

    family: object
    loc: float
    scale: float
    lower: float  # standardized bounds of the continuous part
    upper: float
    atoms: tuple  # ((x_real, mass), ...)

    def z(self, x):
        if self.loc == 0.0 and self.scale == 1.0:
            return x
        return (x - self.loc) / self.scale

    def restricted(self, lower: float, upper: float) -> Law:
        return Law(self.family, self.loc, self.scale, max(self.lower, lower),
                   min(self.upper, upper), ())


def _resolve_scipy(dist):
    _check_scipy_law(dist)
    rv = dist.dist
    shapes, loc, scale = rv._parse_args(*dist.args, **dist.kwds)
    vals = [np.asarray(v) for v in (*shapes, loc, scale)]
    if any(v.ndim != 0 for v in vals):
        raise ValueError("dist must have scalar parameters (loc, scale and shapes); "
                         "use one distribution per call")
    loc, scale = float(loc), float(scale)
    if not (np.isfinite(loc) and np.isfinite(scale) and scale > 0):
        raise ValueError(f"dist must have finite loc and scale > 0, got loc={loc}, "
                         f"scale={scale}")
    if not _MIN_SCALE <= scale <= _MAX_SCALE:
        raise ValueError(f"dist must have a scale in [{_MIN_SCALE:g}, {_MAX_SCALE:g}] "
                         f"(squared errors must stay normal double-precision numbers), "
                         f"got scale={scale:g}; rescale the law")
    shapes = tuple(float(s) for s in shapes)
    if shapes and not rv._argcheck(*shapes):
        raise ValueError(f"invalid shape parameters {shapes} for {rv.name}")
    if rv.name in FAMILIES and not shapes:
        fam = FAMILIES[rv.name]
    else:
        fam = generic_family(rv, shapes)
    lo, hi = fam.support
    return fam, loc, scale, float(lo), float(hi)


#: scales (and clamp bounds in scale units) outside this range over- or underflow the
#: squared errors (down to 4^-64 scale^2) and the solvers' brackets
_MIN_SCALE, _MAX_SCALE = 1e-100, 1e100


def _check_clamp_bound(d: float, scale: float) -> None:
    if not _MIN_SCALE <= d / scale <= _MAX_SCALE:
        raise ValueError(f"d must be within [{_MIN_SCALE:g}, {_MAX_SCALE:g}] times the "
                         f"scale of dist, got d={d:g} for scale={scale:g}")


def resolve(dist) -> Law:
    """Turn a user-facing distribution into a :class:`Law`; TypeError otherwise."""
    if isinstance(dist, Law):
        return dist
    if isinstance(dist, ClampedDistribution):
        fam, loc, scale, lo, hi = _resolve_scipy(dist.base)
        d = dist.d
        _check_clamp_bound(d, scale)
        lower = max(lo, (-d - loc) / scale)
        upper = min(hi, (d - loc) / scale)
        lower = min(lower, upper)
        atoms = ((-d, float(fam.cdf(np.float64((-d - loc) / scale)))),
                 (d, float(fam.sf(np.float64((d - loc) / scale)))))
        return Law(fam, loc, scale, lower, upper, atoms)
    fam, loc, scale, lo, hi = _resolve_scipy(dist)
    return Law(fam, loc, scale, lo, hi, ())


def is_law(obj) -> bool:
    """True for anything qerror treats as a distribution (not as data)."""
    return isinstance(obj, (Law, ClampedDistribution, stats.rv_continuous,
                            stats.rv_discrete)) or (
        hasattr(obj, "dist") and isinstance(obj.dist, (stats.rv_continuous,
                                                       stats.rv_discrete)))
