r"""Block (group-wise) scaling: what OCP MX, NVFP4 and grouped int4 do.

A tensor is cut into groups of ``group_size`` consecutive elements along its last
axis; each group gets its own scale, chosen from the group by a *rule*, and its
elements are quantized with the element format ``grid`` at that scale.  With
:math:`m = \max_{i \in \text{group}} |x_i|` and the format's levels
:math:`\alpha\,\ell_k` (largest level :math:`\alpha\,\ell_\text{top}`):

``"absmax"``
    :math:`\alpha = m/\ell_\text{top}`: the group maximum lands on the top level
    (grouped int4 as in GPTQ/AWQ without zero point, QLoRA's NF4 blocks).
``"pow2"``
    OCP MX (*OCP Microscaling Formats (MX) v1.0*, Sec. 6.3): the shared E8M0 scale
    :math:`X = 2^{\lfloor\log_2 m\rfloor - e_\text{max}}`, with :math:`e_\text{max}`
    the exponent of the element format's largest value :math:`r\,2^{e_\text{max}}`
    (:math:`r \in [1,2)`: FP4 E2M1 :math:`6 = 1.5\cdot2^2`); elements are cast
    :math:`x/X` with saturation, so the levels are :math:`X` times the format's own
    values and :math:`\alpha\,\ell_\text{top} = 2^{\lfloor\log_2 m\rfloor}\,r`.  Values
    above it (up to :math:`m < 2^{\lfloor\log_2 m\rfloor+1}`) are clipped.
``"e4m3"``
    NVFP4 (NVIDIA's two-level scaling): the block scale :math:`m/6` over the FP32
    tensor scale :math:`\tau = \text{tensor\_amax}/(448\cdot6)` is stored in FP8 E4M3,
    round to nearest even, saturating at 448, so that the block with the tensor's
    maximum gets code 448: :math:`\alpha\,\ell_\text{top} = u\,\mathrm{E4M3}(m/u)`
    with :math:`u = \text{tensor\_amax}/448`.  (A scale that rounds to 0 zeroes its
    group.)
``"optimal"`` (data only)
    the certified per-group optimum of :func:`qerror.data.optimal_alpha_data`.

Scales are applied in double precision; ``absmax`` and ``optimal`` scales are counted
as FP16 in :func:`bits_per_element`, but their rounding to FP16 is not modelled.

Functions
---------
:func:`group_mse` (data or a law), :func:`group_scales`, :func:`group_quantize`,
:func:`bits_per_element`.  For a law, :func:`group_mse` is the *expected* MSE of
i.i.d. blocks, computed exactly through the distribution of the block maximum (see
:mod:`qerror.blocks._law`).
"""

from __future__ import annotations

import operator

import numpy as np

from ..formats import get_format
from . import _rules

__all__ = ["group_mse", "group_scales", "group_quantize", "bits_per_element",
           "SCALE_RULES", "SCALE_BITS"]

#: the scale rules (``scale=``)
SCALE_RULES = _rules.RULES
#: bits stored per group for its scale, per rule (FP16, E8M0, E4M3, FP16)
SCALE_BITS = dict(_rules.SCALE_BITS)


# ------------------------------------------------------------------ argument checks
def _check_group_size(group_size) -> int:
    if isinstance(group_size, (bool, np.bool_)):
        raise TypeError("group_size must be a positive integer, got a bool")
    try:
        g = operator.index(group_size)
    except TypeError:
        raise TypeError(f"group_size must be a positive integer, got {group_size!r}") \
            from None
    if g < 1:
        raise ValueError(f"group_size must be >= 1, got {g}")
    return int(g)


def _check_scale(scale, law: bool) -> str:
    allowed = _rules.MAX_RULES if law else _rules.RULES
    if not isinstance(scale, str) or scale not in _rules.RULES:
        raise ValueError(f"scale must be one of {allowed}, got {scale!r}")
    if scale not in allowed:
        raise ValueError("scale='optimal' needs data: the per-block optimum of a law "
                         "depends on the whole block, not only on its maximum (use "
                         f"one of {allowed}, or data drawn from the law)")
    return scale


def _check_common(group_size, bits, grid, scale, law):
    g = _check_group_size(group_size)
    fmt = get_format(grid)
    b = fmt.check_bits(bits)
    if b.ndim != 0:
        raise ValueError(f"bits must be a single integer here, got {bits!r}")
    return g, fmt, int(b), _check_scale(scale, law)


