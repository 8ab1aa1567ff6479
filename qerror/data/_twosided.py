r"""The certified data optimum for formats whose levels are not symmetric about zero.

Private to :mod:`qerror.data.solver` (its dispatch point sends a signed, asymmetric
format here: ``"int"``, affine grids with a zero point, NF4, user level sets).  With
the format's levels :math:`c_k\Delta` (:meth:`Format.signed_levels`), positive values
and the magnitudes of negative values each have their own level set (their nearest
levels are :math:`c_k` and :math:`-c_k`) but share the one step :math:`\Delta`:

.. math::

    N E(\Delta) = \sum_{x_j \ge 0} \min_k (x_j - c_k\Delta)^2
                + \sum_{x_j < 0} \min_k (|x_j| + c_k\Delta)^2 ,

piecewise quadratic in :math:`\Delta` (kinks where a value crosses a threshold
:math:`\theta_k\Delta`, :math:`\theta_k = (c_k + c_{k+1})/2`), with every local minimum
at the vertex of a piece.  Branch and bound over :math:`\Delta`: on an interval
:math:`[D_1, D_2]` a value that stays in one cell contributes its exact quadratic
(prefix sums of the sorted values), a value that a threshold sweeps contributes at
least 0, which bounds :math:`E` below; :math:`E` at the bound's minimiser bounds it
above.  Intervals whose lower bound exceeds the best value are discarded, the others
halved until few values are swept, and then every piece is enumerated exactly.
Beyond the largest step examined every value sits at the level nearest zero and
:math:`E` does not decrease; below the smallest, every value is clipped to the
outermost levels and the bound excludes it.  ``model="aciq"``: the distance to the
range :math:`[c_\min\Delta, c_\max\Delta]` squared plus :math:`\Delta^2/12`, convex,
solved on its linear derivative.
"""

from __future__ import annotations

import numpy as np

from ._checks import _exact_parts_rows

# pruning slack relative to sum(x^2), as in the magnitude solver
_MARGIN = 1e-12
# stop splitting an interval when at most this many values are swept across it
_CAP = 4096


class _Side:
    """Sorted non-negative values of one sign with prefix sums, and their levels."""

    def __init__(self, a: np.ndarray, c: np.ndarray):
        self.a = np.sort(a)
        self.n = self.a.size
        self.S1 = np.concatenate([[0.0], np.cumsum(self.a)])
        self.S2 = np.concatenate([[0.0], np.cumsum(self.a * self.a)])
        # levels that can be nearest to a value >= 0: from the largest level <= 0 up
        le0 = c[c <= 0.0]
        self.c = c[c >= le0.max()] if le0.size else c
        self.th = 0.5 * (self.c[1:] + self.c[:-1])

    def sums(self, i0, i1):
        return i1 - i0, self.S1[i1] - self.S1[i0], self.S2[i1] - self.S2[i0]

    def error(self, d: np.ndarray) -> np.ndarray:
        """N E of this side at steps `d` (1-D), ties to the lower level."""
        if self.n == 0:
            return np.zeros(d.shape)
        idx = np.searchsorted(self.a, self.th[None, :] * d[:, None], side="right")
        edges = np.concatenate([np.zeros((d.size, 1), int), idx,
                                np.full((d.size, 1), self.n)], axis=1)
        n, s, q = self.sums(edges[:, :-1], edges[:, 1:])
        cd = self.c[None, :] * d[:, None]
        return np.maximum((q - 2.0 * cd * s + cd * cd * n).sum(axis=1), 0.0)

    def fixed(self, d1: np.ndarray, d2: np.ndarray):
        """Coefficients (A, B, C) of the values that stay in one cell for every step in
        [d1, d2], and how many values are swept."""
        z = np.zeros(d1.shape)
        if self.n == 0:
            return z, z, z, z
        t1, t2 = self.th[None, :] * d1[:, None], self.th[None, :] * d2[:, None]
        below = np.searchsorted(self.a, np.minimum(t1, t2), side="right")  # k <= j all
        above = np.searchsorted(self.a, np.maximum(t1, t2), side="right")  # k > j all
        lo = np.concatenate([np.zeros((d1.size, 1), int), above], axis=1)
        hi = np.concatenate([below, np.full((d1.size, 1), self.n)], axis=1)
        hi = np.maximum(hi, lo)
        n, s, q = self.sums(lo, hi)
        A = q.sum(axis=1)
        B = (self.c[None, :] * s).sum(axis=1)
        C = (self.c[None, :] ** 2 * n).sum(axis=1)
        return A, B, C, self.n - n.sum(axis=1)

    def swept(self, d1: float, d2: float):
        """Values swept by a threshold on [d1, d2], with their level index at d1."""
        t1, t2 = self.th * d1, self.th * d2
        i0 = np.searchsorted(self.a, np.minimum(t1, t2), side="right")
        i1 = np.searchsorted(self.a, np.maximum(t1, t2), side="right")
        runs = [np.arange(i, j) for i, j in zip(i0, i1, strict=True)]
        idx = np.unique(np.concatenate(runs + [np.empty(0, int)]).astype(int))
        return self.a[idx]

    def d_hi(self) -> float:
        """A step beyond which this side's error does not decrease."""
        if self.n == 0 or self.th.size == 0 or self.a[-1] == 0.0:
            return 0.0
        pos = np.flatnonzero(self.th > 0)
        if pos.size == 0:
            return 0.0
        j = pos[0]
        out = self.a[-1] / self.th[j]
        if self.c[j] > 0:
            out = max(out, self.a[-1] / self.c[j])
        return out


