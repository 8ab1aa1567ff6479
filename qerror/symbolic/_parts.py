"""The cached closed-form pieces shared by :mod:`qerror.symbolic.derivations` and
:mod:`qerror.symbolic.slips`: rounding term, ACIQ and clamped-law parts, and the
exact quantizer's cell sums."""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from ._core import (
    _ALPHA,
    _D,
    _STEP,
    _X,
    _family,
    _neg_integral,
    _pos_integral,
    _tidy,
)
from ._grids import _grid_step, _half_cells


@lru_cache(maxsize=None)
def _rounding_term(grid: str):
    """The ACIQ rounding term Delta**2 / 12 with the grid's step (Eq. 2)."""
    return sp.simplify((_STEP**2 / 12).subs(_STEP, _grid_step(grid)))


@lru_cache(maxsize=None)
def _aciq_parts(family: str, grid: str):
    fam = _family(family)
    right = _tidy(_pos_integral(fam, (_X - _ALPHA) ** 2, _ALPHA, sp.oo))
    left = _tidy(_neg_integral(fam, (_X + _ALPHA) ** 2, -sp.oo, -_ALPHA))
    truncation = _tidy(left + right)
    rounding = _rounding_term(grid)
    return truncation, rounding


@lru_cache(maxsize=None)
def _aciq_derivative(family: str, grid: str):
    truncation, rounding = _aciq_parts(family, grid)
    dt = _tidy(sp.diff(truncation, _ALPHA))
    return sp.piecewise_fold(dt + sp.diff(rounding, _ALPHA))


@lru_cache(maxsize=None)
def _clamped_parts(family: str, grid: str):
    fam = _family(family)
    in_right = _pos_integral(fam, (_X - _ALPHA) ** 2, _ALPHA, _D)
    in_left = _neg_integral(fam, (_X + _ALPHA) ** 2, -_D, -_ALPHA)
    mass_right = _pos_integral(fam, sp.Integer(1), _D, sp.oo)  # 1 - F(d)
    mass_left = _neg_integral(fam, sp.Integer(1), -sp.oo, -_D)  # F(-d)
    atoms = _tidy(mass_left * (-_D + _ALPHA) ** 2 + mass_right * (_D - _ALPHA) ** 2)
    in_range = _tidy(in_left + in_right)
    # values at the atoms are clipped only if the atoms lie beyond the range
    both = _tidy(atoms + in_range)
    raw = {"atoms_raw": atoms, "in_range_raw": in_range}  # valid for alpha < d
    rounding = _rounding_term(grid)

    def below_d(e, other=sp.Integer(0)):
        return sp.piecewise_fold(sp.Piecewise((e, _ALPHA < _D), (other, True)))

    return {"atoms": below_d(atoms), "in_range": below_d(in_range),
            "truncation": below_d(both), "total": below_d(both + rounding, rounding),
            "rounding": rounding, **raw}


# --------------------------------------------------------------------------------------
# Eq. 1 corrected: the exact quantizer, for a given bit-width


@lru_cache(maxsize=None)
def _cell_antiderivative(family: str):
    fam = _family(family)
    lo, hi = sp.symbols("lo hi", nonnegative=True)
    q = sp.Symbol("q", real=True)
    cell = _pos_integral(fam, (_X - q) ** 2, lo, hi)
    tail = _pos_integral(fam, (_X - q) ** 2, lo, sp.oo)
    return (lo, hi, q), cell, tail


@lru_cache(maxsize=None)
def _exact_parts(family: str, grid: str, bits: int):
    (lo, hi, q), cell, tail = _cell_antiderivative(family)

    def c(a, b_, level):
        return cell.subs({lo: a, hi: b_, q: level}, simultaneous=True)

    # positive half only; the law and both grids are symmetric
    half_cells, outer = _half_cells(grid, bits)
    cells = [c(a, b_, level) for a, b_, level in half_cells]
    rounding = 2 * sp.Add(*cells)
    truncation = 2 * tail.subs({lo: _ALPHA, q: outer}, simultaneous=True)
    return truncation, rounding
