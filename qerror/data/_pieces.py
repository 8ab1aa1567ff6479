r"""Compiled arithmetic on the pieces of the piecewise-quadratic error.

Private to the row solvers (:mod:`qerror.data._rows`, :mod:`qerror.data._rows2`): on
a piece the error times N is the quadratic :math:`A - 2B\Delta + C\Delta^2` in the
step :math:`\Delta`.
"""

from __future__ import annotations

import numpy as np

from ._kernels import HAVE_NUMBA, LEAN, _nb

if HAVE_NUMBA:  # pragma: no cover - compiled code is not traced by coverage
    _jit = _nb.njit(cache=True, nogil=True)
    _lean = _nb.njit(**LEAN)  # allocates nothing (see _kernels.LEAN)

    @_jit
    def _shrink(A, B, C, gap, U, d1, d2):
        """The part of [d1, d2] where the bound A - 2 B D + C D^2 + gap is at most U:
        between the roots, widened by far more than their rounding error (about
        sqrt(eps) B / C where the roots nearly coincide); empty if r2 < r1."""
        disc = B * B + C * (U - gap - A)
        if not C > 0.0:
            return d1, d2
        if disc < 0.0:
            return d2, d1
        sq = np.sqrt(disc)
        pad = 1e-7 * d2
        return max((B - sq) / C - pad, d1), min((B + sq) / C + pad, d2)

    @_jit
    def _vertex(A, B, C, lo, hi):
        if C > 0.0:
            v = min(max(B / C, lo), hi)
        else:
            v = lo
        return v, A - 2.0 * B * v + C * v * v

    @_jit
    def _qmin(A, B, C, lo, hi):
        """The least of A - 2 B D + C D^2 on [lo, hi], also where C <= 0 (a bound's
        quadratic can be concave, see _sweeps._bsweep: then at an end)."""
        if C > 0.0:
            v = min(max(B / C, lo), hi)
            return A - 2.0 * B * v + C * v * v
        return A + min(-2.0 * B * lo + C * lo * lo, -2.0 * B * hi + C * hi * hi)

    @_jit
    def _drift_limit(margin):
        """Where the coefficients (B, C) of a walk, summed from their last exact
        values (_anchor) with X = 2 |B| D + C D^2 there and D the current step, can
        be off by up to k u (|B|, C) (u = 2^-53), the error of N E = A - 2 B D + C D^2
        is at most k u X: they are summed again exactly once X k > this (a quarter of
        the margin over 2u).  Running sums are compensated (_two_sum: k about 4,
        whatever the number of changes; plain sums gave k = the number of changes,
        and FP8 E5M2 rows of 4096 values drifted to 1.2e-12 sum a^2)."""
        return 0.25 * margin / (2.0 * 1.12e-16)

    @_jit
    def _two_sum(s, e, x):
        """(s, e) + x with s + e the compensated sum (Knuth's TwoSum)."""
        t = s + x
        b = t - s
        return t, e + ((s - (t - b)) + (x - b))

    @_lean
    def _next_change(head):
        """(run, step) of the smallest head: the next level change (branch-free)."""
        kb = 0
        vb = head[0]
        for k in range(1, head.size):
            h = head[k]
            kb = k if h < vb else kb
            vb = h if h < vb else vb
        return kb, vb

    @_jit
    def _piece(A0, B, C, lo, hi, best, bestd):
        """The better of (best, bestd) and the least of A0 - 2 B D + C D^2 on [lo, hi];
        the piece is looked at only if the quadratic's minimum A0 - B^2 / C can improve
        on the best."""
        if C <= 0.0 or A0 * C - B * B < best * C:
            if C > 0.0 and B >= C * lo and B <= C * hi:
                v = B / C
                return A0 - B * v, v
            e = lo if (C <= 0.0 or B < C * lo) else hi
            val = A0 - 2.0 * B * e + C * e * e
            if val < best:
                return val, e
        return best, bestd

    @_lean
    def _shellsort3(d, b, cc, m):
        """Sort d[:m] ascending, carrying b and cc along (Ciura's gaps)."""
        for gap in (701, 301, 132, 57, 23, 10, 4, 1):
            if gap >= m:
                continue
            for i in range(gap, m):
                v, vb, vc = d[i], b[i], cc[i]
                j = i
                while j >= gap and d[j - gap] > v:
                    d[j] = d[j - gap]
                    b[j] = b[j - gap]
                    cc[j] = cc[j - gap]
                    j -= gap
                d[j] = v
                b[j] = vb
                cc[j] = vc

    @_lean
    def _insertion3(d, b, cc, lo, hi):
        """Sort d[lo:hi] ascending by insertion, carrying b and cc along (few values,
        or values nearly in order)."""
        for i in range(lo + 1, hi):
            v, vb, vc = d[i], b[i], cc[i]
            j = i
            while j > lo and d[j - 1] > v:
                d[j] = d[j - 1]
                b[j] = b[j - 1]
                cc[j] = cc[j - 1]
                j -= 1
            d[j] = v
            b[j] = vb
            cc[j] = vc

    @_jit
    def _sort_changes(d, b, cc, m):
        """Sort the level changes d[:m] (steps > 0) ascending, carrying b and cc along.

        Many changes (high bit-widths, floating-point formats: thousands per row) go
        into about one bucket each by their float bits (monotone for positive floats),
        bucket by bucket, and an insertion sort finishes the few left out of order;
        O(m) where a comparison sort is O(m log m)."""
        if m < 64:
            _shellsort3(d, b, cc, m)
            return
        lo = d[0]
        hi = d[0]
        for i in range(m):
            lo = min(lo, d[i])
            hi = max(hi, d[i])
        if not (lo > 0.0 and hi < np.inf):
            _shellsort3(d, b, cc, m)
            return
        ulo = np.float64(lo).view(np.int64)
        span = np.float64(hi).view(np.int64) - ulo
        s = 0
        while (span >> s) >= m:
            s += 1
        cnt = np.zeros((span >> s) + 2, dtype=np.int64)
        key = np.empty(m, dtype=np.int64)
        for i in range(m):
            k = (np.float64(d[i]).view(np.int64) - ulo) >> s
            key[i] = k
            cnt[k + 1] += 1
        for k in range(1, cnt.size):
            cnt[k] += cnt[k - 1]
        td = np.empty(m)
        tb = np.empty(m)
        tc = np.empty(m)
        for i in range(m):
            j = cnt[key[i]]
            cnt[key[i]] = j + 1
            td[j] = d[i]
            tb[j] = b[i]
            tc[j] = cc[i]
        _insertion3(td, tb, tc, 0, m)  # values are out of order only in a bucket
        d[:m] = td
        b[:m] = tb
        cc[:m] = tc