def _check_positive(value, name):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a positive number, got {value!r}") from None
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return v


def _groups(x, g):
    """(data as float64 of shape (..., groups, g), original shape)."""
    from ..data._checks import _check_data, _check_finite

    xa = _check_data(x)
    _check_finite(xa)
    if xa.ndim == 0:
        raise ValueError("x must have at least one dimension: groups run along its "
                         "last axis")
    L = xa.shape[-1]
    if L % g:
        raise ValueError(f"group_size={g} does not divide the last axis of x (length "
                         f"{L}); pad x to a multiple of {g} or choose a divisor of {L}")
    return xa.astype(np.float64, copy=False).reshape(*xa.shape[:-1], L // g, g), xa.shape


# ------------------------------------------------------------------ data
def _alphas(xg, fmt, bits, rule, tensor_amax):
    amax = np.max(np.abs(xg), axis=-1)
    if rule == "optimal":
        from ..data.solver import optimal_alpha_data

        r = optimal_alpha_data(xg.reshape(-1, xg.shape[-1]), bits, grid=fmt, axis=0)
        return np.asarray(r.alpha, dtype=np.float64).reshape(amax.shape)
    top = _rules.format_top(fmt, bits)
    ratio = _rules.format_ratio(fmt, bits, top) if rule == "pow2" else None
    unit = None
    if rule == "e4m3":
        t = float(np.max(amax)) if tensor_amax is None else tensor_amax
        unit = t / _rules.E4M3_MAX if t > 0 else 1.0
    return _rules.alpha_of_max(rule, amax, top, ratio, unit)


def _quantize_groups(xg, alpha, fmt, bits):
    a = np.broadcast_to(alpha[..., None], xg.shape)
    live = a > 0
    b = np.full(xg.shape, bits, dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        q = fmt.quantize(xg, np.where(live, a, 1.0), b)
    return np.where(live, q, 0.0)


def group_scales(x, group_size, bits=None, *, grid=None, scale="absmax",
                 tensor_amax=None) -> np.ndarray:
    r"""The clipping boundary :math:`\alpha` of every group of `x`.

    Parameters are those of :func:`group_mse` (data only).

    Returns
    -------
    ndarray
        Shape ``x.shape[:-1] + (x.shape[-1] // group_size,)``; 0 for a group whose
        scale is 0 (all-zero groups; an E4M3 scale that underflows).

    Examples
    --------
    >>> from qerror.blocks import group_scales
    >>> group_scales([0.1, -3.0, 0.5, 1.0], 2, 3, grid="midtread", scale="pow2")
    array([3. , 1.5])
    """
    g, fmt, b, rule = _check_common(group_size, bits, grid, scale, law=False)
    ta = None if tensor_amax is None else _check_positive(tensor_amax, "tensor_amax")
    xg, _ = _groups(x, g)
    return _alphas(xg, fmt, b, rule, ta)


def group_quantize(x, group_size, bits=None, *, grid=None, scale="absmax",
                   tensor_amax=None) -> np.ndarray:
    r"""`x` quantized group by group (dequantized values, float64, shape of `x`).

    .. math::

        \hat x_i = Q_{\alpha_g}(x_i), \quad i \in \text{group } g,

    where :math:`Q_\alpha` is :func:`qerror.quantize` with `bits` and `grid` and
    :math:`\alpha_g` the group's boundary by the rule `scale`
    (:func:`group_scales`).  Parameters are those of :func:`group_mse`.

    Examples
    --------
    >>> from qerror.blocks import group_quantize
    >>> group_quantize([0.1, -3.0, 0.5, 1.0], 2, 3, grid="midtread")
    array([ 0.        , -3.        ,  0.66666667,  1.        ])
    """
    g, fmt, b, rule = _check_common(group_size, bits, grid, scale, law=False)
    ta = None if tensor_amax is None else _check_positive(tensor_amax, "tensor_amax")
    xg, shape = _groups(x, g)
    return _quantize_groups(xg, _alphas(xg, fmt, b, rule, ta), fmt, b).reshape(shape)


def group_mse(dist, group_size, bits=None, *, grid=None, scale="absmax",
              tensor_amax=None) -> float:
    r"""Mean-square error of block-scaled quantization, of data or (expected) of a law.

    Data: groups of `group_size` consecutive elements along the last axis, each
    quantized at its own scale :math:`\alpha_g` (:func:`group_scales`),

    .. math::

        \mathrm{MSE} = \frac1N \sum_g \sum_{i \in g} \bigl(x_i - Q_{\alpha_g}(x_i)\bigr)^2 .

    A law: the expected MSE per element of blocks of :math:`n` = `group_size` i.i.d.
    draws, computed exactly (quadrature, no sampling) through the law of the block
    maximum :math:`M = \max_i|W_i|`, :math:`P(M \le m) = (F(m) - F(-m))^n`:

    .. math::

        \mathbb E[\mathrm{MSE}] = \mathbb E_M\Bigl[\tfrac1n\,e(M)
            + \tfrac{n-1}{n}\,\mathbb E\bigl[(W - Q_{s(M)}(W))^2 \bigm| |W| < M\bigr]\Bigr],

    where :math:`s(M)` is the rule's :math:`\alpha` and :math:`e(M)` the error of the
    element at :math:`\pm M` (:mod:`qerror.blocks._law`).

    Parameters
    ----------
    dist : array_like or scipy.stats frozen continuous distribution
        Data (groups along the last axis), or a law (continuous: clamped laws, which
        have atoms, are refused).
    group_size : int
        Elements per group (per block); must divide the last axis of data.
    bits : int, optional
        Bit-width of the element format (omit for formats with a fixed width).
    grid : str or qerror.formats.Format, optional
        Element format (:mod:`qerror.formats`); default ``"midrise"``.
    scale : {"absmax", "pow2", "e4m3", "optimal"}
        The scale rule (see :mod:`qerror.blocks`); ``"optimal"`` for data only.
    tensor_amax : float, optional
        ``scale="e4m3"`` only: the per-tensor maximum that sets NVFP4's FP32 tensor
        scale.  Default: ``max|x|`` for data; for a law :math:`448\sigma_s`, with
        :math:`\sigma_s` its scale parameter (block codes :math:`m/\sigma_s`), which
        keeps the result equivariant in the scale.

    Returns
    -------
    float
        The MSE per element (``inf`` for a law with infinite variance).

    Raises
    ------
    ValueError
        A group size that does not divide the last axis (named), an unknown grid or
        scale rule (the valid ones listed), NaN/inf in the data, bits out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import stats
    >>> from qerror.blocks import group_mse
    >>> round(group_mse(stats.norm(), 32, 4, grid="midtread"), 5)   # expected, exact
    0.00941
    >>> x = np.random.default_rng(0).standard_normal((64, 256))
    >>> round(group_mse(x, 32, 4, grid="midtread"), 4)                # one sample
    0.0095
    """
    from .._dispatch import law_or_data

    law, data = law_or_data(dist)
    g, fmt, b, rule = _check_common(group_size, bits, grid, scale, law=law is not None)
    ta = None if tensor_amax is None else _check_positive(tensor_amax, "tensor_amax")
    if law is not None:
        from ._law import expected_block_mse

        unit = None
        if rule == "e4m3":
            unit = (law.scale if ta is None else ta / _rules.E4M3_MAX)
        return expected_block_mse(law, fmt, b, g, rule, unit)
    xg, _ = _groups(data, g)
    q = _quantize_groups(xg, _alphas(xg, fmt, b, rule, ta), fmt, b)
    d = xg - q
    return float(np.vdot(d, d).real / d.size)


def bits_per_element(group_size, bits=None, *, grid=None, scale="absmax",
                     tensor_size=None) -> float:
    r"""Storage per element including the scales: :math:`b + s/n` (+ :math:`32/N`).

    .. math::

        \bar b = b + \frac{s}{n} \;\Bigl(+ \frac{32}{N}\ \text{for e4m3}\Bigr),

    where :math:`b` is `bits`, :math:`n` is `group_size`, :math:`s` the scale's
    width (:data:`SCALE_BITS`: FP16 16, E8M0 8, E4M3 8) and :math:`N` = `tensor_size`
    (NVFP4's FP32 per-tensor scale; omitted when `tensor_size` is None).

    Examples
    --------
    >>> from qerror.blocks import bits_per_element
    >>> bits_per_element(32, 4, grid="midtread", scale="pow2")      # MXINT4-like
    4.25
    >>> bits_per_element(128, 4, grid="midtread")                   # int4, g128, FP16
    4.125
    """
    g, fmt, b, rule = _check_common(group_size, bits, grid, scale, law=False)
    out = b + _rules.SCALE_BITS[rule] / g
    if tensor_size is not None and rule == "e4m3":
        out += 32.0 / _check_positive(tensor_size, "tensor_size")
    return float(out)
