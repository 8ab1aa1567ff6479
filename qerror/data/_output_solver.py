r"""The certified output-aware clipping solver (private; see :mod:`qerror.data.output`).

For the rows :math:`w_i` of a weight matrix, a positive semi-definite :math:`G` (the
second moment of the inputs, or of the quantized inputs) and vectors :math:`v_i`, the
objective over the clipping boundary :math:`\alpha` is

.. math::

    F(\alpha) = \sum_i \Bigl(K_i - 2\,q_i(\alpha)\cdot v_i
                + q_i(\alpha)\,G\,q_i(\alpha)^T\Bigr), \qquad
    q_i(\alpha) = \alpha\,\ell_i(\alpha),

where :math:`\ell_{ij}(\alpha)` is the unit level (level at :math:`\alpha = 1`) that
:math:`w_{ij}/\alpha` rounds to.  :math:`\ell` changes only where :math:`w_{ij}/\alpha`
crosses a decision threshold :math:`t` of the unit format, at :math:`\alpha =
w_{ij}/t`: between two such *events* the assignment is fixed and :math:`F` is the
quadratic :math:`K - 2A_1\alpha + A_2\alpha^2` with :math:`A_1 = \sum_i \ell_i\cdot
v_i`, :math:`A_2 = \sum_i \ell_i G \ell_i^T`.  All events are enumerated (as
:math:`\alpha` runs from 0 to :math:`\infty` every value crosses each threshold on its
side once), the coefficients are updated event by event, and every piece's minimum is
the vertex :math:`A_1/A_2` clipped to the piece: the least of them is the global
minimum, with no assumption on :math:`G` beyond symmetry.

Updates.  :math:`A_1` changes by :math:`\delta\,v_{ij}` (:math:`\delta` the change of
:math:`\ell_{ij}`).  For a diagonal :math:`G` :math:`A_2` changes by
:math:`G_{jj}\delta(2\ell_{ij} + \delta)`; for a full :math:`G` by
:math:`2\delta(G\ell_i)_j + \delta^2G_{jj}`, where :math:`(G\ell_i)_j` depends on the
row's earlier events: it is carried in blocks of :math:`B` events per row, all rows at
once (a triangular product inside a block, one matrix product :math:`M G` between
blocks), :math:`O(E\,(B + n^2/B))` for :math:`E` events in rows of length :math:`n`.
"""

from __future__ import annotations

import numpy as np

#: events per row and block of the full-matrix update
_BLOCK = 64
#: candidate pieces re-evaluated directly (the piece values cancel to about 1e-11)
_TOP = 8


def unit_levels(fmt, bits: int):
    """Sorted unit levels (alpha = 1) and the decision thresholds between them."""
    lv = np.asarray(fmt.levels(1.0, bits), dtype=np.float64)
    return lv, 0.5 * (lv[1:] + lv[:-1])


def _events(w: np.ndarray, lv: np.ndarray, th: np.ndarray):
    """Events of a 2-D array of rows: (alpha, row, col, delta, old level) and the unit
    levels as alpha -> 0+ (every nonzero value clipped to an outermost level)."""
    r, n = w.shape
    level0 = np.where(w > 0, lv[-1], np.where(w < 0, lv[0], 0.0))
    zero = w == 0
    if zero.any():  # a zero stays at the level of 0 (the format's tie rule decides)
        k0 = int(np.searchsorted(th, 0.0, side="right"))
        level0[zero] = lv[k0]
    pos_t = np.flatnonzero(th > 0)  # thresholds crossed downward by positive values
    neg_t = np.flatnonzero(th < 0)  # crossed upward by negative values
    rows, cols = np.nonzero(w)
    vals = w[rows, cols]
    pos = vals > 0
    out = []
    for sel, ts, down in ((pos, pos_t, True), (~pos, neg_t, False)):
        if not sel.any() or not ts.size:
            continue
        v = vals[sel]
        a = v[:, None] / th[ts][None, :]
        if down:  # level index j+1 -> j at threshold j
            old, new = lv[ts + 1], lv[ts]
        else:  # j -> j+1
            old, new = lv[ts], lv[ts + 1]
        k = a.shape[1]
        out.append((a.ravel(), np.repeat(rows[sel], k), np.repeat(cols[sel], k),
                    np.tile(new - old, v.size), np.tile(old, v.size)))
    if not out:
        e = np.zeros(0)
        return (e, e.astype(np.int64), e.astype(np.int64), e, e), level0
    cat = [np.concatenate(p) for p in zip(*out, strict=True)]
    return tuple(cat), level0


