r"""Compiled sweeps of the row solver: every piece of the error on a cell of steps.

Private to :mod:`qerror.data._rows` (step 4 of its docstring; the two-sided solver
takes its cell bound ``_cell``).  On a cell :math:`[D_1, D_2]` the level changes
:math:`a_i/\theta_k` split the error into quadratic pieces
:math:`A - 2B\Delta + C\Delta^2`: ``_walk`` visits them in order (merging the
thresholds' sorted runs, or sorting every change), with running sums of :math:`B`,
:math:`C` compensated and summed again exactly (``_anchor``) wherever their rounding
could reach the margin; ``_bsweep`` first puts the changes into buckets of steps and
walks only the buckets whose bound (``_kink_bound``, from :math:`(B, C)` at both
ends) can reach the best.  ``_bsweep_in``, ``_cell``, ``_boundary`` and
``_kink_bound`` allocate nothing (``_kernels.LEAN``); the work arrays come from
``_sweep_space``.
"""

from __future__ import annotations

import numpy as np

from ._kernels import HAVE_NUMBA, LEAN, _nb

# thresholds up to this many: a cell's sorted runs are merged (more: sorted at once)
_MERGE_K = 16
# level changes per bucket of _bsweep
_PER_BUCKET = 4
# boundaries of the branch and bound's cells a work space holds (_rows._exact_row)
_BOUNDARIES = 256

