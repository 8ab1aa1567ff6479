"""The law engine: truncation and rounding error of a resolved law for any format.

Private: the public functions of :mod:`qerror.error` (and the solvers and analyses)
check and broadcast their arguments, then call :func:`_error_parts`.  A format's
uniform blocks of cells are summed by the families' closed forms
(:func:`_grid_cells`), its irregular cells one by one (:func:`_cell_sum`).
"""

from __future__ import annotations

import numpy as np

from .formats import get_format
from .laws._protocol import Law


# ------------------------------------------------------------------ private engine
def _restricted_cells(fam, a0, step, n, lower, upper):
    """Rounding error of whole cells [a0 + i*step, ...), i < n, cut to (lower, upper)."""
    if lower == -np.inf and upper == np.inf:
        return fam.cells(a0, step, n)
    out = np.zeros(a0.shape)
    with np.errstate(invalid="ignore"):
        i1 = np.clip(np.ceil((lower - a0) / step), 0.0, n)
        i2 = np.clip(np.floor((upper - a0) / step), 0.0, n)
    whole = i2 > i1
    if whole.any():
        out[whole] = fam.cells(a0[whole] + i1[whole] * step[whole], step[whole],
                               i2[whole] - i1[whole])
    # the (at most two) cells cut by lower / upper
    with np.errstate(invalid="ignore"):
        j_lo = np.floor((lower - a0) / step)
        j_hi = np.ceil((upper - a0) / step) - 1.0
    part_lo = np.isfinite(j_lo) & (j_lo >= 0) & (j_lo < n) & (j_lo < i1)
    part_hi = np.isfinite(j_hi) & (j_hi >= 0) & (j_hi < n) & (j_hi >= i2)
    part_hi &= ~(part_lo & (j_hi == j_lo))  # same cell: count once (below)
    for mask, j in ((part_lo, j_lo), (part_hi, j_hi)):
        if mask.any():
            a = a0[mask] + j[mask] * step[mask]
            b = a + step[mask]
            out[mask] += fam.seg(np.maximum(a, lower), np.minimum(b, upper),
                                 a + 0.5 * step[mask])
    return out


#: |first edge| / scale beyond which the cells are summed outward from the law
_PIVOT_RATIO = 1e3


def _grid_cells(fam, law: Law, block, lower, upper):
    """Rounding part of a block ``(a0, step, n)`` of whole cells (x-space) of a
    format's geometry, for a resolved law (z-space bounds
    ``lower``, ``upper``), with every block starting at an edge near the law.

    A family sums a block as ``a0 + i*step``, with an absolute error of about
    ``1e-16 * |a0|`` in the edges next to the law when the block starts far from it
    (alpha >> scale): the law can even fall between two cells' float edges.  The edges
    are ``(t0 + j) * step`` in x-space, ``t0`` a whole or half-integer (midrise
    ``-2^(b-1)``, midtread ``1/2 - (2^(b-1) - 1)``, unsigned 0).  When the first edge is
    more than ``_PIVOT_RATIO`` scale units from the law, the cells are split at the edge
    ``p`` nearest to the law's location: one block from ``p`` to the right, and blocks
    of 1, 2, 4, ... cells to the left, each starting at an edge computed in x-space, so
    that an edge's error stays within ``1e-16`` of its distance from the law.
    """
    a0x, stepx, n = block
    a0z = law.z(a0x)
    step = stepx / law.scale
    # (indices above 2^50 are not exact in float64; so many cells are summed by the
    # families' Euler-Maclaurin forms, which use the block ends only)
    far = (np.abs(a0z) > _PIVOT_RATIO) & (n <= 2.0**50)
    if not far.any():
        return _restricted_cells(fam, a0z, step, n, lower, upper)
    out = np.zeros(a0z.shape)
    near = ~far
    if near.any():
        out[near] = _restricted_cells(fam, a0z[near], step[near], n[near], lower, upper)
    d, nf, stf = stepx[far], n[far], step[far]
    t0 = np.round(2.0 * (a0x[far] / d)) * 0.5
    with np.errstate(over="ignore", invalid="ignore"):
        p = np.clip(np.round(law.loc / d - t0), 0.0, nf)

    def z_edge(j):
        return law.z((t0 + j) * d)

    # the two cells at the pivot edge hold the law: edges and level from x-space
    total = np.zeros(stf.shape)
    for j in (p - 1.0, p):
        a = np.maximum(z_edge(j), lower)
        b = np.minimum(z_edge(j + 1.0), upper)
        m = (j >= 0) & (j < nf) & (a < b)
        if m.any():
            total[m] += fam.seg(a[m], b[m], z_edge(j + 0.5)[m])
    # the rest: one block to the right, blocks of 1, 2, 4, ... cells to the left
    total += _restricted_cells(fam, z_edge(p + 1.0), stf, np.maximum(nf - p - 1.0, 0.0),
                               lower, upper)
    q = p - 1.0
    k = 0
    while True:
        start = np.maximum(q - 2.0 ** (k + 1) + 1.0, 0.0)
        count = np.maximum(q - 2.0**k + 1.0, 0.0) - start
        if not (count > 0).any():
            break
        total += _restricted_cells(fam, z_edge(start), stf, count, lower, upper)
        k += 1
    out[far] = total
    return out


