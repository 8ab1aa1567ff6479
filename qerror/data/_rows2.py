r"""Compiled batched solver for formats whose levels are not symmetric about zero.

Private to :mod:`qerror.data._twosided` (which keeps the numpy solver as the
``use_numba=False`` path and as this module's test oracle).  Positive values and the
magnitudes of negative values each have their own level set, :math:`c^+_k` and
:math:`c^-_k` (each from the format's largest level :math:`\le 0` on that side
upward, so a side's lowest level may be negative or zero), but share the step:

.. math::

    N E(\Delta) = E^+(\Delta) + E^-(\Delta), \qquad
    E^\pm(\Delta) = \sum_{a \in \pm x,\, a \ge 0} \min_k (a - c^\pm_k \Delta)^2 .

Each side is a row of :mod:`qerror.data._rows` (bucketed magnitudes with prefix
sums, both scaled by the same power of two), and every bound of that solver is the sum
of both sides' bounds:

1. Lloyd's iteration :math:`\Delta \leftarrow (B^+ + B^-)/(C^+ + C^-)` from the best
   of each side's ACIQ-model optimum and no-clipping step gives the upper bound
   :math:`U`;
2. bracket: below :math:`\Delta_{lo}` one side's clipping error alone exceeds
   :math:`U`; above :math:`\Delta_{hi}` one side's small values alone do (error at
   least :math:`a^2` when they sit at a level :math:`\le 0`, at least
   :math:`(c\Delta - a)^2` below the lowest reachable level :math:`c > 0`), and beyond
   the step where every value sits at its side's level nearest zero :math:`E` does
   not decrease;
3. a cell's bound is the sum of both sides' ``_cell`` (exact quadratic of the values
   that keep their level, distance of the swept ones to their reachable levels; with a
   lowest level :math:`c_0 < 0` a value swept between :math:`c_0` and :math:`c_1` lies
   above :math:`\theta_0 D_1 > (c_0 D_2 + c_1 D_1)/2` and is bounded by its distance
   to :math:`c_1 D_1`, which its error at either level exceeds);
   cells are discarded, shrunk or split as in the one-sided solver, and the rest swept
   exactly: both sides' level changes are merged (at most ``_MERGE`` runs) or
   collected and sorted, and every piece's vertex is evaluated.

The error at the optimum is summed value by value; the truncation part is the
values outside the format's range :math:`[lo, hi]` (``Format.geometry``).
"""

from __future__ import annotations

import numpy as np

from ._kernels import HAVE_NUMBA, LEAN, _nb, run_spans

# the symmetric solver's cell sizes (_SWEEP level changes, or _SWEEP_PER_K per run when
# the runs are sorted, not merged), initial cells and presorted rows
from ._rows import _PER_CELL, _PRESORT, _SWEEP, _SWEEP_PER_K
from ._sides2 import _DIRECT

__all__ = ["HAVE_NUMBA", "solve_rows2"]

# both sides' runs of level changes are merged when there are at most this many
_MERGE = 32