if HAVE_NUMBA:  # pragma: no cover - compiled code is not traced by coverage
    from ._pieces import (
        _drift_limit,
        _insertion3,
        _next_change,
        _piece,
        _qmin,
        _shellsort3,
        _sort_changes,
        _two_sum,
        _vertex,
    )
    from ._rowdata import _bs, _count8, _idx, _runs, _short8, _sort_bucket, _sqd

    _jit = _nb.njit(cache=True, nogil=True)
    _lean = _nb.njit(**LEAN)  # allocates nothing (see _kernels.LEAN)

    @_jit
    def _sweep_space(n, K):
        """Work arrays of the sweeps (_sweep, _bsweep) on rows of n values with K
        thresholds, reused cell after cell and row after row: the runs (pos, end),
        for _bsweep room for 8 level changes per value, at most 2**16 (about 3 MB: a
        larger cell allocates its own arrays; long rows' cells are a small part of
        their work), and for _rows._exact_row room for _BOUNDARIES boundaries (steps,
        B, C; the levels' starts; the stack of cells: it grows them if need be)."""
        cm = min(8 * n + 256, 1 << 16)
        cb = cm // _PER_BUCKET + 1
        nb = _BOUNDARIES
        return (np.empty(K, dtype=np.int64), np.empty(K, dtype=np.int64),
                np.empty(4 * cb), np.empty(3 * cb + 1, dtype=np.int64),
                np.empty(cm, dtype=np.int64), np.empty(3 * cm),
                np.empty(3 * nb), np.empty(nb * K, dtype=np.int64),
                np.empty(2 * nb, dtype=np.int64))

    @_lean
    def _cell(a, P1, P2, bst, srt, bk, c, th, d1, d2):
        """On the cell of steps [d1, d2]: (A, B, C) of the values whose level is the
        same for every step of the cell, the lower bound of the others' error (their
        distance to the nearest reachable level) and the number of level changes.
        With d1 == d2: the exact (A, B, C) at that step."""
        n = P1.size - 1
        K = th.size
        A = 0.0
        B = 0.0
        C = 0.0
        gap = 0.0
        nev = 0
        s = 0
        for k in range(K + 1):
            e = _idx(a, P1, P2, bst, srt, bk, th[k] * d1) if k < K else n
            if e > s:
                A += P2[e] - P2[s]
                B += c[k] * (P1[e] - P1[s])
                C += c[k] * c[k] * (e - s)
            if k < K:
                s_next = _idx(a, P1, P2, bst, srt, bk, th[k] * d2) if d2 > d1 else e
                if s_next > e:
                    nev += s_next - e
                    p = c[k] * d2
                    q = c[k + 1] * d1
                    if q > p:
                        # swept values lie in [th_k d1, th_k d2): search p, q if inside
                        mid = 0.5 * (p + q)
                        j1 = e
                        if p > th[k] * d1:
                            j1 = min(max(_idx(a, P1, P2, bst, srt, bk, p), e), s_next)
                        j2 = min(max(_idx(a, P1, P2, bst, srt, bk, mid), j1), s_next)
                        j3 = s_next
                        if q < th[k] * d2:
                            j3 = min(max(_idx(a, P1, P2, bst, srt, bk, q), j2), s_next)
                        gap += _sqd(P1, P2, j1, j2, p) + _sqd(P1, P2, j2, j3, q)
                s = s_next
        return A, B, C, gap, nev

    @_lean
    def _kink_coefs(B, C, S, G, u, v):
        """(B, C) of _kink_bound's quadratic."""
        if not (G > 0.0 and v > u):
            return B, C
        kap = min(max((G * v - 2.0 * S) / (v - u), 0.0), G)
        return B - 0.5 * kap * u, C - kap

    @_lean
    def _kink_bound(A0, B, C, S, G, u, v):
        """A lower bound of N E on the steps [u, v] from (B, C) at u and the sums over
        the level changes t_i in [u, v] (at v, B - S and C - G): S of g_k a_i and G
        of w_i = 2 theta_k g_k, with g_k = c_{k+1} - c_k and theta_k the midpoint of
        the two levels.  A change turns a value's error from (a - c_{k+1} D)^2 to
        (a - c_k D)^2, less by w_i D (D - t_i) for D > t_i, so that
        N E = Q_u(D) - D f(D) with Q_u the quadratic at u and
        f(D) = sum_i w_i max(D - t_i, 0), convex, 0 at u and G v - 2 S at v: below
        its chord, N E >= Q_u(D) - D (D - u) (G v - 2 S) / (v - u), a quadratic
        exact at both ends (and everywhere where [u, v] holds no change)."""
        Bk, Ck = _kink_coefs(B, C, S, G, u, v)
        return _qmin(A0, Bk, Ck, u, v)

    @_jit
    def _sweep(a, P1, P2, bst, srt, bk, c, th, d1, d2, A0, Bn, Cn, best, bestd,
               margin, W):
        """Every piece of E on [d1, d2], exactly; returns the better of (best, bestd)
        and the cell's best piece, and the number of pieces."""
        pos, end = W[0], W[1]
        B, C, _ = _runs(a, P1, P2, bst, srt, bk, c, th, d1, d2, Bn, Cn, pos, end)
        return _walk(a, P1, P2, bst, srt, bk, c, th, d1, d2, A0, Bn, Cn, pos, end, B,
                     C, best, bestd, margin)

    @_lean
    def _boundary(a, P1, P2, bst, srt, bk, c, th, Bn, Cn, d, idx):
        """(B, C) at the step d (from the prefix sums) and the starts of its levels:
        idx[k] values are below theta_k d."""
        n = P1.size - 1
        K = th.size
        B = Bn
        C = Cn
        s = 0
        for k in range(K + 1):
            e = _idx(a, P1, P2, bst, srt, bk, th[k] * d) if k < K else n
            B += c[k] * (P1[e] - P1[s])
            C += c[k] * c[k] * (e - s)
            if k < K:
                idx[k] = e
            s = e
        return B, C

    @_lean
    def _anchor(a, P1, P2, bst, srt, bk, c, th, Bn, Cn, d):
        """(B, C) at the step d summed exactly (from the prefix sums)."""
        if _short8(bst, srt, th):
            cnt = _count8(a, bst, th, d)
            n = P1.size - 1
            K = th.size
            B = Bn
            C = Cn
            s = 0
            for k in range(K + 1):
                e = cnt[k] if k < K else n
                B += c[k] * (P1[e] - P1[s])
                C += c[k] * c[k] * (e - s)
                s = e
            return B, C
        _, B, C, _, _ = _cell(a, P1, P2, bst, srt, bk, c, th, d, d)
        return B + Bn, C + Cn

    @_jit
    def _walk(a, P1, P2, bst, srt, bk, c, th, d1, d2, A0, Bn, Cn, pos, end, B, C,
              best, bestd, margin):
        """_sweep from the runs of _runs (pos is advanced along them).  B and C are
        running sums: where B has fallen a millionfold (levels spanning many
        binades) or their rounding could reach the margin (_drift_limit: a walk
        over a wide span of steps, FP8's flat error) they are summed again exactly
        for the piece at hand, from its midpoint."""
        K = th.size
        lo = d1
        lim = _drift_limit(margin)
        rB = abs(B)
        rC = C
        eB = 0.0
        eC = 0.0
        j = 0
        if K <= _MERGE_K:
            # K sorted runs of level changes a_i / theta_k: merge them
            nb = srt.size
            if nb > 1:
                for k in range(K):
                    if end[k] > pos[k]:
                        b0 = _bs(bst, 1, nb + 1, pos[k] + 1) - 1
                        b1 = _bs(bst, 1, nb + 1, end[k]) - 1
                        for b in range(b0, b1 + 1):
                            if not srt[b]:
                                _sort_bucket(a, P1, P2, bst, srt, bk, b)
            head = np.empty(K)
            db = np.empty(K)
            dq = np.empty(K)
            ith = np.empty(K)
            for k in range(K):
                # a change at a_i * (1 / theta_k), an ulp from a_i / theta_k: harmless,
                # every piece's quadratic bounds E above on a nearest-level grid
                ith[k] = 1.0 / th[k]
                head[k] = a[pos[k]] * ith[k] if pos[k] < end[k] else np.inf
                db[k] = c[k] - c[k + 1]
                dq[k] = c[k] * c[k] - c[k + 1] * c[k + 1]
            left = 0
            for k in range(K):
                left += end[k] - pos[k]
            for _ in range(left + 1):
                kb, vb = _next_change(head)
                hi = min(max(vb, lo), d2)
                X = 2.0 * rB * hi + rC * hi * hi
                if hi > lo and (abs(B) < 1e-6 * rB or X * (4.0 + 1.2e-16 * j) > lim):
                    B, C = _anchor(a, P1, P2, bst, srt, bk, c, th, Bn, Cn,
                                   0.5 * (lo + hi))
                    eB = 0.0
                    eC = 0.0
                    rB = abs(B)
                    rC = C
                    j = 0
                best, bestd = _piece(A0, B + eB, C + eC, lo, hi, best, bestd)
                if vb >= d2:
                    break
                B, eB = _two_sum(B, eB, db[kb] * a[pos[kb]])
                C, eC = _two_sum(C, eC, dq[kb])
                j += 1
                pos[kb] += 1
                head[kb] = a[pos[kb]] * ith[kb] if pos[kb] < end[kb] else np.inf
                lo = max(vb, lo)
            return best, bestd, left + 1
        m = 0
        for k in range(K):  # the level changes on [d1, d2] (nev only bounds them)
            m += max(end[k] - pos[k], 0)
        ed = np.empty(m)
        eb = np.empty(m)
        ec = np.empty(m)
        m = 0
        for k in range(K):
            dc = c[k] - c[k + 1]
            dq = c[k] * c[k] - c[k + 1] * c[k + 1]
            for i in range(pos[k], end[k]):
                ed[m] = min(max(a[i] / th[k], d1), d2)
                eb[m] = dc * a[i]
                ec[m] = dq
                m += 1
        _sort_changes(ed, eb, ec, m)
        for q in range(m + 1):
            hi = ed[q] if q < m else d2
            X = 2.0 * rB * hi + rC * hi * hi
            if hi > lo and (abs(B) < 1e-6 * rB or X * (4.0 + 1.2e-16 * j) > lim):
                B, C = _anchor(a, P1, P2, bst, srt, bk, c, th, Bn, Cn, 0.5 * (lo + hi))
                eB = 0.0
                eC = 0.0
                rB = abs(B)
                rC = C
                j = 0
            v, val = _vertex(A0, B + eB, C + eC, lo, hi)
            if val < best:
                best = val
                bestd = v
            if q < m:
                B, eB = _two_sum(B, eB, eb[q])
                C, eC = _two_sum(C, eC, ec[q])
                lo = hi
                j += 1
        return best, bestd, m + 1

    @_jit
    def _bsweep(a, P1, P2, bst, srt, bk, c, th, d1, d2, A0, Bn, Cn, best, bestd,
                margin, per, most, W):
        """_sweep without merging or sorting every level change: the changes go into
        buckets of steps by their position (about `per` each), a bucket's bound
        is _kink_bound's (from the running (B, C) at its start and the sums of its
        changes' increments) and only the buckets whose bound can reach best + margin
        are sorted and walked piece by piece.  Returns what _sweep does
        (the pieces counted are those walked).  The cell is walked whole (_walk, on
        the same runs) where the running sums over its buckets could lose the digits
        that matter (B falling a millionfold, or _drift_limit: the walk sums them
        again exactly where needed) or where it holds more than `most` changes per
        value (the flat error of floating-point formats over a wide bracket: nearly
        every bucket stays live, and one sort of all changes costs less)."""
        pos, end = W[0], W[1]
        B, C, m = _runs(a, P1, P2, bst, srt, bk, c, th, d1, d2, Bn, Cn, pos, end)
        return _bsweep_runs(a, P1, P2, bst, srt, bk, c, th, d1, d2, A0, Bn, Cn, best,
                            bestd, margin, per, most, W, B, C, m)

    @_jit
    def _bsweep_runs(a, P1, P2, bst, srt, bk, c, th, d1, d2, A0, Bn, Cn, best, bestd,
                     margin, per, most, W, B, C, m):
        """_bsweep on the runs in W[0], W[1] with (B, C) at d1 and m changes."""
        pos, end = W[0], W[1]
        st, b1, d1b, pieces, B, C = _bsweep_in(a, P1, P2, bst, srt, bk, c, th, d1, d2,
                                               A0, best, bestd, margin, per, most, pos,
                                               end, W[2], W[3], W[4], W[5], B, C, m)
        if st == 2:  # more level changes than W holds: arrays of the cell's own
            m = 0
            for k in range(th.size):
                m += max(end[k] - pos[k], 0)
            nbk = max(m // per, 1)
            st, b1, d1b, pieces, B, C = _bsweep_in(
                a, P1, P2, bst, srt, bk, c, th, d1, d2, A0, best, bestd, margin, per,
                most, pos, end, np.empty(4 * nbk), np.empty(3 * nbk + 1, np.int64),
                np.empty(m, np.int64), np.empty(3 * m + 3), B, C, m)
        if st == 1:
            return _walk(a, P1, P2, bst, srt, bk, c, th, d1, d2, A0, Bn, Cn, pos, end,
                         B, C, best, bestd, margin)
        return b1, d1b, pieces

    @_lean
    def _walk_bucket(A0, B, C, u, v, ed, eb, ec, best, bestd):
        """The best of (best, bestd) and every piece of a bucket of steps [u, v]
        with (B, C) at u and level changes at ed (increments eb, ec), sorted here."""
        m = ed.size
        if m > 32:  # a crowded bucket (rare): Shell's sort
            _shellsort3(ed, eb, ec, m)
        else:
            _insertion3(ed, eb, ec, 0, m)
        lo = u
        for q in range(m):
            hi = min(max(ed[q], lo), v)
            best, bestd = _piece(A0, B, C, lo, hi, best, bestd)
            B += eb[q]
            C += ec[q]
            lo = hi
        return _piece(A0, B, C, lo, v, best, bestd)

    @_lean
    def _bsweep_in(a, P1, P2, bst, srt, bk, c, th, d1, d2, A0, best, bestd, margin,
                   per, most, pos, end, acc, iw, key, E, B, C, m):
        """_bsweep in the given arrays (runs in pos, end, with (B, C) at d1 and m
        changes, from _runs; per bucket sums in acc, ints in iw; the changes' buckets
        in key; the live changes in E), allocating nothing: (status, best, bestd,
        pieces, B, C), status 0 done, 1 the cell is to be walked whole (_walk, from
        the runs and (B, C) at d1), 2 the arrays are too small for the cell (best,
        bestd unchanged)."""
        K = th.size
        nbk = max(m // per, 1)
        # (B, C) at a bucket's start: a compensated sum of the bucket sums (each
        # plainly summed: off by up to its count of changes times u times the sum
        # of its terms' sizes, these sizes adding up to at most 2 |B|, 2 C at d1),
        # then the bucket's own changes (plainly): _drift_limit's k is 4 + the most
        # changes of a bucket + the most of a live one (checked once known)
        X = 2.0 * abs(B) * d2 + C * d2 * d2
        lim = _drift_limit(margin)
        if m > most * (P1.size - 1) or X * 12.0 > lim:
            # a wide span of steps (or floating-point formats' flat error): the walk
            # sums B and C again exactly where needed
            return 1, best, bestd, 0, B, C
        B0 = B
        C0 = C
        w = (d2 - d1) / nbk
        inv = nbk / (d2 - d1) if d2 > d1 else 0.0
        # per bucket: the sums of its changes' increments of B and C, then (B, C)
        # at its start; and (ints) its count of changes, whether it is live, where
        # its live changes go
        if m > key.size or 4 * nbk > acc.size or 3 * nbk + 1 > iw.size:
            return 2, best, bestd, 0, B, C
        acc[:2 * nbk] = 0.0  # row r of bucket j: acc[r * nbk + j]
        iw[:3 * nbk + 1] = 0
        m = 0
        for k in range(K):
            ik = 1.0 / th[k]
            dc = c[k] - c[k + 1]
            dq = c[k] * c[k] - c[k + 1] * c[k + 1]
            for i in range(pos[k], end[k]):
                ai = a[i]
                j = min(max(np.int64((ai * ik - d1) * inv), 0), nbk - 1)
                key[m] = j
                m += 1
                iw[j] += 1
                acc[j] += dc * ai
                acc[nbk + j] += dq
        most_any = 0
        for j in range(nbk):
            most_any = max(most_any, iw[j])
        if X * (4.0 + most_any) > lim:
            return 1, best, bestd, 0, B, C
        # bounds, bucket by bucket; the start of each bucket's (B, C)
        eB = 0.0
        eC = 0.0
        nlive = 0
        lbest = np.inf
        jbest = 0
        ref = abs(B)
        iwd = 1.0 / w if w > 0.0 else 0.0
        for j in range(nbk):
            Bj = B + eB
            Cj = C + eC
            acc[2 * nbk + j] = Bj
            acc[3 * nbk + j] = Cj
            if abs(B) < 1e-6 * ref:
                return 1, best, bestd, 0, B0, C0
            u = d1 + j * w
            v = d2 if j == nbk - 1 else u + w
            # _kink_bound's quadratic, (v - u) = w but in the last bucket (there
            # about w: the bound moves by rounding errors the margin covers)
            G = -acc[nbk + j]
            kap = min(max((G * v + 2.0 * acc[j]) * iwd, 0.0), G)
            lb = _qmin(A0, Bj - 0.5 * kap * u, Cj - kap, u, v)
            if lb <= best + margin:
                iw[nbk + j] = 1
                nlive += 1
                if lb < lbest:
                    lbest = lb
                    jbest = j
            B, eB = _two_sum(B, eB, acc[j])
            C, eC = _two_sum(C, eC, acc[nbk + j])
            acc[j] = lb  # the sums are no longer needed
        if nlive == 0:
            return 0, best, bestd, 0, B0, C0
        # the live buckets' changes, placed bucket by bucket, each bucket sorted
        # (a few changes: an insertion sort) and walked piece by piece, the one of
        # least bound first: the best it finds often rules out the others
        o = 2 * nbk  # iw[o + j]: where bucket j's live changes start
        most_live = 0
        run = np.int64(0)
        for j in range(nbk):
            cj = iw[j] * iw[nbk + j]  # its changes if live
            most_live = max(most_live, cj)
            iw[j] = run  # the counts are no longer needed: the next free place
            run += cj
            iw[o + j + 1] = run
        if X * (4.0 + most_any + most_live) > lim:
            return 1, best, bestd, 0, B0, C0
        if 3 * run > E.size:
            return 2, best, bestd, 0, B0, C0
        ed = E[:run]
        eb = E[run:2 * run]
        ec = E[2 * run:3 * run]
        t = 0
        for k in range(K):
            ik = 1.0 / th[k]
            dc = c[k] - c[k + 1]
            dq = c[k] * c[k] - c[k + 1] * c[k + 1]
            for i in range(pos[k], end[k]):
                j = key[t]
                t += 1
                if iw[nbk + j]:
                    q = iw[j]
                    iw[j] = q + 1
                    ed[q] = a[i] * ik
                    eb[q] = dc * a[i]
                    ec[q] = dq
        pieces = 0
        for jj in range(-1, nbk):
            j = jbest if jj < 0 else jj
            if not iw[nbk + j] or (jj >= 0 and (j == jbest or acc[j] > best + margin)):
                continue
            o1 = iw[o + j]
            o2 = iw[o + j + 1]
            best, bestd = _walk_bucket(A0, acc[2 * nbk + j], acc[3 * nbk + j],
                                       d1 + j * w, d2 if j == nbk - 1 else
                                       d1 + (j + 1) * w, ed[o1:o2], eb[o1:o2],
                                       ec[o1:o2], best, bestd)
            pieces += o2 - o1 + 1
        return 0, best, bestd, pieces, B0, C0
