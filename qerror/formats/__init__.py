r"""Quantizer formats: what a quantizer is, in one object per format.

``grid=`` everywhere in qerror takes a registered name or a :class:`Format` object;
:func:`get_format` resolves it once, at the public face, and every engine asks the
format (its :class:`Geometry`, :meth:`Format.quantize`, its magnitude levels) instead
of branching on its name.

================  ==========================================================
name              levels (at clipping boundary :math:`\alpha`, bit-width b)
================  ==========================================================
``"midrise"``     :math:`(k+\tfrac12)\Delta`, :math:`\Delta = 2\alpha/2^b`
                  (the supplement's quantizer, Eqs. 1-2; **the default**)
``"midtread"``    :math:`k\Delta`, :math:`|k| \le 2^{b-1}-1`,
                  :math:`\Delta = \alpha/(2^{b-1}-1)` (symmetric int kernels)
``"unsigned"``    :math:`(k+\tfrac12)\Delta` on :math:`[0, \alpha]`,
                  :math:`\Delta = \alpha/2^b`
``"pow2"``        :math:`\pm\alpha 2^{-k}`, :math:`k < 2^{b-1}`
``"int"``         :math:`k\Delta`, :math:`-2^{b-1} \le k \le 2^{b-1}-1`,
                  :math:`\Delta = 2\alpha/(2^b-1)` (PyTorch ``qint8``,
                  ``per_tensor_symmetric``)
``"uint"``        :math:`k\Delta`, :math:`0 \le k \le 2^b-1`,
                  :math:`\Delta = \alpha/(2^b-1)` (PyTorch ``quint8``, zero point 0)
``"fp8_e4m3"``    OCP FP8 E4M3FN (max 448 at :math:`\alpha = 448`), 8 bits
``"fp8_e5m2"``    FP8 E5M2 (IEEE specials, max 57344), 8 bits
``"fp6_e2m3"``    OCP MX FP6 E2M3 (max 7.5), 6 bits
``"fp6_e3m2"``    OCP MX FP6 E3M2 (max 28), 6 bits
``"fp4_e2m1"``    OCP MX FP4 E2M1 (max 6), 4 bits
``"nf4"``         QLoRA's NormalFloat-4 (16 levels, asymmetric, max 1), 4 bits
================  ==========================================================

The floating-point formats and NF4 have a fixed bit-width (``bits`` may be omitted)
and :math:`\alpha` is their largest level (:class:`FloatFormat` for any ExMy).
Affine (zero-point) ranges: :func:`affine_range` and :class:`AffineGrid`.
Any level set: :meth:`LevelSet.from_levels`.  See ``docs/architecture.md`` for how to
add a format.
"""

from __future__ import annotations

from ._base import Format, Geometry, MagnitudeLevels
from ._float import FP4_E2M1, FP6_E2M3, FP6_E3M2, FP8_E4M3, FP8_E5M2, FloatFormat
from ._integer import INT, UINT, AffineGrid, IntegerGrid, affine_range
from ._levelset import POW2, LevelSet
from ._nf4 import NF4, NF4_OFFSET, NF4_VALUES
from ._uniform import MIDRISE, MIDTREAD, UNSIGNED, UniformGrid

__all__ = ["Format", "Geometry", "MagnitudeLevels", "UniformGrid", "LevelSet",
           "IntegerGrid", "AffineGrid", "FloatFormat", "affine_range",
           "DEFAULT", "MIDRISE", "MIDTREAD", "UNSIGNED", "POW2", "INT", "UINT",
           "FP8_E4M3", "FP8_E5M2", "FP6_E2M3", "FP6_E3M2", "FP4_E2M1", "NF4",
           "NF4_VALUES", "NF4_OFFSET", "INTEGER_GRIDS", "get_format", "available",
           "register"]

#: the default grid of every function and command (see docs/conventions.md)
DEFAULT = MIDRISE

_REGISTRY: dict[str, Format] = {f.name: f for f in (
    MIDRISE, MIDTREAD, UNSIGNED, POW2, INT, UINT, FP8_E4M3, FP8_E5M2, FP6_E2M3, FP6_E3M2,
    FP4_E2M1, NF4)}

#: the three uniform integer grids of the supplement's analysis
INTEGER_GRIDS = (MIDRISE, MIDTREAD, UNSIGNED)


def available() -> tuple:
    """Names accepted by ``grid=``."""
    return tuple(_REGISTRY)


def register(fmt: Format) -> Format:
    """Make `fmt` selectable by its name (``grid=fmt.name``); returns it."""
    if not isinstance(fmt, Format) or not fmt.name:
        raise TypeError("register takes a Format with a non-empty name")
    _REGISTRY[fmt.name] = fmt
    return fmt


def get_format(grid=None) -> Format:
    """The :class:`Format` for `grid` (a name or a Format; None gives the default)."""
    if grid is None:
        return DEFAULT
    if isinstance(grid, Format):
        return grid
    if isinstance(grid, str) and grid in _REGISTRY:
        return _REGISTRY[grid]
    raise ValueError(f"grid must be one of {', '.join(available())} or a "
                     f"qerror.formats.Format, got {grid!r}")
