"""Resolved laws: the protocol every distribution goes through (private).

A distribution is resolved once, at the public face, into a :class:`Law`: a
standardized family with closed-form or quadrature partial moments
(:mod:`qerror.laws._families`), a location and scale, the standardized bounds of its
continuous part, and its atoms.  Frozen continuous scipy.stats laws resolve directly;
qerror's own laws (clamped, saturated) provide ``_qerror_law_()``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ._families import FAMILIES, generic_family


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
    loc, scale = _check_scale(loc, scale)
    shapes = tuple(float(s) for s in shapes)
    if shapes and not rv._argcheck(*shapes):
        raise ValueError(f"invalid shape parameters {shapes} for {rv.name}")
    hook = getattr(rv, "_qerror_family", None)
    if hook is not None and not shapes:  # a scipy family of qerror's own (saturated)
        fam = hook()
    elif rv.name in FAMILIES and not shapes:
        fam = FAMILIES[rv.name]
    else:
        fam = generic_family(rv, shapes)
    lo, hi = fam.support
    return fam, loc, scale, float(lo), float(hi)


def _check_scale(loc, scale):
    """(loc, scale) as floats, finite, with scale in the range qerror computes in."""
    loc, scale = float(loc), float(scale)
    if not (np.isfinite(loc) and np.isfinite(scale) and scale > 0):
        raise ValueError(f"dist must have finite loc and scale > 0, got loc={loc}, "
                         f"scale={scale}")
    if not _MIN_SCALE <= scale <= _MAX_SCALE:
        raise ValueError(f"dist must have a scale in [{_MIN_SCALE:g}, {_MAX_SCALE:g}] "
                         f"(squared errors must stay normal double-precision numbers), "
                         f"got scale={scale:g}; rescale the law")
    return loc, scale


#: scales (and clamp bounds in scale units) outside this range over- or underflow the
#: squared errors (down to 4^-64 scale^2) and the solvers' brackets
_MIN_SCALE, _MAX_SCALE = 1e-100, 1e100


def _check_clamp_bound(d: float, scale: float) -> None:
    if not _MIN_SCALE <= d / scale <= _MAX_SCALE:
        raise ValueError(f"d must be within [{_MIN_SCALE:g}, {_MAX_SCALE:g}] times the "
                         f"scale of dist, got d={d:g} for scale={scale:g}")


def resolve(dist) -> Law:
    """Turn a user-facing distribution into a :class:`Law`; TypeError otherwise.

    The protocol: a frozen continuous scipy.stats law (whose scipy family may provide
    ``_qerror_family()``, the partial moments to integrate with, as saturated laws
    do), or any object with a ``_qerror_law_()`` method returning a :class:`Law`
    (clamped laws).
    """
    if isinstance(dist, Law):
        return dist
    hook = getattr(dist, "_qerror_law_", None)
    if hook is not None:
        return hook()
    fam, loc, scale, lo, hi = _resolve_scipy(dist)
    return Law(fam, loc, scale, lo, hi, ())


def clamped_law(base, d: float) -> Law:
    """The resolved law of ``clip(base, -d, d)`` (supplement Eqs. 5-6)."""
    b = resolve(base)
    fam, loc, scale, lo, hi = b.family, b.loc, b.scale, b.lower, b.upper
    _check_clamp_bound(d, scale)
    lower = max(lo, (-d - loc) / scale)
    upper = min(hi, (d - loc) / scale)
    lower = min(lower, upper)
    atoms = ((-d, float(fam.cdf(np.float64((-d - loc) / scale)))),
             (d, float(fam.sf(np.float64((d - loc) / scale)))))
    return Law(fam, loc, scale, lower, upper, atoms)


def is_law(obj) -> bool:
    """True for anything qerror treats as a distribution (not as data)."""
    return isinstance(obj, (Law, stats.rv_continuous, stats.rv_discrete)) or hasattr(
        obj, "_qerror_law_") or (
        hasattr(obj, "dist") and isinstance(obj.dist, (stats.rv_continuous,
                                                       stats.rv_discrete)))