def _full_da2(er, ec, ed, G, level0, r):
    """A_2 increments of every event (full G), events sorted by (row, alpha): all rows
    at once, blocks of _BLOCK events per row (rows padded with zero deltas)."""
    counts = np.bincount(er, minlength=r)
    emax = int(counts.max()) if counts.size else 0
    first = np.cumsum(counts) - counts
    pos = np.arange(er.size) - first[er]  # position of each event within its row
    J = np.zeros((r, emax), dtype=np.int64)
    D = np.zeros((r, emax))
    J[er, pos], D[er, pos] = ec, ed
    out = np.zeros((r, emax))
    diag = np.diagonal(G)
    n = G.shape[0]
    # rows per chunk: keep the (rows, B, B) gather near 4e6 values
    step_r = max(1, int(4e6 // (_BLOCK * _BLOCK)))
    for r0 in range(0, r, step_r):
        rs = slice(r0, min(r, r0 + step_r))
        m = rs.stop - rs.start
        s = level0[rs] @ G  # (G l_i) for every row of the chunk
        base = (np.arange(m) * n)[:, None]
        for st in range(0, emax, _BLOCK):
            Jb, Db = J[rs, st:st + _BLOCK], D[rs, st:st + _BLOCK]
            Gb = G[Jb[:, :, None], Jb[:, None, :]]
            before = np.take_along_axis(s, Jb, axis=1) + np.einsum(
                "rbc,rc->rb", np.tril(Gb, -1), Db)
            out[rs, st:st + _BLOCK] = 2.0 * Db * before + Db * Db * diag[Jb]
            M = np.bincount((base + Jb).ravel(), weights=Db.ravel(),
                            minlength=m * n).reshape(m, n)
            s += M @ G
    return out[er, pos]


def solve(w: np.ndarray, G: np.ndarray, v: np.ndarray, K: np.ndarray, fmt, bits: int,
          per_row: bool, objective):
    """Global minimiser of F over alpha > 0, per row (``per_row``) or for all rows.

    ``objective(alpha)`` evaluates F directly (rows, or the sum) at per-row alphas; it
    ranks the best pieces and guards against the cancellation of the coefficients.
    Returns (alpha per row, F per row at it, number of pieces).
    """
    lv, th = unit_levels(fmt, bits)
    r, n = w.shape
    diag = G.ndim == 1
    (ea, er, ec, ed, eo), level0 = _events(w, lv, th)
    # A1, A2 as alpha -> 0+, per row
    a1 = np.einsum("ij,ij->i", level0, v)
    a2 = (level0 * level0) @ G if diag else np.einsum("ij,jk,ik->i", level0, G, level0)
    # group by row (per_row) or not, then by alpha
    order = np.lexsort((ea, er)) if per_row else np.argsort(ea, kind="stable")
    ea, er, ec, ed, eo = ea[order], er[order], ec[order], ed[order], eo[order]
    d1 = ed * v[er, ec]
    if diag:
        d2 = G[ec] * ed * (2.0 * eo + ed)
    else:  # each row's increments depend on its own earlier events, in alpha order
        row_order = np.lexsort((ea, er))
        d2 = np.empty(ea.size)
        d2[row_order] = _full_da2(er[row_order], ec[row_order], ed[row_order], G,
                                  level0, r)
    groups = np.arange(r) if per_row else np.zeros(1, dtype=np.int64)
    gid = er if per_row else np.zeros(ea.size, dtype=np.int64)
    A1_0 = a1 if per_row else np.array([a1.sum()])
    A2_0 = a2 if per_row else np.array([a2.sum()])
    K_g = K if per_row else np.array([K.sum()])
    starts = np.searchsorted(gid, groups)
    ends = np.searchsorted(gid, groups, side="right")
    c1, c2 = np.cumsum(d1), np.cumsum(d2)
    cands = []
    for g in groups:
        s, e = starts[g], ends[g]
        base1 = c1[s - 1] if s > 0 else 0.0
        base2 = c2[s - 1] if s > 0 else 0.0
        # pieces: (0, a_s), (a_s, a_{s+1}), ..., (a_{e-1}, inf)
        A1 = A1_0[g] + np.concatenate([[0.0], c1[s:e] - base1])
        A2 = A2_0[g] + np.concatenate([[0.0], c2[s:e] - base2])
        lo = np.concatenate([[0.0], ea[s:e]])
        hi = np.concatenate([ea[s:e], [np.inf]])
        with np.errstate(divide="ignore", invalid="ignore"):
            vert = np.where(A2 > 0, A1 / A2, np.where(A1 > 0, np.inf, 0.0))
        a = np.clip(vert, lo, hi)
        finite = np.isfinite(a)
        val = np.where(finite, K_g[g] - 2.0 * A1 * np.where(finite, a, 0.0)
                       + A2 * np.where(finite, a, 0.0) ** 2, np.inf)
        val[hi <= lo] = np.inf  # empty pieces (tied events)
        top = np.argsort(val, kind="stable")[:_TOP]
        # candidates inside their piece: an end point belongs to the neighbour piece
        pts = []
        for t in top:
            if not np.isfinite(val[t]):
                continue
            x, l_, h_ = float(a[t]), float(lo[t]), float(hi[t])
            mid = 0.5 * (l_ + h_) if np.isfinite(h_) else 2.0 * l_ + 1.0
            if x <= l_:
                x = min(l_ * (1.0 + 1e-13), mid) if l_ > 0 else 0.5 * mid
            elif x >= h_:
                x = max(h_ * (1.0 - 1e-13), mid)
            pts.append(x)
        cands.append(np.array(pts) if pts else np.array([1.0]))
    # re-evaluate the candidates directly (rows of one group share alpha)
    width = max(c.size for c in cands)
    trial = np.array([np.pad(c, (0, width - c.size), mode="edge") for c in cands])
    vals = np.stack([objective(trial[:, k] if per_row else np.full(r, trial[0, k]))
                     for k in range(width)], axis=1)
    if not per_row:
        vals = vals.sum(axis=0, keepdims=True)
    pick = np.argmin(vals, axis=1)
    best_alpha = trial[np.arange(groups.size), pick]
    best_val = vals[np.arange(groups.size), pick]
    alpha = best_alpha if per_row else np.full(r, best_alpha[0])
    return alpha, best_val, int(ea.size + groups.size)
