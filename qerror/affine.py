r"""Affine (zero-point) quantization: the optimal range :math:`[lo, hi]`.

PyTorch's ``per_tensor_affine`` quantizer has :math:`2^b` levels
:math:`(q - z)\Delta`, :math:`q = 0 \dots 2^b-1`, with a step :math:`\Delta > 0` and an
integer zero point :math:`z` that an observer derives from a range :math:`[lo, hi]`
(:func:`qerror.formats.affine_range`).  The error depends on the range only through
:math:`(\Delta, z)`, and every pair is reached (``lo = -z Delta``, ``hi = (2^b-1-z)
Delta``), so the two-dimensional problem over :math:`(lo, hi)` is

.. math::

    \min_{lo < hi} E = \min_{z \in \{0, \dots, 2^b-1\}} \ \min_{\Delta > 0}
        E_z(\Delta),

one one-dimensional problem per zero point, each solved globally by the format-agnostic
solvers (:func:`qerror.optimal_alpha` on the :class:`~qerror.formats.AffineGrid` of
:math:`z`: a scan of the bracketed range plus Newton for a law, the certified
piecewise-quadratic optimum for data).  What is certified is exactly what each of the
:math:`2^b` solves certifies, and the minimum over the finite set of zero points is
exact.  The cost is :math:`2^b` solves (16 at 4 bits; 256 at 8 bits).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._dispatch import law_or_data
from .formats import AffineGrid
from .optimal import optimal_alpha

__all__ = ["OptimalRange", "optimal_range"]


@dataclass(frozen=True)
class OptimalRange:
    """The optimal affine range (arrays with one entry per channel for ``axis=``).

    Attributes
    ----------
    lo, hi : float or ndarray
        The range :math:`[-z\\Delta, (2^b-1-z)\\Delta]` (its ends are levels).
    step : float or ndarray
        :math:`\\Delta`.
    zero_point : int or ndarray
        :math:`z`.
    alpha : float or ndarray
        :math:`\\max(z, 2^b-1-z)\\Delta`, to pass with ``AffineGrid(bits, z)``.
    mse, truncation, rounding : float or ndarray
        The error at the optimum and its parts.
    bits : int
    success : bool or ndarray
        Whether every per-zero-point solve certified its optimum.
    message : str
    nfev : int
    """

    lo: object
    hi: object
    step: object
    zero_point: object
    alpha: object
    mse: object
    truncation: object
    rounding: object
    bits: int
    success: object
    message: str
    nfev: int


def optimal_range(dist, bits: int, *, axis=None) -> OptimalRange:
    r"""The range :math:`[lo, hi]` of an affine quantizer that minimises the error.

    .. math::

        (lo^*, hi^*) = \operatorname*{arg\,min}_{lo < hi}
            \mathbb E\bigl[(W - Q_{lo,hi}(W))^2\bigr]

    where :math:`Q_{lo,hi}` rounds to the levels :math:`(q - z)\Delta` with the step
    and zero point PyTorch derives from the range, :math:`b` = `bits`.

    Parameters
    ----------
    dist : scipy.stats frozen distribution, ClampedDistribution or array_like
        The law, or data.
    bits : int
        Bit-width, 1 to 16 (the cost grows as :math:`2^b`).
    axis : int, optional
        Data only: one range per index along `axis` (per channel).

    Returns
    -------
    OptimalRange

    Examples
    --------
    >>> from scipy import stats
    >>> from qerror.affine import optimal_range
    >>> r = optimal_range(stats.norm(), 3)
    >>> int(r.zero_point), round(r.lo, 4), round(r.hi, 4), round(r.mse, 5)
    (4, -2.4073, 1.8055, 0.04064)
    """
    from ._validation import check_bits_range

    b = int(check_bits_range(bits, 1, 16, " for an affine grid"))
    if np.ndim(bits):
        raise ValueError(f"bits must be a single integer, got {bits!r}")
    law, data = law_or_data(dist)
    if law is not None and axis is not None:
        raise ValueError("axis applies to data arrays only, not to distributions")
    n = 2**b - 1
    best = None
    nfev, ok = 0, True
    for z in range(n + 1):
        g = AffineGrid(b, z)
        r = optimal_alpha(dist if law is not None else data, grid=g, axis=axis)
        nfev += int(r.nfev)
        ok = ok & np.asarray(r.success)
        mse = np.asarray(r.mse, dtype=float)
        step = np.asarray(r.alpha, dtype=float) / max(z, n - z)
        row = dict(mse=mse, step=step, z=np.full(mse.shape, z),
                   t=np.asarray(r.truncation, dtype=float),
                   r=np.asarray(r.rounding, dtype=float))
        if best is None:
            best = row
        else:
            better = mse < best["mse"]
            best = {k: np.where(better, row[k], best[k]) for k in best}
    step, z = best["step"], best["z"].astype(np.int64)
    conv = (lambda v: v.item()) if best["mse"].ndim == 0 else (lambda v: v)
    msg = (f"minimum over the {n + 1} zero points of {b} bits, each a global "
           f"one-dimensional solve over the step (qerror.optimal_alpha on "
           f"AffineGrid({b}, z))")
    return OptimalRange(lo=conv(-z * step), hi=conv((n - z) * step), step=conv(step),
                        zero_point=conv(z), alpha=conv(np.maximum(z, n - z) * step),
                        mse=conv(best["mse"]), truncation=conv(best["t"]),
                        rounding=conv(best["r"]), bits=b,
                        success=conv(np.asarray(ok)), message=msg, nfev=nfev)
