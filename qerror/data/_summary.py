"""Histogram summaries of data rows and the bounds the data solver prunes with.

Private to :mod:`qerror.data.solver`: per row, count, sum and sum of squares of the
magnitudes per log-spaced bin (exact float edges, :mod:`qerror.data._kernels`),
and from them lower and upper bounds of the error on intervals of the step.
"""

from __future__ import annotations

import math

import numpy as np

from ..formats._base import MagnitudeLevels as _Levels
from . import _kernels as _k


# ============================================================================ summary
class _Summary:
    """Histograms of the magnitudes of the rows of a (channels, values) array.

    Bins are log-spaced with exact float edges (see :mod:`qerror.data._kernels`);
    per row: count, sum and sum of squares per bin as prefix sums, stored flat with a
    stride of ``nb + 1`` per row so that bounds for cells of any rows are computed in
    one vectorised pass.  A per-tensor solve is a single row.
    """

    def __init__(self, rows: np.ndarray, signed: bool, use_numba, levels: int = 8,
                 extremes=None):
        self.rows = rows
        self.signed = signed
        self.use_numba = use_numba
        C, N = rows.shape
        self.C, self.size = C, N
        if extremes is None:
            self.amax = np.array([_k.absmax(r, signed) for r in rows])
        else:  # the rows' (max, min), computed already: _k.absmax from them
            hi, lo = (np.asarray(v, dtype=np.float64) for v in extremes)
            with np.errstate(invalid="ignore"):
                amax = np.maximum(hi, -lo) if signed else np.maximum(hi, 0.0)
            amax = np.where(np.isinf(hi) | np.isinf(lo), np.inf, amax)
            self.amax = np.where(np.isnan(hi) | np.isnan(lo), np.nan, amax)
        # about 8 values per bin, more bins for finer grids (bins must resolve steps),
        # but no more than 2**11 per level: beyond that a larger table costs the
        # histogram pass more (cache misses) than the values it saves reading back
        per = N / 8 * max(1.0, levels / 8)
        per = min(per, (1 << 11) * max(levels, 8))
        per = min(per, (1 << 22) / C)  # bound the (rows x bins) tables' memory
        nb = int(min(1 << 16, max(256, 1 << int(round(math.log2(per + 1))))))
        # mantissa bits kept: the bins cover 2**(log2(nb) - m) = 16 binades below amax
        m = max(2, int(math.log2(nb)) - 4)
        self.nb, self.m, self.stride = nb, m, nb + 1
        self.shift = 52 - m
        self.valid = np.isfinite(self.amax) & (self.amax > 0)
        top = _k.keys(np.where(self.valid, self.amax, 1.0), self.shift)
        self.base = np.maximum(top - (nb - 1), 0)
        self._L = None
        # prefix sums of count, sum and sum of squares, one contiguous table each
        P3 = np.zeros((3, C, nb + 1))
        self.neg = np.zeros((C, 3))
        self.counts = {}
        for i in np.nonzero(self.valid)[0]:
            P, self.neg[i], self.counts[i] = _k.prefix_sums(
                rows[i], m, int(self.base[i]), nb, signed, use_numba)
            if C == 1:
                P3 = P[:, None, :]
            else:
                P3[:, i] = P
        self.PN, self.PS, self.PQ = (P3[j].ravel() for j in range(3))
        self.total_sq = P3[2, :, -1] + self.neg[:, 2]

    @property
    def L(self) -> np.ndarray:
        """Left edges of the bins, row after row (stride ``nb + 1``; the last of a
        row is its top edge): exact floats from the keys."""
        if self._L is None:
            ek = ((self.base[:, None] + np.arange(self.nb + 1)).astype(np.uint64)
                  << np.uint64(self.shift))
            L = ek.view(np.float64).copy()
            L[:, 0] = 0.0
            self._L = L.ravel()
        return self._L

    def extract(self, row: int, flags: np.ndarray) -> np.ndarray:
        """Sorted values of `row` whose bin is flagged, read back from the data."""
        v = _k.extract(self.rows[row], self.m, int(self.base[row]), self.nb, flags,
                       self.signed, self.counts[row], self.use_numba)
        v.sort()
        return v

    def bin_of(self, v, ch):
        """Bin of row `ch` holding `v` >= 0 (nb at or beyond the top edge)."""
        k = _k.keys(np.abs(v), self.shift) - self.base[ch]
        return np.minimum(np.maximum(k, 0), self.nb)

    def edge(self, i, ch):
        """Left edge of bin `i` of row `ch` (i = nb: the top edge)."""
        return self.L[ch * self.stride + np.minimum(np.maximum(i, 0), self.nb)]

    def first_at_or_above(self, v, ch):
        """First bin of row `ch` whose left edge is >= `v`."""
        i = self.bin_of(v, ch)
        return i + (self.edge(i, ch) < v)


