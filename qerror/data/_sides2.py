r"""One side of the two-sided solver (:mod:`qerror.data._rows2`) and the bounds built on
both sides: a cell's bound, the error at a step, and the bracket of the optimum.

A side is a row of :mod:`qerror.data._rows` (the magnitudes of one sign, bucketed,
with prefix sums) with that side's levels ``c`` and thresholds ``th``: from the
format's largest level :math:`\le 0` upward, so ``c[0] <= 0 < c[1]`` unless the format
has no level :math:`\le 0`.  Each bound holds for that case too:

* a cell's bound is ``_sweeps._cell`` (galloping searches on a side sorted throughout);
  with :math:`c_0 < 0` a value swept between :math:`c_0` and :math:`c_1` lies above
  :math:`\theta_0 D_1 > (c_0 D_2 + c_1 D_1)/2`, so ``_cell`` charges it its distance
  to :math:`c_1 D_1`, which its error at either level exceeds;
* the clipping error of the values above the top level falls with the step; the
  small values' error rises with it: at least :math:`a^2` while they sit at a level
  :math:`\le 0`, at least :math:`(c_j\Delta - a)^2` below the lowest level
  :math:`c_j > 0` they can reach; beyond the step where every value of a side sits at
  its level nearest zero that side's error does not fall.
"""

from __future__ import annotations

import numpy as np

from ._kernels import HAVE_NUMBA, LEAN, _nb

# rows up to this length skip the bounds: every piece in the bracket is swept
_DIRECT = 256
# Lloyd iterations for the upper bound
_LLOYD = 3
# bisection steps that tighten the bracket with both sides' bounds summed
_BISECT = 12
# sides with at least this many thresholds are sorted in full and searched by
# galloping from the previous threshold's position
_GALLOP = 32