def _quad_min(A, B, C, d1, d2):
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(C > 0, B / C, d1)
    v = np.clip(v, d1, d2)
    return A - 2.0 * B * v + C * v * v, v


def _exact_interval(sides, d1: float, d2: float):
    """Minimum of N E on [d1, d2]: every piece enumerated."""
    A = B = C = 0.0
    ev_d, ev_b, ev_c = [], [], []
    for sd in sides:
        a, b, c, _ = sd.fixed(np.array([d1]), np.array([d2]))
        A, B, C = A + a[0], B + b[0], C + c[0]
        v = sd.swept(d1, d2)
        if v.size == 0:
            continue
        # level index at d1 and d2 (ties to the lower level); as the step grows the
        # positive thresholds th*d pass the value, which falls one level at each
        k1 = np.searchsorted(sd.th * d1, v, side="left")
        k2 = np.searchsorted(sd.th * d2, v, side="left")
        A += float(np.dot(v, v))
        B += float(np.dot(sd.c[k1], v))
        C += float(np.sum(sd.c[k1] ** 2))
        ne = k1 - k2
        tot = int(ne.sum())
        if tot:
            src = np.repeat(np.arange(v.size), ne)
            kk = k2[src] + (np.arange(tot) - np.repeat(np.cumsum(ne) - ne, ne))
            vv = v[src]
            ev_d.append(vv / sd.th[kk])
            ev_b.append((sd.c[kk] - sd.c[kk + 1]) * vv)
            ev_c.append(sd.c[kk] ** 2 - sd.c[kk + 1] ** 2)
    if ev_d:
        d = np.concatenate(ev_d)
        order = np.argsort(d, kind="stable")
        d = d[order]
        b = B + np.concatenate([[0.0], np.cumsum(np.concatenate(ev_b)[order])])
        c = C + np.concatenate([[0.0], np.cumsum(np.concatenate(ev_c)[order])])
        lo = np.concatenate([[d1], d])
        hi = np.concatenate([d, [d2]])
    else:
        b, c, lo, hi = np.array([B]), np.array([C]), np.array([d1]), np.array([d2])
    val, v = _quad_min(A, b, c, lo, hi)
    i = int(np.argmin(val))
    return float(val[i]), float(v[i]), val.size