def _rsum(h: _Summary, P: np.ndarray, s, e, ch) -> np.ndarray:
    """Sum over bins s..e (inclusive) of row ch from the flat prefix array P."""
    nb = h.nb
    s = np.minimum(np.maximum(s, 0), nb)
    e = np.maximum(np.minimum(e, nb - 1), s - 1)
    off = ch * h.stride
    return P[off + e + 1] - P[off + s]


def _ranges(h: _Summary, lv: _Levels, D1, D2, ch, split: bool):
    """Bin ranges whose level is fixed for every step in [D1, D2] (one row per cell).

    Returns start and end bin (inclusive; ``end = start - 1`` when empty), the level
    multiplier of each column and whether the column is beyond alpha (``split``).
    """
    G = D1.size
    nb = h.nb
    th = lv.theta
    chc = ch[:, None]
    lo = h.bin_of(np.outer(D1, th), chc)  # bin holding threshold k at D1
    hi = h.bin_of(np.outer(D2, th), chc)
    first = np.zeros((G, 1), dtype=np.int64)
    last = np.full((G, 1), nb - 1, dtype=np.int64)
    raw_s = np.concatenate([first, hi + 1], axis=1)
    raw_e = np.concatenate([lo - 1, last], axis=1)
    c = lv.c
    trunc = np.zeros(c.size, dtype=bool)
    if split:
        alo = h.bin_of(D1 * lv.afac, ch)[:, None]
        ahi = h.bin_of(D2 * lv.afac, ch)[:, None]
        raw_s = np.concatenate([raw_s, ahi + 1], axis=1)
        raw_e = np.concatenate([raw_e[:, :-1], alo - 1, last], axis=1)
        c = np.append(c, c[-1])
        trunc = np.append(trunc, True)
    s = np.minimum(raw_s, nb)
    e = np.maximum(np.minimum(raw_e, nb - 1), s - 1)
    return s, e, c, trunc


def _fixed_coeffs(h: _Summary, lv: _Levels, s, e, c, ch):
    """(A, B, C) with N*E = A - 2 B step + C step^2 for the fixed ranges, and their
    count; on the unsigned grid the negatives (always at level c[0]) are included."""
    chc = ch[:, None]
    RN = _rsum(h, h.PN, s, e, chc)
    RS = _rsum(h, h.PS, s, e, chc)
    RQ = _rsum(h, h.PQ, s, e, chc)
    A = RQ.sum(axis=1)
    B = (RS * c).sum(axis=1)
    C = (RN * (c * c)).sum(axis=1)
    if not h.signed:
        n, sm, q = h.neg[ch].T
        c0 = lv.c[0]
        A, B, C = A + q, B - c0 * sm, C + c0 * c0 * n
    return A, B, C, RN.sum(axis=1)


