r"""The histogram solver's numpy branch and bound and exact pass (many rows at once),
and the compiled one-row path (:mod:`qerror.data._tensor`).

Private to :mod:`qerror.data.solver`, whose docstring describes the method: bounds
of the error on cells of the step from the histograms of :mod:`qerror.data._summary`,
branch and bound, and every piece of the error enumerated exactly on the cells left,
from the values of the swept bins read back from the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..formats._base import MagnitudeLevels as _Levels
from ._summary import (
    _bounds,
    _chunked,
    _fixed_coeffs,
    _ranges,
    _rsum,
    _Summary,
)

# pruning slack, relative to sum(x**2): covers the rounding of the bound sums
_MARGIN = 1e-12
# below this many (values x thresholds) all pieces are enumerated without bounds
_DIRECT_LIMIT = 1 << 11
# the exact pass enumerates cells at most 2**_WIDEST wide (ratio of the ends)
_WIDEST = 8


def _deep(lv: _Levels) -> float:
    """The factor below the largest useful step d_hi under which every value is
    clipped to about zero: 2**-60, and 2**-(60 + r) for formats whose levels span
    2**(16 + r) (powers of two at 6 bits and more, FP8), whose top level c_K d is
    still far above the data at d_hi 2**-60."""
    c = lv.c[lv.c > 0]
    span = float(np.log2(c[-1] / c[0])) if c.size else 0.0
    return 2.0 ** -(60 + max(0, int(np.ceil(span)) - 16))


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
        D1, D2, CH = d_hi * _deep(lv), d_hi, rows
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
    floor = np.minimum(np.maximum(D2 * _deep(lv), np.finfo(np.float64).tiny), 0.5 * D2)
    D1 = np.where(D1 > 0, D1, floor)
    # cells wider than 2**_WIDEST in the step are cut: along a cell the coefficients
    # are running sums from its start, and B falls about as the step grows
    parts = np.maximum(np.ceil(np.log2(D2 / D1) / _WIDEST), 1).astype(np.int64)
    if (parts > 1).any():
        t = np.concatenate([np.arange(k) / k for k in parts])
        u = np.concatenate([np.arange(1, k + 1) / k for k in parts])
        a, b = np.repeat(D1, parts), np.repeat(D2, parts)
        D1 = np.where(t == 0, a, a * (b / a) ** t)
        D2 = np.where(u == 1, b, a * (b / a) ** u)
        CH = np.repeat(CH, parts)
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
        first = np.searchsorted(ev_g, np.arange(G), side="left")
        # running sums from each interval's (B0, C0), interval by interval: a
        # cumulative sum over all intervals less the earlier ones' total would lose
        # the small coefficients next to large ones (levels spanning 2**127)
        pb = np.empty(tot_e)
        pc = np.empty(tot_e)
        bounds = np.append(first, tot_e)
        for gi in np.nonzero(bounds[1:] > bounds[:-1])[0]:
            i0, i1 = bounds[gi], bounds[gi + 1]
            pb[i0:i1] = np.cumsum(np.concatenate([[B0[gi]], ev_b[i0:i1]]))[1:]
            pc[i0:i1] = np.cumsum(np.concatenate([[C0[gi]], ev_c[i0:i1]]))[1:]
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


def _solve_compiled(h: _Summary, lv: _Levels) -> _Solution:
    """:func:`_solve_exact` for one row, compiled (:mod:`qerror.data._tensor`)."""
    from . import _tensor as _t

    base = int(h.base[0])
    hist = (h.PN, h.PS, h.PQ, h.neg[0], h.shift, base, h.nb, lv.c, lv.theta)
    D1, D2, rounds = _t.bnb(*hist, float(h.size), float(h.amax[0]),
                            float(_MARGIN * h.total_sq[0]), lv.signed, _DIRECT_LIMIT,
                            _deep(lv), float(2.0**_WIDEST))
    v = h.extract(0, _t.swept_flags(h.shift, base, h.nb, lv.theta, lv.afac, D1, D2))
    d, sse, tsse, pieces = _t.enumerate_cells(*hist, lv.afac, D1, D2, v, lv.signed)
    return _Solution(np.array([d]), np.array([sse]), np.array([tsse]), D1.size, pieces,
                     v.size, rounds)