def _nearest_range_point(x, lo, hi):
    return np.clip(x, lo, hi)


def _cell_sum(fn, cells, lower, upper, shape):
    """Sum of ``fn(a, b, level)`` over irregular z-space cells cut to (lower, upper);
    each of ``a, b, level`` has the engine's shape or that shape plus a cell axis."""
    out = np.zeros(shape)
    for a, b, c in cells:
        a, b = np.maximum(a, lower), np.minimum(b, upper)
        m = a < b
        if m.any():
            v = np.zeros(a.shape)
            v[m] = fn(a[m], b[m], np.broadcast_to(c, a.shape)[m])
            out += v.reshape(shape + (-1,)).sum(axis=-1) if v.ndim > len(shape) else v
    return out


def _z_cells(law: Law, geo):
    return [(law.z(a), law.z(b), law.z(c)) for a, b, c in geo.cells]


def _error_parts(law: Law, alpha: np.ndarray, bits: np.ndarray, model: str, fmt,
                 rounding: bool = True):
    """(truncation, rounding) arrays for a resolved law and a format; alpha/bits
    same-shape 1-D (bits may be one element for every alpha)."""
    fmt = get_format(fmt)
    fam, s = law.family, law.scale
    geo = fmt.geometry(alpha, bits)
    hi = law.z(geo.hi)
    L, U = law.lower, law.upper
    exact = model == "exact"
    ref_hi = law.z(geo.level_hi) if exact else hi

    # a law symmetric about 0 on a symmetric grid: both tails are equal
    mirror = (getattr(fam, "symmetric", False) and law.loc == 0.0 and L == -U
              and fmt.symmetric)
    trunc = np.zeros(alpha.shape)
    # right tail
    if U == np.inf and L == -np.inf:
        trunc = (np.full(alpha.shape, np.inf) if fam.infinite_variance else
                 fam.tail(hi, ref_hi, exact_ref=not exact) if hasattr(fam, "tail") else
                 fam.seg(hi, U, ref_hi))
    else:
        a = np.maximum(hi, L)
        m = a < U
        if m.any():
            if U == np.inf and fam.infinite_variance:
                trunc[m] = np.inf
            else:
                trunc[m] += fam.seg(a[m], np.full(a[m].shape, U), ref_hi[m])
    if mirror:
        trunc *= 2.0
    else:  # left tail
        lo = law.z(geo.lo)
        ref_lo = law.z(geo.level_lo) if exact else lo
        b = np.minimum(lo, U)
        m = L < b
        if m.any():
            if L == -np.inf and fam.infinite_variance:
                trunc[m] = np.inf
            else:
                trunc[m] += fam.seg(np.full(b[m].shape, L), b[m], ref_lo[m])
    if s != 1.0:
        trunc *= s * s

    rnd = np.zeros(alpha.shape)
    if rounding:
        if exact:
            for block in geo.blocks:
                rnd += _grid_cells(fam, law, block, L, U)
            if geo.cells:
                rnd += _cell_sum(fam.seg, _z_cells(law, geo), L, U, alpha.shape)
            if s != 1.0:
                rnd *= s * s
        else:
            rnd = geo.step**2 * (1.0 / 12.0)

    # point masses of clamped laws
    for x, mass in law.atoms:
        if mass <= 0.0:
            continue
        xs = np.full(alpha.shape, x)
        if exact:
            err = fmt.atom_error(x, alpha, np.broadcast_to(bits, alpha.shape)) * mass
        else:
            err = (xs - _nearest_range_point(xs, geo.lo, geo.hi)) ** 2 * mass
        outside = (xs < geo.lo) | (xs > geo.hi)
        trunc += np.where(outside, err, 0.0)
        if exact and rounding:
            rnd += np.where(outside, 0.0, err)
    return trunc, rnd


def _overflow_error(alpha) -> ValueError:
    return ValueError(
        f"alpha={alpha:g} is too far from the scale of dist: the error over- or "
        f"underflows double precision there (keep alpha within about 1e-100 to 1e100 "
        f"times the scale)")


def _no_nan(values: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """NaN guard: for checked arguments a NaN only comes from over- or underflow."""
    bad = np.isnan(values)
    if bad.any():
        raise _overflow_error(float(np.broadcast_to(alpha, bad.shape)[bad].flat[0]))
    return values