def _solve_row(x: np.ndarray, c: np.ndarray):
    """(step, N E, pieces, intervals, rounds) of the certified global optimum."""
    sides = (_Side(x[x >= 0.0], c), _Side(-x[x < 0.0], -c[::-1]))
    total_sq = float(np.dot(x, x))
    margin = _MARGIN * total_sq
    d_hi = max(sd.d_hi() for sd in sides) * (1.0 + 1e-9)
    if d_hi == 0.0:  # every value sits at level 0 whatever the step: E is constant
        return 0.0, total_sq, 1, 0, 0
    cpos = np.abs(c[c != 0.0])
    span = float(cpos.max() / cpos.min())  # the format's dynamic range
    d_lo = d_hi / span * 2.0**-12
    n0 = int(np.ceil(4 * np.log2(d_hi / d_lo)))
    e = np.geomspace(d_lo, d_hi, n0 + 1)
    D1 = np.concatenate([[0.0], e[:-1]])
    D2 = np.concatenate([[d_lo], e[1:]])
    best_v, best_d = total_sq, d_hi  # beyond d_hi: at most the value at d_hi
    best_v = min(best_v, float(sum(sd.error(np.array([d_hi]))[0] for sd in sides)))
    done = []
    rounds = 0
    while D1.size:
        rounds += 1
        A = B = C = S = 0.0
        for sd in sides:
            a, b, cc, s = sd.fixed(D1, D2)
            A, B, C, S = A + a, B + b, C + cc, S + s
        lb, vtx = _quad_min(A, B, C, D1, D2)
        ub = sum(sd.error(vtx) for sd in sides)
        i = int(np.argmin(ub))
        if ub[i] < best_v:
            best_v, best_d = float(ub[i]), float(vtx[i])
        keep = lb <= best_v + margin
        D1, D2, S = D1[keep], D2[keep], S[keep]
        fin = (S <= _CAP) | (D2 - D1 <= 1e-10 * D2) | (rounds >= 60)
        done += list(zip(D1[fin], D2[fin], strict=True))
        D1, D2 = D1[~fin], D2[~fin]
        mid = np.where(D1 > 0, np.sqrt(D1 * D2), 0.5 * D2)
        D1, D2 = np.concatenate([D1, mid]), np.concatenate([mid, D2])
    pieces = 0
    for d1, d2 in done:
        v, d, k = _exact_interval(sides, d1, d2)
        pieces += k
        if v < best_v:
            best_v, best_d = v, d
    return best_d, best_v, pieces, len(done), rounds


def _solve_row_aciq(x: np.ndarray, c: np.ndarray):
    """Step minimising sum d(x, [lo D, hi D])^2 + N D^2/12 (convex)."""
    hi, lo = float(c[-1]), float(c[0])
    N = x.size
    p = np.sort(x[x > 0.0]) if hi > 0 else np.empty(0)
    m = np.sort(-x[x < 0.0]) if lo < 0 else np.empty(0)
    sides = [(s, np.concatenate([[0.0], np.cumsum(s)]), r)
             for s, r in ((p, hi), (m, -lo)) if s.size]

    def coef(d):  # g(d) = 2 (K d - R): the derivative is linear on each piece
        K, R = N / 12.0, 0.0
        for s, cs, r in sides:
            i = np.searchsorted(s, r * d, side="right")
            K += r * r * (s.size - i)
            R += r * (cs[-1] - cs[i])
        return K, R

    a, b = 0.0, max(float(np.abs(x).max()), 1e-300) * 1e3
    for _ in range(200):
        mid = 0.5 * (a + b)
        K, R = coef(mid)
        if K * mid - R > 0:
            b = mid
        else:
            a = mid
        if b - a <= 1e-15 * b:
            break
    K, R = coef(0.5 * (a + b))
    d = R / K
    return d


