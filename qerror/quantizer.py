r"""Uniform quantizer grids and the quantizer itself.

Three grids are supported; ``b`` is the bit-width and :math:`[-\alpha, \alpha]` the
quantization (clipping) range.

``"midrise"`` (the supplement's quantizer, the default)
    :math:`2^b` levels :math:`q_i = -\alpha + (2i+1)\Delta/2`, :math:`i = 0\dots 2^b-1`,
    step :math:`\Delta = 2\alpha/2^b`, decision thresholds :math:`-\alpha + i\Delta`,
    no level at zero.  Inputs beyond :math:`\pm\alpha` map to :math:`\pm(\alpha-\Delta/2)`.

``"midtread"`` (what signed narrow-range integer kernels run, e.g. PyTorch's symmetric
qint8 with ``quant_min = -(2^(b-1)-1)``)
    :math:`2^b-1` levels :math:`k\Delta`, :math:`|k| \le K = 2^{b-1}-1`,
    :math:`\Delta = \alpha/K`, a level at zero, outermost levels exactly :math:`\pm\alpha`.
    Undefined for ``b = 1``.

``"unsigned"`` (half range, for post-ReLU activations)
    :math:`2^b` levels :math:`(2i+1)\Delta/2` on :math:`[0, \alpha]`,
    :math:`\Delta = \alpha/2^b`.  This is the midrise grid of ``b+1`` bits restricted
    to the positive half, which is why ACIQ's "positive" tables are its full-range
    tables shifted by one bit.  Inputs below 0 map to :math:`\Delta/2`.

Ties: on the midrise and unsigned grids a threshold belongs to the cell above it; on
the midtread grid ties round half to even (``numpy.rint``), as integer kernels do.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._validation import check_alpha, check_bits, check_grid

__all__ = ["quantize", "GridGeometry", "grid_geometry"]


class GridGeometry:
    """Geometry of a uniform grid, as arrays broadcast over ``alpha`` and ``bits``.

    The range ``[lo, hi]`` is split into a block of ``n`` full cells of width ``step``
    starting at ``a0`` (level at each cell's midpoint), plus, on the midtread grid, two
    half cells ``[lo, lo + step/2]`` and ``[hi - step/2, hi]`` whose levels sit on
    ``lo`` and ``hi``.  Values beyond the range map to ``level_lo`` / ``level_hi``.
    Fields other than ``hi`` and ``step`` are computed on first use.
    """

    def __init__(self, alpha, bits, grid):
        self.grid = grid
        self.hi = alpha
        two_b = np.exp2(np.asarray(bits, dtype=np.float64))  # exact for whole numbers
        self._two_b = two_b
        self.half_cells = grid == "midtread"
        if grid == "midrise":
            self.step = alpha * (2.0 / two_b)
        elif grid == "unsigned":
            self.step = alpha / two_b
        else:
            self.step = alpha / (0.5 * two_b - 1.0)

    @property
    def lo(self):
        return np.zeros_like(self.hi) if self.grid == "unsigned" else -self.hi

    @property
    def n(self):  # float64 count of full cells (2**64 does not fit in int64)
        return self._two_b - 3.0 if self.grid == "midtread" else self._two_b

    @property
    def a0(self):
        if self.grid == "midtread":
            return 0.5 * self.step - self.hi
        return self.lo

    @property
    def level_hi(self):
        return self.hi if self.grid == "midtread" else self.hi - 0.5 * self.step

    @property
    def level_lo(self):
        if self.grid == "midtread":
            return -self.hi
        return self.lo + 0.5 * self.step


def grid_geometry(alpha: np.ndarray, bits: np.ndarray, grid: str) -> GridGeometry:
    """Private-use geometry builder; inputs must already be checked and broadcast."""
    if grid not in ("midrise", "midtread", "unsigned"):
        raise ValueError(f"unknown grid {grid!r}")  # pragma: no cover
    return GridGeometry(np.asarray(alpha, dtype=np.float64), bits, grid)


def aciq_rounding(alpha: np.ndarray, bits: np.ndarray, grid: str) -> np.ndarray:
    r"""The ACIQ uniform-noise term :math:`\Delta^2/12` (Eq. 2 for the midrise grid)."""
    geo = grid_geometry(alpha, bits, grid)
    return geo.step**2 / 12.0


def quantize(x: ArrayLike, alpha: ArrayLike, bits: ArrayLike, *, grid: str = "midrise"):
    r"""Quantize `x` with a `bits`-bit uniform quantizer clipping at :math:`\pm\alpha`.

    On the default midrise grid (the supplement's quantizer),

    .. math::

        Q(x) = -\alpha + \left(\operatorname{clip}\left(\left\lfloor
               \frac{x+\alpha}{\Delta}\right\rfloor, 0, 2^b-1\right)
               + \tfrac12\right)\Delta, \qquad \Delta = \frac{2\alpha}{2^b},

    where :math:`\alpha` is `alpha` and :math:`b` is `bits`.  See the module docstring
    for the ``"midtread"`` and ``"unsigned"`` grids.

    Parameters
    ----------
    x : array_like
        Values to quantize.  Integer input is converted to float64.
    alpha : array_like
        Clipping boundary, finite and > 0; broadcasts against `x`.
    bits : array_like of int
        Bit-width, 1 to 64 (2 to 64 on the midtread grid); broadcasts against `x`.
    grid : {"midrise", "midtread", "unsigned"}
        Quantizer grid.

    Returns
    -------
    ndarray or float
        Quantized values, float64 (float32/float16 inputs keep their dtype).
        A scalar input gives a Python float.

    Raises
    ------
    ValueError
        If `x` holds NaN, or `alpha`, `bits` or `grid` are out of range.

    Examples
    --------
    >>> import qerror
    >>> qerror.quantize([-2.0, -0.1, 0.1, 0.6], alpha=1.0, bits=2)
    array([-0.75, -0.25,  0.25,  0.75])
    >>> qerror.quantize([-2.0, -0.1, 0.1, 0.6], alpha=1.0, bits=2, grid="midtread")
    array([-1.,  0.,  0.,  1.])
    """
    grid = check_grid(grid)
    xa = np.asarray(x)
    if xa.dtype == object or xa.dtype.kind not in "biuf":
        raise TypeError(f"x must be a real numeric array, got dtype {xa.dtype}")
    out_dtype = xa.dtype if xa.dtype.kind == "f" else np.dtype(np.float64)
    xf = xa.astype(np.float64)
    if np.isnan(xf).any():
        raise ValueError(f"x contains {int(np.isnan(xf).sum())} NaN value(s)")
    a = check_alpha(alpha)
    b = check_bits(bits, grid)
    try:
        xf, a, b = np.broadcast_arrays(xf, a, b)
    except ValueError:
        raise ValueError(f"x, alpha and bits must broadcast to one shape, got shapes "
                         f"{np.shape(xf)}, {np.shape(a)} and {np.shape(b)}") from None
    with np.errstate(over="ignore"):  # x/step may overflow to inf for tiny alpha: clipped
        q = _quantize(xf, a, b, grid)
    top = np.finfo(out_dtype).max
    if out_dtype != np.float64 and q.size and np.max(np.abs(q)) > top:
        raise ValueError(f"alpha={float(np.max(a)):g} is beyond the range of x's dtype "
                         f"{out_dtype} (max {float(top):g}): the levels cannot be "
                         "represented; pass x as float64")
    q = q.astype(out_dtype, copy=False)
    if q.ndim == 0:
        return float(q)
    return q


def _quantize(xf, a, b, grid):
    two_b = np.exp2(b.astype(np.float64))

    def cell(num, step):
        # a step that underflows to 0 (alpha ~ 5e-324) gives 0/0 at x = the threshold;
        # that value belongs to the cell above the threshold, index 0 here
        with np.errstate(divide="ignore", invalid="ignore"):
            r = num / step
        return np.where(np.isnan(r), 0.0, r)

    if grid == "midrise":
        step = a * (2.0 / two_b)  # = 2a / 2^b exactly, without overflow for a > 9e307
        idx = np.clip(np.floor(cell(xf + a, step)), 0.0, two_b - 1.0)
        q = -a + (idx + 0.5) * step
        big = ~np.isfinite(q)
        if big.any():  # (idx + 1/2) * step overflowed: scale the level by a instead
            q = np.where(big, a * ((idx + 0.5) * (2.0 / two_b) - 1.0), q)
    elif grid == "unsigned":
        step = a / two_b
        idx = np.clip(np.floor(cell(xf, step)), 0.0, two_b - 1.0)
        q = (idx + 0.5) * step
    else:
        k = 0.5 * two_b - 1.0
        step = a / k
        idx = np.clip(np.rint(cell(xf, step)), -k, k)
        q = np.where(np.abs(idx) == k, np.copysign(a, idx), idx * step) + 0.0  # no -0.0
    return q
