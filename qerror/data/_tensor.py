r"""Compiled per-tensor solver: branch and bound on one row's histogram.

Private to :mod:`qerror.data.solver`.  The same bounds and the same algorithm as the
numpy path (``solver._solve_exact`` with ``_summary._bounds``, which solves many rows
at once and is the test oracle of this module), written for one row as loops:

1. the histogram (prefix sums ``PN, PS, PQ`` of count, sum and sum of squares of the
   magnitudes per log-spaced bin; bin ``i`` holds the float64 keys ``base + i``, see
   :mod:`qerror.data._kernels`) bounds :math:`N E` on cells :math:`[D_1, D_2]` of the
   step from below (bins that stay in one level contribute their exact quadratic,
   bins that a threshold sweeps their distance to the nearest reachable level) and
   from above at a point;
2. branch and bound discards every cell whose lower bound exceeds the best upper
   bound by more than the margin and splits the others, until few values are left in
   swept bins (:func:`bnb`);
3. the values of the swept bins are read back from the data (by the caller) and every
   piece :math:`A - 2B\Delta + C\Delta^2` of :math:`N E` on the cells left is
   enumerated exactly (:func:`enumerate_cells`).

Bin edges are computed from the key (exact floats), so a value's bin is a shift of
its bits; no table of edges is kept.
"""

from __future__ import annotations

import numpy as np

from ._kernels import HAVE_NUMBA, _nb

__all__ = ["HAVE_NUMBA", "bnb", "swept_flags", "enumerate_cells"]