def _solve_compiled(rows: np.ndarray, bits: int, fmt, c: np.ndarray, afac: float):
    """The exact model's optimum of every row with the compiled solver of
    :mod:`qerror.data._rows2`: alpha, mse, truncation, rounding, pieces, message."""
    from ._rows2 import solve_rows2

    geo = fmt.geometry(np.array([1.0]), np.int64(bits))
    lo1, hi1 = float(np.ravel(geo.lo)[0]), float(np.ravel(geo.hi)[0])
    alpha, sse, tsse, state, pieces = solve_rows2(rows, c, afac, lo1, hi1, _MARGIN)
    if np.any(state == 3):
        raise ValueError("the data hold NaN or inf")  # the caller checks first
    N = rows.shape[1]
    mse, tr = sse / N, tsse / N
    rd = np.where(state == 1, np.maximum(mse - tr, 0.0), 0.0)
    zero_rows, flat_rows = int(np.sum(state == 0)), int(np.sum(state == 2))
    nfev = int(pieces.sum())
    msg = (f"global minimum certified: two-sided branch and bound (positive values and "
           f"negative magnitudes share the step; compiled, per row: Lloyd's bound, "
           f"clipping and small-value bracket, cell bounds summed over both sides) "
           f"excludes every other step within {_MARGIN:g}*sum(x^2); {nfev} pieces "
           f"enumerated exactly")
    return alpha, mse, tr, rd, nfev, "twosided-rows-bnb+exhaustive-pieces", msg, \
        zero_rows, flat_rows


def _notes(msg: str, zero_rows: int, flat_rows: int) -> str:
    if flat_rows:
        msg += (f"; {flat_rows} row(s) with every value at level 0 for every alpha "
                "(no level of their sign): alpha = 0 reported")
    if zero_rows:
        msg += (f"; {zero_rows} all-zero row(s): every alpha gives MSE 0, alpha = 0 "
                "reported")
    return msg


def solve_twosided(rows: np.ndarray, bits: int, model: str, fmt,
                   use_numba: bool | None = None):
    """Per row: alpha, mse, truncation, rounding, and the totals for the message.
    The exact model runs the compiled solver (:mod:`qerror.data._rows2`) unless
    `use_numba` is False or numba is missing; the numpy solver below is its oracle."""
    from ._kernels import backend

    c, afac = fmt.signed_levels(bits)
    c = np.asarray(c, dtype=np.float64)
    if model == "exact" and backend(use_numba) == "numba":
        al, ms, tr, rd, nfev, method, msg, z, fl = _solve_compiled(rows, bits, fmt, c,
                                                                    float(afac))
        return al, ms, tr, rd, nfev, method, _notes(msg, z, fl)
    C, N = rows.shape
    alpha, mse, tr, rd = (np.zeros(C) for _ in range(4))
    pieces = intervals = rounds = 0
    zero_rows = flat_rows = 0
    for r in range(C):
        x = rows[r].astype(np.float64)
        if not np.any(x):
            zero_rows += 1
            mse[r] = tr[r] = 0.0
            continue
        if model == "aciq":
            step = _solve_row_aciq(x, c)
            alpha[r] = afac * step
            lo, hi = c[0] * step, c[-1] * step
            dd = x - np.clip(x, lo, hi)
            tr[r] = float(np.dot(dd, dd)) / N
            rd[r] = step * step / 12.0
            mse[r] = tr[r] + rd[r]
            continue
        # scaled by a power of two (exact) to a largest magnitude in [1, 2): sums of
        # squares neither overflow nor underflow
        f = 2.0 ** -np.floor(np.log2(np.max(np.abs(x))))
        step, sse, k, n_int, n_r = _solve_row(x * f, c)
        step = step / f
        pieces, intervals, rounds = pieces + k, intervals + n_int, max(rounds, n_r)
        if step == 0.0:  # the format has no level for this row's values' sign
            mse[r] = tr[r] = sse / N / f / f
            flat_rows += 1
            continue
        alpha[r] = afac * step
        t, rr = _exact_parts_rows(x[None, :], np.array([alpha[r]]), bits, fmt)
        tr[r], rd[r] = t[0], rr[0]
        mse[r] = tr[r] + rd[r]
    if model == "aciq":
        msg = ("the ACIQ-model error (distance to the format's range squared plus "
               "step^2/12) is convex in the step; its stationary point was solved on "
               "the piece of its linear derivative")
        method = "aciq-root"
    else:
        msg = (f"global minimum certified: two-sided branch and bound (positive values "
               f"and negative magnitudes share the step; {rounds} rounds) excludes every "
               f"other step within {_MARGIN:g}*sum(x^2); {pieces} pieces on {intervals} "
               f"interval(s) enumerated exactly")
        method = "twosided-bnb+exhaustive-pieces"
    return alpha, mse, tr, rd, pieces, method, _notes(msg, zero_rows, flat_rows)