if HAVE_NUMBA:  # pragma: no cover - compiled code is not traced by coverage
    from ._pieces import _next_change, _piece, _shrink, _sort_changes, _vertex
    from ._rowdata import _bs, _idx, _make_row, _sort_bucket
    from ._rows import _error_parts
    from ._sides2 import _bracket2, _cell2, _count, _gal, _prepare, _side_flat, _sorted

    _jit = _nb.njit(cache=True, nogil=True)
    _lean = _nb.njit(**LEAN)  # allocates nothing (see _kernels.LEAN)

    @_lean
    def _runs(S, d1, d2, pos, end, off):
        """This side's runs of level changes on [d1, d2] (values pos[k]..end[k]-1
        cross threshold k) and (B, C) of its values at d1."""
        a, P1, P2, bst, srt, bk, c, th = S
        K = th.size
        n = P1.size - 1
        B = 0.0
        C = 0.0
        s = 0
        e = 0
        t = 0
        gal = _sorted(S)
        for k in range(K + 1):
            if k == K:
                e = n
            elif gal:  # the thresholds increase: gallop from the last positions
                e = _gal(a, e, n, th[k] * d1)
                t = _gal(a, max(t, e), n, th[k] * d2)
            else:
                e = _idx(a, P1, P2, bst, srt, bk, th[k] * d1)
                t = _idx(a, P1, P2, bst, srt, bk, th[k] * d2)
            if e > s:
                B += c[k] * (P1[e] - P1[s])
                C += c[k] * c[k] * (e - s)
            if k < K:
                pos[off + k] = e
                end[off + k] = t
            s = e
        return B, C

    @_lean
    def _sort_runs(S, pos, end, off):
        """Sort every bucket that a run of this side passes through."""
        a, P1, P2, bst, srt, bk, c, th = S
        nb = srt.size
        if nb > 1:
            for k in range(th.size):
                if end[off + k] > pos[off + k]:
                    b0 = _bs(bst, 1, nb + 1, pos[off + k] + 1) - 1
                    b1 = _bs(bst, 1, nb + 1, end[off + k]) - 1
                    for b in range(b0, b1 + 1):
                        if not srt[b]:
                            _sort_bucket(a, P1, P2, bst, srt, bk, b)

    @_jit
    def _sweep2(S, T, d1, d2, A0, best, bestd):
        """Every piece of E on [d1, d2], exactly; returns the better of (best, bestd)
        and the cell's best piece, and the number of pieces."""
        Kp = S[7].size
        R = Kp + T[7].size
        pos = np.empty(R, dtype=np.int64)
        end = np.empty(R, dtype=np.int64)
        B1, C1 = _runs(S, d1, d2, pos, end, 0)
        B2, C2 = _runs(T, d1, d2, pos, end, Kp)
        B = B1 + B2
        C = C1 + C2
        lo = d1
        left = 0
        for r in range(R):
            left += end[r] - pos[r]
        ap = S[0]
        am = T[0]
        db = np.empty(R)
        dq = np.empty(R)
        ith = np.empty(R)
        for r in range(R):
            c, th, k = (S[6], S[7], r) if r < Kp else (T[6], T[7], r - Kp)
            ith[r] = 1.0 / th[k] if th[k] > 0.0 else 0.0  # no run where th <= 0
            db[r] = c[k] - c[k + 1]
            dq[r] = c[k] * c[k] - c[k + 1] * c[k + 1]
        if R <= _MERGE:
            # R sorted runs of level changes a_i / theta_k: merge them
            _sort_runs(S, pos, end, 0)
            _sort_runs(T, pos, end, Kp)
            head = np.empty(R)
            for r in range(R):
                if pos[r] < end[r]:
                    head[r] = (ap[pos[r]] if r < Kp else am[pos[r]]) * ith[r]
                else:
                    head[r] = np.inf
            for _ in range(left + 1):
                kb, vb = _next_change(head)
                best, bestd = _piece(A0, B, C, lo, min(max(vb, lo), d2), best, bestd)
                if vb >= d2:
                    break
                av = ap[pos[kb]] if kb < Kp else am[pos[kb]]
                B += db[kb] * av
                C += dq[kb]
                pos[kb] += 1
                if pos[kb] < end[kb]:
                    head[kb] = (ap[pos[kb]] if kb < Kp else am[pos[kb]]) * ith[kb]
                else:
                    head[kb] = np.inf
                lo = max(vb, lo)
            return best, bestd, left + 1
        ed = np.empty(left)
        eb = np.empty(left)
        ec = np.empty(left)
        m = 0
        for r in range(R):
            for i in range(pos[r], end[r]):
                av = ap[i] if r < Kp else am[i]
                ed[m] = min(max(av * ith[r], d1), d2)
                eb[m] = db[r] * av
                ec[m] = dq[r]
                m += 1
        _sort_changes(ed, eb, ec, m)
        for j in range(m + 1):
            hi = ed[j] if j < m else d2
            v, val = _vertex(A0, B, C, lo, hi)
            if val < best:
                best = val
                bestd = v
            if j < m:
                B += eb[j]
                C += ec[j]
                lo = hi
        return best, bestd, m + 1

    @_jit
    def _exact_row2(S, T, A0, margin):
        """The step minimising N E of one row and the number of pieces swept."""
        best, bestd, dlo, dhi = _bracket2(S, T, A0, margin)
        n = _count(S) + _count(T)
        if n <= _DIRECT:
            best, bestd, pieces = _sweep2(S, T, dlo, dhi, A0, best, bestd)
            return bestd, pieces
        pieces = 0
        ncell = min(max(n // _PER_CELL, 1), 64)
        # many runs: a cell's bound costs O(runs) searches, a level change swept O(1)
        R = S[7].size + T[7].size
        sweep = _SWEEP if R <= _MERGE else _SWEEP_PER_K * R
        ratio = dhi / dlo
        cap = 2 * ncell + 128
        s1 = np.empty(cap)
        s2 = np.empty(cap)
        top = 0
        for i in range(ncell, 0, -1):  # geometric cells, the lowest on top
            s1[top] = dlo * ratio ** ((i - 1) / ncell)
            s2[top] = dhi if i == ncell else dlo * ratio ** (i / ncell)
            top += 1
        while top > 0:
            top -= 1
            d1 = s1[top]
            d2 = s2[top]
            A, B, C, gap, nev = _cell2(S, T, d1, d2)
            _, lb = _vertex(A, B, C, d1, d2)
            if lb + gap > best + margin:
                continue
            r1, r2 = _shrink(A, B, C, gap, best + margin, d1, d2)
            if r2 < r1:
                continue
            if r2 - r1 < 0.7 * (d2 - d1) and r2 - r1 > 1e-6 * d2:
                s1[top], s2[top] = r1, r2  # again, with the narrower cell's bound
                top += 1
                continue
            d1, d2 = r1, r2
            if nev <= sweep or d2 <= d1 * (1.0 + 1e-12):
                best, bestd, swept = _sweep2(S, T, d1, d2, A0, best, bestd)
                pieces += swept
                continue
            if top + 2 > cap:
                cap *= 2
                n1 = np.empty(cap)
                n2 = np.empty(cap)
                n1[:top] = s1[:top]
                n2[:top] = s2[:top]
                s1, s2 = n1, n2
            dm = np.sqrt(d1) * np.sqrt(d2)
            s1[top], s2[top] = dm, d2
            s1[top + 1], s2[top + 1] = d1, dm
            top += 2
        return bestd, pieces

    @_lean
    def _side_error(S, d, hi):
        """(sum of squared errors, the part from values above hi) of a side at d
        (_rows._error_parts)."""
        a, P1, P2, bst, srt, bk, c, th = S
        return _error_parts(a, P1, P2, bst, srt, bk, c, th, d, hi)

    @_jit
    def _solve_span2(X, r0, r1, presorted, cp, thp, cm, thm, afac, hi1, lo1,
                     margin_rel, alpha, sse, tsse, state, npieces):
        N = X.shape[1]
        y = np.empty(N)
        for r in range(r0, r1):
            x = X[r]
            big = 0.0
            for i in range(N):
                v = abs(np.float64(x[i]))
                if v > big or not v == v:
                    big = v
            if not big < np.inf:
                state[r] = 3  # NaN or inf
                continue
            if big == 0.0:
                continue  # all zero: state 0
            # the negative values' magnitudes (placeholders -big, same power-of-two
            # scale as the positive side: _make_row skips values below zero)
            for i in range(N):
                v = np.float64(x[N - 1 - i] if presorted else x[i])
                y[i] = -v if v < 0.0 else -big
            a, P1, P2, bst, srt, bk, n, _, _, _, f = _make_row(x, False, presorted,
                                                               1 << 14)
            S = (a, P1, P2, bst, srt, bk, cp, thp)
            a, P1, P2, bst, srt, bk, n, _, _, _, f = _make_row(y, False, presorted,
                                                               1 << 14)
            T = (a, P1, P2, bst, srt, bk, cm, thm)
            _prepare(S)
            _prepare(T)
            A0 = S[2][_count(S)] + T[2][_count(T)]
            if not max(_side_flat(S), _side_flat(T)) > 0.0:
                state[r] = 2  # every value at level 0 whatever the step
                sse[r] = A0 / f / f
                tsse[r] = sse[r]
                continue
            state[r] = 1
            d, npieces[r] = _exact_row2(S, T, A0, margin_rel * A0)
            al = afac * d
            sp, tp = _side_error(S, d, hi1 * al)
            sm, tm = _side_error(T, d, -lo1 * al)
            alpha[r] = al / f
            sse[r] = (sp + sm) / f / f
            tsse[r] = (tp + tm) / f / f


def _side_levels(c: np.ndarray):
    """A side's levels, from the largest level <= 0 upward, and its thresholds."""
    le0 = c[c <= 0.0]
    s = c[c >= le0.max()] if le0.size else c
    s = np.ascontiguousarray(s, dtype=np.float64)
    return s, np.ascontiguousarray(0.5 * (s[1:] + s[:-1]))


def solve_rows2(rows: np.ndarray, c: np.ndarray, afac: float, lo1: float, hi1: float,
                margin_rel: float):
    r"""Per row of the (rows, values) array, for the signed levels ``c * step`` with
    ``alpha = afac * step`` and the range ``[lo1, hi1] * alpha``: alpha, N E, N times
    the truncation part, the state (0 all zero, 1 solved, 2 every value at level 0
    for every step, 3 NaN or inf) and the number of pieces enumerated.  Needs numba;
    one span of rows per thread (``_kernels.run_spans``).  Row by row it minimises

    .. math::

        N E(\Delta) = \sum_j \min_k (x_j - c_k \Delta)^2 ,

    the exact model's error (the supplement's Eq. 1, corrected) for these levels.

    Examples
    --------
    >>> import numpy as np
    >>> from qerror.formats import get_format
    >>> x = np.array([[-1.0, -0.5, 0.2, 0.9], [3.0, -1.0, 0.0, 0.5]])
    >>> c, afac = get_format("int").signed_levels(2)        # levels -2, -1, 0, 1
    >>> alpha, sse, tsse, state, pieces = solve_rows2(x, c, afac, -4 / 3, 2 / 3, 1e-12)
    >>> alpha.round(6).tolist(), (sse / 4).round(6).tolist(), state.tolist()
    ([0.85, 4.5], [0.043333, 0.3125], [1, 1])

    (the step is ``alpha / afac``; the numpy solver, ``use_numba=False``, agrees.)
    """
    X = rows
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    X = np.ascontiguousarray(X)
    if not X.flags.writeable:  # one compiled signature for read-only (mapped) data
        X = X.copy()
    presorted = X.shape[1] <= _PRESORT
    if presorted:  # numpy's vectorised sort is fastest on short rows
        X = np.sort(X, axis=1)
    c = np.asarray(c, dtype=np.float64)
    cp, thp = _side_levels(c)
    cm, thm = _side_levels(-c[::-1])
    R = X.shape[0]
    out = (np.zeros(R), np.zeros(R), np.zeros(R), np.zeros(R, dtype=np.int8),
           np.zeros(R, dtype=np.int64))

    def span(r0, r1):
        _solve_span2(X, r0, r1, presorted, cp, thp, cm, thm, float(afac), float(hi1),
                     float(lo1), float(margin_rel), *out)

    run_spans(span, R, cost=X.size)
    return out
