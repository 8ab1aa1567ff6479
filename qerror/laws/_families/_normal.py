"""The normal law: Mills-ratio tails, Euler-Maclaurin cell sums."""

from __future__ import annotations

import numpy as np
from scipy import special

from ._base import (
    _EM1_COEF,
    _EM_COEF,
    _INV_SQRT_2PI,
    _SQRT2,
    _SQRT_PI_2,
    _direct_cells,
    _Family,
    _FirstMomentView,
    _gl,
)


def _normal_tail_I(t):
    r"""(I0, I1, I2)(t) = :math:`\int_0^\infty u^n e^{-tu-u^2/2} du` for t >= 0.

    :math:`J_n(t) = \int_t^\infty (x-t)^n\varphi(x)dx = \varphi(t) I_n(t)`.  I0 is the
    Mills ratio :math:`\sqrt{\pi/2}\,\mathrm{erfcx}(t/\sqrt2)`.  For t < 4 the upward
    recurrence :math:`I_{n+1} = n I_{n-1} - t I_n` is used (relative error below 5e-14,
    measured against mpmath).  From t = 4 on, where it would cancel, the ratios
    :math:`r_n = I_n/I_{n-1} = n/(t + r_{n+1})` and :math:`I_0 = 1/(t + r_1)` come from
    the continued fraction evaluated backwards from its fixed point
    :math:`r \approx (\sqrt{t^2+4n}-t)/2`, with 32 terms at t = 4 down to 10 past
    t = 12: exact to double precision (below 5e-16).
    """
    t = np.asarray(t, dtype=np.float64)
    low = t < 4.0
    if low.all():
        i0 = _SQRT_PI_2 * special.erfcx(t * (1.0 / _SQRT2))
        i1 = 1.0 - t * i0
        return i0, i1, i0 - t * i1
    flat = t.ravel()
    i0 = np.empty(flat.shape)
    i1 = np.empty(flat.shape)
    i2 = np.empty(flat.shape)
    il = np.flatnonzero(low.ravel())
    if il.size:
        tl = flat.take(il)
        a0 = _SQRT_PI_2 * special.erfcx(tl * (1.0 / _SQRT2))
        a1 = 1.0 - tl * a0
        i0[il] = a0
        i1[il] = a1
        i2[il] = a0 - tl * a1
    ih_all = np.flatnonzero(~low.ravel())
    th_all = flat.take(ih_all)
    bins = np.searchsorted(np.array([5.0, 6.0, 8.0, 12.0]), th_all, side="right")
    for bin_no, nterms in ((0, 32), (1, 26), (2, 20), (3, 15), (4, 10)):
        sel = np.flatnonzero(bins == bin_no)
        if not sel.size:
            continue
        ih = ih_all.take(sel)
        th = th_all.take(sel)
        r = 0.5 * (np.sqrt(th * th + 4.0 * (nterms + 1)) - th)
        tmp = np.empty_like(th)
        r2 = None
        for k in range(nterms, 0, -1):
            np.add(th, r, out=tmp)
            np.divide(float(k), tmp, out=r)
            if k == 2:
                r2 = r.copy()
        np.add(th, r, out=tmp)
        c0 = 1.0 / tmp
        c1 = r * c0
        i0[ih] = c0
        i1[ih] = c1
        i2[ih] = r2 * c1
    shape = t.shape
    return i0.reshape(shape), i1.reshape(shape), i2.reshape(shape)


def _phi(x):
    return _INV_SQRT_2PI * np.exp(-0.5 * x * x)


def _normal_J2(t):
    r""":math:`J_2(t) = \varphi(t) I_2(t)` for t >= 0 (the ACIQ model's clipping tail):
    :func:`_normal_tail_I` for the second moment only, with one 32-term continued
    fraction for every t >= 4 (as many terms as its slowest range, t in [4, 5), needs)
    instead of per-range lengths, and index gathers (``take``) and scatters rather
    than boolean masks: the same digits at about half the cost."""
    t = np.asarray(t, dtype=np.float64)
    flat = t.ravel()
    high = flat >= 4.0
    ih = np.flatnonzero(high)
    if not ih.size:
        i0 = _SQRT_PI_2 * special.erfcx(t * (1.0 / _SQRT2))
        return _phi(t) * (i0 - t * (1.0 - t * i0))
    out = np.empty(flat.shape)
    if ih.size < flat.size:
        il = np.flatnonzero(~high)
        tl = flat.take(il)
        i0 = _SQRT_PI_2 * special.erfcx(tl * (1.0 / _SQRT2))
        out[il] = _phi(tl) * (i0 - tl * (1.0 - tl * i0))
    th = flat.take(ih)
    r = 0.5 * (np.sqrt(th * th + 132.0) - th)  # fixed point of r = 33 / (t + r)
    tmp = np.empty_like(th)
    r2 = r
    for k in range(32, 0, -1):
        np.add(th, r, out=tmp)
        np.divide(float(k), tmp, out=r)
        if k == 2:
            r2 = r.copy()
    out[ih] = _phi(th) * (r2 * r / (th + r))
    return out.reshape(t.shape)


