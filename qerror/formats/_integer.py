r"""Full-range integer formats: ``"int"``, ``"uint"`` and affine (zero-point) grids.

All three have the levels :math:`k\Delta` for whole numbers
:math:`k_\min \le k \le k_\max` (zero is always a level) and differ in the range of
:math:`k` and in how :math:`\alpha` sets :math:`\Delta`:

``"int"`` (signed full range, PyTorch ``qint8`` with ``per_tensor_symmetric``)
    :math:`k = -2^{b-1} \dots 2^{b-1}-1`, :math:`\Delta = 2\alpha/(2^b-1)`: PyTorch's
    symmetric step ``scale = max|x| / ((quant_max - quant_min)/2)`` with
    :math:`\alpha = \max|x|`.  The levels are not symmetric: the lowest is
    :math:`-2^{b-1}\Delta = -\alpha\,2^b/(2^b-1)`, the highest
    :math:`(2^{b-1}-1)\Delta`.
``"uint"`` (unsigned, PyTorch ``quint8`` with zero point 0)
    :math:`k = 0 \dots 2^b-1`, :math:`\Delta = \alpha/(2^b-1)`; negative values go to
    the level 0.
:class:`AffineGrid` (``per_tensor_affine``: a range :math:`[lo, hi]`)
    :math:`k = -z \dots 2^b-1-z` for the integer zero point :math:`z`, and
    :math:`\alpha = \max(z, 2^b-1-z)\,\Delta` (the largest level magnitude).
    :func:`affine_range` turns a range into the grid and :math:`\alpha` the way
    PyTorch's observers do.

Ties round half to even (``numpy.rint`` of :math:`x/\Delta`), as PyTorch's
``fake_quantize_per_tensor_affine`` does with ``std::nearbyint``; PyTorch multiplies
by a float32 ``1/scale``, so values within a float32 rounding of a tie may go the
other way there.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ._base import Geometry, MagnitudeLevels
from ._uniform import MAX_DATA_BITS, UniformGrid, _cell

__all__ = ["IntegerGrid", "AffineGrid", "INT", "UINT", "affine_range"]


class IntegerGrid(UniformGrid):
    """Levels ``k * step`` for whole ``k`` in ``[kmin, kmax]`` (zero a level);
    ``alpha = afac * step``.  Subclasses give ``kmin``, ``kmax`` and ``afac`` as
    functions of ``2**bits`` (float64 arrays)."""

    c0 = 0.0
    range_at_levels = True

    def kmin(self, two_b):
        raise NotImplementedError

    def kmax(self, two_b):
        raise NotImplementedError

    def _step(self, alpha, two_b):
        return alpha / self.afac(two_b)

    def geometry(self, alpha, bits) -> Geometry:
        alpha = np.asarray(alpha, dtype=np.float64)
        two_b = np.exp2(np.asarray(bits, dtype=np.float64))
        step = self._step(alpha, two_b)
        k0, k1 = self.kmin(two_b), self.kmax(two_b)
        lo, hi = k0 * step, k1 * step
        half = 0.5 * step
        n = np.broadcast_to(k1 - k0 - 1.0, alpha.shape)
        blocks = ((lo + half, step, n),)
        cells = ((lo, lo + half, lo), (hi - half, hi, hi))
        return Geometry(lo, hi, lo, hi, blocks, cells, step)

    def quantize(self, xf, a, b):
        two_b = np.exp2(b.astype(np.float64))
        step = self._step(a, two_b)
        idx = np.clip(np.rint(_cell(xf, step)), self.kmin(two_b), self.kmax(two_b))
        return idx * step + 0.0  # no -0.0

    def magnitude_levels(self, bits: int) -> MagnitudeLevels:
        two_b = np.float64(2.0**bits)
        k0, k1 = float(self.kmin(two_b)), float(self.kmax(two_b))
        if self.signed:
            raise ValueError(f"the magnitude data solver needs levels symmetric about "
                             f"zero; grid {self.name!r} is not (use signed_levels)")
        n = int(k1) + 1 if bits <= MAX_DATA_BITS else 1
        c = np.arange(n, dtype=np.float64)
        return MagnitudeLevels(c, c[:-1] + 0.5, float(self.afac(two_b)), False)

    def signed_levels(self, bits: int):
        two_b = np.float64(2.0**bits)
        k0, k1 = float(self.kmin(two_b)), float(self.kmax(two_b))
        return np.arange(k0, k1 + 1.0), float(self.afac(two_b))

    def levels(self, alpha: float, bits=None) -> np.ndarray:
        c, afac = self.signed_levels(int(self.check_bits(bits)))
        return c * (float(alpha) / afac) + 0.0

    def _atom_den(self, two_b):
        return self.afac(two_b)

    def thresholds_around(self, u: float, bits: int):
        two_b = np.float64(2.0**bits)
        afac = float(self.afac(two_b))
        k0, k1 = float(self.kmin(two_b)), float(self.kmax(two_b))
        j = u * afac - 0.5  # thresholds (j + 1/2)/afac for j = k0 .. k1 - 1
        jb, ja = np.ceil(j) - 1.0, np.floor(j) + 1.0
        below = (min(jb, k1 - 1.0) + 0.5) / afac if jb >= k0 else None
        above = (max(ja, k0) + 0.5) / afac if ja <= k1 - 1.0 else None
        return below, above


class _Int(IntegerGrid):
    name = "int"
    symmetric = False

    def afac(self, two_b):
        return 0.5 * (two_b - 1.0)

    def kmin(self, two_b):
        return -0.5 * two_b

    def kmax(self, two_b):
        return 0.5 * two_b - 1.0


class _Uint(IntegerGrid):
    name = "uint"
    signed = False
    symmetric = False

    def afac(self, two_b):
        return two_b - 1.0

    def kmin(self, two_b):
        return np.zeros_like(two_b)

    def kmax(self, two_b):
        return two_b - 1.0


class AffineGrid(IntegerGrid):
    r"""``per_tensor_affine`` levels :math:`(q - z)\Delta`, :math:`q = 0 \dots 2^b-1`,
    with the integer zero point :math:`z`; :math:`\alpha = \max(z, 2^b-1-z)\Delta`.

    Parameters
    ----------
    bits : int
        Bit-width (1 to 16); fixed for the grid.
    zero_point : int
        :math:`z`, 0 to :math:`2^b-1` (0 is the ``"uint"`` grid).

    Examples
    --------
    >>> from qerror.formats import AffineGrid
    >>> AffineGrid(4, 3).levels(12.0)[:5]
    array([-3., -2., -1.,  0.,  1.])
    """

    symmetric = False

    def __init__(self, bits: int, zero_point: int):
        b, z = int(bits), int(zero_point)
        if b != bits or not 1 <= b <= MAX_DATA_BITS:
            raise ValueError(f"bits must be a whole number in [1, {MAX_DATA_BITS}] for "
                             f"an affine grid, got {bits!r}")
        if z != zero_point or not 0 <= z <= 2**b - 1:
            raise ValueError(f"zero_point must be a whole number in [0, {2**b - 1}] for "
                             f"{b} bits, got {zero_point!r}")
        self.zero_point, self.min_bits = z, b
        self.max_bits = self.fixed_bits = b
        self.name = f"affine{b}_z{z}"
        self.signed = z > 0

    def __eq__(self, other):
        return (isinstance(other, AffineGrid) and other.fixed_bits == self.fixed_bits
                and other.zero_point == self.zero_point)

    def __hash__(self):
        return hash((AffineGrid, self.fixed_bits, self.zero_point))

    def afac(self, two_b):
        return np.maximum(float(self.zero_point), two_b - 1.0 - self.zero_point)

    def kmin(self, two_b):
        return np.full(np.shape(two_b), -float(self.zero_point))

    def kmax(self, two_b):
        return two_b - 1.0 - self.zero_point

    def magnitude_levels(self, bits: int) -> MagnitudeLevels:
        if self.signed:
            return super().magnitude_levels(bits)  # raises
        return _Uint.magnitude_levels(self, bits)


@lru_cache(maxsize=None)
def _affine(bits: int, z: int) -> AffineGrid:
    return AffineGrid(bits, z)


def affine_range(lo: float, hi: float, bits: int):
    r"""The affine grid and :math:`\alpha` of the range ``[lo, hi]``, as PyTorch's
    ``per_tensor_affine`` observers compute them.

    .. math::

        \Delta = \frac{\max(hi, 0) - \min(lo, 0)}{2^b - 1}, \qquad
        z = \operatorname{clip}\Bigl(-\operatorname{round}\frac{\min(lo, 0)}{\Delta},
            0,\ 2^b-1\Bigr)

    (``quant_min = 0``, ``quant_max = 2^b - 1``; a signed ``qint8`` range shifts
    :math:`q` and :math:`z` by :math:`2^{b-1}` and gives the same levels), with the
    round half to even of ``torch.round``.  PyTorch computes in float32; this is
    float64, so :math:`\Delta` may differ from PyTorch's in its float32 rounding.

    Parameters
    ----------
    lo, hi : float
        The range, finite, ``lo < hi`` (the range is widened to include 0).
    bits : int
        Bit-width, 1 to 16.

    Returns
    -------
    grid : AffineGrid
        The levels :math:`(q - z)\Delta`.
    alpha : float
        :math:`\max(z, 2^b-1-z)\Delta`, the boundary to pass with ``grid``.

    Examples
    --------
    >>> import qerror
    >>> from qerror.formats import affine_range
    >>> g, alpha = affine_range(-1.0, 3.0, 8)
    >>> g.zero_point, round(alpha, 6)
    (64, 2.996078)
    >>> qerror.quantize([-1.0, 0.0, 2.5], alpha, grid=g)
    array([-1.00392157,  0.        ,  2.49411765])
    """
    lo, hi = float(lo), float(hi)
    if not (np.isfinite(lo) and np.isfinite(hi)) or not lo < hi:
        raise ValueError(f"the range needs finite lo < hi, got lo={lo!r}, hi={hi!r}")
    b = int(bits)
    if b != bits or not 1 <= b <= MAX_DATA_BITS:
        raise ValueError(f"bits must be a whole number in [1, {MAX_DATA_BITS}], got "
                         f"{bits!r}")
    n = 2**b - 1
    mn, mx = min(lo, 0.0), max(hi, 0.0)
    step = max((mx - mn) / n, float(np.finfo(np.float32).eps))
    z = int(np.clip(-np.rint(mn / step), 0, n))
    g = _affine(b, z)
    return g, float(max(z, n - z) * step)


INT = _Int()
UINT = _Uint()
