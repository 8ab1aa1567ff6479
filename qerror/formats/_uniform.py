r"""The uniform integer grids: midrise, midtread and unsigned.

``"midrise"`` (the supplement's quantizer; qerror's default)
    :math:`2^b` levels :math:`q_i = -\alpha + (2i+1)\Delta/2`, :math:`i = 0\dots 2^b-1`,
    step :math:`\Delta = 2\alpha/2^b`, decision thresholds :math:`-\alpha + i\Delta`,
    no level at zero.  Inputs beyond :math:`\pm\alpha` map to :math:`\pm(\alpha-\Delta/2)`.

``"midtread"`` (signed narrow-range integers, e.g. PyTorch's symmetric qint8 with
``quant_min = -(2^(b-1)-1)``)
    :math:`2^b-1` levels :math:`k\Delta`, :math:`|k| \le K = 2^{b-1}-1`,
    :math:`\Delta = \alpha/K`, a level at zero, outermost levels exactly :math:`\pm\alpha`.
    Undefined for ``b = 1``.

``"unsigned"`` (half range, for post-ReLU activations)
    :math:`2^b` levels :math:`(2i+1)\Delta/2` on :math:`[0, \alpha]`,
    :math:`\Delta = \alpha/2^b`: the midrise grid of ``b+1`` bits restricted to the
    positive half, which is why ACIQ's "positive" tables are its full-range tables
    shifted by one bit.  Inputs below 0 map to :math:`\Delta/2`.

Ties: on the midrise and unsigned grids a threshold belongs to the cell above it; on
the midtread grid ties round half to even (``numpy.rint``), as integer kernels do.

Each grid's levels are :math:`\alpha\,m/D` with integers :math:`m` and
:math:`D = 2\,\alpha/\Delta`, which :meth:`UniformGrid.atom_error` uses to form
:math:`x - Q(x)` without cancellation.
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np

from ._base import Format, Geometry, MagnitudeLevels

__all__ = ["UniformGrid", "MIDRISE", "MIDTREAD", "UNSIGNED"]

#: largest bit-width whose levels the data solver enumerates (2**15 levels per side)
MAX_DATA_BITS = 16


def _two_product(a, b):
    """(p, e) with p + e == a * b exactly (Dekker/Veltkamp, no FMA needed)."""
    p = a * b
    split = 134217729.0  # 2**27 + 1
    ta = split * a
    a_hi = ta - (ta - a)
    a_lo = a - a_hi
    tb = split * b
    b_hi = tb - (tb - b)
    b_lo = b - b_hi
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return p, e


def _cell(num, step):
    # a step that underflows to 0 (alpha ~ 5e-324) gives 0/0 at x = the threshold;
    # that value belongs to the cell above the threshold, index 0 here
    with np.errstate(divide="ignore", invalid="ignore"):
        r = num / step
    return np.where(np.isnan(r), 0.0, r)


class _UniformGeometry(Geometry):
    """The :class:`Geometry` of a uniform grid: ``hi`` and ``step`` at once, the rest
    on first use (the ACIQ model of a centred law needs nothing else, and 10^6
    boundaries in one call should not pay for arrays nobody reads)."""

    def __init__(self, fmt, alpha, two_b, step):
        self._fmt, self._two_b = fmt, two_b
        self.hi, self.step = alpha, step

    @cached_property
    def lo(self):
        return -self.hi if self._fmt.signed else np.zeros_like(self.hi)

    @cached_property
    def level_lo(self):
        return self.lo if self._fmt.range_at_levels else self.lo + 0.5 * self.step

    @cached_property
    def level_hi(self):
        return self.hi if self._fmt.range_at_levels else self.hi - 0.5 * self.step

    @cached_property
    def blocks(self):
        if self._fmt.range_at_levels:
            n = 2.0 * self._fmt.afac(self._two_b) - 1.0
            return ((self.lo + 0.5 * self.step, self.step, n),)
        return ((self.lo, self.step, self._two_b),)

    @cached_property
    def cells(self):
        if self._fmt.range_at_levels:
            half = 0.5 * self.step
            return ((self.lo, self.lo + half, self.lo), (self.hi - half, self.hi, self.hi))
        return ()


class UniformGrid(Format):
    """Equally spaced levels ``(k + c0) * step``; ``alpha = afac(bits) * step``.

    Subclasses give the step factor, the level offset ``c0``, whether the range ends
    at the outermost levels (``range_at_levels``, with half cells at both ends) or at
    the outer cell edges, and the quantizer's arithmetic.
    """

    uniform = True
    c0 = 0.5
    range_at_levels = False

    def afac(self, two_b: np.ndarray) -> np.ndarray:
        """alpha / step as a function of 2**bits (float64)."""
        raise NotImplementedError

    def _step(self, alpha, two_b):
        raise NotImplementedError

    def geometry(self, alpha, bits) -> Geometry:
        alpha = np.asarray(alpha, dtype=np.float64)
        two_b = np.exp2(np.asarray(bits, dtype=np.float64))  # exact for whole numbers
        return _UniformGeometry(self, alpha, two_b, self._step(alpha, two_b))

    def magnitude_levels(self, bits: int) -> MagnitudeLevels:
        two_b = 2.0**bits
        afac = float(self.afac(np.float64(two_b)))
        n = int(afac + 1) if self.c0 == 0.0 else int(afac)
        if bits > MAX_DATA_BITS:  # ACIQ model only: the levels are not needed
            n = 1
        c = np.arange(n, dtype=np.float64) + self.c0
        return MagnitudeLevels(c, c[:-1] + 0.5, afac, self.signed)

    def atom_error(self, x, alpha, bits):
        """(x - Q(x))^2 for a point x, without the cancellation of x - Q(x).

        Levels are alpha * m / D with integers m and D, so x - Q(x) = (D x - m alpha)/D
        with both products formed exactly.  At 32 bits the naive difference loses 9
        digits; this keeps all of them (for b <= 52, where the level index is an exact
        double).
        """
        xs = np.full(alpha.shape, float(x))
        q = self.quantize(xs, alpha, bits)
        naive = xs - q
        den = self._atom_den(np.exp2(bits.astype(np.float64)))
        m = np.rint(q / alpha * den)
        ok = bits <= 52
        p1, e1 = _two_product(den, xs)
        p2, e2 = _two_product(m, alpha)
        with np.errstate(invalid="ignore", over="ignore"):
            r = ((p1 - p2) + (e1 - e2)) / den
        r = np.where(ok & np.isfinite(r), r, naive)
        return r * r

    def _atom_den(self, two_b):
        return 2.0 * self.afac(two_b)

    def thresholds_around(self, u: float, bits: int):
        # thresholds (k + c0 + 1/2) / afac between the levels k and k+1; the interior
        # ones have both levels in the range
        afac = float(self.afac(np.float64(2.0**bits)))
        kmax = afac - self.c0 - (0.0 if self.range_at_levels else 0.5)  # top level
        kmin = -kmax - 2.0 * self.c0 if self.signed else 0.0
        t = u * afac - self.c0 - 0.5  # index of the threshold at u
        lo_j, hi_j = kmin, kmax - 1.0

        def tau(j):
            return (j + self.c0 + 0.5) / afac

        jb, ja = math.ceil(t) - 1.0, math.floor(t) + 1.0
        below = tau(min(jb, hi_j)) if jb >= lo_j else None
        above = tau(max(ja, lo_j)) if ja <= hi_j else None
        return below, above


class _Midrise(UniformGrid):
    name = "midrise"

    def afac(self, two_b):
        return 0.5 * two_b

    def _step(self, alpha, two_b):
        return alpha * (2.0 / two_b)

    def _atom_den(self, two_b):
        return two_b

    def quantize(self, xf, a, b):
        two_b = np.exp2(b.astype(np.float64))
        step = a * (2.0 / two_b)  # = 2a / 2^b exactly, without overflow for a > 9e307
        idx = np.clip(np.floor(_cell(xf + a, step)), 0.0, two_b - 1.0)
        q = -a + (idx + 0.5) * step
        big = ~np.isfinite(q)
        if big.any():  # (idx + 1/2) * step overflowed: scale the level by a instead
            q = np.where(big, a * ((idx + 0.5) * (2.0 / two_b) - 1.0), q)
        return q


class _Unsigned(UniformGrid):
    name = "unsigned"
    signed = False
    symmetric = False

    def afac(self, two_b):
        return two_b

    def _step(self, alpha, two_b):
        return alpha / two_b

    def quantize(self, xf, a, b):
        two_b = np.exp2(b.astype(np.float64))
        step = a / two_b
        idx = np.clip(np.floor(_cell(xf, step)), 0.0, two_b - 1.0)
        return (idx + 0.5) * step


class _Midtread(UniformGrid):
    name = "midtread"
    c0 = 0.0
    range_at_levels = True
    min_bits = 2

    def afac(self, two_b):
        return 0.5 * two_b - 1.0

    def _step(self, alpha, two_b):
        return alpha / (0.5 * two_b - 1.0)

    def quantize(self, xf, a, b):
        two_b = np.exp2(b.astype(np.float64))
        k = 0.5 * two_b - 1.0
        step = a / k
        idx = np.clip(np.rint(_cell(xf, step)), -k, k)
        return np.where(np.abs(idx) == k, np.copysign(a, idx), idx * step) + 0.0  # no -0.0


MIDRISE = _Midrise()
MIDTREAD = _Midtread()
UNSIGNED = _Unsigned()
