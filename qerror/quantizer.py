r"""The quantizer: :math:`Q(x)` for any format (``grid=``).

The formats themselves (levels, thresholds, ties, scale) are defined in
:mod:`qerror.formats`; this module is the checked public face.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._validation import check_alpha
from .formats import get_format

__all__ = ["quantize"]


def quantize(x: ArrayLike, alpha: ArrayLike, bits: ArrayLike | None = None, *,
             grid=None):
    r"""Quantize `x` with the `bits`-bit quantizer of `grid` clipping at :math:`\alpha`.

    On the default midrise grid (the supplement's quantizer),

    .. math::

        Q(x) = -\alpha + \left(\operatorname{clip}\left(\left\lfloor
               \frac{x+\alpha}{\Delta}\right\rfloor, 0, 2^b-1\right)
               + \tfrac12\right)\Delta, \qquad \Delta = \frac{2\alpha}{2^b},

    where :math:`\alpha` is `alpha` and :math:`b` is `bits`.  See
    :mod:`qerror.formats` for every grid.

    Parameters
    ----------
    x : array_like
        Values to quantize.  Integer input is converted to float64.
    alpha : array_like
        Clipping boundary, finite and > 0; broadcasts against `x`.
    bits : array_like of int, optional
        Bit-width (1 to 64; 2 to 64 on the midtread grid); broadcasts against `x`.
        May be omitted for formats with a fixed level count.
    grid : str or qerror.formats.Format, optional
        Quantizer format; default ``"midrise"``.

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
    fmt = get_format(grid)
    xa = np.asarray(x)
    if xa.dtype == object or xa.dtype.kind not in "biuf":
        raise TypeError(f"x must be a real numeric array, got dtype {xa.dtype}")
    out_dtype = xa.dtype if xa.dtype.kind == "f" else np.dtype(np.float64)
    xf = xa.astype(np.float64)
    if np.isnan(xf).any():
        raise ValueError(f"x contains {int(np.isnan(xf).sum())} NaN value(s)")
    a = check_alpha(alpha)
    b = fmt.check_bits(bits)
    try:
        xf, a, b = np.broadcast_arrays(xf, a, b)
    except ValueError:
        raise ValueError(f"x, alpha and bits must broadcast to one shape, got shapes "
                         f"{np.shape(xf)}, {np.shape(a)} and {np.shape(b)}") from None
    with np.errstate(over="ignore"):  # x/step may overflow to inf for tiny alpha: clipped
        q = fmt.quantize(xf, a, b)
    top = np.finfo(out_dtype).max
    if out_dtype != np.float64 and q.size and np.max(np.abs(q)) > top:
        raise ValueError(f"alpha={float(np.max(a)):g} is beyond the range of x's dtype "
                         f"{out_dtype} (max {float(top):g}): the levels cannot be "
                         "represented; pass x as float64")
    q = q.astype(out_dtype, copy=False)
    if q.ndim == 0:
        return float(q)
    return q