class Normal(_Family):
    name = "norm"

    def pdf(self, x):
        return _phi(x)

    def cdf(self, x):
        return special.ndtr(x)

    def sf(self, x):
        return special.ndtr(-np.asarray(x, float))

    def _prob_pos(self, a, b):
        out = np.empty_like(a)
        narrow = (b - a) <= 0.5
        if narrow.any():
            out[narrow] = _gl(_phi, a[narrow], b[narrow])
        w = ~narrow
        if w.any():
            out[w] = special.ndtr(-a[w]) - special.ndtr(-b[w])
        return out

    def prob(self, a, b):
        a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
        straddle = (a < 0) & (b > 0)
        out = super().prob(a, b)
        if straddle.any():  # erf sums: no cancellation, exact for tiny intervals
            out[straddle] = 0.5 * (special.erf(b[straddle] / _SQRT2)
                                   - special.erf(a[straddle] / _SQRT2))
        return out

    def _moments_pos(self, a, b):
        phia = _phi(a)
        i0, i1, i2 = _normal_tail_I(a)
        m0, m1, m2 = phia * i0, phia * i1, phia * i2
        if b is None:  # b = +inf
            return m0, m1, m2
        fin = np.isfinite(b)
        if fin.any():
            bf = b[fin]
            w = bf - a[fin]
            phib = _phi(bf)
            j0, j1, j2 = _normal_tail_I(bf)
            j0, j1, j2 = phib * j0, phib * j1, phib * j2
            m0[fin] -= j0
            m1[fin] -= j1 + w * j0
            m2[fin] -= j2 + 2.0 * w * j1 + w * w * j0
        return m0, m1, m2

    def tail(self, t, c, exact_ref=False):
        t = np.asarray(t, dtype=np.float64)
        if exact_ref and t.size and t.min() >= 0.0:
            return _normal_J2(t)
        return super().tail(t, c, exact_ref)

    def cells(self, a0, step, n):
        r"""Block of whole cells.

        For :math:`\Delta \le 1/4` the Euler-Maclaurin form of the midpoint-centred
        second moment is used,

        .. math::

            R = \frac{\Delta^2}{12} P(a<X<b) + \sum_{j=2}^{8}
                \frac{2B_{2j}}{(2j)!}\Delta^{2j}
                \left[He_{2j-3}(x)\varphi(x)\right]_a^b ,

        whose first omitted term is below :math:`10^{-16}` of the total there; wider
        cells are summed one by one (at most ~330 of them carry mass, since
        :math:`\varphi` underflows past 40).
        """
        a0, step, n = np.broadcast_arrays(*(np.asarray(v, float) for v in (a0, step, n)))
        out = np.zeros(a0.shape)
        em = step <= 0.25
        if em.any():
            a, d = a0[em], step[em]
            b = a + n[em] * d
            res = d * d / 12.0 * self.prob(a, b)
            pa, pb = _phi(a), _phi(b)
            # odd Hermite polynomials He_1 .. He_13 by the recurrence
            # He_{k+1}(x) = x He_k(x) - k He_{k-1}(x)
            ha_prev, ha = np.ones_like(a), a.copy()
            hb_prev, hb = np.ones_like(b), b.copy()
            he_a, he_b = {1: ha}, {1: hb}
            for k in range(1, 13):
                ha_prev, ha = ha, a * ha - k * ha_prev
                hb_prev, hb = hb, b * hb - k * hb_prev
                if (k + 1) % 2 == 1:
                    he_a[k + 1], he_b[k + 1] = ha, hb
            d2 = d * d
            dpow = d2
            for order, coef in _EM_COEF:
                dpow = dpow * d2
                k = order - 3
                res += coef * dpow * (he_b[k] * pb - he_a[k] * pa)
            out[em] = res
        direct = ~em
        if direct.any():
            out[direct] = self._direct_cells(a0[direct], step[direct], n[direct])
        return out

    @staticmethod
    def _direct_cells(a0, step, n, reach=40.0):
        r"""Cells wider than 1/4, one by one, in closed form.

        .. math::

            R_i = (1+q^2)\,P(a<X<b) - h(\varphi(a)+\varphi(b))
                  - q(\varphi(a)-\varphi(b))

        with :math:`h = \Delta/2 \ge 1/8` the cancellation costs at most a factor
        :math:`3(1+q^2)/h^2` of one ulp in a cell, and the cells far out where that
        factor is large carry a negligible share of the sum.
        """
        if a0.size and n.min() == n.max() and n[0] <= 256 and a0.size * n[0] <= 4e6:
            # one cell count for every boundary (one bit-width): a 2-D array of edges,
            # with no per-cell bookkeeping (cells beyond the reach add exact zeros)
            # edges along axis 0, boundaries along axis 1: contiguous row slices
            k = int(n[0])
            x = np.arange(k + 1.0)[:, None] * step
            x += a0
            tail = special.ndtr(-np.abs(x))
            dens = _phi(x)
            a, b = x[:-1], x[1:]
            ta, tb = tail[:-1], tail[1:]
            # same side of 0: a difference of two tails; straddling: one minus both
            p = np.abs(ta - tb)
            straddle = (a < 0) & (b > 0)
            if straddle.any():
                p[straddle] = (1.0 - ta - tb)[straddle]
            h = 0.5 * step
            q = a + h
            da, db = dens[:-1], dens[1:]
            vals = (1.0 + q * q) * p - h * (da + db) - q * (da - db)
            return vals.sum(axis=0)
        first = np.clip(np.floor((-reach - a0) / step), 0, n)
        last = np.clip(np.ceil((reach - a0) / step), 0, n)
        counts = (last - first).astype(np.int64)
        if int(counts.sum()) == 0:
            return np.zeros(a0.shape)
        # the cells' edges, once each (count + 1 per boundary that has cells)
        ecounts = np.where(counts > 0, counts + 1, 0)
        total = int(ecounts.sum())
        owner = np.repeat(np.arange(a0.size), ecounts)
        starts = np.cumsum(ecounts) - ecounts
        idx = np.arange(total) - np.repeat(starts - first.astype(np.int64), ecounts)
        x = a0[owner] + idx * step[owner]
        tail = special.ndtr(-np.abs(x))  # P(X > |x|): no cancellation in either tail
        dens = _phi(x)
        # cell k of a block is the edge pair (k, k + 1): drop each block's last edge
        cell = np.ones(total, dtype=bool)
        cell[(starts + ecounts - 1)[counts > 0]] = False
        lo = np.flatnonzero(cell)
        a, b = x[lo], x[lo + 1]
        ta, tb = tail[lo], tail[lo + 1]
        pa, pb = dens[lo], dens[lo + 1]
        # P(a < X < b) from the tails: same side of 0, a difference of two tails;
        # straddling 0, one minus both tails
        p = np.where(a >= 0, ta - tb, np.where(b <= 0, tb - ta, 1.0 - ta - tb))
        h = 0.5 * (b - a)
        q = a + h
        vals = (1.0 + q * q) * p - h * (pa + pb) - q * (pa - pb)
        return np.bincount(owner[lo], weights=vals, minlength=a0.size)

    def cells1(self, a0, step, n):
        r"""First-moment analogue of :meth:`cells` (the rounding bias of a block).

        .. math::

            S_1 = \sum_{i=0}^{n-1}\int_{a_i}^{a_i+\Delta}\varphi(x)
                  \left(x - a_i - \tfrac{\Delta}{2}\right)dx
                = \sum_{j=1}^{8}\frac{B_{2j}}{(2j)!}\Delta^{2j}
                  \left[He_{2j-2}(x)\varphi(x)\right]_a^b
                  \quad(\Delta \le 1/4),

        from :math:`x - q(x) = \Delta\,\tilde B_1((x-a)/\Delta)` (the periodic
        Bernoulli function) and repeated integration by parts
        (Euler-Maclaurin); the remainder is of order
        :math:`e^{-2\pi^2/\Delta^2}` (Poisson summation), so only the block ends
        contribute.  Wider cells are summed one by one.
        """
        a0, step, n = np.broadcast_arrays(*(np.asarray(v, float) for v in (a0, step, n)))
        out = np.zeros(a0.shape)
        em = step <= 0.25
        if em.any():
            a, d = a0[em], step[em]
            b = a + n[em] * d
            pa, pb = _phi(a), _phi(b)
            # even Hermite polynomials He_0 .. He_14 (same recurrence as in cells)
            ha_prev, ha = np.ones_like(a), a.copy()
            hb_prev, hb = np.ones_like(b), b.copy()
            he_a, he_b = {0: ha_prev}, {0: hb_prev}
            for k in range(1, 14):
                ha_prev, ha = ha, a * ha - k * ha_prev
                hb_prev, hb = hb, b * hb - k * hb_prev
                if (k + 1) % 2 == 0:
                    he_a[k + 1], he_b[k + 1] = ha, hb
            d2 = d * d
            dpow = np.ones_like(d)
            res = np.zeros_like(d)
            for order, coef in _EM1_COEF:
                dpow = dpow * d2
                k = order - 2
                res += coef * dpow * (he_b[k] * pb - he_a[k] * pa)
            out[em] = res
        direct = ~em
        if direct.any():
            out[direct] = _direct_cells(_FirstMomentView(self), a0[direct], step[direct],
                                        n[direct], 40.0)
        return out
