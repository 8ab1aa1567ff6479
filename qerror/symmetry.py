r"""Symmetry and the quantization bias :math:`\mathbb E[W - Q(W)]` (SymReg, Section 2).

The mean error of a uniform quantizer splits like the mean-square error: the part from
values beyond the range (clipped to the outermost levels) and the part from values
inside it (rounded to the nearest level),

.. math::

    \mathbb E[W - Q(W)] =
        \underbrace{\int_{|x|>\alpha} f(x)\,(x - q_\pm)\,dx}_{\text{clipping}}
      + \underbrace{\sum_i \int_{t_i}^{t_{i+1}} f(x)\,(x - q_i)\,dx}_{\text{rounding}} ,

and the mean-square error splits into bias and variance,
:math:`\mathbb E[(W-Q(W))^2] = \mathbb E[W-Q(W)]^2 + \operatorname{Var}(W - Q(W))`.

*Symmetry.*  On the midrise and midtread grids :math:`Q(-x) = -Q(x)` (apart from the
measure-zero thresholds), so :math:`x - Q(x)` is odd and the bias of a law symmetric
about 0 is exactly zero, whatever :math:`\alpha` and :math:`b`: this is what the
supplement's SymReg relies on ("the biased quantization error is forced to zero
regardless of quantization algorithms").  A skewed or shifted law, or the half-range
``"unsigned"`` grid, has a bias.

*How it is computed.*  The rounding part is a sum over up to :math:`2^b` cells.  With
the periodic Bernoulli function :math:`\tilde B_1(t) = \{t\} - \tfrac12`,
:math:`x - q(x) = \Delta\,\tilde B_1((x - a)/\Delta)` inside a block of whole cells
:math:`[a, b]`, and integrating by parts with
:math:`\tilde B_{k+1}' = (k+1)\tilde B_k` (Euler-Maclaurin) gives

.. math::

    \sum_i \int_{a_i}^{a_i+\Delta} f(x)(x - q_i)\,dx
      = \sum_{j\ge1} \frac{B_{2j}}{(2j)!}\,\Delta^{2j}
        \left[f^{(2j-2)}\right]_a^b + R,

with the remainder :math:`R` exponentially small for the normal law (Poisson
summation: :math:`O(e^{-2\pi^2\sigma^2/\Delta^2})`).  Only the block *ends* contribute:
the leading term :math:`\tfrac{\Delta^2}{12}(f(b) - f(a))`.  For the Laplace law the
cells on each side of the peak form geometric series, and for the uniform law every
whole cell contributes zero.  These :math:`O(1)` forms are the families' ``cells1``
methods (:mod:`qerror.laws._families`); other laws use per-cell quadrature.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._dispatch import law_or_data
from ._law_engine import _cell_sum, _grid_cells, _no_nan, _z_cells
from ._validation import check_alpha, scalar_or_array
from .data._checks import _check_data, _check_finite
from .error import mse
from .formats import get_format
from .laws._families import _FirstMomentView
from .laws._protocol import Law

__all__ = ["bias", "bias_variance"]


def _has_finite_mean(fam) -> bool:
    rv = getattr(fam, "rv", None)
    if rv is None:  # the closed-form families
        return True
    return bool(np.isfinite(float(rv.stats(*fam.shapes, moments="m"))))


def _bias_law(law: Law, alpha: np.ndarray, bits: np.ndarray, fmt,
              symmetry: bool = True) -> np.ndarray:
    """E[W - Q(W)] for a resolved law; alpha/bits 1-D arrays of one shape.

    ``symmetry=False`` computes the continuous part of a symmetric law in full
    instead of using its oddness (tests use it to show the sum really is zero).
    """
    fam, s = law.family, law.scale
    L, U = law.lower, law.upper
    if (L == -np.inf or U == np.inf) and not _has_finite_mean(fam):
        raise ValueError("dist has no finite mean, so the bias E[W - Q(W)] is undefined; "
                         "clamp it first (qerror.clamp)")
    fmt = get_format(fmt)
    geo = fmt.geometry(alpha, bits)
    out = np.zeros(alpha.shape)
    odd = (symmetry and getattr(fam, "symmetric", False) and law.loc == 0.0 and L == -U
           and fmt.symmetric)
    if not odd:
        lo, hi = law.z(geo.lo), law.z(geo.hi)
        ref_lo, ref_hi = law.z(geo.level_lo), law.z(geo.level_hi)
        # clipping: beyond the range, values go to the outermost levels
        a = np.maximum(hi, L)
        m = a < U
        if m.any():
            out[m] += fam.seg1(a[m], np.full(a[m].shape, U), ref_hi[m])
        b = np.minimum(lo, U)
        m = L < b
        if m.any():
            out[m] += fam.seg1(np.full(b[m].shape, L), b[m], ref_lo[m])
        # rounding: blocks of whole cells, then the format's other cells
        for block in geo.blocks:
            out += _grid_cells(_FirstMomentView(fam), law, block, L, U)
        if geo.cells:
            out += _cell_sum(fam.seg1, _z_cells(law, geo), L, U, alpha.shape)
        out *= s
    # point masses of a clamped law (on the midrise grid a threshold belongs to the
    # cell above it, so an atom sitting exactly on a threshold breaks the symmetry)
    for x, mass in law.atoms:
        if mass > 0.0:
            xs = np.full(alpha.shape, x)
            out += mass * (xs - fmt.quantize(xs, alpha, np.broadcast_to(bits, xs.shape)))
    return out


def _bias_data(x, alpha: np.ndarray, bits: np.ndarray, fmt) -> np.ndarray:
    xa = _check_data(x, "dist").astype(np.float64, copy=False).ravel()
    _check_finite(xa, "dist")
    out = np.empty(alpha.shape)
    for i in np.ndindex(alpha.shape):
        a, b = np.full(xa.shape, alpha[i]), np.full(xa.shape, bits[i])
        with np.errstate(over="ignore"):
            out[i] = np.mean(xa - fmt.quantize(xa, a, b))
    return out


def _bias_public(dist, alpha, bits, grid) -> np.ndarray:
    fmt = get_format(grid)
    a = check_alpha(alpha)
    b = fmt.check_bits(bits)
    a, b = np.broadcast_arrays(a, b)
    shape = a.shape
    law, data = law_or_data(dist)
    if law is None:
        return _bias_data(data, a.astype(np.float64), b, fmt)
    if a.size == 0:
        return np.zeros(shape)
    a1 = a.ravel().astype(np.float64)
    with np.errstate(all="ignore"):  # over/underflow at extreme alpha: NaN, then refused
        out = _no_nan(_bias_law(law, a1, b.ravel(), fmt), a1)
    return out.reshape(shape)


def bias(dist, alpha: ArrayLike, bits: ArrayLike = None, *, grid=None):
    r"""Mean quantization error :math:`\mathbb E[W - Q(W)]`, exactly.

    .. math::

        \beta(\alpha) = \int_{-\infty}^{\infty} f(x)\,\bigl(x - Q(x)\bigr)\,dx
            + \sum_k m_k\,\bigl(x_k - Q(x_k)\bigr)

    where :math:`Q` is the `bits`-bit quantizer of `grid` clipping at :math:`\alpha`
    = `alpha`, and :math:`m_k` are the point masses of a clamped law at
    :math:`x_k = \pm d` (supplement Eqs. 5-7).  Zero for a law symmetric about 0 on
    the symmetric grids (supplement Section 2, SymReg).

    Parameters
    ----------
    dist : scipy.stats frozen continuous distribution, ClampedDistribution or array_like
        The law of :math:`W`, or data (the mean of ``x - quantize(x)`` over all
        values).  A law needs a finite mean unless it is clamped.
    alpha : array_like
        Clipping boundary, finite and > 0.
    bits : array_like of int
        Bit-width, 1 to 64 (2 to 64 on the midtread grid); broadcasts with `alpha`.
    grid : str or qerror.formats.Format, optional
        Quantizer format (:mod:`qerror.formats`); default ``"midrise"``.

    Returns
    -------
    float or ndarray
        The bias, in the units of `dist`; a Python float for scalar input.

    Raises
    ------
    ValueError
        If `dist` has no finite mean (e.g. ``stats.cauchy()``), or for bad `alpha`,
        `bits` or `grid`.

    See Also
    --------
    bias_variance : the split :math:`E = \beta^2 + \operatorname{Var}(W - Q(W))`.

    Notes
    -----
    The rounding part is a sum over up to :math:`2^b` cells; for the normal, Laplace
    and uniform laws it is evaluated in :math:`O(1)` (see :mod:`qerror.symmetry`), at any
    bit-width up to 64.

    Examples
    --------
    >>> from scipy import stats
    >>> import qerror
    >>> qerror.bias(stats.norm(), 2.0, 4)  # symmetric law, symmetric grid
    0.0
    >>> round(qerror.bias(stats.norm(loc=0.5), 2.0, 4), 6)  # shifted law
    0.03546
    >>> round(qerror.bias(stats.skewnorm(4.0), 2.0, 4), 6)
    0.02323
    """
    return scalar_or_array(_bias_public(dist, alpha, bits, grid))


def bias_variance(dist, alpha: ArrayLike, bits: ArrayLike = None, *, grid=None):
    r"""Split the exact mean-square error into squared bias and error variance.

    .. math::

        \mathbb E\left[(W - Q(W))^2\right]
            = \underbrace{\mathbb E[W - Q(W)]^2}_{\text{bias}^2}
            + \underbrace{\operatorname{Var}\left(W - Q(W)\right)}_{\text{variance}}

    where :math:`Q` is the `bits`-bit quantizer of `grid` clipping at `alpha`; the
    left side is :func:`qerror.mse` (``model="exact"``) and the bias
    :func:`qerror.bias`.

    Parameters
    ----------
    dist, alpha, bits, grid
        As in :func:`bias`.

    Returns
    -------
    bias_squared, variance : float or ndarray

    Examples
    --------
    >>> from scipy import stats
    >>> import qerror
    >>> b2, var = qerror.symmetry.bias_variance(stats.norm(loc=0.5), 2.0, 4)
    >>> round(b2, 6), round(var, 6)
    (0.001257, 0.036583)
    """
    beta = _bias_public(dist, alpha, bits, grid)
    total = np.asarray(mse(dist, alpha, bits, grid=grid), dtype=np.float64)
    b2 = beta * beta
    return scalar_or_array(b2), scalar_or_array(total - b2)
