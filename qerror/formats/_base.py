r"""What a quantizer is: the :class:`Format` protocol and its :class:`Geometry`.

A *format* is a family of level sets indexed by a scale: the clipping boundary
:math:`\alpha` (the largest magnitude the format represents after scaling) and, for
formats whose level count is not fixed, the bit-width :math:`b`.  Every engine of
qerror (the law engine, the data solver, Monte Carlo, bias, robustness, plots, the
command line) asks a format for what it needs and never branches on its name:

``geometry(alpha, bits)``
    the range :math:`[lo, hi]` beyond which values are clipped, the levels
    ``level_lo``/``level_hi`` clipped values go to, and the cells inside the range,
    as uniform *blocks* (``n`` cells of width ``step`` from ``a0``, each with its level
    at the midpoint; a 64-bit grid is one block, summed in closed form) and single
    irregular *cells* ``(a, b, level)``;
``quantize(x, alpha, bits)``
    the nearest-level map, with the format's own rule at ties;
``magnitude_levels(bits)``
    the non-negative levels in units of a step proportional to :math:`\alpha`, for the
    data solver (whose error is piecewise quadratic in that step);
``signed_levels(bits)``
    all levels (signed, sorted) in units of a step proportional to :math:`\alpha`,
    and :math:`\alpha`/step, for the two-sided data solver (formats whose levels are
    not symmetric about zero);
``step(alpha, bits)``
    the uniform step :math:`\Delta` that the ACIQ model's :math:`\Delta^2/12` needs
    (formats that are not uniform have none, and refuse the ACIQ model).

Arguments reaching these methods are already checked and broadcast (float64
``alpha``, int64 ``bits``); the public functions do that once, at the public face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import MAX_BITS, check_bits_range

__all__ = ["Format", "Geometry", "MagnitudeLevels"]


class Geometry:
    """Cells of a format at given ``alpha`` and ``bits`` (arrays of one shape).

    Attributes
    ----------
    lo, hi : ndarray
        The range; values outside it are *clipped* (the truncation part of the error).
    level_lo, level_hi : ndarray
        Levels that values below `lo` / above `hi` map to.
    blocks : tuple of (a0, step, n)
        Uniform blocks: ``n`` whole cells ``[a0 + i step, a0 + (i+1) step)`` whose
        levels are their midpoints (``n`` a float64 count: ``2**64`` does not fit int64).
    cells : tuple of (a, b, level)
        Other cells inside the range, each with its own level.
    step : ndarray or None
        The uniform step (the ACIQ model's :math:`\\Delta`), None if not uniform.
    """

    def __init__(self, lo, hi, level_lo, level_hi, blocks=(), cells=(), step=None):
        self.lo, self.hi, self.level_lo, self.level_hi = lo, hi, level_lo, level_hi
        self.blocks, self.cells, self.step = tuple(blocks), tuple(cells), step


@dataclass(frozen=True)
class MagnitudeLevels:
    """Levels ``c * step`` (``c >= 0``, sorted) and thresholds ``theta * step`` of a
    format for magnitudes; ``alpha = afac * step``.  ``signed=False``: the format's
    range is ``[0, alpha]`` and negative values go to ``c[0]``."""

    c: np.ndarray
    theta: np.ndarray
    afac: float
    signed: bool


class Format:
    """A quantizer format: the single owner of levels, thresholds, ties and scale.

    Subclasses set the class attributes and implement :meth:`geometry`,
    :meth:`quantize` and :meth:`magnitude_levels`; see ``docs/architecture.md`` for
    how to add one.

    Attributes
    ----------
    name : str
        Registry name (``grid=name`` selects the format).
    signed : bool
        True if the range extends below zero (False: ``[0, alpha]``).
    symmetric : bool
        True if ``Q(-x) = -Q(x)`` away from ties (levels symmetric about zero), so that
        a law symmetric about zero has equal tails.
    uniform : bool
        True if the levels are equally spaced (the ACIQ model is defined).
    min_bits, max_bits : int
        Admissible bit-widths; ``fixed_bits`` is set for formats with a fixed level
        count (``bits`` may then be omitted).
    """

    name: str = ""
    signed: bool = True
    symmetric: bool = True
    uniform: bool = True
    min_bits: int = 1
    max_bits: int = MAX_BITS
    fixed_bits: int | None = None

    def __repr__(self) -> str:
        return f"<qerror format {self.name!r}>"

    # ------------------------------------------------------------------ bit-widths
    def check_bits(self, bits) -> np.ndarray:
        """`bits` as an int64 array in the format's range (ValueError/TypeError)."""
        if bits is None:
            if self.fixed_bits is None:
                raise TypeError(f"bits is required for grid {self.name!r}")
            return np.asarray(self.fixed_bits, dtype=np.int64)
        if self.fixed_bits is not None:
            b = check_bits_range(bits, 1, MAX_BITS)
            if b.size and np.any(b != self.fixed_bits):
                raise ValueError(f"grid {self.name!r} has {self.fixed_bits} bits; got "
                                 f"bits={bits!r} (omit bits)")
            return b
        where = (f" (the {self.name} grid needs bits >= {self.min_bits})"
                 if self.min_bits > 1 else f" on the {self.name} grid")
        return check_bits_range(bits, self.min_bits, self.max_bits, where)

    # ------------------------------------------------------------------ interface
    def geometry(self, alpha: np.ndarray, bits: np.ndarray) -> Geometry:
        raise NotImplementedError

    def quantize(self, x: np.ndarray, alpha: np.ndarray, bits: np.ndarray) -> np.ndarray:
        """Q(x) for broadcast float64 arrays (checked by the caller)."""
        raise NotImplementedError

    def magnitude_levels(self, bits: int) -> MagnitudeLevels:
        raise NotImplementedError

    def signed_levels(self, bits: int):
        """``(c, afac)``: every level, sorted, as ``c * step`` with ``alpha = afac *
        step`` (generic version: the levels at ``alpha = 1``, step 1)."""
        return self.levels(1.0, bits), 1.0

    def step(self, alpha: np.ndarray, bits: np.ndarray) -> np.ndarray:
        """The uniform step :math:`\\Delta` (ACIQ's rounding term is its square / 12)."""
        geo = self.geometry(alpha, bits)
        if geo.step is None:
            raise ValueError(f"model='aciq' needs a uniform grid; grid {self.name!r} has "
                             "unequal steps (use model='exact')")
        return geo.step

    def atom_error(self, x: float, alpha: np.ndarray, bits: np.ndarray) -> np.ndarray:
        """:math:`(x - Q(x))^2` for a point `x` (the error of an atom of a law)."""
        xs = np.full(alpha.shape, float(x))
        e = xs - self.quantize(xs, alpha, bits)
        return e * e

    def levels(self, alpha: float, bits: int | None = None) -> np.ndarray:
        """All levels at `alpha`, sorted (for plots and Monte Carlo checks)."""
        b = int(self.check_bits(bits))
        m = self.magnitude_levels(b)
        step = alpha / m.afac
        pos = m.c * step
        if not m.signed:
            return pos
        neg = -pos[::-1]
        if pos[0] == 0.0:
            neg = neg[:-1]
        return np.concatenate([neg, pos])

    def thresholds_around(self, u: float, bits: int):
        """Interior decision thresholds (in units of alpha) nearest to `u`, strictly
        below and strictly above (None where there is none).  Generic version: from
        the enumerated levels (small bit-widths)."""
        lv = self.levels(1.0, bits)
        th = 0.5 * (lv[1:] + lv[:-1])
        i = int(np.searchsorted(th, u, side="left"))
        j = int(np.searchsorted(th, u, side="right"))
        below = float(th[i - 1]) if i > 0 else None
        above = float(th[j]) if j < th.size else None
        return below, above
