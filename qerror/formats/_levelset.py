r"""Formats given by an explicit, scaled level set: any user levels, and powers of two.

A :class:`LevelSet` has fixed levels :math:`v_1 < \dots < v_N` (*raw* levels, in the
format's own units, largest magnitude :math:`v_\text{top}`); at clipping boundary
:math:`\alpha` the levels are :math:`s v_i` with the scale :math:`s = \alpha /
v_\text{top}`, so that :math:`\alpha` is the largest level magnitude.  The decision
thresholds are the midpoints of neighbouring levels, and values beyond the outermost
levels saturate to them (the range is :math:`[s v_1, s v_N]`).  A value exactly on a
threshold goes to the lower level (formats with another tie rule, such as the
floating-point formats' round-to-nearest-even, override :meth:`LevelSet.quantize`).

Runs of equally spaced levels (a binade of a floating-point format) are handed to the
error engines as uniform *blocks*, summed in closed form; every other level is an
irregular cell.  So a level set of a few thousand levels is cheap, and a
floating-point format of any size costs one block per binade.
"""

from __future__ import annotations

import numpy as np

from .._validation import POW2_MAX_BITS
from ._base import Format, Geometry, MagnitudeLevels

__all__ = ["LevelSet", "POW2"]


#: shortest run of equally spaced levels handed to the engines as one block (a block
#: costs a closed-form sum per family, or per-element quadrature for the generic
#: family; a few cells are cheaper as vectorised single cells)
_MIN_BLOCK = 16


def _runs(v: np.ndarray):
    """Split the cells of sorted levels `v` (range ``[v[0], v[-1]]``) into uniform
    blocks ``(a0, step, n)`` (levels whose two neighbours are equally far) and the
    other cells as arrays ``(a, b, level)``."""
    t = 0.5 * (v[1:] + v[:-1])
    lo_edge = np.concatenate([[v[0]], t])
    hi_edge = np.concatenate([t, [v[-1]]])
    gap = np.diff(v)
    regular = np.zeros(v.size, dtype=bool)
    if v.size > 2:
        regular[1:-1] = gap[1:] == gap[:-1]
    blocks = []
    i = 0
    while i < v.size:
        if not regular[i]:
            i += 1
            continue
        j = i
        h = gap[i]
        while j + 1 < v.size and regular[j + 1] and gap[j + 1] == h:
            j += 1
        if j - i + 1 >= _MIN_BLOCK:  # short runs are cheaper as single cells
            blocks.append((lo_edge[i], h, float(j - i + 1)))
        else:
            regular[i:j + 1] = False
        i = j + 1
    irr = ~regular
    return blocks, (lo_edge[irr], hi_edge[irr], v[irr])


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
        self._set_levels(u, 1.0)
        nb = int(np.ceil(np.log2(u.size))) if bits is None else int(bits)
        self.min_bits = self.max_bits = self.fixed_bits = nb

    def _set_levels(self, v: np.ndarray, top: float) -> None:
        """Raw sorted levels `v` with largest magnitude `top` (alpha = top * scale)."""
        self._v, self._top = v, float(top)
        self._u = v / self._top
        self._t = 0.5 * (v[1:] + v[:-1])
        self._geo = _runs(v)
        self.signed = bool(v[0] < 0)
        self.symmetric = bool(np.array_equal(v, -v[::-1]))

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

    # raw levels, their top and geometry (pow2 overrides: they depend on bits)
    def raw_levels(self, bits=None):
        """(sorted raw levels, largest magnitude, (blocks, cells)) for `bits`."""
        return self._v, self._top, self._geo

    def normalised_levels(self, bits=None) -> np.ndarray:
        v, top, _ = self.raw_levels(bits)
        return v / top

    def geometry(self, alpha, bits) -> Geometry:
        v, top, (blocks, (ca, cb, cl)) = self.raw_levels(bits)
        s = np.asarray(alpha, dtype=np.float64) / top
        blk = tuple((s * a0, s * h, np.full(s.shape, n)) for a0, h, n in blocks)
        cells = ()
        if ca.size:
            sc = s[..., None]
            cells = ((sc * ca, sc * cb, sc * cl),)
        lo, hi = s * v[0], s * v[-1]
        return Geometry(lo, hi, lo, hi, blk, cells, None)

    def quantize(self, xf, a, b):
        v, top, _ = self.raw_levels(b)
        t = 0.5 * (v[1:] + v[:-1])
        s = a / top
        with np.errstate(divide="ignore", invalid="ignore"):
            r = xf / s
        i = np.searchsorted(t, np.where(np.isnan(r), 0.0, r), side="left")
        return s * v[i] + 0.0

    def magnitude_levels(self, bits: int) -> MagnitudeLevels:
        v, top, _ = self.raw_levels(bits)
        if not self.symmetric and self.signed:
            raise ValueError(f"the magnitude data solver needs levels symmetric about "
                             f"zero; grid {self.name!r} is not (use signed_levels)")
        c = v[v >= 0.0] if self.signed else v
        # unit: the smallest positive level, so that beyond step = 2 max|x| every
        # value rounds to the level nearest zero
        unit = float(c[c > 0][0]) if c[0] == 0.0 and c.size > 1 else 1.0
        c = c / unit
        return MagnitudeLevels(c, 0.5 * (c[1:] + c[:-1]), top / unit, self.signed)

    def signed_levels(self, bits: int):
        v, top, _ = self.raw_levels(bits)
        pos = np.abs(v[v != 0.0])
        unit = float(pos.min())
        return v / unit, top / unit

    def levels(self, alpha: float, bits=None) -> np.ndarray:
        v, top, _ = self.raw_levels(bits)
        return (float(alpha) / top) * v


class _Pow2(LevelSet):
    r"""The power-of-two (logarithmic) grid: levels :math:`\pm\alpha 2^{-k}`,
    :math:`k = 0 \dots 2^{b-1}-1`; zero is not a level."""

    def __init__(self):
        self.name = "pow2"
        self.signed = True
        self.symmetric = True
        self.min_bits, self.max_bits, self.fixed_bits = 1, POW2_MAX_BITS, None
        self._cache = {}

    def raw_levels(self, bits=None):
        b = int(np.max(bits))
        if np.ndim(bits) and np.any(np.asarray(bits) != b):
            raise ValueError("the pow2 grid takes one bit-width per call")
        if b not in self._cache:
            pos = np.exp2(-np.arange(2 ** (b - 1) - 1, -1, -1, dtype=np.float64))
            v = np.concatenate((-pos[::-1], pos))
            self._cache[b] = (v, 1.0, _runs(v))
        return self._cache[b]


POW2 = _Pow2()
