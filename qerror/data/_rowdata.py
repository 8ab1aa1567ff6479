r"""A row of the compiled row solvers: its magnitudes in buckets, found by search.

Private to :mod:`qerror.data._rows` (and the two-sided :mod:`qerror.data._rows2`,
:mod:`qerror.data._sides2`).  The magnitudes are grouped into buckets by their float64
key (exponent and top mantissa bits, so a value's bucket is computed, not searched),
a bucket is sorted the first time a search lands in it, and prefix sums of :math:`a`,
:math:`a^2` give any sum over the values below a threshold in one search.
"""

from __future__ import annotations

import numpy as np

from ._kernels import HAVE_NUMBA, LEAN, _nb

# sorted rows up to this length are searched by counting
_COUNT = 256
_NONE8 = (0, 0, 0, 0, 0, 0, 0, 0)

if HAVE_NUMBA:  # pragma: no cover - compiled code is not traced by coverage
    from numba import types
    from numba.extending import overload

    _jit = _nb.njit(cache=True, nogil=True)
    _lean = _nb.njit(**LEAN)  # allocates nothing (see _kernels.LEAN)

    def _absmax(x):
        """max |x| of a float32 or float64 array (NaN or inf if there is one): the
        largest of the bits without the sign, a loop that vectorises (a float
        comparison with a NaN test does not; on 4096 float32 values 4.4 -> 0.3 us)."""

    @overload(_absmax, jit_options={"cache": True, "nogil": True})
    def _absmax_impl(x):
        if x.dtype == types.float32:
            def impl(x):
                u = x.view(np.uint32)
                b = np.uint32(0)
                for i in range(u.size):
                    b = max(b, u[i] & np.uint32(0x7FFFFFFF))
                return np.float64(np.uint32(b).view(np.float32))
        else:
            def impl(x):
                u = x.view(np.uint64)
                b = np.uint64(0)
                for i in range(u.size):
                    b = max(b, u[i] & np.uint64(0x7FFFFFFFFFFFFFFF))
                return np.uint64(b).view(np.float64)
        return impl

    @_jit
    def _absmax_row(x):
        """_absmax from Python (tests)."""
        return _absmax(x)

    # A row is the tuple (a, P1, P2, bst, srt, bk): the magnitudes `a` in buckets
    # (bucket k = a[bst[k]:bst[k+1]], the values whose key max(bits >> (52 - m) - base,
    # 0) is k; bk = (m, base)), prefix sums of a and a**2, and whether each bucket is
    # sorted yet (it is, with its prefix sums, the first time a search lands in it).

    @_lean
    def _shellsort(a, lo, hi):
        """Sort a[lo:hi] ascending in place (Ciura's gaps)."""
        m = hi - lo
        for gap in (701, 301, 132, 57, 23, 10, 4, 1):
            if gap >= m:
                continue
            for i in range(lo + gap, hi):
                v = a[i]
                j = i
                while j - lo >= gap and a[j - gap] > v:
                    a[j] = a[j - gap]
                    j -= gap
                a[j] = v

    @_lean
    def _bs(a, lo, hi, t):
        """lo + the number of values in the sorted a[lo:hi] below t (branch-free)."""
        m = hi - lo
        if m <= 0:
            return lo
        b = lo
        while m > 1:
            half = m >> 1
            b = b + half if a[b + half] < t else b
            m -= half
        return b + (1 if a[b] < t else 0)

    @_lean
    def _sort_bucket(a, P1, P2, bst, srt, bk, k):
        lo, hi = bst[k], bst[k + 1]
        if hi - lo > 1:
            _shellsort(a, lo, hi)
            for i in range(lo, hi - 1):
                P1[i + 1] = P1[i] + a[i]
                P2[i + 1] = P2[i] + a[i] * a[i]
        srt[k] = True

    @_lean
    def _idx(a, P1, P2, bst, srt, bk, t):
        """Number of magnitudes below `t`."""
        nb = srt.size
        if nb == 1 and bst[1] <= _COUNT:
            # a short sorted row: counting the values below t vectorises (a search's
            # steps depend on each other; 128 values: 9 ns against 33)
            m = 0
            for i in range(bst[1]):
                m += a[i] < t
            return m
        k = 0
        if nb > 1 and t > 0.0:
            # the bucket of t from its exponent and top m mantissa bits (_make_row)
            k = (np.int64(np.float64(t).view(np.uint64) >> np.uint64(52 - np.int64(bk[0])))
                 - np.int64(bk[1]))
            k = min(max(k, 0), nb - 1)
        if not srt[k]:
            _sort_bucket(a, P1, P2, bst, srt, bk, k)
        return _bs(a, bst[k], bst[k + 1], t)

    @_lean
    def _short8(bst, srt, th):
        """A short sorted row (searched by counting) and at most 8 thresholds: the
        counts of all the thresholds at a step in one pass (_count8)."""
        return srt.size == 1 and bst[1] <= _COUNT and th.size <= 8

    @_lean
    def _count8(a, bst, th, d):
        """The numbers of magnitudes below th[k] d, k < th.size <= 8, of a short
        sorted row, in one pass (the eight counts vectorise over the values: 128
        values, 7 thresholds: 73 ns against 104 for seven searches)."""
        K = th.size
        t0 = th[0] * d if K > 0 else -np.inf
        t1 = th[1] * d if K > 1 else -np.inf
        t2 = th[2] * d if K > 2 else -np.inf
        t3 = th[3] * d if K > 3 else -np.inf
        t4 = th[4] * d if K > 4 else -np.inf
        t5 = th[5] * d if K > 5 else -np.inf
        t6 = th[6] * d if K > 6 else -np.inf
        t7 = th[7] * d if K > 7 else -np.inf
        c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = 0
        for i in range(bst[1]):
            v = a[i]
            c0 += v < t0
            c1 += v < t1
            c2 += v < t2
            c3 += v < t3
            c4 += v < t4
            c5 += v < t5
            c6 += v < t6
            c7 += v < t7
        return (c0, c1, c2, c3, c4, c5, c6, c7)

    @_lean
    def _below(a, P1, P2, bst, srt, bk, th, d, k, cnt, short):
        """The number of magnitudes below th[k] d: cnt[k], the one-pass counts
        (_count8) of a short sorted row (`short`), else a search."""
        return cnt[k] if short else _idx(a, P1, P2, bst, srt, bk, th[k] * d)

    @_lean
    def _at(a, P1, P2, bst, srt, bk, i):
        """a[i], with its bucket sorted (so that the prefix sums at i, i+1 hold)."""
        if srt.size > 1:
            k = _bs(bst, 1, srt.size + 1, i + 1) - 1  # bst[k] <= i < bst[k+1]
            if not srt[k]:
                _sort_bucket(a, P1, P2, bst, srt, bk, k)
        return a[i]

    @_lean
    def _edge(bk, k):
        """The least value of bucket k >= 1 (its key's float), 0 for bucket 0."""
        if k <= 0:
            return 0.0
        b = np.int64(k + np.int64(bk[1])) << np.int64(52 - np.int64(bk[0]))
        return np.int64(b).view(np.float64)

    @_lean
    def _bucket_of(a, P1, P2, bst, srt, bk, mode, x1, x2, x3, x4):
        """The last bucket k whose least value e_k passes a test that holds for
        bucket 0 and fails from some bucket on (it is monotone in e_k), sorted: a
        search over the values then runs in that bucket alone, and no other bucket
        is sorted for it.  The values at or above e_k are a[bst[k]:], their sums
        prefix sums at bucket starts (valid whether or not a bucket is sorted).
        mode 0: kappa N e - sum_{a >= e} (a - e) < 0 (x1 = kappa N);
        1: sum_{a >= e} (a - e)^2 > x1;  2: sum_{a < e} a^2 <= x1;
        3: sum_{a < e} (e - a)^2 + x2 + 2 e x3 + e^2 x4 <= x1."""
        nb = srt.size
        n = P1.size - 1
        lo = 0
        hi = nb
        while hi - lo > 1:
            k = (lo + hi) >> 1
            e = _edge(bk, k)
            b = bst[k]
            if mode == 0:
                ok = x1 * e - ((P1[n] - P1[b]) - e * (n - b)) < 0.0
            elif mode == 1:
                ok = _sqd(P1, P2, b, n, e) > x1
            elif mode == 2:
                ok = P2[b] <= x1
            else:
                ok = _sqd(P1, P2, 0, b, e) + x2 + 2.0 * e * x3 + e * e * x4 <= x1
            if ok:
                lo = k
            else:
                hi = k
        if not srt[lo]:
            _sort_bucket(a, P1, P2, bst, srt, bk, lo)
        return lo

    @_jit
    def _nbuckets(N, presorted, nbmax):
        """The buckets of a row of N values: a power of two, about one per value."""
        nb = 1
        if not presorted and N > 64:
            while nb < N and nb < nbmax:
                nb *= 2
        return nb

    @_jit
    def _row_space(N, presorted, nbmax):
        """The arrays of a row of N values (_fill_row fills them, row after row)."""
        nb = _nbuckets(N, presorted, nbmax)
        nk = N if nb > 1 else 0
        return (np.empty(N), np.empty(nk, dtype=np.int64),
                np.zeros(nb + 1, dtype=np.int64), np.ones(nb, dtype=np.bool_),
                np.empty(2), np.empty(nk), np.empty(N + 1), np.empty(N + 1),
                np.empty(nb if nb > 1 else 0, dtype=np.int64))

    @_jit
    def _make_row(x, signed, presorted, nbmax):
        """The row of `x` scaled by the power of two `f` that brings its largest
        magnitude into [1, 2) (see the comment above), n, count, sum and sum of
        squares of -x f over x < 0 (unsigned grid; count -1 if a value is NaN or
        infinite) and f.  `presorted`: `x` is sorted (|x| on signed grids).  The row's
        arrays are views of those of a _row_space (the row solvers fill one space row
        after row with _fill_row)."""
        tmp, keys, bst, srt, bk, buf, Q1, Q2, fill = _row_space(x.size, presorted, nbmax)
        n, nn, sn, qn, f, nb = _fill_row(x, signed, presorted, tmp, keys, bst, srt, bk,
                                         buf, Q1, Q2, fill)
        a = tmp[:n] if nb == 1 else buf[:n]
        return a, Q1[:n + 1], Q2[:n + 1], bst[:nb + 1], srt[:nb], bk, n, nn, sn, qn, f

    @_lean
    def _fill_row(x, signed, presorted, tmp, keys, bst, srt, bk, buf, Q1, Q2, fill):
        """_make_row's work, in the arrays of a _row_space: (n, nn, sn, qn, f, buckets
        used); the row's values are tmp[:n] (one bucket) or buf[:n], its prefix sums
        Q1[:n + 1], Q2[:n + 1], its bucket starts bst[:buckets + 1]."""
        N = x.size
        # scale by a power of two (exact) so that the largest magnitude is in [1, 2):
        # sums of squares neither underflow nor overflow
        big = _absmax(x)
        f = 1.0
        if big > 0.0 and big < np.inf:
            f = 2.0 ** -np.floor(np.log2(big))
            if not big * f < 2.0:
                f *= 0.5
        # buckets: about four values each, on the float64 key (exponent and top
        # m mantissa bits), 16 binades below the largest value (bucket 0 also holds
        # everything smaller); bk = (m, the key of bucket 0)
        nb = srt.size
        m = 0
        while (1 << (m + 4)) < nb:
            m += 1
        bst[:] = 0
        base = 0
        shift = np.uint64(52 - m)
        if nb > 1 and big > 0.0 and big < np.inf:
            base = np.int64(np.float64(big * f).view(np.uint64) >> shift) - (nb - 1)
        tu = tmp.view(np.uint64)
        n = 0
        nn = 0.0
        sn = 0.0
        qn = 0.0
        if signed and big < np.inf:
            # every value finite (else big is NaN or inf): the magnitudes and their
            # keys branch-free (the loop vectorises), then the counts
            n = N
            for i in range(N):
                tmp[i] = abs(np.float64(x[i])) * f
            if nb > 1:
                for i in range(N):
                    keys[i] = max(np.int64(tu[i] >> shift) - base, 0)
                for i in range(N):
                    bst[keys[i] + 1] += 1
        else:
            for i in range(N):
                v = np.float64(x[i]) * f
                if not v - v == 0.0:
                    n = -1
                    break
                if signed:
                    v = abs(v)
                elif v < 0.0:
                    nn += 1.0
                    sn -= v
                    qn += v * v
                    continue
                else:
                    v = v + 0.0
                tmp[n] = v
                if nb > 1:
                    k = max(np.int64(tu[n] >> shift) - base, 0)
                    keys[n] = k
                    bst[k + 1] += 1
                n += 1
        if n < 0:  # a NaN or inf: the row is not solved, its arrays stay valid
            n = 0
            nn = -1.0
            nb = 1
        bk[0] = np.float64(m)
        bk[1] = np.float64(base)
        if nb == 1:
            a = tmp
            bst[0], bst[1] = 0, n
            srt[0] = True
        else:
            run = np.int64(0)  # in a register: the loop carries no store to a load
            for k in range(nb):
                ck = bst[k + 1]
                srt[k] = ck <= 1
                run += ck
                bst[k + 1] = run
            for k in range(nb):
                fill[k] = bst[k]
            a = buf
            for i in range(n):
                k = keys[i]
                a[fill[k]] = tmp[i]
                fill[k] += 1
        P1 = Q1
        P2 = Q2
        P1[0] = 0.0
        P2[0] = 0.0
        s1 = 0.0
        s2 = 0.0
        for i in range(n):
            v = a[i]
            s1 += v
            s2 += v * v
            P1[i + 1] = s1
            P2[i + 1] = s2
        return n, nn, sn, qn, f, nb

    @_lean
    def _sqd(P1, P2, i, j, p):
        """Sum over values i..j-1 of (a - p)**2, from the prefix sums."""
        if j <= i:
            return 0.0
        v = (P2[j] - P2[i]) - 2.0 * p * (P1[j] - P1[i]) + p * p * (j - i)
        return v if v > 0.0 else 0.0

    @_lean
    def _runs(a, P1, P2, bst, srt, bk, c, th, d1, d2, Bn, Cn, pos, end):
        """The runs of level changes on [d1, d2] (threshold k sweeps the values
        a[pos[k]:end[k]], written to pos and end), (B, C) at d1 from the same
        searches, and the number of changes."""
        K = th.size
        n = P1.size - 1
        B = Bn
        C = Cn
        s = 0
        m = 0
        short = _short8(bst, srt, th)
        n1 = _count8(a, bst, th, d1) if short else _NONE8
        n2 = _count8(a, bst, th, d2) if short else _NONE8
        for k in range(K + 1):
            e = n if k == K else _below(a, P1, P2, bst, srt, bk, th, d1, k, n1, short)
            if e > s:
                B += c[k] * (P1[e] - P1[s])
                C += c[k] * c[k] * (e - s)
            if k < K:
                pos[k] = e
                end[k] = _below(a, P1, P2, bst, srt, bk, th, d2, k, n2, short)
                m += max(end[k] - e, 0)
            s = e
        return B, C, m
