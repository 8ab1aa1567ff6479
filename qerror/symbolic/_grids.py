"""The quantization grids of :mod:`qerror.symbolic`: the only place that names them.

Every other module of the package asks this one for a grid's step, its smallest
bit-width and its cells, and never compares grid names itself.
"""

from __future__ import annotations

import sympy as sp

from ._core import _ALPHA, _BITS

_MIDRISE, _MIDTREAD = "midrise", "midtread"
_GRIDS = (_MIDRISE, _MIDTREAD)
_DEFAULT_GRID = _MIDRISE  # the supplement's grid, Delta = 2 alpha / 2**b


def _grid(grid) -> str:
    if not isinstance(grid, str) or grid not in _GRIDS:
        raise ValueError(
            f"grid must be one of {_GRIDS} (the unsigned grid has no symbolic form here),"
            f" got {grid!r}"
        )
    return grid


def _grid_step(grid: str, bits=_BITS, alpha=_ALPHA):
    if grid == _MIDRISE:
        return 2 * alpha / 2**bits
    return alpha / (2 ** (bits - 1) - 1)


def _min_bits(grid: str) -> int:
    """The smallest bit-width the grid allows (midtread needs a level beside 0)."""
    return 2 if grid == _MIDTREAD else 1


def _half_cells(grid: str, bits: int):
    """The cells of the grid with `bits` bits on x >= 0 as ``(lo, hi, level)`` (the
    last one ends at alpha), and the outermost level c; the grid is symmetric."""
    step = _grid_step(grid, bits)
    if grid == _MIDRISE:
        cells = [(i * step, (i + 1) * step, (2 * i + 1) * step / 2)
                 for i in range(2 ** (bits - 1))]
        return cells, _ALPHA - step / 2
    k_max = 2 ** (bits - 1) - 1
    cells = [(0, step / 2, 0)]
    half = sp.Rational(1, 2)
    cells += [((k - half) * step, (k + half) * step, k * step) for k in range(1, k_max)]
    cells.append(((k_max - sp.Rational(1, 2)) * step, _ALPHA, _ALPHA))
    return cells, _ALPHA