if HAVE_NUMBA:  # pragma: no cover - compiled code is not traced by coverage
    from ._rowdata import _at, _bs, _idx, _sort_bucket, _sqd
    from ._rows import _aciq_row
    from ._sweeps import _cell

    _lean = _nb.njit(**LEAN)  # allocates nothing (see _kernels.LEAN)

    # A side is the tuple (a, P1, P2, bst, srt, bk, c, th): a row of _rows (the
    # magnitudes of one sign, bucketed, with prefix sums) and that side's levels c and
    # thresholds th (c[0] <= 0 < c[1] unless the format has no level <= 0).

    @_lean
    def _gal(a, lo, n, t):
        """The number of values below t in the sorted a[:n], knowing it is >= lo:
        an exponential search from lo (cheap when the answer is near lo)."""
        step = 1
        while lo + step <= n and a[lo + step - 1] < t:
            lo += step
            step *= 2
        return _bs(a, lo, min(lo + step - 1, n), t)

    @_lean
    def _sort_all(S):
        """Sort every bucket of this side: its values are then sorted throughout."""
        a, P1, P2, bst, srt, bk, c, th = S
        for k in range(srt.size):
            if not srt[k]:
                _sort_bucket(a, P1, P2, bst, srt, bk, k)

    @_lean
    def _prepare(S):
        """Sort a side in full if its cells are searched by galloping (_cell1)."""
        if S[7].size >= _GALLOP:
            _sort_all(S)

    @_lean
    def _cell_sorted(S, d1, d2):
        """_sweeps._cell for a side whose values are sorted throughout: each search
        gallops from the previous one (the thresholds increase)."""
        a, P1, P2, bst, srt, bk, c, th = S
        n = P1.size - 1
        K = th.size
        A = 0.0
        B = 0.0
        C = 0.0
        gap = 0.0
        nev = 0
        s = 0
        e = 0
        for k in range(K + 1):
            e = _gal(a, e, n, th[k] * d1) if k < K else n
            if e > s:
                A += P2[e] - P2[s]
                B += c[k] * (P1[e] - P1[s])
                C += c[k] * c[k] * (e - s)
            if k < K:
                s_next = _gal(a, max(e, s), n, th[k] * d2) if d2 > d1 else e
                if s_next > e:
                    nev += s_next - e
                    # a level c_0 < 0 is reachable highest at d1, not at c_0 d2;
                    # but a value swept here is >= th_0 d1 > (c_0 d2 + c_1 d1) / 2,
                    # so it takes its distance to q, valid either way (as _cell)
                    p = c[k] * d2
                    q = c[k + 1] * d1
                    if q > p:
                        mid = 0.5 * (p + q)
                        j1 = e
                        if p > th[k] * d1:
                            j1 = min(_gal(a, e, n, p), s_next)
                        j2 = min(_gal(a, j1, n, mid), s_next)
                        j3 = s_next
                        if q < th[k] * d2:
                            j3 = min(_gal(a, j2, n, q), s_next)
                        gap += _sqd(P1, P2, j1, j2, p) + _sqd(P1, P2, j2, j3, q)
                s = max(s_next, s)
        return A, B, C, gap, nev

    @_lean
    def _sorted(S):
        """Whether this side is sorted throughout: one bucket (a short row, sorted by
        numpy) or prepared for galloping (_prepare)."""
        return S[4].size == 1 or S[7].size >= _GALLOP

    @_lean
    def _cell1(S, d1, d2):
        """_sweeps._cell, or _cell_sorted for a side sorted throughout."""
        if _sorted(S):
            return _cell_sorted(S, d1, d2)
        return _cell(S[0], S[1], S[2], S[3], S[4], S[5], S[6], S[7], d1, d2)

    @_lean
    def _cell2(S, T, d1, d2):
        """Both sides' _cell summed: (A, B, C, gap, level changes) on [d1, d2]."""
        A1, B1, C1, g1, n1 = _cell1(S, d1, d2)
        A2, B2, C2, g2, n2 = _cell1(T, d1, d2)
        return A1 + A2, B1 + B2, C1 + C2, g1 + g2, n1 + n2

    @_lean
    def _error2(S, T, A0, d):
        """N E at the step d and Lloyd's update B / C from it."""
        _, B, C, _, _ = _cell2(S, T, d, d)
        return A0 - 2.0 * B * d + C * d * d, B / C if C > 0.0 else d

    @_lean
    def _count(S):
        return S[1].size - 1

    @_lean
    def _amax(S):
        n = S[1].size - 1
        if n == 0:
            return 0.0
        return _at(S[0], S[1], S[2], S[3], S[4], S[5], n - 1)

    @_lean
    def _top_step(S):
        """The step whose top level is this side's largest value (0: none)."""
        cK = S[6][S[7].size]
        am = _amax(S)
        return am / cK if (cK > 0.0 and am > 0.0) else 0.0

    @_lean
    def _first_pos(th):
        """Index of the level of the smallest positive values (first threshold > 0)."""
        j = 0
        while j < th.size and not th[j] > 0.0:
            j += 1
        return j

    @_lean
    def _side_flat(S):
        """A step beyond which this side's error does not decrease (every value at
        the level of the smallest ones); 0 if it has no value above 0."""
        c, th = S[6], S[7]
        am = _amax(S)
        if not am > 0.0:
            return 0.0
        j = _first_pos(th)
        if j == th.size:
            return 0.0
        out = am / th[j]
        if c[j] > 0.0:
            out = max(out, am / c[j])
        return out

    @_lean
    def _side_lo(S, U):
        """A step below which this side's clipping error alone exceeds U (0: none)."""
        a, P1, P2, bst, srt, bk, c, th = S
        n = P1.size - 1
        cK = c[th.size]
        if n < 2 or not cK > 0.0:
            return 0.0
        if not _sqd(P1, P2, 1, n, _at(a, P1, P2, bst, srt, bk, 0)) > U:
            return 0.0
        lo, hi = 0, n - 1  # T(a_lo) > U >= T(a_hi), T(x) = sum_{a > x} (a - x)^2
        while hi - lo > 1:
            mid = (lo + hi) >> 1
            if _sqd(P1, P2, mid + 1, n, _at(a, P1, P2, bst, srt, bk, mid)) > U:
                lo = mid
            else:
                hi = mid
        a_lo = _at(a, P1, P2, bst, srt, bk, lo)
        a_hi = _at(a, P1, P2, bst, srt, bk, lo + 1)
        cnt = n - lo - 1
        s = P1[n] - P1[lo + 1]
        q = P2[n] - P2[lo + 1]
        xr = (s - np.sqrt(max(s * s - cnt * (q - U), 0.0))) / cnt
        return max(a_lo, min(xr, a_hi)) / cK * (1.0 - 1e-9)

    @_lean
    def _side_hi(S, U):
        """A step above which this side's smallest values alone exceed U (inf: none)."""
        a, P1, P2, bst, srt, bk, c, th = S
        n = P1.size - 1
        if n == 0:
            return np.inf
        j = _first_pos(th)
        cj = c[j]
        if not cj > 0.0:
            # values below th_j D sit at c_j <= 0: each costs at least a^2
            if j == th.size or not P2[n] > U:
                return np.inf
            lo, hi = -1, n - 1  # P2[lo + 1] <= U < P2[hi + 1]
            while hi - lo > 1:
                mid = (lo + hi) >> 1
                _at(a, P1, P2, bst, srt, bk, mid)
                if P2[mid + 1] > U:
                    hi = mid
                else:
                    lo = mid
            return _at(a, P1, P2, bst, srt, bk, hi) / th[j] * (1.0 + 1e-9)
        # values below c_j D (the lowest level they can reach) cost (c_j D - a)^2:
        # L(x) = sum_{a < x} (x - a)^2 increases; L(a_lo) <= U < L(a_hi)
        lo, hi = 0, n
        while hi - lo > 1:
            mid = (lo + hi) >> 1
            x = _at(a, P1, P2, bst, srt, bk, mid)
            if _sqd(P1, P2, 0, mid, x) > U:
                hi = mid
            else:
                lo = mid
        s = P1[hi]
        q = P2[hi]
        xr = (s + np.sqrt(max(s * s - hi * (q - U), 0.0))) / hi
        if hi < n:
            xr = min(xr, _at(a, P1, P2, bst, srt, bk, hi))
        return xr / cj * (1.0 + 1e-9)

    @_lean
    def _clip_err(S, d):
        """This side's clipping error alone at the step d (falls as d grows)."""
        a, P1, P2, bst, srt, bk, c, th = S
        n = P1.size - 1
        x = c[th.size] * d
        if n == 0 or not x > 0.0:
            return 0.0
        i = _idx(a, P1, P2, bst, srt, bk, x)
        _at(a, P1, P2, bst, srt, bk, n - 1)
        return _sqd(P1, P2, i, n, x)

    @_lean
    def _low_err(S, d):
        """This side's error bound from its smallest values at the step d (rises
        with d): a^2 at a level <= 0, (c D - a)^2 below the lowest reachable c > 0."""
        a, P1, P2, bst, srt, bk, c, th = S
        n = P1.size - 1
        if n == 0:
            return 0.0
        j = _first_pos(th)
        if not c[j] > 0.0:
            if j == th.size:
                return 0.0
            return P2[_idx(a, P1, P2, bst, srt, bk, th[j] * d)]
        x = c[j] * d
        return _sqd(P1, P2, 0, _idx(a, P1, P2, bst, srt, bk, x), x)

    @_lean
    def _start(S, N):
        """Starting steps for Lloyd: this side's ACIQ-model optimum (its top level as
        the range) and the step that clips nothing."""
        a, P1, P2, bst, srt, bk, c, th = S
        cK = c[th.size]
        am = _amax(S)
        if not (am > 0.0 and cK > 0.0):
            return 0.0, 0.0
        al = _aciq_row(a, P1, P2, bst, srt, bk, 1.0 / (12.0 * cK * cK), N)
        return al / cK, am / cK

    @_lean
    def _bracket2(S, T, A0, margin):
        """Lloyd's upper bound (best error, its step) and the bracket of steps
        outside which the error provably exceeds it."""
        best = np.inf
        bestd = 0.0
        d = 0.0
        for side in (S, T):
            n = np.float64(_count(side))
            if n == 0.0:
                continue
            d1, d2 = _start(side, n)
            for dd in (d1, d2):
                if dd > 0.0:
                    val, _ = _error2(S, T, A0, dd)
                    if val < best:
                        best = val
                        bestd = dd
        d = bestd
        for _ in range(_LLOYD):
            val, dn = _error2(S, T, A0, d)
            if val < best:
                best = val
                bestd = d
            if not dn > 0.0 or abs(dn - d) <= 1e-15 * d:
                break  # converged, or the update leaves the positive steps
            d = dn
        U = best + margin
        top = max(_top_step(S), _top_step(T))
        dlo = min(max(_side_lo(S, U), _side_lo(T, U), top * 2.0**-60), bestd)
        flat = max(_side_flat(S), _side_flat(T)) * (1.0 + 1e-9)
        dhi = max(min(_side_hi(S, U), _side_hi(T, U), flat), bestd)
        if _count(S) + _count(T) <= _DIRECT:
            return best, bestd, dlo, dhi
        # both sides' bounds summed (monotone in the step): bisect in log-space
        a, b = dlo, bestd  # clip(a) > U (or a is the floor), clip(b) <= U
        for _ in range(_BISECT):
            m = np.sqrt(a) * np.sqrt(b)
            if _clip_err(S, m) + _clip_err(T, m) > U:
                a = m
            else:
                b = m
        dlo = a
        a, b = bestd, dhi  # low(a) <= U, low(b) > U (or b is where E stops falling)
        for _ in range(_BISECT):
            m = np.sqrt(a) * np.sqrt(b)
            if _low_err(S, m) + _low_err(T, m) > U:
                b = m
            else:
                a = m
        dhi = b
        return best, bestd, dlo, dhi