def _sq_dist_sum(h: _Summary, i0, i1, ref, ch):
    """Sum over the values in bins i0..i1 of row ch of (a - ref)**2, from bin sums."""
    return np.maximum(_rsum(h, h.PQ, i0, i1, ch) - 2 * ref * _rsum(h, h.PS, i0, i1, ch)
                      + ref * ref * _rsum(h, h.PN, i0, i1, ch), 0.0)


def _bounds(h: _Summary, lv: _Levels, D1, D2, ch):
    """Lower bound of N*E on each cell [D1, D2], the step where the fixed part is least,
    an upper bound of N*E at that step and the number of swept values."""
    s, e, c, _ = _ranges(h, lv, D1, D2, ch, split=False)
    A, B, C, nfix = _fixed_coeffs(h, lv, s, e, c, ch)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(C > 0, B / C, D1)
    df = np.minimum(np.maximum(df, D1), D2)
    lower = A - 2 * B * df + C * df * df
    if lv.theta.size:
        # a swept value is at least as far as the nearest level any step of the cell
        # can give: between the sweeps of levels k and k+1, p = c_k D2 and
        # q = c_{k+1} D1, that distance is min(a - p, q - a)
        chc = ch[:, None]
        p = np.outer(D2, lv.c[:-1])
        q = np.outer(D1, lv.c[1:])
        mid = 0.5 * (p + q)
        ok = q > p
        i_lo = np.maximum(e[:, :-1] + 1, h.first_at_or_above(p, chc))
        i_hi = np.minimum(s[:, 1:] - 1, h.bin_of(q, chc) - 1)
        jm = h.bin_of(mid, chc)
        left = _sq_dist_sum(h, i_lo, np.minimum(i_hi, jm - 1), p, chc)
        right = _sq_dist_sum(h, np.maximum(i_lo, jm + 1), i_hi, q, chc)
        inside = (jm >= i_lo) & (jm <= i_hi)
        gap = np.minimum(h.edge(jm, chc) - p, q - h.edge(jm + 1, chc))
        count = _rsum(h, h.PN, jm, jm, chc)
        middle = np.where(inside, count * np.maximum(gap, 0.0) ** 2, 0.0)
        lower = lower + np.where(ok, left + right + middle, 0.0).sum(axis=1)
    upper = _upper(h, lv, df, ch)
    swept = h.size - nfix - (h.neg[ch, 0] if not h.signed else 0)
    return lower, df, upper, swept


def _upper(h: _Summary, lv: _Levels, d, ch) -> np.ndarray:
    """Upper bound of N*E at the steps `d`: the values of a bin that holds a threshold
    all go to whichever neighbouring level costs less."""
    s, e, c, _ = _ranges(h, lv, d, d, ch, split=False)
    A, B, C, _ = _fixed_coeffs(h, lv, s, e, c, ch)
    val = A - 2 * B * d + C * d * d
    if c.size > 1:
        chc = ch[:, None]
        gs, ge = e[:, :-1] + 1, s[:, 1:] - 1
        GN = _rsum(h, h.PN, gs, ge, chc)
        GS = _rsum(h, h.PS, gs, ge, chc)
        GQ = _rsum(h, h.PQ, gs, ge, chc)
        dd = d[:, None]
        lo_c, hi_c = c[:-1] * dd, c[1:] * dd
        v1 = GQ - 2 * lo_c * GS + lo_c * lo_c * GN
        v2 = GQ - 2 * hi_c * GS + hi_c * hi_c * GN
        val = val + np.minimum(v1, v2).sum(axis=1)
    return val


def _chunked(fn, h, lv, *cols):
    """Apply `fn` to the cells in chunks, keeping (cells x levels) arrays small."""
    G = cols[0].size
    per = max(1, (1 << 19) // max(1, lv.c.size))
    if G <= per:
        return fn(h, lv, *cols)
    parts = [fn(h, lv, *(col[i:i + per] for col in cols)) for i in range(0, G, per)]
    return tuple(np.concatenate([p[j] for p in parts]) for j in range(len(parts[0])))
