r"""Compiled batched solver: the certified optimum of many rows (channels, groups).

Private to :mod:`qerror.data.solver`.  The rows are split into spans, each solved by
one thread (``_kernels.run_spans``); a row's work is independent of every other
row's, so a group solved in a batch gives the same optimum as the group solved alone.
A span allocates its arrays once (``_rowdata._row_space``, ``_sweeps._sweep_space``)
and reuses them row after row; a row of at most ``_DIRECT`` values is solved by
``_exact_short``, which allocates nothing and runs without reference counting
(``_kernels.LEAN``), and handed to ``_exact_row`` where its sweep needs more.

For each row the magnitudes are bucketed (:mod:`qerror.data._rowdata`: a bucket is
sorted the first time a search lands in it, and prefix sums of :math:`a`, :math:`a^2`
give the error on any set of levels in :math:`O(K)` searches).  Then, with
:math:`N E(\Delta) = A - 2B\Delta + C\Delta^2` on each piece (see
:mod:`qerror.data.solver`):

1. an upper bound :math:`U`: Lloyd's iteration :math:`\Delta \leftarrow B/C` (each
   step lowers :math:`E`) from the ACIQ model's optimum on the row, which is near the
   exact one in practice;
2. a bracket: the clipping error alone, :math:`\sum_{a > c_K\Delta}(a - c_K\Delta)^2`,
   falls with :math:`\Delta` and exceeds :math:`U` below :math:`\Delta_{lo}`; the error
   of the values below the lowest level (or rounding to a zero level) rises with
   :math:`\Delta` and exceeds :math:`U` above :math:`\Delta_{hi}`.  Each of these
   searches first finds its bucket from the buckets' least values and the prefix
   sums at bucket starts (no bucket sorted but the one it ends in);
3. rows of at most ``_DIRECT`` values: the bracket is swept at once; longer rows:
   branch and bound on :math:`[\Delta_{lo}, \Delta_{hi}]` over cells between
   boundaries.  At a boundary :math:`D` the solver keeps :math:`(B, C)` and where
   each level starts (``_boundary``: :math:`K` searches); the first are
   :math:`\Delta_{lo}`, Lloyd's step times :math:`1 \pm` ``_WINDOW`` and
   :math:`\Delta_{hi}`.  On a cell :math:`[u, v]` each level change
   :math:`t_i = a_i/\theta_k` lowers :math:`NE` by :math:`w_i\Delta(\Delta - t_i)`
   beyond it (:math:`w_i = 2\theta_k(c_{k+1} - c_k)`, the thresholds being the
   levels' midpoints), so :math:`NE = Q_u(\Delta) - \Delta f(\Delta)` with
   :math:`Q_u` the quadratic at :math:`u` and :math:`f` convex, zero at :math:`u`:
   below its chord, :math:`NE \ge Q_u(\Delta) - \Delta(\Delta - u)(Gv - 2S)/(v - u)`
   with :math:`G = C_u - C_v`, :math:`S = B_u - B_v` (``_sweeps._kink_bound``: exact
   at both ends, tight on narrow cells).  A cell whose bound exceeds the best error
   is discarded; one holding at most ``_BSWEEP`` level changes (``_SWEEP_PER_K`` per
   threshold with more than ``_MERGE_K`` thresholds) is swept; otherwise it is
   shrunk to the steps where the bound can still reach the best (between the
   quadratic's roots: two new boundaries, if that removes 30% of it) or split at its
   geometric middle (one new boundary), the half nearer Lloyd's step first;
4. a sweep (``_bsweep``, :mod:`qerror.data._sweeps`) puts the cell's level changes
   :math:`a_i/\theta_k` into buckets of steps (about ``_PER_BUCKET`` each) without
   sorting them; each bucket gets the same bound as a cell, from the running
   :math:`(B, C)` at its start and the sums of its changes' increments (a value it
   sweeps :math:`r` times counts :math:`r` times, which the bound allows), and only
   the buckets whose bound can reach the best are sorted and walked piece by piece
   (``_sweep``, the exact walk of a whole cell, remains where the running sums of
   :math:`B`, :math:`C` over the buckets could lose the digits that matter: the walk
   sums them again exactly there).  A piece whose quadratic's minimum cannot beat
   the best is skipped without locating it.

The error at the optimum is then summed value by value, level by level (no
cancellation).  The ACIQ model's optimum (convex) is the root of
:math:`\kappa\alpha N = \sum_{a>\alpha}(a-\alpha)` found on the sorted values.
"""

