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
================  ==========================================================

Any level set: :meth:`LevelSet.from_levels`.  See ``docs/architecture.md`` for how to
add a format.
"""

from __future__ import annotations

from ._base import Format, Geometry, MagnitudeLevels
from ._levelset import POW2, LevelSet
from ._uniform import MIDRISE, MIDTREAD, UNSIGNED, UniformGrid

__all__ = ["Format", "Geometry", "MagnitudeLevels", "UniformGrid", "LevelSet",
           "DEFAULT", "MIDRISE", "MIDTREAD", "UNSIGNED", "POW2", "INTEGER_GRIDS",
           "get_format", "available", "register"]

#: the default grid of every function and command (see docs/conventions.md)
DEFAULT = MIDRISE

_REGISTRY: dict[str, Format] = {f.name: f for f in (MIDRISE, MIDTREAD, UNSIGNED, POW2)}

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
    raise ValueError(f"grid must be one of {available()} or a qerror.formats.Format, "
                     f"got {grid!r}")
