r"""Formats given by an explicit, scaled level set: any user levels, and powers of two.

A :class:`LevelSet` has fixed normalised levels :math:`u_1 < \dots < u_N` with
:math:`\max_i |u_i| = 1`; at clipping boundary :math:`\alpha` the levels are
:math:`\alpha u_i`, the decision thresholds the midpoints of neighbouring levels, and
values beyond the outermost levels saturate to them (the range is
:math:`[\alpha u_1, \alpha u_N]`).  A value exactly on a threshold goes to the lower
level.  The error engines treat every cell as an irregular cell, so this is meant for
level sets of at most a few thousand levels (FP8 has 253, NF4 16).
"""

from __future__ import annotations

import numpy as np

from .._validation import POW2_MAX_BITS
from ._base import Format, Geometry, MagnitudeLevels

__all__ = ["LevelSet", "POW2"]


class LevelSet(Format):
    """A format with a fixed set of normalised levels (``max |level| = 1``).

    Parameters
    ----------
    levels : array_like
        The levels at ``alpha = 1``: finite, distinct, largest magnitude 1.
    name : str
        Registry name.
    bits : int, optional
        Bit-width the level count implies (default ``ceil(log2(len(levels)))``).
    """

    uniform = False

    def __init__(self, levels, name: str = "levels", bits: int | None = None):
        u = np.unique(np.asarray(levels, dtype=np.float64).ravel())
        if u.size < 2 or not np.isfinite(u).all():
            raise ValueError("levels must hold at least two distinct finite values")
        top = float(np.max(np.abs(u)))
        if top != 1.0:
            raise ValueError(f"levels must be normalised to a largest magnitude of 1, "
                             f"got {top:g} (divide by it)")
        self.name = name
        self._u = u
        self._t = 0.5 * (u[1:] + u[:-1])
        self.signed = bool(u[0] < 0)
        self.symmetric = bool(np.array_equal(u, -u[::-1]))
        nb = int(np.ceil(np.log2(u.size))) if bits is None else int(bits)
        self.min_bits = self.max_bits = self.fixed_bits = nb

    @classmethod
    def from_levels(cls, levels, name: str = "levels") -> LevelSet:
        """A format from any levels, scaled so that the largest magnitude is 1."""
        v = np.asarray(levels, dtype=np.float64).ravel()
        if v.size == 0 or not np.isfinite(v).all():
            raise ValueError("levels must be a non-empty array of finite values")
        top = float(np.max(np.abs(v)))
        if top == 0.0:
            raise ValueError("levels must not all be zero")
        return cls(v / top, name)

    def normalised_levels(self, bits=None) -> np.ndarray:
        return self._u

    def geometry(self, alpha, bits) -> Geometry:
        a = np.asarray(alpha, dtype=np.float64)[..., None]
        u = self.normalised_levels(bits)
        t = 0.5 * (u[1:] + u[:-1])
        edges = np.concatenate([[u[0]], t, [u[-1]]])
        cells = ((a * edges[:-1], a * edges[1:], a * u),)
        lo, hi = a[..., 0] * u[0], a[..., 0] * u[-1]
        return Geometry(lo, hi, lo, hi, (), cells, None)

    def quantize(self, xf, a, b):
        u = self.normalised_levels(b)
        t = 0.5 * (u[1:] + u[:-1])
        with np.errstate(divide="ignore", invalid="ignore"):
            r = xf / a
        i = np.searchsorted(t, np.where(np.isnan(r), 0.0, r), side="left")
        return a * u[i]

    def magnitude_levels(self, bits: int) -> MagnitudeLevels:
        u = self.normalised_levels(bits)
        if not self.symmetric and self.signed:
            raise ValueError(f"the data solver needs levels symmetric about zero; grid "
                             f"{self.name!r} is not")
        c = u[u >= 0.0] if self.signed else u
        return MagnitudeLevels(c, 0.5 * (c[1:] + c[:-1]), 1.0, self.signed)

    def levels(self, alpha: float, bits=None) -> np.ndarray:
        return float(alpha) * self.normalised_levels(bits)


class _Pow2(LevelSet):
    r"""The power-of-two (logarithmic) grid: levels :math:`\pm\alpha 2^{-k}`,
    :math:`k = 0 \dots 2^{b-1}-1`; zero is not a level."""

    def __init__(self):
        self.name = "pow2"
        self.signed = True
        self.symmetric = True
        self.min_bits, self.max_bits, self.fixed_bits = 1, POW2_MAX_BITS, None

    def normalised_levels(self, bits=None) -> np.ndarray:
        b = int(np.max(bits))
        if np.ndim(bits) and np.any(np.asarray(bits) != b):
            raise ValueError("the pow2 grid takes one bit-width per call")
        pos = np.exp2(-np.arange(2 ** (b - 1) - 1, -1, -1, dtype=np.float64))
        return np.concatenate((-pos[::-1], pos))


POW2 = _Pow2()