from __future__ import annotations

import numpy as np

from ._kernels import HAVE_NUMBA, LEAN, _nb, run_spans
from ._sweeps import _MERGE_K, _PER_BUCKET

__all__ = ["HAVE_NUMBA", "solve_rows"]

_SWEEP = 256  # a cell with at most this many level changes is enumerated exactly
# ... or this many per threshold when there are more than _MERGE_K thresholds
_SWEEP_PER_K = 256
# rows up to this length skip the bounds: every piece in the bracket is enumerated
_DIRECT = 256
# initial cells of the two-sided solver (_rows2): one per this many values
_PER_CELL = 1024
# the first cells: the steps within this fraction of Lloyd's, and either side
_WINDOW = 0.02
# Lloyd iterations for the upper bound
_LLOYD = 2
# rows up to this length are sorted by numpy first; longer ones are bucketed
_PRESORT = 256
# a cell with at most this many level changes is swept by buckets (_bsweep)
_BSWEEP = 256
# ... unless the cell holds more than this many changes per value (then _sweep)
_BS_PER_VALUE = 32


if HAVE_NUMBA:  # pragma: no cover - compiled code is not traced by coverage
    from ._pieces import _shrink
    from ._rowdata import (
        _NONE8,
        _at,
        _below,
        _bucket_of,
        _count8,
        _fill_row,
        _idx,  # noqa: F401 - the row tests search rows through this module
        _make_row,  # noqa: F401 - the row tests build rows through this module
        _row_space,
        _runs,
        _short8,
        _sqd,
    )
    from ._sweeps import (  # noqa: F401 - _bsweep, _sweep: the row tests call them here
        _anchor,
        _boundary,
        _bsweep,
        _bsweep_in,
        _bsweep_runs,
        _cell,
        _kink_bound,
        _kink_coefs,
        _sweep,
        _sweep_space,
    )

    _jit = _nb.njit(cache=True, nogil=True)
    _lean = _nb.njit(**LEAN)  # allocates nothing (see _kernels.LEAN)

    @_lean
    def _error_at(a, P1, P2, bst, srt, bk, c, th, A0, Bn, Cn, d):
        """N E at the step d and the step of Lloyd's update B / C from it."""
        B, C = _anchor(a, P1, P2, bst, srt, bk, c, th, Bn, Cn, d)
        return A0 - 2.0 * B * d + C * d * d, B / C if C > 0.0 else d

    @_lean
    def _bracket(a, P1, P2, bst, srt, bk, c, th, A0, Bn, Cn, nn, sn, qn, margin,
                 afac):
        """Lloyd's upper bound (best error, its step) and the bracket of steps
        outside which the error provably exceeds it."""
        n = P1.size - 1
        K = th.size
        c0 = c[0]
        cK = c[K]
        amax = _at(a, P1, P2, bst, srt, bk, n - 1)
        # 1. Lloyd's iteration from the ACIQ model's optimum (near the exact one)
        best = np.inf
        bestd = amax / cK
        d = _aciq_row(a, P1, P2, bst, srt, bk, 1.0 / (12.0 * afac * afac),
                      np.float64(n)) / afac
        if not (d > 0.0 and d < bestd):
            d = bestd
        for _ in range(_LLOYD if n > _DIRECT else 1):  # short rows: swept in full
            val, dn = _error_at(a, P1, P2, bst, srt, bk, c, th, A0, Bn, Cn, d)
            if val < best:
                best = val
                bestd = d
            if not dn > 0.0 or abs(dn - d) <= 1e-15 * d:
                break  # converged, or the update leaves the steps (unsigned grid)
            d = dn
        U = best + margin
        # 2a. lower end: the clipping error alone, sum_{a > cK D} (a - cK D)^2 > U
        dlo = amax * 2.0**-60
        if _sqd(P1, P2, 1, n, _at(a, P1, P2, bst, srt, bk, 0)) > U:
            # T(a_lo / cK) > U >= T(a_hi / cK); a[lo + 1:hi] in one sorted bucket
            k = _bucket_of(a, P1, P2, bst, srt, bk, 1, U, 0.0, 0.0, 0.0)
            lo, hi = max(bst[k] - 1, 0), min(bst[k + 1], n - 1)
            while hi - lo > 1:
                mid = (lo + hi) >> 1
                if _sqd(P1, P2, mid + 1, n, a[mid]) > U:
                    lo = mid
                else:
                    hi = mid
            a_lo = _at(a, P1, P2, bst, srt, bk, lo)
            a_hi = _at(a, P1, P2, bst, srt, bk, lo + 1)
            cnt = n - lo - 1
            S = P1[n] - P1[lo + 1]
            Q = P2[n] - P2[lo + 1]
            xr = (S - np.sqrt(max(S * S - cnt * (Q - U), 0.0))) / cnt
            dlo = max(a_lo, min(xr, a_hi)) / cK * (1.0 - 1e-9)
        # 2b. upper end: the values below the lowest level (c0 > 0) or rounding to a
        # zero level (c0 = 0), and the negatives of the unsigned grid, exceed U
        if c0 == 0.0:
            t0 = th[0]
            dhi = amax / t0
            if P2[n] + qn > U:
                # P2[lo + 1] + qn <= U < P2[hi + 1] + qn; P2 in one sorted bucket
                k = _bucket_of(a, P1, P2, bst, srt, bk, 2, U - qn, 0.0, 0.0, 0.0)
                lo, hi = bst[k] - 1, min(bst[k + 1], n - 1)
                while hi - lo > 1:
                    mid = (lo + hi) >> 1
                    if P2[mid + 1] + qn > U:
                        hi = mid
                    else:
                        lo = mid
                dhi = _at(a, P1, P2, bst, srt, bk, hi) / t0 * (1.0 + 1e-9)
        else:
            # L(x = c0 D) = sum_{a < x} (x - a)^2 + qn + 2 x sn + x^2 nn, increasing
            a0 = _at(a, P1, P2, bst, srt, bk, 0)
            lo, hi = 0, n  # L(a_lo) <= U < L(a_hi)
            if qn + 2.0 * a0 * sn + a0 * a0 * nn > U:
                hi = 0
            else:
                k = _bucket_of(a, P1, P2, bst, srt, bk, 3, U, qn, sn, nn)
                lo, hi = max(bst[k] - 1, 0), bst[k + 1]
                while hi - lo > 1:
                    mid = (lo + hi) >> 1
                    x = a[mid]
                    L = _sqd(P1, P2, 0, mid, x) + qn + 2.0 * x * sn + x * x * nn
                    if L > U:
                        hi = mid
                    else:
                        lo = mid
            # below a[hi] the values a[:hi] are below x: solve L(x) = U there
            cnt = hi + nn
            S = P1[hi] - sn
            Q = P2[hi] + qn
            xr = (S + np.sqrt(max(S * S - cnt * (Q - U), 0.0))) / cnt
            if hi < n:
                xr = min(xr, _at(a, P1, P2, bst, srt, bk, hi))
            dhi = xr / c0 * (1.0 + 1e-9)
        return best, bestd, min(dlo, bestd), max(dhi, bestd)

    @_lean
    def _exact_short(a, P1, P2, bst, srt, bk, c, th, A0, Bn, Cn, nn, sn, qn, margin,
                     afac, pos, end, acc, iw, key, E):
        """_exact_row for a row of at most _DIRECT values (swept at once), in the
        given arrays and allocating nothing: (done, step, pieces); not done where
        _bsweep_in needs a walk or more room (then _exact_row solves the row)."""
        if th.size == 0:
            return False, 0.0, 0
        best, bestd, dlo, dhi = _bracket(a, P1, P2, bst, srt, bk, c, th, A0, Bn, Cn,
                                         nn, sn, qn, margin, afac)
        B, C, m = _runs(a, P1, P2, bst, srt, bk, c, th, dlo, dhi, Bn, Cn, pos, end)
        st, best, bestd, pieces, _, _ = _bsweep_in(a, P1, P2, bst, srt, bk, c, th, dlo,
                                                   dhi, A0, best, bestd, margin,
                                                   _PER_BUCKET, _BS_PER_VALUE, pos, end,
                                                   acc, iw, key, E, B, C, m)
        return st == 0, bestd, pieces

    @_jit
    def _exact_row(a, P1, P2, bst, srt, bk, c, th, A0, Bn, Cn, nn, sn, qn, margin,
                   afac, W):
        """The step minimising N*E for one row (see the module docstring) and the
        number of pieces enumerated."""
        if th.size == 0:  # one magnitude level (1-bit midrise): one quadratic
            n = P1.size - 1
            B = c[0] * P1[n] + Bn
            C = c[0] * c[0] * n + Cn
            return B / C, 1
        best, bestd, dlo, dhi = _bracket(a, P1, P2, bst, srt, bk, c, th, A0, Bn, Cn,
                                         nn, sn, qn, margin, afac)
        pieces = 0
        # 3. branch and bound on [dlo, dhi]
        n = P1.size - 1
        if n <= _DIRECT:
            best, bestd, pieces = _bsweep(a, P1, P2, bst, srt, bk, c, th, dlo, dhi,
                                          A0, Bn, Cn, best, bestd, margin,
                                          _PER_BUCKET, _BS_PER_VALUE, W)
            return bestd, pieces
        K = th.size
        # many thresholds: a cell's bound costs O(K) searches, a level change swept
        # O(1) (sorted in O(m)): sweep larger cells
        sweep = _BSWEEP if K <= _MERGE_K else _SWEEP_PER_K * K
        # cells between boundaries; a boundary: its step, (B, C) there and its
        # levels' starts (a cell's level changes are the values between its ends')
        bv, bi, stk = W[6], W[7], W[8]
        cap = stk.size // 2
        while cap < 4:  # room for the first boundaries
            bv, bi, stk = _grow(bv, bi, stk, cap, K)
            cap *= 2
        pos, end = W[0], W[1]
        nbd = 0
        w0 = _WINDOW * bestd
        for d in (dlo, bestd - w0, bestd + w0, dhi):
            if d >= dlo and d <= dhi and (nbd == 0 or d > bv[nbd - 1]):
                B, C = _boundary(a, P1, P2, bst, srt, bk, c, th, Bn, Cn, d,
                                 bi[nbd * K:(nbd + 1) * K])
                bv[nbd], bv[cap + nbd], bv[2 * cap + nbd] = d, B, C
                nbd += 1
        top = 0
        hold = -1
        for q in range(nbd - 1):  # the cell holding bestd on top
            if hold < 0 and bv[q] <= bestd and bestd <= bv[q + 1]:
                hold = q
            else:
                stk[2 * top], stk[2 * top + 1] = q, q + 1
                top += 1
        if hold >= 0:
            stk[2 * top], stk[2 * top + 1] = hold, hold + 1
            top += 1
        while top > 0:
            top -= 1
            i, j = stk[2 * top], stk[2 * top + 1]
            u, v = bv[i], bv[j]
            Bu, Bv = bv[cap + i], bv[cap + j]
            Cu, Cv = bv[2 * cap + i], bv[2 * cap + j]
            G = Cu - Cv
            U = best + margin
            if _kink_bound(A0, Bu, Cu, Bu - Bv, G, u, v) > U:
                continue
            m = 0
            for k in range(K):
                m += bi[j * K + k] - bi[i * K + k]
            if m <= sweep or v <= u * (1.0 + 1e-12):
                for k in range(K):
                    pos[k] = bi[i * K + k]
                    end[k] = bi[j * K + k]
                best, bestd, swept = _bsweep_runs(a, P1, P2, bst, srt, bk, c, th, u, v,
                                                  A0, Bn, Cn, best, bestd, margin,
                                                  _PER_BUCKET, _BS_PER_VALUE, W, Bu, Cu,
                                                  m)
                pieces += swept
                continue
            # where the quadratic of _kink_bound is at most U
            Bk, Ck = _kink_coefs(Bu, Cu, Bu - Bv, G, u, v)
            r1, r2 = _shrink(A0, Bk, Ck, 0.0, U, u, v)
            if r2 < r1:
                continue
            if nbd + 2 > cap or top + 2 > cap:  # more room (rare)
                bv, bi, stk = _grow(bv, bi, stk, cap, K)
                cap *= 2
            if r2 - r1 < 0.7 * (v - u) and r2 - r1 > 1e-6 * v:
                # narrower: the cell again between new boundaries
                for d in (r1, r2):
                    B, C = _boundary(a, P1, P2, bst, srt, bk, c, th, Bn, Cn, d,
                                     bi[nbd * K:(nbd + 1) * K])
                    bv[nbd], bv[cap + nbd], bv[2 * cap + nbd] = d, B, C
                    nbd += 1
                stk[2 * top], stk[2 * top + 1] = nbd - 2, nbd - 1
                top += 1
                continue
            dm = np.sqrt(u) * np.sqrt(v)
            B, C = _boundary(a, P1, P2, bst, srt, bk, c, th, Bn, Cn, dm,
                             bi[nbd * K:(nbd + 1) * K])
            bv[nbd], bv[cap + nbd], bv[2 * cap + nbd] = dm, B, C
            # the half nearer the best step on top
            lo_first = bestd < dm
            stk[2 * top], stk[2 * top + 1] = (nbd, j) if lo_first else (i, nbd)
            stk[2 * top + 2], stk[2 * top + 3] = (i, nbd) if lo_first else (nbd, j)
            top += 2
            nbd += 1
        return bestd, pieces

    @_jit
    def _grow(bv, bi, stk, cap, K):
        """The boundary arrays of _exact_row with twice the room."""
        nv = np.empty(6 * cap)
        for r in range(3):
            nv[2 * r * cap:2 * r * cap + cap] = bv[r * cap:(r + 1) * cap]
        ni = np.empty(2 * cap * K, dtype=np.int64)
        ni[:cap * K] = bi[:cap * K]
        ns = np.empty(4 * cap, dtype=np.int64)
        ns[:2 * cap] = stk[:2 * cap]
        return nv, ni, ns

    @_lean
    def _error_parts(a, P1, P2, bst, srt, bk, c, th, d, hi):
        """(sum of squared errors, the part of the values above hi >= the top
        threshold) at step d, value by value in four partial sums, level by level."""
        K = th.size
        n = P1.size - 1
        tot = 0.0
        out = 0.0
        i0 = 0
        short = _short8(bst, srt, th)
        cnt = _count8(a, bst, th, d) if short else _NONE8
        for k in range(K + 1):
            i1 = n if k == K else _below(a, P1, P2, bst, srt, bk, th, d, k, cnt, short)
            L = c[k] * d
            s0 = 0.0
            s1 = 0.0
            s2 = 0.0
            s3 = 0.0
            i = i0
            while i + 4 <= i1:
                e0 = a[i] - L
                e1 = a[i + 1] - L
                e2 = a[i + 2] - L
                e3 = a[i + 3] - L
                s0 += e0 * e0
                s1 += e1 * e1
                s2 += e2 * e2
                s3 += e3 * e3
                i += 4
            while i < i1:
                e0 = a[i] - L
                s0 += e0 * e0
                i += 1
            tot += (s0 + s1) + (s2 + s3)
            if k == K:
                for i in range(i0, i1):
                    if a[i] > hi:
                        out += (a[i] - L) * (a[i] - L)
            i0 = i1
        return tot, out

    @_lean
    def _aciq_row(a, P1, P2, bst, srt, bk, kappa, N):
        """Root of kappa alpha N = sum_{a > alpha} (a - alpha)."""
        n = P1.size - 1
        # g(a_i) = kappa N a_i - (sum_{j > i} a_j - a_i (n - 1 - i)), increasing in i
        # g(a_lo) < 0 <= g(a_hi); the root's bucket first (a[lo + 1:hi] is sorted)
        k = _bucket_of(a, P1, P2, bst, srt, bk, 0, kappa * N, 0.0, 0.0, 0.0)
        lo, hi = bst[k] - 1, min(bst[k + 1], n - 1)
        while hi - lo > 1:
            mid = (lo + hi) >> 1
            am = a[mid]
            g = kappa * N * am - ((P1[n] - P1[mid + 1]) - am * (n - 1 - mid))
            if g >= 0.0:
                hi = mid
            else:
                lo = mid
        _at(a, P1, P2, bst, srt, bk, hi)
        # alpha in [a_lo, a_hi]: the values a_hi.. are above it
        return (P1[n] - P1[hi]) / (kappa * N + (n - hi))

    @_jit
    def _solve_span_nb(X, r0, r1, signed, presorted, c, th, afac, exact, margin_rel,
                       alpha, sse, tsse, valid, bad, npieces):
        N = X.shape[1]
        kappa = 1.0 / (12.0 * afac * afac)
        c0 = c[0]
        # arrays reused row after row (_rowdata._make_row, inline)
        tmp, keys, bst0, srt0, bk, buf, Q1, Q2, fill = _row_space(N, presorted, 1 << 14)
        W = _sweep_space(N, th.size)
        for r in range(r0, r1):
            n, nn, sn, qn, f, nb = _fill_row(X[r], signed, presorted, tmp, keys, bst0,
                                             srt0, bk, buf, Q1, Q2, fill)
            a = tmp[:n] if nb == 1 else buf[:n]
            P1 = Q1[:n + 1]
            P2 = Q2[:n + 1]
            bst = bst0[:nb + 1]
            srt = srt0[:nb]
            if nn < 0.0:
                bad[r] = True
                continue
            if n == 0 or not _at(a, P1, P2, bst, srt, bk, n - 1) > 0.0:
                continue
            valid[r] = True
            if exact:
                A0 = P2[n] + qn
                done = False
                if n <= _DIRECT:  # the common short row: no reference counting
                    done, d, npieces[r] = _exact_short(
                        a, P1, P2, bst, srt, bk, c, th, A0, -c0 * sn, c0 * c0 * nn, nn,
                        sn, qn, margin_rel * A0, afac, W[0], W[1], W[2], W[3], W[4],
                        W[5])
                if not done:
                    d, npieces[r] = _exact_row(a, P1, P2, bst, srt, bk, c, th, A0,
                                               -c0 * sn, c0 * c0 * nn, nn, sn, qn,
                                               margin_rel * A0, afac, W)
                al = afac * d
                # the error at the optimum, value by value
                neg = qn + 2.0 * c0 * d * sn + c0 * c0 * d * d * nn
                s, t = _error_parts(a, P1, P2, bst, srt, bk, c, th, d, al)
                s += neg
                t += neg
            else:
                al = _aciq_row(a, P1, P2, bst, srt, bk, kappa, np.float64(N))
                t = qn
                for i in range(n):
                    if a[i] > al:
                        t += (a[i] - al) * (a[i] - al)
                s = t
            alpha[r] = al / f
            sse[r] = s / f / f
            tsse[r] = t / f / f