if HAVE_NUMBA:  # pragma: no cover - compiled code is not traced by coverage
    from ._pieces import _sort_changes

    _jit = _nb.njit(cache=True, nogil=True)

    @_jit
    def _bin(v, shift, base, nb):
        """Bin holding the magnitude v >= 0: 0 below the first edge, nb at or beyond
        the top edge."""
        k = np.int64(np.float64(v).view(np.uint64) >> np.uint64(shift)) - base
        return min(max(k, 0), nb)

    @_jit
    def _edge(i, shift, base, nb):
        """Left edge of bin i (i = nb: the top edge; bin 0 starts at 0)."""
        i = min(max(i, 0), nb)
        if i == 0:
            return 0.0
        return np.uint64(np.uint64(base + i) << np.uint64(shift)).view(np.float64)

    @_jit
    def _rsum(P, s, e, nb):
        """Sum over bins s..e (inclusive) from the prefix sums P."""
        s = min(max(s, 0), nb)
        e = max(min(e, nb - 1), s - 1)
        return P[e + 1] - P[s]

    @_jit
    def _sqd(PN, PS, PQ, i0, i1, ref, nb):
        """Sum over the values in bins i0..i1 of (a - ref)**2, from the bin sums."""
        v = (_rsum(PQ, i0, i1, nb) - 2.0 * ref * _rsum(PS, i0, i1, nb)
             + ref * ref * _rsum(PN, i0, i1, nb))
        return v if v > 0.0 else 0.0

    @_jit
    def _columns(shift, base, nb, th, d1, d2, s, e):
        """Bins whose level is the same for every step in [d1, d2]: column k
        (level c[k]) is bins s[k]..e[k] (e = s - 1 when empty)."""
        T = th.size
        for k in range(T + 1):
            rs = 0 if k == 0 else _bin(d2 * th[k - 1], shift, base, nb) + 1
            re = _bin(d1 * th[k], shift, base, nb) - 1 if k < T else nb - 1
            s[k] = min(rs, nb)
            e[k] = max(min(re, nb - 1), s[k] - 1)

    @_jit
    def _fixed(PN, PS, PQ, neg, nb, c, s, e, ncol, signed):
        """(A, B, C) with N E = A - 2 B step + C step^2 over columns 0..ncol-1 (level
        c[min(k, K)]), and their count; the unsigned grid's negatives (always at level
        c[0]) are included."""
        A = 0.0
        B = 0.0
        C = 0.0
        n = 0.0
        K = c.size - 1
        for k in range(ncol):
            ck = c[min(k, K)]
            rn = _rsum(PN, s[k], e[k], nb)
            A += _rsum(PQ, s[k], e[k], nb)
            B += _rsum(PS, s[k], e[k], nb) * ck
            C += rn * (ck * ck)
            n += rn
        if not signed:
            A += neg[2]
            B -= c[0] * neg[1]
            C += c[0] * c[0] * neg[0]
        return A, B, C, n

    @_jit
    def _upper(PN, PS, PQ, neg, shift, base, nb, c, th, d, signed, s, e):
        """Upper bound of N E at the step d: the values of a bin that holds a
        threshold all go to whichever neighbouring level costs less."""
        T = th.size
        _columns(shift, base, nb, th, d, d, s, e)
        A, B, C, _ = _fixed(PN, PS, PQ, neg, nb, c, s, e, T + 1, signed)
        val = A - 2.0 * B * d + C * d * d
        for k in range(T):
            gs, ge = e[k] + 1, s[k + 1] - 1
            GN = _rsum(PN, gs, ge, nb)
            GS = _rsum(PS, gs, ge, nb)
            GQ = _rsum(PQ, gs, ge, nb)
            lo, hi = c[k] * d, c[k + 1] * d
            v1 = GQ - 2.0 * lo * GS + lo * lo * GN
            v2 = GQ - 2.0 * hi * GS + hi * hi * GN
            val += min(v1, v2)
        return val

    @_jit
    def _bound(PN, PS, PQ, neg, shift, base, nb, c, th, d1, d2, N, signed, s, e):
        """Lower bound of N E on [d1, d2], an upper bound at the step where the fixed
        part is least, and the number of values in swept bins."""
        T = th.size
        _columns(shift, base, nb, th, d1, d2, s, e)
        A, B, C, nfix = _fixed(PN, PS, PQ, neg, nb, c, s, e, T + 1, signed)
        df = B / C if C > 0.0 else d1
        df = min(max(df, d1), d2)
        lower = A - 2.0 * B * df + C * df * df
        for k in range(T):
            # a swept value is at least as far as the nearest level any step of the
            # cell gives: between p = c_k d2 and q = c_{k+1} d1, min(a - p, q - a)
            p = d2 * c[k]
            q = d1 * c[k + 1]
            if q > p:
                mid = 0.5 * (p + q)
                ip = _bin(p, shift, base, nb)
                ip += _edge(ip, shift, base, nb) < p
                i_lo = max(e[k] + 1, ip)
                i_hi = min(s[k + 1] - 1, _bin(q, shift, base, nb) - 1)
                jm = _bin(mid, shift, base, nb)
                lower += _sqd(PN, PS, PQ, i_lo, min(i_hi, jm - 1), p, nb)
                lower += _sqd(PN, PS, PQ, max(i_lo, jm + 1), i_hi, q, nb)
                if jm >= i_lo and jm <= i_hi:
                    gap = min(_edge(jm, shift, base, nb) - p,
                              q - _edge(jm + 1, shift, base, nb))
                    if gap > 0.0:
                        lower += _rsum(PN, jm, jm, nb) * gap * gap
        upper = _upper(PN, PS, PQ, neg, shift, base, nb, c, th, df, signed, s, e)
        swept = N - nfix - (neg[0] if not signed else 0.0)
        return lower, upper, swept

    @_jit
    def _geometric(a, b, k, o1, o2, j):
        """Cells j.. of (o1, o2): [a, b] (a > 0) cut into k geometric cells; returns
        the next free index."""
        prev = a
        for t in range(1, k + 1):
            nxt = b if t == k else a * (b / a) ** (t / k)
            o1[j], o2[j] = prev, nxt
            prev = nxt
            j += 1
        return j

    @_jit
    def _split(D1, D2, parts):
        """Each cell split geometrically into `parts` (a cell [0, b] into [0, b 2**-30]
        and `parts` geometric cells above)."""
        nz = 0
        for i in range(D1.size):
            nz += D1[i] <= 0.0
        n = D1.size * parts + nz
        o1 = np.empty(n)
        o2 = np.empty(n)
        j = 0
        for i in range(D1.size):
            a, b = D1[i], D2[i]
            if a > 0.0:
                j = _geometric(a, b, parts, o1, o2, j)
            else:
                prev = b * 2.0 ** -30.0
                o1[j], o2[j] = 0.0, prev
                j += 1
                for t in range(1, parts + 1):
                    nxt = b if t == parts else b * 2.0 ** (-30.0 * (1.0 - t / parts))
                    o1[j], o2[j] = prev, nxt
                    prev = nxt
                    j += 1
        return o1, o2

    @_jit
    def bnb(PN, PS, PQ, neg, shift, base, nb, c, th, N, amax, margin, signed,
            direct, deep, widest):
        """Cells of the step [D1, D2] (sorted, touching cells merged, D1 > 0) that may
        hold the global minimum of N E, and the number of branch-and-bound rounds."""
        T = th.size
        s = np.empty(T + 2, dtype=np.int64)
        e = np.empty(T + 2, dtype=np.int64)
        d_hi = 2.0 * amax / (c[0] if c[0] > 0.0 else 1.0)
        rounds = 0
        if N * max(1, T) <= direct:
            D1 = np.array([d_hi * deep])
            D2 = np.array([d_hi])
        else:
            cap = max(256.0, N // 64)
            parts = 256 if N > 65536 else 24
            edges = np.empty(parts + 1)
            for i in range(parts + 1):
                edges[i] = d_hi * 2.0 ** (-16.0 * (1.0 - i / parts))
            D1 = np.empty(parts + 1)
            D2 = np.empty(parts + 1)
            D1[0], D2[0] = 0.0, edges[0]
            D1[1:] = edges[:-1]
            D2[1:] = edges[1:]
            best = np.inf
            prev = np.inf
            while True:
                rounds += 1
                G = D1.size
                lower = np.empty(G)
                swept = np.empty(G)
                for g in range(G):
                    lo, up, sw = _bound(PN, PS, PQ, neg, shift, base, nb, c, th,
                                        D1[g], D2[g], N, signed, s, e)
                    lower[g], swept[g] = lo, sw
                    best = min(best, up)
                keep = lower <= best + margin
                D1, D2, swept = D1[keep], D2[keep], swept[keep]
                ncell = D1.size
                total = swept.sum()
                mean = total / max(ncell, 1)
                wide = 0.0
                for g in range(ncell):
                    wide = max(wide, D2[g] / D1[g] - 1.0 if D1[g] > 0.0 else np.inf)
                # stop when few values are left to read back, or when splitting no
                # longer shrinks the swept sets (bins, not cells, limit the
                # resolution; while a cell is wider than 1/levels, neighbouring
                # thresholds' sweeps overlap and the swept sets shrink slowly)
                stalled = mean > 0.7 * prev and wide * c.size < 1.0
                prev = mean
                if total <= cap or ncell > 4096 or stalled or rounds >= 40:
                    break
                D1, D2 = _split(D1, D2, 8 if N > 65536 else 4)
            order = np.argsort(D1)
            D1, D2 = D1[order], D2[order]
            # merge touching cells: fewer, wider cells for the exact pass
            m = 0
            for g in range(1, D1.size):
                if D1[g] == D2[m]:
                    D2[m] = D2[g]
                else:
                    m += 1
                    D1[m], D2[m] = D1[g], D2[g]
            D1, D2 = D1[:m + 1].copy(), D2[:m + 1].copy()
        # the exact pass needs D1 > 0; below D2 deep every value is clipped to ~0
        tiny = np.finfo(np.float64).tiny
        for g in range(D1.size):
            if not D1[g] > 0.0:
                D1[g] = min(max(D2[g] * deep, tiny), 0.5 * D2[g])
        # cells wider than `widest` (ratio) are cut: along a cell the enumeration's
        # coefficients are running sums from its start, and B falls about as the
        # step grows (levels spanning many binades would leave it no digits)
        n = 0
        for g in range(D1.size):
            n += max(int(np.ceil(np.log(D2[g] / D1[g]) / np.log(widest))), 1)
        if n > D1.size:
            o1 = np.empty(n)
            o2 = np.empty(n)
            j = 0
            for g in range(D1.size):
                a, b = D1[g], D2[g]
                k = max(int(np.ceil(np.log(b / a) / np.log(widest))), 1)
                j = _geometric(a, b, k, o1, o2, j)
            D1, D2 = o1, o2
        return D1, D2, rounds

    @_jit
    def _columns_split(shift, base, nb, th, afac, d1, d2, s, e):
        """:func:`_columns` with the last column split at alpha: columns 0..T as
        there, bins between alpha at d1 and at d2 swept, column T + 1 (level c[T],
        beyond alpha) the bins above."""
        T = th.size
        _columns(shift, base, nb, th, d1, d2, s, e)
        e[T] = max(min(_bin(d1 * afac, shift, base, nb) - 1, nb - 1), s[T] - 1)
        s[T + 1] = min(_bin(d2 * afac, shift, base, nb) + 1, nb)
        e[T + 1] = max(nb - 1, s[T + 1] - 1)

    @_jit
    def swept_flags(shift, base, nb, th, afac, D1, D2):
        """The bins some threshold (or alpha) sweeps on some cell: to read back."""
        T = th.size
        s = np.empty(T + 2, dtype=np.int64)
        e = np.empty(T + 2, dtype=np.int64)
        flags = np.zeros(nb, dtype=np.bool_)
        for g in range(D1.size):
            _columns_split(shift, base, nb, th, afac, D1[g], D2[g], s, e)
            for j in range(T + 1):
                for i in range(max(e[j] + 1, 0), min(s[j + 1] - 1, nb - 1) + 1):
                    flags[i] = True
        return flags

    @_jit
    def _levels_at(th, t):
        """Level index of a magnitude a at the step d, t = a / d: the number of
        thresholds <= t."""
        lo, hi = 0, th.size
        while lo < hi:
            mid = (lo + hi) >> 1
            if th[mid] <= t:
                lo = mid + 1
            else:
                hi = mid
        return lo

    @_jit
    def _gap(v, shift, base, nb, i, j):
        """Index range in the sorted values `v` of the values in bins i..j-1."""
        i0 = np.searchsorted(v, _edge(i, shift, base, nb))
        i1 = v.size if j >= nb else np.searchsorted(v, _edge(j, shift, base, nb))
        return i0, max(i0, i1)

    @_jit
    def enumerate_cells(PN, PS, PQ, neg, shift, base, nb, c, th, afac, D1, D2, v,
                        signed):
        """Every piece of N E on the cells [D1, D2] exactly: the fixed columns from
        the bin sums, the values `v` (sorted, every value of every swept bin) one by
        one.  Returns the best step, N E there, its truncation part and the number
        of pieces."""
        T = th.size
        s = np.empty(T + 2, dtype=np.int64)
        e = np.empty(T + 2, dtype=np.int64)
        best, bestd, bestg = np.inf, 0.0, 0
        pieces = 0
        for g in range(D1.size):
            d1, d2 = D1[g], D2[g]
            _columns_split(shift, base, nb, th, afac, d1, d2, s, e)
            A, B, C, _ = _fixed(PN, PS, PQ, neg, nb, c, s, e, T + 2, signed)
            # the cell's swept values with their level index at d1 (k1) and d2 (k2)
            n_sw = 0
            for j in range(T + 1):
                i0, i1 = _gap(v, shift, base, nb, e[j] + 1, s[j + 1])
                n_sw += i1 - i0
            sv = np.empty(n_sw)
            k1s = np.empty(n_sw, dtype=np.int64)
            k2s = np.empty(n_sw, dtype=np.int64)
            ne = 0
            m = 0
            for j in range(T + 1):
                i0, i1 = _gap(v, shift, base, nb, e[j] + 1, s[j + 1])
                for i in range(i0, i1):
                    a = v[i]
                    k1 = _levels_at(th, a / d1)
                    k2 = _levels_at(th, a / d2)
                    A += a * a
                    B += c[k1] * a
                    C += c[k1] * c[k1]
                    ne += k1 - k2
                    sv[m], k1s[m], k2s[m] = a, k1, k2
                    m += 1
            # level changes: at the step a / th[k] the value moves from level k + 1
            # down to level k
            ed = np.empty(ne)
            eb = np.empty(ne)
            ec = np.empty(ne)
            m = 0
            for i in range(n_sw):
                a = sv[i]
                for k in range(k2s[i], k1s[i]):
                    ed[m] = a / th[k]
                    eb[m] = (c[k] - c[k + 1]) * a
                    ec[m] = c[k] * c[k] - c[k + 1] * c[k + 1]
                    m += 1
            _sort_changes(ed, eb, ec, ne)
            lo = d1
            for i in range(ne + 1):
                hi = ed[i] if i < ne else d2
                d = B / C if C > 0.0 else lo
                d = min(max(d, lo), hi)
                val = A - 2.0 * B * d + C * d * d
                if val < best:
                    best, bestd, bestg = val, d, g
                if i < ne:
                    B += eb[i]
                    C += ec[i]
                    lo = hi
            pieces += ne + 1
        # truncation at the optimum: the fixed columns beyond alpha from the sums,
        # the swept values beyond alpha one by one
        _columns_split(shift, base, nb, th, afac, D1[bestg], D2[bestg], s, e)
        top = c[T] * bestd
        tN = _rsum(PN, s[T + 1], e[T + 1], nb)
        tS = _rsum(PS, s[T + 1], e[T + 1], nb)
        tQ = _rsum(PQ, s[T + 1], e[T + 1], nb)
        tsse = tQ - 2.0 * top * tS + top * top * tN
        lim = afac * bestd
        for j in range(T + 1):
            i0, i1 = _gap(v, shift, base, nb, e[j] + 1, s[j + 1])
            for i in range(i0, i1):
                if v[i] > lim:
                    tsse += (v[i] - top) ** 2
        if not signed:
            c0 = c[0] * bestd
            tsse += neg[2] + 2.0 * c0 * neg[1] + c0 * c0 * neg[0]
        return bestd, max(best, 0.0), max(tsse, 0.0), pieces
