r"""Quantization error of data arrays, and the clipping boundary that minimises it.

A data array :math:`x_1, \dots, x_N` is an empirical distribution with mass
:math:`1/N` on each element.  For a clipping boundary :math:`\alpha` and the grid's
quantizer :math:`Q_\alpha` (:func:`qerror.quantize`) the exact empirical error is

.. math::

    E(\alpha) = \frac1N \sum_{j=1}^N \bigl(x_j - Q_\alpha(x_j)\bigr)^2 .

Every grid quantizes to the *nearest* level, and the levels are fixed multiples
:math:`c_k \Delta` of the step :math:`\Delta \propto \alpha`, so

.. math::

    E = \frac1N \sum_j \min_k \,(|x_j| - c_k \Delta)^2
      = \frac1N \bigl(A - 2 B \Delta + C \Delta^2\bigr) \quad\text{on each piece},

a continuous, piecewise quadratic function of :math:`\Delta` with up to :math:`N`
times (number of levels) pieces, where :math:`A = \sum x_j^2`,
:math:`B = \sum c_{k(j)} |x_j|`, :math:`C = \sum c_{k(j)}^2` for the assignment
:math:`k(j)` of the piece.  It is not unimodal.  Its kinks are concave (a minimum of
quadratics), so every local minimum is the vertex :math:`\Delta = B/C` of a piece.

:func:`optimal_alpha_data` finds the global minimum and certifies it: a histogram of
:math:`|x|` (count, sum and sum of squares per bin) bounds :math:`E` from below on
intervals of :math:`\Delta` (bins that stay in one cell contribute their exact
quadratic, bins that a decision threshold sweeps contribute the distance to the
nearest possible level) and from above at points; branch and bound discards every
interval whose lower bound exceeds the best upper bound, and on the few intervals left
the values of the bins that thresholds sweep are read back from the data and the pieces
are enumerated exactly.  The histogram and read-back passes use numba when it is
installed (``pip install qerror[fast]``) and numpy otherwise, with bit-identical
results.

The moment-fit routes (:func:`fit_alpha`), OCTAV (:func:`octav_alpha`) and max-abs
(:func:`maxabs_alpha`) give the clipping choices that other tools make, for comparison.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from . import _empirical_kernels as _k
from ._result import OptimalAlpha
from ._validation import check_alpha, check_model
from .formats import get_format
from .formats._base import MagnitudeLevels as _Levels
from .formats._uniform import MAX_DATA_BITS as MAX_EXACT_BITS

__all__ = [
    "empirical_error_parts",
    "optimal_alpha_data",
    "fit_alpha",
    "octav_alpha",
    "maxabs_alpha",
    "compare_alphas",
]

# pruning slack, relative to sum(x**2): covers the rounding of the bound sums
_MARGIN = 1e-12
# below this many (values x thresholds) all pieces are enumerated without bounds
_DIRECT_LIMIT = 1 << 11


# ============================================================================ inputs
def _check_data(x, name: str = "x") -> np.ndarray:
    """`x` as a numpy array of float32 or float64 (others converted), not yet checked
    for finiteness (the first data pass does that)."""
    if isinstance(x, np.ndarray):
        xa = x
    else:
        try:
            xa = np.asarray(x)
        except Exception as exc:  # pragma: no cover - exotic objects
            raise TypeError(f"{name} must be array-like: {exc}") from None
    if xa.dtype == object or xa.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {xa.dtype}")
    if xa.size == 0:
        raise ValueError(f"{name} is empty: the empirical error needs at least one value")
    if xa.dtype not in (np.float32, np.float64):
        xa = xa.astype(np.float64)
    return xa


def _nonfinite_error(xa: np.ndarray, name: str = "x") -> ValueError:
    bad = ~np.isfinite(xa)
    count = int(bad.sum())
    first = np.unravel_index(int(np.argmax(bad)), xa.shape) if xa.ndim else ()
    first = tuple(int(i) for i in first)
    where = first[0] if len(first) == 1 else first
    return ValueError(
        f"{name} contains {count} non-finite value(s) (NaN or inf); the first is at "
        f"index {where}"
    )


def _check_finite(xa: np.ndarray, name: str = "x") -> None:
    if not np.isfinite(xa).all():
        raise _nonfinite_error(xa, name)


def _scalar_bits(bits, fmt) -> int:
    b = fmt.check_bits(bits)
    if b.ndim != 0:
        raise ValueError(f"bits must be a single integer here, got {bits!r}")
    return int(b)


def _channels(xa: np.ndarray, axis) -> np.ndarray:
    """(channels, elements) view/copy with the channel axis first."""
    if xa.ndim == 0:
        raise ValueError("axis= needs an array with at least one dimension")
    try:
        from numpy.lib.array_utils import normalize_axis_index
    except ImportError:  # pragma: no cover - numpy < 2
        from numpy.core.multiarray import normalize_axis_index  # type: ignore
    ax = int(normalize_axis_index(axis, xa.ndim))
    return np.moveaxis(xa, ax, 0).reshape(xa.shape[ax], -1)


# ============================================================================ levels
def _bits_ok_for_exact(bits: int, fmt) -> None:
    top = MAX_EXACT_BITS - (0 if fmt.signed else 1)
    if bits > top and fmt.uniform:
        raise ValueError(
            f"the exact empirical optimum is supported for bits <= {top} on the "
            f"{fmt.name!r} grid (got {bits}); with more bits the rounding error is below "
            "float64 resolution of the data's energy; use model='aciq' or max-abs"
        )


# ============================================================================ summary
class _Summary:
    """Histograms of the magnitudes of the rows of a (channels, values) array.

    Bins are log-spaced with exact float edges (see :mod:`qerror._empirical_kernels`);
    per row: count, sum and sum of squares per bin as prefix sums, stored flat with a
    stride of ``nb + 1`` per row so that bounds for cells of any rows are computed in
    one vectorised pass.  A per-tensor solve is a single row.
    """

    def __init__(self, rows: np.ndarray, signed: bool, use_numba, levels: int = 8):
        self.rows = rows
        self.signed = signed
        self.use_numba = use_numba
        C, N = rows.shape
        self.C, self.size = C, N
        self.amax = np.array([_k.absmax(r, signed) for r in rows])
        # about 8 values per bin, more bins for finer grids (bins must resolve steps)
        per = N / 8 * max(1.0, levels / 8)
        per = min(per, (1 << 22) / C)  # bound the (rows x bins) tables' memory
        nb = int(min(1 << 16, max(256, 1 << int(round(math.log2(per + 1))))))
        # mantissa bits kept: the bins cover 2**(log2(nb) - m) = 16 binades below amax
        m = max(2, int(math.log2(nb)) - 4)
        self.nb, self.m, self.stride = nb, m, nb + 1
        self.shift = 52 - m
        self.valid = np.isfinite(self.amax) & (self.amax > 0)
        top = _k.keys(np.where(self.valid, self.amax, 1.0), self.shift)
        self.base = np.maximum(top - (nb - 1), 0)
        ek = ((self.base[:, None] + np.arange(nb + 1)).astype(np.uint64)
              << np.uint64(self.shift))
        L = ek.view(np.float64).copy()
        L[:, 0] = 0.0
        self.L = L.ravel()
        H = np.zeros((C, nb + 1, 3))
        self.neg = np.zeros((C, 3))
        self.bins = {}
        for i in np.nonzero(self.valid)[0]:
            h, neg, self.bins[i] = _k.histogram(rows[i], m, int(self.base[i]), nb,
                                                signed, use_numba)
            H[i, 1:] = np.cumsum(h, axis=0)
            self.neg[i] = neg
        self.PN = H[:, :, 0].ravel()
        self.PS = H[:, :, 1].ravel()
        self.PQ = H[:, :, 2].ravel()
        self.total_sq = H[:, -1, 2] + self.neg[:, 2]

    def extract(self, row: int, flags: np.ndarray) -> np.ndarray:
        """Sorted values of `row` whose bin is flagged, read back from the data."""
        o = row * self.stride
        count = int(np.diff(self.PN[o:o + self.stride])[flags].sum())
        v = _k.extract(self.rows[row], self.bins[row], flags, self.signed, count,
                       self.use_numba)
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


# ============================================================================ solver
@dataclass
class _Solution:
    step: np.ndarray  # per row
    sse: np.ndarray  # N * E at the step
    trunc_sse: np.ndarray
    cells: int
    pieces: int
    swept: int
    rounds: int


def _split(D1, D2, ch, parts: int):
    """Split each cell geometrically into `parts` (a cell [0, D2] into [0, D2 2**-30]
    and `parts` geometric cells above)."""
    t = np.arange(parts + 1) / parts
    o1, o2, oc = [], [], []
    zero = D1 <= 0
    if (~zero).any():
        a, b = D1[~zero, None], D2[~zero, None]
        edges = a * (b / a) ** t
        edges[:, 0], edges[:, -1] = a[:, 0], b[:, 0]
        o1.append(edges[:, :-1].ravel())
        o2.append(edges[:, 1:].ravel())
        oc.append(np.repeat(ch[~zero], parts))
    if zero.any():
        b = D2[zero, None]
        edges = b * 2.0 ** (-30.0 * (1 - t))
        edges[:, -1] = b[:, 0]
        o1.append(np.concatenate([np.zeros(b.shape[0]), edges[:, :-1].ravel()]))
        o2.append(np.concatenate([edges[:, 0], edges[:, 1:].ravel()]))
        oc.append(np.concatenate([ch[zero], np.repeat(ch[zero], parts)]))
    return np.concatenate(o1), np.concatenate(o2), np.concatenate(oc)


def _solve_exact(h: _Summary, lv: _Levels, rows: np.ndarray) -> _Solution:
    """Global minimum of N*E over the step for each of `rows`, certified (see the
    module docstring)."""
    N, C = h.size, h.C
    # beyond d_hi E is constant (midtread: every |x| rounds to 0) or above its value
    # as step -> 0 (the lowest level c0*step is over twice the largest |x|)
    d_hi = 2.0 * h.amax[rows] / (lv.c[0] if lv.c[0] > 0 else 1.0)
    margin = _MARGIN * h.total_sq
    cap = max(256, N // 64)
    rounds = 0
    if N * max(1, lv.theta.size) <= _DIRECT_LIMIT:
        D1, D2, CH = d_hi * 2.0**-60, d_hi, rows
    else:
        # [0, d_hi 2**-16] and geometric cells up to d_hi (E there: see _split)
        parts = 256 if N > 1 << 16 else 24
        t = np.arange(parts + 1) / parts
        edges = d_hi[:, None] * 2.0 ** (-16.0 * (1 - t))
        D1 = np.concatenate([np.zeros(rows.size), edges[:, :-1].ravel()])
        D2 = np.concatenate([edges[:, 0], edges[:, 1:].ravel()])
        CH = np.concatenate([rows, np.repeat(rows, parts)])
        best = np.full(C, np.inf)
        prev = np.full(C, np.inf)
        done1, done2, donec = [], [], []
        while D1.size:
            rounds += 1
            lower, df, upper, swept = _chunked(_bounds, h, lv, D1, D2, CH)
            np.minimum.at(best, CH, upper)
            keep = lower <= best[CH] + margin[CH]
            D1, D2, CH, swept = D1[keep], D2[keep], CH[keep], swept[keep]
            total = np.bincount(CH, weights=swept, minlength=C)
            ncell = np.bincount(CH, minlength=C)
            mean = total / np.maximum(ncell, 1)
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.where(D1 > 0, D2 / D1 - 1.0, np.inf)
            wide = np.zeros(C)
            np.maximum.at(wide, CH, rel)
            # stop a row when few values are left to read back, or when splitting no
            # longer shrinks the swept sets (bins, not cells, limit the resolution);
            # while a cell is wider than 1/levels, neighbouring thresholds' sweeps
            # overlap and the swept sets shrink slowly whatever the bins
            stalled = (mean > 0.7 * prev) & (wide * lv.c.size < 1.0)
            stop = (total <= cap) | (ncell > 4096) | stalled | (rounds >= 40)
            prev = mean
            fin = stop[CH]
            done1.append(D1[fin])
            done2.append(D2[fin])
            donec.append(CH[fin])
            D1, D2, CH = D1[~fin], D2[~fin], CH[~fin]
            if D1.size:
                D1, D2, CH = _split(D1, D2, CH, 8 if N > 1 << 16 else 4)
        D1, D2, CH = np.concatenate(done1), np.concatenate(done2), np.concatenate(donec)
        order = np.lexsort((D1, CH))
        D1, D2, CH = D1[order], D2[order], CH[order]
        # merge touching cells of a row: fewer, wider cells for the exact pass
        if D1.size > 1:
            brk = np.nonzero((D1[1:] != D2[:-1]) | (CH[1:] != CH[:-1]))[0] + 1
            starts = np.concatenate([[0], brk])
            ends = np.concatenate([brk, [D1.size]]) - 1
            D1, D2, CH = D1[starts], D2[ends], CH[starts]
    # the exact pass needs D1 > 0; below D2 * 2**-60 every value is clipped to ~0
    floor = np.minimum(np.maximum(D2 * 2.0**-60, np.finfo(np.float64).tiny), 0.5 * D2)
    D1 = np.where(D1 > 0, D1, floor)
    return _exact_pass(h, lv, D1, D2, CH, rows, rounds)


def _exact_pass(h: _Summary, lv: _Levels, D1, D2, CH, rows, rounds) -> _Solution:
    """Enumerate every piece of E on the cells exactly: fixed bins from the sums,
    swept bins from their values, read back from the data."""
    nb, stride = h.nb, h.stride
    s, e, c, trunc = _ranges(h, lv, D1, D2, CH, split=True)
    A, B, C, _ = _fixed_coeffs(h, lv, s, e, c, CH)
    G, R = s.shape
    gs, ge = e[:, :-1] + 1, s[:, 1:] - 1
    nz = ge >= gs
    chc = CH[:, None]
    diff = np.zeros(h.C * stride + 1, dtype=np.int64)
    np.add.at(diff, (chc * stride + gs)[nz], 1)
    np.add.at(diff, (chc * stride + ge + 1)[nz], -1)
    flags = (np.cumsum(diff[:-1]) > 0).reshape(h.C, stride)[:, :nb]
    vals, keys = [np.empty(0)], [np.empty(0, dtype=np.int64)]
    for r in np.unique(CH):
        if flags[r].any():
            v = h.extract(int(r), flags[r])
            vals.append(v)
            keys.append(r * stride + np.minimum(h.bin_of(v, r), nb - 1))
    vals, keys = np.concatenate(vals), np.concatenate(keys)
    i0 = np.searchsorted(keys, chc * stride + gs, side="left")
    i1 = np.searchsorted(keys, chc * stride + ge, side="right")
    cnt = np.where(nz, i1 - i0, 0)
    total = int(cnt.sum())
    lens = cnt.ravel()
    if total:
        offs = np.repeat(i0.ravel() - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
        a = vals[np.arange(total) + offs]
        g = np.repeat(np.repeat(np.arange(G), R - 1), lens)
    else:
        a = np.empty(0)
        g = np.empty(0, dtype=np.int64)
    th, cl = lv.theta, lv.c
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        k1 = np.searchsorted(th, a / D1[g], side="right")  # level index at D1
        k2 = np.searchsorted(th, a / D2[g], side="right")  # level index at D2
    A = A + np.bincount(g, weights=a * a, minlength=G)
    B0 = B + np.bincount(g, weights=cl[k1] * a, minlength=G)
    C0 = C + np.bincount(g, weights=cl[k1] ** 2, minlength=G)
    # events: at step a/theta_k the value moves from level k+1 down to level k
    ne = k1 - k2
    tot_e = int(ne.sum())
    piece_lo, piece_hi, piece_b, piece_c, piece_g = D1, D2, B0, C0, np.arange(G)
    if tot_e:
        src = np.repeat(np.arange(a.size), ne)
        kk = k2[src] + (np.arange(tot_e) - np.repeat(np.cumsum(ne) - ne, ne))
        ev_d = a[src] / th[kk]
        ev_g = g[src]
        ev_b = (cl[kk] - cl[kk + 1]) * a[src]
        ev_c = cl[kk] ** 2 - cl[kk + 1] ** 2
        order = np.lexsort((ev_d, ev_g))
        ev_d, ev_g, ev_b, ev_c = ev_d[order], ev_g[order], ev_b[order], ev_c[order]
        cb, cc = np.cumsum(ev_b), np.cumsum(ev_c)
        first = np.searchsorted(ev_g, np.arange(G), side="left")
        base_b = np.concatenate([[0.0], cb])[first]
        base_c = np.concatenate([[0.0], cc])[first]
        pb = B0[ev_g] + (cb - base_b[ev_g])
        pc = C0[ev_g] + (cc - base_c[ev_g])
        same = np.append(ev_g[1:] == ev_g[:-1], False)
        p_hi = np.where(same, np.append(ev_d[1:], np.inf), D2[ev_g])
        has = np.bincount(ev_g, minlength=G) > 0
        first_hi = np.where(has, ev_d[np.minimum(first, tot_e - 1)], D2)
        piece_lo = np.concatenate([D1, ev_d])
        piece_hi = np.concatenate([first_hi, p_hi])
        piece_b = np.concatenate([B0, pb])
        piece_c = np.concatenate([C0, pc])
        piece_g = np.concatenate([np.arange(G), ev_g])
    with np.errstate(divide="ignore", invalid="ignore"):
        dstar = np.where(piece_c > 0, piece_b / piece_c, piece_lo)
    dstar = np.minimum(np.maximum(dstar, piece_lo), piece_hi)
    val = A[piece_g] - 2 * piece_b * dstar + piece_c * dstar * dstar
    # the best piece of each row
    prow = CH[piece_g]
    order = np.lexsort((val, prow))
    firsts = order[np.searchsorted(prow[order], rows, side="left")]
    gbest, dbest, vbest = piece_g[firsts], dstar[firsts], val[firsts]
    # truncation at the optimum: the fixed range beyond alpha plus swept values > alpha
    top = cl[-1] * dbest
    ts, te = s[gbest][:, trunc], e[gbest][:, trunc]
    rc = rows[:, None]
    tN = _rsum(h, h.PN, ts, te, rc).sum(axis=1)
    tS = _rsum(h, h.PS, ts, te, rc).sum(axis=1)
    tQ = _rsum(h, h.PQ, ts, te, rc).sum(axis=1)
    tsse = tQ - 2 * top * tS + top * top * tN
    pos = np.full(h.C, -1)
    pos[rows] = np.arange(rows.size)
    j = pos[CH[g]]  # position of each swept value's row in `rows`
    mine = (g == gbest[j]) & (a > lv.afac * dbest[j])
    tsse = tsse + np.bincount(j[mine], weights=(a[mine] - top[j[mine]]) ** 2,
                              minlength=rows.size)
    if not h.signed:
        n_, s_, q_ = h.neg[rows].T
        c0 = cl[0] * dbest
        tsse = tsse + q_ + 2 * c0 * s_ + c0 * c0 * n_
    return _Solution(dbest, np.maximum(vbest, 0.0), np.maximum(tsse, 0.0), G,
                     int(val.size), total, rounds)


# ============================================================================ ACIQ
def _solve_aciq(h: _Summary, lv: _Levels, r: int):
    r"""Root of :math:`\kappa \alpha N = \sum_{a > \alpha} (a - \alpha)` for row `r`,
    the stationary point of the (convex) ACIQ-model error; returns alpha and the
    truncation sum at it."""
    N = h.size
    kappa = 1.0 / (12.0 * lv.afac**2)
    nb = h.nb
    o = r * h.stride
    PN, PS = h.PN[o:o + h.stride], h.PS[o:o + h.stride]
    L = h.L[o:o + h.stride]
    # g at the left edge of each bin; every value in bins >= j is >= L[j]
    sN = PN[-1] - PN[:-1]
    sS = PS[-1] - PS[:-1]
    gval = kappa * L[:-1] * N - (sS - L[:-1] * sN)
    j = int(np.searchsorted(gval >= 0, True))  # g is increasing
    for lo_bin, hi_bin in ((max(j - 1, 0), min(j, nb - 1)), (0, nb - 1)):
        flags = np.zeros(nb, dtype=bool)
        flags[lo_bin:hi_bin + 1] = True
        v = h.extract(r, flags)[::-1]  # descending
        above = hi_bin + 1
        S = (PS[-1] - PS[above]) + np.concatenate([[0.0], np.cumsum(v)])
        cnt = (PN[-1] - PN[above]) + np.arange(v.size + 1)
        alpha = S / (kappa * N + cnt)
        upper = np.concatenate([[np.inf if above >= nb else L[above]], v])
        lower = np.concatenate([v, [L[lo_bin]]])
        ok = (alpha >= lower) & (alpha <= upper)
        if ok.any():
            al = float(alpha[np.argmax(ok)])
            break
    else:  # pragma: no cover
        raise RuntimeError("ACIQ root not bracketed")
    # truncation: values in alpha's bin read back, bins above from their sums
    ja = int(min(h.bin_of(np.array([al]), r)[0], nb - 1))
    flags = np.zeros(nb, dtype=bool)
    flags[ja] = True
    v = h.extract(r, flags)
    d = v[v > al] - al
    rr = np.array([r])
    tsse = float(np.dot(d, d)) + float(_sq_dist_sum(h, np.array([ja + 1]),
                                                    np.array([nb - 1]), al, rr)[0])
    return al, tsse


# ============================================================================ public
def _exact_parts_rows(rows: np.ndarray, alpha: np.ndarray, bits: int, fmt):
    """Exact (truncation, rounding) per row at per-row alpha > 0, point by point."""
    xf = rows.astype(np.float64)
    al = np.asarray(alpha, dtype=np.float64)[:, None]
    b = np.int64(bits)
    geo = fmt.geometry(al, b)
    with np.errstate(over="ignore", invalid="ignore"):  # x / step may overflow
        q = fmt.quantize(*np.broadcast_arrays(xf, al, b))
    err = (xf - q) ** 2
    out = (xf < geo.lo) | (xf > geo.hi)
    N = xf.shape[1]
    return (np.where(out, err, 0.0).sum(axis=1) / N,
            np.where(out, 0.0, err).sum(axis=1) / N)


def _exact_parts(xf: np.ndarray, alpha: float, bits: int, fmt):
    t, r = _exact_parts_rows(np.ravel(xf)[None, :], np.array([alpha]), bits, fmt)
    return float(t[0]), float(r[0])


def _solve_rows(xa: np.ndarray, rows: np.ndarray, bits: int, model: str, fmt,
                use_numba):
    """Solve every row; returns per-row arrays and the shared message and method."""
    lv = fmt.magnitude_levels(bits)
    h = _Summary(rows, lv.signed, use_numba, lv.c.size)
    backend = _k.backend(use_numba)
    if not np.isfinite(h.amax).all():
        raise _nonfinite_error(xa)
    C, N = h.C, h.size
    alpha = np.zeros(C)
    mse = np.zeros(C)
    tr = np.zeros(C)
    notes = []
    zero = ~h.valid
    if zero.any():
        # nothing to quantize usefully: alpha = 0 and every value's error is x^2
        mse[zero] = tr[zero] = h.total_sq[zero] / N
        if not lv.signed:
            notes.append("no value is above zero: every value goes to the lowest level "
                         "step/2, the MSE falls as alpha -> 0; alpha = 0 (the infimum) "
                         "reported")
        elif lv.c[0] == 0.0:
            notes.append("the data are all zero: every alpha gives MSE 0; alpha = 0 "
                         "reported")
        else:
            notes.append("the data are all zero: the MSE (step/2)^2 falls as alpha -> "
                         "0; alpha = 0 (the infimum, MSE 0) reported")
        for i in np.nonzero(zero)[0]:  # unsigned: negatives count, x^2 each
            xf = rows[i].astype(np.float64)
            mse[i] = tr[i] = float(np.dot(xf, xf)) / N
    todo = np.nonzero(h.valid)[0]
    extra = {"backend": backend, "nbins": h.nb}
    nfev, method, msg = 0, "all-zero", ""
    if todo.size and model == "aciq":
        if not fmt.uniform:
            raise ValueError(f"model='aciq' needs a uniform grid; grid {fmt.name!r} has "
                             "unequal steps (use model='exact')")
        for r in todo:
            alpha[r], tsse = _solve_aciq(h, lv, int(r))
            tr[r] = (tsse + (h.neg[r, 2] if not lv.signed else 0.0)) / N
            mse[r] = tr[r] + (alpha[r] / lv.afac) ** 2 / 12.0
        nfev, method = int(todo.size), "aciq-root"
        msg = ("the ACIQ-model error of the data is convex in alpha; its unique "
               "stationary point was solved exactly on the sorted values around it")
        rd = np.where(h.valid, mse - tr, 0.0)
    elif todo.size:
        _bits_ok_for_exact(bits, fmt)
        sol = _solve_exact(h, lv, todo)
        alpha[todo] = lv.afac * sol.step
        mse[todo], tr[todo] = sol.sse / N, sol.trunc_sse / N
        if N * todo.size <= 1 << 16:  # small data: the error evaluated point by point
            t, r = _exact_parts_rows(rows[todo], alpha[todo], bits, fmt)
            tr[todo], mse[todo] = t, t + r
        rd = np.maximum(mse - tr, 0.0)
        nfev, method = sol.pieces, "histogram-bnb+exhaustive-pieces"
        msg = (f"global minimum certified: histogram bounds ({h.nb} bins, {sol.rounds} "
               f"branch-and-bound rounds) exclude every other step within "
               f"{_MARGIN:g}*sum(x^2); {sol.pieces} pieces on {sol.cells} interval(s) "
               f"enumerated exactly from {sol.swept} values read back")
        extra.update(swept=sol.swept, intervals=sol.cells)
    else:
        rd = np.zeros(C)
    if zero.any():
        rd[zero] = 0.0
        msg = "; ".join(m for m in (msg, *notes) if m)
        if todo.size:
            msg += f" ({int(zero.sum())} all-zero row(s))" if C > 1 else ""
            method = method + "+all-zero"
    return alpha, mse, tr, rd, nfev, method, msg, extra


def optimal_alpha_data(x: ArrayLike, bits, *, model: str = "exact",
                       grid=None, axis=None,
                       use_numba: bool | None = None) -> OptimalAlpha:
    r"""The clipping boundary that minimises the quantization error of a data array.

    With ``model="exact"`` the global minimiser over :math:`\alpha > 0` of

    .. math::

        E(\alpha) = \frac1N \sum_{j=1}^N \bigl(x_j - Q_\alpha(x_j)\bigr)^2,

    where :math:`Q_\alpha` is :func:`qerror.quantize` with `bits` and `grid`, and
    :math:`N` is the number of elements.  :math:`E` is piecewise quadratic in the step
    with many local minima; the answer is certified global by branch and bound on
    histogram bounds followed by exhaustive enumeration of the remaining pieces (see
    :mod:`qerror.empirical`).  With ``model="aciq"`` the minimiser of the supplement's
    Eq. 3-4 with the data as the distribution,
    :math:`\frac1N\sum_j d(x_j, [lo, hi])^2 + \Delta^2/12`, which is convex.

    Parameters
    ----------
    x : array_like
        The data (any shape; all elements weigh the same).  Integer and float16/32
        data are computed in float64.  Objects with ``__array__`` (e.g. a CPU torch
        tensor) are accepted.
    bits : int
        Bit-width; at most 16 (15 unsigned) for ``model="exact"``.
    model : {"exact", "aciq"}
        Which error to minimise.
    grid : str or qerror.formats.Format, optional
        Quantizer format; default ``"midrise"`` (the supplement's quantizer).
    axis : int, optional
        Channel axis: one alpha per index along it (per-channel quantization).
    use_numba : bool, optional
        Force (True) or forbid (False) the compiled data passes; by default numba is
        used when installed.  Both give the same alpha.

    Returns
    -------
    OptimalAlpha
        ``alpha``, ``mse``, ``truncation``, ``rounding`` (arrays with ``axis``);
        ``message`` and ``method`` say how the optimum was certified; ``nfev`` counts
        the pieces of :math:`E` enumerated.  For all-zero data ``alpha`` is 0.

    Raises
    ------
    ValueError
        Empty data, NaN or inf in the data (with their count and first index), or
        `bits` / `grid` / `model` out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from qerror.empirical import optimal_alpha_data
    >>> x = np.random.default_rng(0).standard_t(4, size=10_000)
    >>> r = optimal_alpha_data(x, 4)
    >>> round(r.alpha, 3), round(r.mse, 5), bool(r.success)
    (6.188, 0.08685, True)
    """
    fmt = get_format(grid)
    model = check_model(model)
    b = _scalar_bits(bits, fmt)
    xa = _check_data(x)
    rows = xa.reshape(1, -1) if axis is None else _channels(xa, axis)
    al, ms, tr, rd, nfev, method, msg, extra = _solve_rows(xa, rows, b, model, fmt,
                                                            use_numba)
    if axis is None:
        conv = float
        success = True
    else:
        conv = np.asarray
        success = np.ones(rows.shape[0], dtype=bool)
        msg = f"per channel ({rows.shape[0]} along axis {axis}): {msg}"
        extra["axis"] = axis
    return OptimalAlpha(alpha=conv(al[0] if axis is None else al),
                        mse=conv(ms[0] if axis is None else ms),
                        truncation=conv(tr[0] if axis is None else tr),
                        rounding=conv(rd[0] if axis is None else rd),
                        bits=b, model=model, grid=fmt.name, success=success, message=msg,
                        nfev=int(nfev), method=method, extra=extra)


def empirical_error_parts(x: ArrayLike, alpha: ArrayLike, bits: ArrayLike = None, *,
                          model: str = "exact", grid=None):
    r"""Truncation and rounding parts of the quantization error of a data array.

    With ``model="exact"`` (the real quantizer :func:`qerror.quantize`)

    .. math::

        T = \frac1N \sum_{|x_j| > \alpha} (x_j - Q(x_j))^2, \qquad
        R = \frac1N \sum_{|x_j| \le \alpha} (x_j - Q(x_j))^2,

    ("outside" means beyond the format's range, :math:`[0, \alpha]` on the unsigned
    grid), so that
    :math:`T + R` is the mean-square error.  With ``model="aciq"`` (Eq. 3-4)
    :math:`T = \frac1N\sum_j d(x_j, [lo, hi])^2` and :math:`R = \Delta^2/12`.

    Parameters
    ----------
    x : array_like
        The data, flattened; all elements weigh the same.
    alpha, bits : array_like
        Clipping boundary (> 0) and bit-width; they broadcast against each other, not
        against `x`.
    model : {"exact", "aciq"}
    grid : str or qerror.formats.Format, optional
        Quantizer format; default ``"midrise"``.

    Returns
    -------
    (truncation, rounding) : tuple of float or ndarray
        float64, shaped like ``broadcast(alpha, bits)``; Python floats for scalars.

    Examples
    --------
    >>> from qerror.empirical import empirical_error_parts
    >>> t, r = empirical_error_parts([-3.0, -0.2, 0.1, 0.4, 1.0], 1.0, 2, grid="midtread")
    >>> round(t, 4), round(r, 4)
    (0.8, 0.042)
    """
    fmt = get_format(grid)
    model = check_model(model)
    if model == "aciq" and not fmt.uniform:
        raise ValueError(f"model='aciq' needs a uniform grid; grid {fmt.name!r} has "
                         "unequal steps (use model='exact')")
    xa = _check_data(x)
    xf = xa.ravel().astype(np.float64)
    _check_finite(xa)
    a = check_alpha(alpha)
    b = fmt.check_bits(bits)
    a, b = np.broadcast_arrays(a, b)
    tr = np.empty(a.shape)
    rd = np.empty(a.shape)
    N = xf.size
    for i in np.ndindex(a.shape):
        ai, bi = float(a[i]), int(b[i])
        if model == "exact":
            tr[i], rd[i] = _exact_parts(xf, ai, bi, fmt)
        else:
            geo = fmt.geometry(np.float64(ai), np.int64(bi))
            d = xf - np.clip(xf, geo.lo, geo.hi)
            tr[i] = float(np.dot(d, d)) / N
            rd[i] = float(geo.step**2 / 12.0)
    if tr.ndim == 0:
        return float(tr), float(rd)
    return tr, rd


# ============================================================================ peers
def _route_result(xa, bits, fmt, alphas, method, message, extra=None):
    """OptimalAlpha for a heuristic alpha, with its exact empirical error."""
    alphas = np.asarray(alphas, dtype=np.float64)
    flat = alphas.ravel()
    if alphas.ndim == 0:
        rows = [xa.ravel()]
    else:
        rows = list(xa)
    t = np.empty(flat.size)
    r = np.empty(flat.size)
    for i, (row, al) in enumerate(zip(rows, flat, strict=True)):
        if al > 0:
            t[i], r[i] = _exact_parts(row.astype(np.float64), float(al), bits, fmt)
        else:  # all-zero data
            xf = row.astype(np.float64)
            t[i], r[i] = float(np.dot(xf, xf)) / xf.size, 0.0
    conv = (lambda v: float(v[0])) if alphas.ndim == 0 else (lambda v: v)
    return OptimalAlpha(alpha=conv(flat), mse=conv(t + r), truncation=conv(t),
                        rounding=conv(r), bits=bits, model="exact", grid=fmt.name,
                        success=False if alphas.ndim == 0 else np.zeros(flat.size, bool),
                        message=message, nfev=0, method=method, extra=extra or {})


def _rows(x, axis):
    xa = _check_data(x)
    _check_finite(xa)
    if axis is None:
        return xa, xa.ravel()[None, :]
    return xa, _channels(xa, axis)


def maxabs_alpha(x: ArrayLike, bits=None, *, grid=None, axis=None) -> OptimalAlpha:
    r"""The max-abs choice :math:`\alpha = \max_j |x_j|` (unsigned: :math:`\max_j x_j`),
    with its exact empirical error.  No clipping; the rounding step is the largest.

    Examples
    --------
    >>> from qerror.empirical import maxabs_alpha
    >>> r = maxabs_alpha([-3.0, 0.5, 1.0], 4)
    >>> r.alpha, round(r.mse, 5)
    (3.0, 0.01432)
    """
    fmt = get_format(grid)
    b = _scalar_bits(bits, fmt)
    _, rows = _rows(x, axis)
    if not fmt.signed:
        al = np.maximum(rows.max(axis=1), 0.0)
    else:
        al = np.abs(rows).max(axis=1)
    al = al.astype(np.float64)
    al = al[0] if axis is None else al
    return _route_result(rows if axis is not None else rows[0], b, fmt, al, "max-abs",
                         "max-abs: no clipping, not an optimum")


def _fitted_law(rows: np.ndarray, law: str):
    from scipy import stats
    rf = rows.astype(np.float64)
    if law == "norm":
        scale = np.sqrt(np.mean(rf * rf, axis=1))
        return scale, [stats.norm(scale=s) for s in scale]
    if law == "laplace":
        scale = np.mean(np.abs(rf), axis=1)
        return scale, [stats.laplace(scale=s) for s in scale]
    raise ValueError(f"law must be 'norm' or 'laplace', got {law!r}")


def fit_alpha(x: ArrayLike, bits=None, *, law: str = "norm", grid=None,
              axis=None) -> OptimalAlpha:
    r"""ACIQ's moment-fit route: fit a zero-mean law to the data, clip at its optimum.

    The scale is fitted about zero, as the grid is symmetric about zero:
    :math:`\hat\sigma = \sqrt{\tfrac1N\sum x_j^2}` for ``law="norm"`` and
    :math:`\hat b = \tfrac1N\sum |x_j|` for ``law="laplace"``.  Alpha is the analytic
    optimum of the ACIQ model (Eq. 3-4) for the fitted law,
    ``qerror.optimal_alpha(law, bits, model="aciq", grid=grid).alpha``; for the
    Laplace law on the symmetric grids this is

    .. math::

        \alpha = \hat b\, W_0\!\left(12 r^2\right), \qquad r = \alpha / \Delta,

    (:math:`W_0(3\cdot 4^b)` on the midrise grid, ACIQ's constant), where :math:`W_0`
    is the Lambert W function.  The returned error is the exact empirical error of the
    data at that alpha, so the cost of the fit shows.

    Examples
    --------
    >>> import numpy as np
    >>> from qerror.empirical import fit_alpha
    >>> x = np.random.default_rng(0).laplace(size=10_000)
    >>> r = fit_alpha(x, 4, law="laplace", grid="midrise")
    >>> round(float(r.alpha / np.abs(x).mean()), 2)   # ACIQ's 4-bit Laplace constant
    5.03
    """
    from .optimal import optimal_alpha

    fmt = get_format(grid)
    b = _scalar_bits(bits, fmt)
    _, rows = _rows(x, axis)
    scale, laws = _fitted_law(rows, law)
    alphas = np.empty(scale.size)
    for i, (s, dist) in enumerate(zip(scale, laws, strict=True)):
        alphas[i] = 0.0 if s == 0 else float(
            optimal_alpha(dist, b, model="aciq", grid=fmt).alpha)
    al = alphas[0] if axis is None else alphas
    return _route_result(rows if axis is not None else rows[0], b, fmt, al,
                         f"fit-{law}+aciq",
                         f"moment fit ({law}, scale about zero) then the analytic ACIQ "
                         "optimum of the fitted law: not an optimum for the data",
                         {"scale": scale[0] if axis is None else scale})


def octav_alpha(x: ArrayLike, bits=None, *, grid=None, iterations: int = 10,
                alpha0=None, axis=None) -> OptimalAlpha:
    r"""OCTAV's fixed-point iteration (Sakr et al., 2022) for the clipping boundary.

    .. math::

        \alpha_{n+1} = \frac{\sum_{|x_j| > \alpha_n} |x_j|}
                       {\kappa\, \#\{|x_j| \le \alpha_n\} + \#\{|x_j| > \alpha_n\}},
        \qquad \kappa = \frac{(\Delta/\alpha)^2}{12},

    a stationary point of the ACIQ-type error with the rounding noise
    :math:`\Delta^2/12` counted on the in-range values only
    (:math:`\kappa = 4^{-b}/3` on the midrise grid, OCTAV's constant).  The unsigned
    grid uses :math:`x_j \ge 0` only.  `alpha0` defaults to the root mean square of the
    data.  The returned error is the exact empirical error at the last iterate.

    Examples
    --------
    >>> import numpy as np
    >>> from qerror.empirical import octav_alpha
    >>> x = np.random.default_rng(0).standard_t(4, size=10_000)
    >>> round(octav_alpha(x, 4).alpha, 2)
    6.0
    """
    fmt = get_format(grid)
    b = _scalar_bits(bits, fmt)
    if int(iterations) < 0:
        raise ValueError("iterations must be >= 0")
    _, rows = _rows(x, axis)
    step = fmt.step(np.float64(1.0), np.int64(b))
    kappa = float(step * step) / 12.0
    alphas = np.empty(rows.shape[0])
    for i, row in enumerate(rows):
        rf = row.astype(np.float64)
        a = np.abs(rf) if fmt.signed else rf[rf >= 0]
        if a.size == 0 or a.max() == 0:
            alphas[i] = 0.0
            continue
        al = float(np.sqrt(np.mean(rf * rf))) if alpha0 is None else float(
            np.asarray(alpha0).ravel()[i if np.size(alpha0) > 1 else 0])
        for _ in range(int(iterations)):
            out = a > al
            n_out = int(np.count_nonzero(out))
            if n_out == 0:
                break
            al = float(a[out].sum()) / (kappa * (a.size - n_out) + n_out)
        alphas[i] = al
    al = alphas[0] if axis is None else alphas
    return _route_result(rows if axis is not None else rows[0], b, fmt, al,
                         f"octav-{int(iterations)}",
                         f"OCTAV fixed-point iteration, {int(iterations)} step(s): a "
                         "stationary point of an approximate error, not certified")


def compare_alphas(x: ArrayLike, bits=None, *, grid=None, axis=None,
                   use_numba: bool | None = None) -> dict:
    """Every clipping route on the same data: ``{name: OptimalAlpha}``.

    Keys: ``"optimal"`` (:func:`optimal_alpha_data`), ``"max-abs"``,
    ``"octav"`` (10 iterations), and ``"aciq-norm"`` / ``"aciq-laplace"``
    (:func:`fit_alpha`) where the ACIQ optimum of the fitted law is available.
    All ``mse`` fields are the exact empirical error of the data.  The dict's repr
    (and ``.summary()``) is one table of the routes; ``.to_dict()`` gives plain dicts.
    """
    from ._result import AlphaComparison

    out = {"optimal": optimal_alpha_data(x, bits, grid=grid, axis=axis,
                                         use_numba=use_numba),
           "max-abs": maxabs_alpha(x, bits, grid=grid, axis=axis)}
    if get_format(grid).uniform:
        for law in ("norm", "laplace"):
            out[f"aciq-{law}"] = fit_alpha(x, bits, law=law, grid=grid, axis=axis)
        out["octav"] = octav_alpha(x, bits, grid=grid, axis=axis)
    return AlphaComparison(out)