def solve_rows(rows: np.ndarray, lv, exact: bool, margin_rel: float):
    """Per row of the (rows, values) array: alpha, N*E (exact model; the ACIQ model:
    N times its truncation part), N times the truncation part, whether the row has
    anything to quantize (``False``: all zero, or no value above zero on the unsigned
    grid), whether it holds a NaN or inf, and the number of pieces of E enumerated.
    Needs numba; the rows are split into one span per thread (``_kernels.run_spans``)."""
    X = rows
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    X = np.ascontiguousarray(X)
    if X.flags.writeable:  # one compiled signature: every input reaches it read-only
        X = X.view()
        X.flags.writeable = False
    presorted = X.shape[1] <= _PRESORT
    signed = bool(lv.signed)
    c = np.ascontiguousarray(lv.c, dtype=np.float64)
    th = np.ascontiguousarray(lv.theta, dtype=np.float64)
    if not np.allclose(th, 0.5 * (c[1:] + c[:-1]), rtol=1e-12, atol=0.0):
        # the bounds (_sweeps._kink_bound) take each value to its nearest level
        raise ValueError("the row solver needs thresholds midway between the levels "
                         "(rounding to the nearest level)")
    R = X.shape[0]
    out = (np.zeros(R), np.zeros(R), np.zeros(R), np.zeros(R, dtype=bool),
           np.zeros(R, dtype=bool), np.zeros(R, dtype=np.int64))

    def span(r0, r1):
        if presorted:  # numpy's vectorised sort is fastest on short rows (per span:
            # the sorts of the spans run in parallel, numpy releasing the GIL)
            Xs = np.abs(X[r0:r1]) if signed else X[r0:r1].copy()
            Xs.sort(axis=1)  # in place: no second copy
            Xs.flags.writeable = False
            _solve_span_nb(Xs, 0, r1 - r0, signed, True, c, th, float(lv.afac),
                           bool(exact), float(margin_rel), *(o[r0:r1] for o in out))
        else:
            _solve_span_nb(X, r0, r1, signed, False, c, th, float(lv.afac), bool(exact),
                           float(margin_rel), *out)

    run_spans(span, R, cost=X.size)
    return out
