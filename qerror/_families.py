r"""Partial moments of standardized laws: the numerical heart of qerror.

Every error quantity reduces to two primitives of a *standardized* law (``loc = 0``,
``scale = 1``) with density :math:`f`:

``seg(a, b, c)``
    :math:`\int_a^b f(x)\,(x-c)^2\,dx` for :math:`a < b` (either may be infinite),
    used with :math:`c` inside a narrow cell, or with :math:`c` outside the interval
    on the side of the grid (the clipping tails).

``cells(a0, step, n)``
    :math:`\sum_{i=0}^{n-1} \int_{a_i}^{a_i+\Delta} f(x)\,(x - a_i - \Delta/2)^2\,dx`,
    :math:`a_i = a_0 + i\Delta`: the rounding error of a block of ``n`` whole cells.
    ``n`` can be :math:`2^{64}`, so families provide an :math:`O(1)` form.

The registry :data:`FAMILIES` maps a scipy.stats family name to a class with closed
forms; every other continuous family goes through :class:`GenericFamily` (adaptive
quadrature, Gauss-Legendre per cell, Euler-Maclaurin for very many cells).

All functions take and return float64 ndarrays of one common shape.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np
from scipy import integrate, special

#: standardized points that split a quadrature range through the bulk of a law
#: (0, +-2^k up to 2^62): quad then resolves the bulk and each octave of the tails,
#: however wide the range
_BULK_MARKS = tuple(sorted({0.0} | {sg * 2.0**k for k in range(-1, 63) for sg in (-1, 1)}))
#: the same for an infinite range (quad maps the tail itself)
_TAIL_MARKS = (-20.0, -5.0, -1.0, 1.0, 5.0, 20.0)
#: vectorised tanh-sinh quadrature (public in scipy >= 1.15)
_tanhsinh = getattr(integrate, "tanhsinh", None)

_SQRT2 = math.sqrt(2.0)
_SQRT_PI_2 = math.sqrt(math.pi / 2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

# Gauss-Legendre nodes/weights on [-1, 1]
_GL10 = np.polynomial.legendre.leggauss(10)
_GL20 = np.polynomial.legendre.leggauss(20)

# Bernoulli numbers B_4 .. B_16 for the Euler-Maclaurin form of the cell sum
_BERNOULLI = {4: -1 / 30, 6: 1 / 42, 8: -1 / 30, 10: 5 / 66, 12: -691 / 2730,
              14: 7 / 6, 16: -3617 / 510}
#: coefficient 2 B_{2j} / (2j)! of Delta^{2j} [f^{(2j-3)}]_a^b, j = 2..8
_EM_COEF = [(2 * j, 2.0 * _BERNOULLI[2 * j] / math.factorial(2 * j)) for j in range(2, 9)]


def _gl(func, a, b, nodes=_GL10):
    """Gauss-Legendre rule of ``func`` over [a, b], vectorised over a, b."""
    x, w = nodes
    half = 0.5 * (b - a)
    mid = 0.5 * (b + a)
    pts = mid[..., None] + half[..., None] * x
    return half * (func(pts) @ w)


def _gl_centred(pdf, c, half, power, nodes=_GL10):
    r"""Gauss-Legendre rule of :math:`f(x)\,(x-c)^p` over :math:`[c-h, c+h]`,
    vectorised over ``c``: the offset :math:`x-c = h\,u` is formed from the node
    itself, not by subtracting the centre from an absolute abscissa (which loses
    :math:`\log_{10}(|c|/h)` digits in cells far from the origin at high bit-widths)."""
    u, w = nodes
    du = half[..., None] * u
    vals = pdf(c[..., None] + du)
    if power:
        vals = vals * du**power
    return half * (vals @ w)


def _combine(m0, m1, m2, e):
    r""":math:`\int (x-a+e)^2 f` from the moments about ``a``; e = a - c."""
    return m2 + 2.0 * e * m1 + e * e * m0


class _Family:
    """Base class: split-and-reflect logic for laws symmetric about 0."""

    name = "?"
    symmetric = True  # about 0, in standardized coordinates
    support = (-np.inf, np.inf)
    infinite_variance = False
    #: points (standardized) where the density is not smooth
    kinks: tuple = ()

    # ---- to be provided by symmetric subclasses: moments on [a, b], 0 <= a < b ----
    def _moments_pos(self, a, b):  # pragma: no cover - abstract
        raise NotImplementedError

    def _narrow_pos(self, a, b, c):
        return _gl(lambda x: self.pdf(x) * (x - c[..., None]) ** 2, a, b)

    narrow_width = 0.5

    def _seg_pos(self, a, b, c):
        """seg for 0 <= a < b."""
        narrow = (b - a) <= self.narrow_width
        if not narrow.any():
            m0, m1, m2 = self._moments_pos(a, b)
            return _combine(m0, m1, m2, a - c)
        out = np.empty_like(a)
        if narrow.any():
            out[narrow] = self._narrow_pos(a[narrow], b[narrow], c[narrow])
        wide = ~narrow
        if wide.any():
            aw, bw = a[wide], b[wide]
            m0, m1, m2 = self._moments_pos(aw, bw)
            out[wide] = _combine(m0, m1, m2, aw - c[wide])
        return out

    def tail(self, t, c, exact_ref=False):
        r""":math:`\int_t^\infty f(x)(x-c)^2 dx` for c <= t (a clipping tail).

        ``exact_ref=True`` means c is t itself (the ACIQ model): only the second moment
        is needed.  Fast path of :meth:`seg` for t >= 0.
        """
        t = np.asarray(t, dtype=np.float64)
        if not (t.size and t.min() >= 0.0):
            return self.seg(t, np.inf, c)
        m0, m1, m2 = self._moments_pos(t, None)
        if exact_ref:
            return m2
        return _combine(m0, m1, m2, t - c)

    def seg(self, a, b, c):
        r""":math:`\int_a^b f(x)(x-c)^2 dx` for a symmetric law (split at 0, reflect)."""
        a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c)))
        if a.size and a.min() >= 0.0 and (a < b).all():
            return self._seg_pos(a, b, c)
        out = np.zeros(a.shape)
        ok = a < b
        if not ok.any():
            return out
        # positive part [max(a,0), b]
        pos = ok & (b > 0)
        if pos.any():
            out[pos] += self._seg_pos(np.maximum(a[pos], 0.0), b[pos], c[pos])
        neg = ok & (a < 0)
        if neg.any():  # reflect [a, min(b,0)] -> [max(-b,0), -a]
            out[neg] += self._seg_pos(np.maximum(-b[neg], 0.0), -a[neg], -c[neg])
        return out

    def seg1(self, a, b, c):
        r""":math:`\int_a^b f(x)(x-c) dx` (first partial moment; used by the solvers)."""
        a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c)))
        out = np.zeros(a.shape)
        ok = a < b
        pos = ok & (b > 0)
        if pos.any():
            ap = np.maximum(a[pos], 0.0)
            m0, m1, _ = self._moments_pos(ap, b[pos])
            out[pos] += m1 + (ap - c[pos]) * m0
        neg = ok & (a < 0)
        if neg.any():
            an = np.maximum(-b[neg], 0.0)
            m0, m1, _ = self._moments_pos(an, -a[neg])
            out[neg] -= m1 + (an + c[neg]) * m0
        return out

    def prob(self, a, b):
        """P(a < X < b) without cancellation."""
        a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
        out = np.zeros(a.shape)
        ok = a < b
        pos = ok & (b > 0)
        if pos.any():
            out[pos] += self._prob_pos(np.maximum(a[pos], 0.0), b[pos])
        neg = ok & (a < 0)
        if neg.any():
            out[neg] += self._prob_pos(np.maximum(-b[neg], 0.0), -a[neg])
        return out

    def _prob_pos(self, a, b):  # pragma: no cover - abstract
        raise NotImplementedError

    def cells(self, a0, step, n):  # default: sum seg over every cell (small n only)
        raise NotImplementedError


# --------------------------------------------------------------------------- normal
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


def _direct_cells(fam, a0, step, n, reach):
    """Sum seg over every cell of each block that meets [-reach, reach]."""
    first = np.clip(np.floor((-reach - a0) / step), 0, n)
    last = np.clip(np.ceil((reach - a0) / step), 0, n)
    counts = (last - first).astype(np.int64)
    total = int(counts.sum())
    out = np.zeros(a0.shape)
    if total == 0:
        return out
    owner = np.repeat(np.arange(a0.size), counts)
    starts = np.cumsum(counts) - counts
    idx = np.arange(total) - np.repeat(starts, counts) + np.repeat(first, counts)
    a = a0[owner] + idx * step[owner]
    b = a + step[owner]
    vals = fam.seg(a, b, a + 0.5 * step[owner])
    np.add.at(out, owner, vals)
    return out


# -------------------------------------------------------------------------- laplace
def _lower_gamma_moments(w):
    """(m0, m1, m2) = int_0^w u^n e^{-u} du, n = 0, 1, 2, via regularized gammainc."""
    return (special.gammainc(1.0, w), special.gammainc(2.0, w),
            2.0 * special.gammainc(3.0, w))


class Laplace(_Family):
    r"""Standard Laplace, :math:`f(x) = e^{-|x|}/2`; cell blocks are geometric series."""

    name = "laplace"
    kinks = (0.0,)
    narrow_width = 0.0  # the gammainc moments are exact at any width

    def pdf(self, x):
        return 0.5 * np.exp(-np.abs(x))

    def cdf(self, x):
        x = np.asarray(x, float)
        return np.where(x < 0, 0.5 * np.exp(np.minimum(x, 0.0)),
                        1.0 - 0.5 * np.exp(-np.maximum(x, 0.0)))

    def sf(self, x):
        return self.cdf(-np.asarray(x, float))

    def _prob_pos(self, a, b):
        return 0.5 * np.exp(-a) * special.gammainc(1.0, b - a)

    def _moments_pos(self, a, b):
        scale = 0.5 * np.exp(-a)
        if b is None:  # b = +inf: the complete gamma moments 1, 1, 2
            return scale, scale, 2.0 * scale
        m0, m1, m2 = _lower_gamma_moments(b - a)
        return scale * m0, scale * m1, scale * m2

    def cells(self, a0, step, n):
        a0, step, n = np.broadcast_arrays(*(np.asarray(v, float) for v in (a0, step, n)))
        out = np.zeros(a0.shape)
        # one cell factor: int_0^D e^{-u} (u - D/2)^2 du / 2  (times e^{-a_i})
        m0, m1, m2 = _lower_gamma_moments(step)
        unit = 0.5 * _combine(m0, m1, m2, -0.5 * step)
        # index of the cell holding 0 (may be outside 0..n-1)
        k = np.floor(-a0 / step)
        # cells wholly on the positive side: i = max(k+1, 0) .. n-1
        i_pos = np.maximum(k + 1.0, 0.0)
        m_pos = np.maximum(n - i_pos, 0.0)
        a_pos = a0 + i_pos * step
        out += np.where(m_pos > 0, unit * np.exp(-np.maximum(a_pos, 0.0))
                        * _geom(step, m_pos), 0.0)
        # cells wholly on the negative side: i = 0 .. min(k, n) - 1
        m_neg = np.clip(np.minimum(k, n), 0.0, None)
        b_neg = a0 + m_neg * step  # right edge of the last negative cell
        out += np.where(m_neg > 0, unit * np.exp(-np.maximum(-b_neg, 0.0))
                        * _geom(step, m_neg), 0.0)
        # the cell holding 0
        hold = (k >= 0) & (k < n)
        if hold.any():
            a = a0[hold] + k[hold] * step[hold]
            out[hold] += self.seg(a, a + step[hold], a + 0.5 * step[hold])
        return out

    def cells1(self, a0, step, n):
        r"""First-moment analogue of :meth:`cells`: two geometric series.

        A cell :math:`[a, a+\Delta]` on the positive side contributes
        :math:`\tfrac12 e^{-a} K_1(\Delta)`, :math:`K_1(\Delta) = \int_0^\Delta
        e^{-u}(u - \Delta/2)du = -2e^{-h}(h\cosh h - \sinh h)`, :math:`h = \Delta/2`
        (series for small :math:`h`); its mirror image on the negative side contributes
        the negative of that.  The cell holding 0 is integrated directly.
        """
        a0, step, n = np.broadcast_arrays(*(np.asarray(v, float) for v in (a0, step, n)))
        out = np.zeros(a0.shape)
        unit = 0.5 * _laplace_k1(step)
        k = np.floor(-a0 / step)
        i_pos = np.maximum(k + 1.0, 0.0)
        m_pos = np.maximum(n - i_pos, 0.0)
        a_pos = a0 + i_pos * step
        out += np.where(m_pos > 0, unit * np.exp(-np.maximum(a_pos, 0.0))
                        * _geom(step, m_pos), 0.0)
        m_neg = np.clip(np.minimum(k, n), 0.0, None)
        b_neg = a0 + m_neg * step
        out -= np.where(m_neg > 0, unit * np.exp(-np.maximum(-b_neg, 0.0))
                        * _geom(step, m_neg), 0.0)
        hold = (k >= 0) & (k < n)
        if hold.any():
            a = a0[hold] + k[hold] * step[hold]
            out[hold] += self.seg1(a, a + step[hold], a + 0.5 * step[hold])
        return out


def _geom(step, m):
    """sum_{j<m} exp(-j*step), stable for tiny step and huge m."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(m > 0, np.expm1(-m * step) / np.expm1(-step), 0.0)


# -------------------------------------------------------------------------- uniform
class Uniform(_Family):
    """Standard uniform on [0, 1] (scipy's parameterisation)."""

    name = "uniform"
    symmetric = False
    support = (0.0, 1.0)
    kinks = (0.0, 1.0)

    def pdf(self, x):
        x = np.asarray(x, float)
        return np.where((x >= 0) & (x <= 1), 1.0, 0.0)

    def cdf(self, x):
        return np.clip(np.asarray(x, float), 0.0, 1.0)

    def sf(self, x):
        return np.clip(1.0 - np.asarray(x, float), 0.0, 1.0)

    def prob(self, a, b):
        a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
        return np.maximum(np.minimum(b, 1.0) - np.maximum(a, 0.0), 0.0)

    def seg(self, a, b, c):
        a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c)))
        lo = np.maximum(a, 0.0)
        hi = np.minimum(b, 1.0)
        ok = lo < hi
        u = hi - c
        v = lo - c
        same = (u * v) >= 0
        # u^3 - v^3 = (u - v)(u^2 + uv + v^2): all terms positive when signs agree
        val = np.where(same, (hi - lo) * (u * u + u * v + v * v), u**3 - v**3) / 3.0
        return np.where(ok, val, 0.0)

    def seg1(self, a, b, c):
        a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c)))
        lo = np.maximum(a, 0.0)
        hi = np.minimum(b, 1.0)
        return np.where(lo < hi, (hi - lo) * (0.5 * (hi + lo) - c), 0.0)

    def cells(self, a0, step, n):
        # engine passes blocks inside the support only: every cell is whole
        a0, step, n = np.broadcast_arrays(*(np.asarray(v, float) for v in (a0, step, n)))
        return n * step**3 / 12.0

    def cells1(self, a0, step, n):
        """First-moment analogue of :meth:`cells`: a whole cell of a flat density is
        symmetric about its level, so every block inside the support gives 0."""
        a0, step, n = np.broadcast_arrays(*(np.asarray(v, float) for v in (a0, step, n)))
        return np.zeros(a0.shape)


# -------------------------------------------------------------------------- generic
class GenericFamily:
    """Any continuous scipy.stats family, through quadrature.

    ``seg``, ``seg1`` and ``prob`` use vectorised tanh-sinh quadrature
    (:func:`scipy.integrate.tanhsinh`, relative tolerance 1e-14, split at the support
    ends, the origin and, for ``seg1``, the reference point; :func:`scipy.integrate.quad`
    where it does not converge); ``cells`` uses 20-point Gauss-Legendre per cell checked against
    10-point (cells that disagree, and cells holding a kink, are redone with quad) for
    up to 2^16 cells, and the Euler-Maclaurin form
    :math:`\\Delta^2/12\\,P + \\Delta^4/360\\,[f']_a^b` (numerical derivative) beyond,
    with the cells next to kinks done by quad.
    """

    name = "generic"
    symmetric = False

    def __init__(self, rv, shapes):
        self.rv = rv
        self.shapes = tuple(float(s) for s in shapes)
        self.name = rv.name
        lo, hi = rv.support(*self.shapes)
        self.support = (float(lo), float(hi))
        # kinks: finite support ends (always split there); the location point is a
        # suspect (cusps of symmetric families) for the Euler-Maclaurin path, while the
        # direct path finds a cusp by the GL10/GL20 disagreement of its cell
        self.kinks = tuple(sorted(p for p in self.support if np.isfinite(p)))
        self.suspects = tuple(sorted(set(self.kinks) | {0.0}))
        var = rv.stats(*self.shapes, moments="v")
        self.infinite_variance = not np.isfinite(float(var))
        self._median = float(rv.median(*self.shapes))

    def pdf(self, x):
        return self.rv.pdf(x, *self.shapes)

    def cdf(self, x):
        return self.rv.cdf(x, *self.shapes)

    def sf(self, x):
        return self.rv.sf(x, *self.shapes)

    def _quad(self, fn, a, b, epsabs=0.0):
        with warnings.catch_warnings():
            # roundoff warnings come from integrands that are zero to double precision
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            return self._quad_raw(fn, a, b, epsabs)

    def _quad_raw(self, fn, a, b, epsabs):
        pts = None
        if np.isfinite(a) and np.isfinite(b):
            # kinks, and in a wide range the bulk of the law too (quad's first rule
            # can miss all of the mass in a range 1e300 wide)
            marks = _BULK_MARKS if b - a > 2.0 else ()
            pts = sorted(p for p in set(self.kinks) | set(marks) if a < p < b) or None
        if a == b:
            return 0.0
        if not (np.isfinite(a) and np.isfinite(b)):
            # split infinite ranges at the finite end, the kinks and a few scale points
            pieces = []
            lo, hi = a, b
            marks = sorted(set([p for p in self.kinks if lo < p < hi]
                               + [m for m in _TAIL_MARKS if lo < m < hi]))
            edges = [lo] + marks + [hi]
            for x0, x1 in zip(edges[:-1], edges[1:], strict=True):
                pieces.append(integrate.quad(fn, x0, x1, epsabs=epsabs, epsrel=1e-13,
                                             limit=400)[0])
            return math.fsum(pieces)
        return integrate.quad(fn, a, b, points=pts or None, epsabs=epsabs, epsrel=1e-13,
                              limit=400)[0]

    def _integral(self, lo, hi, c, power):
        r""":math:`\int_{lo}^{hi} f(x)\,|x-c|^p\,dx` elementwise (p = 0, 1 or 2: a
        non-negative integrand), for 1-D arrays with lo < hi inside the support.

        Vectorised tanh-sinh quadrature (:func:`scipy.integrate.tanhsinh`, relative
        tolerance 1e-14) on the pieces between the suspect points (support ends and the
        origin, where a density may have a cusp); an element that does not converge is
        redone with :func:`scipy.integrate.quad`.
        """
        out = np.zeros(lo.shape)
        if _tanhsinh is None:  # scipy < 1.15
            bad = np.ones(lo.shape, dtype=bool)
        else:
            bad = np.zeros(lo.shape, dtype=bool)
            edges = [lo] + [np.clip(p, lo, hi) for p in self.suspects] + [hi]
            shapes = self.shapes
            pdf = self.rv.pdf
            if power == 2:
                def fn(x, cc):
                    return pdf(x, *shapes) * (x - cc) ** 2
            elif power == 1:
                def fn(x, cc):
                    return pdf(x, *shapes) * np.abs(x - cc)
            else:
                def fn(x, cc):
                    return pdf(x, *shapes)
            for e0, e1 in zip(edges[:-1], edges[1:], strict=True):
                m = e0 < e1
                if not m.any():
                    continue
                with np.errstate(all="ignore"):
                    r = _tanhsinh(fn, e0[m], e1[m], args=(c[m],), rtol=1e-14, atol=1e-300)
                ok = (r.status == 0) & np.isfinite(r.integral)
                out[m] += np.where(ok, r.integral, 0.0)
                bad[m] |= ~ok
        for j in np.nonzero(bad)[0]:
            cc = c[j]
            if power:
                out[j] = self._quad(lambda x, cc=cc: self.pdf(x) * abs(x - cc) ** power,
                                    lo[j], hi[j])
            else:
                out[j] = self._quad(self.pdf, lo[j], hi[j])
        return out

    def seg(self, a, b, c):
        a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c)))
        out = np.zeros(a.shape)
        lo_s, hi_s = self.support
        lo, hi = np.maximum(a, lo_s), np.minimum(b, hi_s)
        m = lo < hi
        if m.any():
            out[m] = self._integral(lo[m], hi[m], c[m], 2)
        return out

    def seg1(self, a, b, c):
        """First partial moment: the parts above and below c separately (each with a
        one-signed integrand, for the relative tolerance of :meth:`_integral`)."""
        a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c)))
        out = np.zeros(a.shape)
        lo_s, hi_s = self.support
        lo, hi = np.maximum(a, lo_s), np.minimum(b, hi_s)
        up_lo = np.maximum(lo, c)
        m = up_lo < hi
        if m.any():
            out[m] += self._integral(up_lo[m], hi[m], c[m], 1)
        dn_hi = np.minimum(hi, c)
        m = lo < dn_hi
        if m.any():
            out[m] -= self._integral(lo[m], dn_hi[m], c[m], 1)
        return out

    def prob(self, a, b):
        a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
        out = np.zeros(a.shape)
        lo_s, hi_s = self.support
        narrow = (a < b) & (b - a < 1.0)
        if narrow.any():
            lo, hi = np.maximum(a[narrow], lo_s), np.minimum(b[narrow], hi_s)
            m = lo < hi
            vals = np.zeros(lo.shape)
            if m.any():
                vals[m] = self._integral(lo[m], hi[m], np.zeros(int(m.sum())), 0)
            out[narrow] = vals
        for idx in zip(*np.nonzero((a < b) & ~narrow), strict=True) if a.ndim else (
                [()] if (a < b) & ~narrow else []):
            lo, hi = a[idx], b[idx]
            if lo >= self._median:
                out[idx] = self.sf(lo) - self.sf(hi)
            elif hi <= self._median:
                out[idx] = self.cdf(hi) - self.cdf(lo)
            else:
                out[idx] = (self.cdf(self._median) - self.cdf(lo)) + (
                    self.sf(self._median) - self.sf(hi))
        return out

    _MAX_DIRECT = 2**16

    def cells(self, a0, step, n):
        a0, step, n = np.broadcast_arrays(*(np.asarray(v, float) for v in (a0, step, n)))
        out = np.zeros(a0.shape)
        for idx in zip(*np.nonzero(n > 0), strict=True) if a0.ndim else [()]:
            out[idx] = self._cells_one(float(a0[idx]), float(step[idx]), float(n[idx]))
        return out

    @staticmethod
    def _centres(a0, step, n):
        """Cell centres a0 + (i + 1/2) step and half-widths, without overflow when the
        grid spans nearly the whole float range."""
        i = np.arange(int(n), dtype=np.float64) + 0.5
        if np.isfinite(abs(a0) + n * step):
            c = a0 + i * step
        else:  # halve, add, double: exact for normal numbers
            c = 2.0 * (0.5 * a0 + i * (0.5 * step))
        return c, np.full(c.shape, 0.5 * step)

    def _missed_mass(self, c, half):
        """Indices of cells whose Gauss-Legendre mass disagrees with the CDF.

        A cell much wider than the law (1e300 wide, say) can hold all of the mass
        between two nodes, where both rules see nothing and agree on 0.  Only cells
        wider than 1/2 (standardized) are checked; their masses come from the CDF
        (left of the median) or survival function (right of it), accurate to about
        1e-16 absolute."""
        if half[0] <= 0.25:
            return []
        lo_s, hi_s = self.support
        a, b = np.maximum(c - half, lo_s), np.minimum(c + half, hi_s)
        m = self._median
        with np.errstate(all="ignore"):
            left = self.cdf(np.minimum(b, m)) - self.cdf(np.minimum(a, m))
            right = self.sf(np.maximum(a, m)) - self.sf(np.maximum(b, m))
            mass = np.where(a < b, left + right, 0.0)
            gl = _gl_centred(self.pdf, c, half, 0, _GL20)
        return np.nonzero(~(np.abs(gl - mass) <= 1e-12 * mass + 1e-15))[0].tolist()

    def _kink_cells(self, a0, step, n, points=None):
        ks = set()
        for p in self.kinks if points is None else points:
            k = math.floor((p - a0) / step)
            for j in (k - 1, k, k + 1):
                if 0 <= j < n:
                    ks.add(int(j))
        return sorted(ks)

    def _cell_quad(self, a0, step, i):
        a = a0 + i * step
        c = a + 0.5 * step
        return self._quad(lambda x: self.pdf(x) * (x - c) ** 2, a, a + step)

    def _cells_one(self, a0, step, n):
        kink_cells = self._kink_cells(a0, step, n)
        if n <= self._MAX_DIRECT:
            c, half = self._centres(a0, step, n)
            hi = _gl_centred(self.pdf, c, half, 2, _GL20)
            lo = _gl_centred(self.pdf, c, half, 2, _GL10)
            bad = set(np.nonzero(np.abs(hi - lo) > 1e-13 * np.abs(hi) + 1e-300)[0].tolist())
            bad.update(kink_cells)
            bad.update(self._missed_mass(c, half))
            for j in bad:
                hi[j] = self._cell_quad(a0, step, j)
            return math.fsum(hi)
        # Euler-Maclaurin over the smooth stretches between kink cells
        kink_cells = self._kink_cells(a0, step, n, self.suspects)
        total = 0.0
        edges = [-1] + kink_cells + [int(n)]
        for j in kink_cells:
            total += self._cell_quad(a0, step, j)
        for left, right in zip(edges[:-1], edges[1:], strict=True):
            m = right - left - 1
            if m <= 0:
                continue
            a = a0 + (left + 1) * step
            b = a0 + right * step
            p = float(self.prob(np.array([a]), np.array([b]))[0])
            total += (step * step / 12.0 * p
                      + step**4 / 360.0 * (self._dpdf(b) - self._dpdf(a)))
        return total

    def _dpdf(self, x):
        if not np.isfinite(x):
            return 0.0
        h = 1e-4 * max(1.0, abs(x))
        return float((self.pdf(x + h) - self.pdf(x - h)) / (2 * h))

    def cells1(self, a0, step, n):
        r"""First-moment analogue of :meth:`cells`.

        20-point Gauss-Legendre per cell checked against 10-point (tolerance relative
        to :math:`\tfrac{\Delta}{2}P(\text{cell})`, the size of the integrand; cells
        that disagree and cells at kinks are redone with quad) for up to 2^16 cells;
        beyond, the Euler-Maclaurin form
        :math:`\frac{\Delta^2}{12}[f]_a^b - \frac{\Delta^4}{720}[f'']_a^b` over the
        smooth stretches (numerical :math:`f''`), with the kink cells by quad.
        """
        a0, step, n = np.broadcast_arrays(*(np.asarray(v, float) for v in (a0, step, n)))
        out = np.zeros(a0.shape)
        for idx in zip(*np.nonzero(n > 0), strict=True) if a0.ndim else [()]:
            out[idx] = self._cells1_one(float(a0[idx]), float(step[idx]), float(n[idx]))
        return out

    def _cell1_quad(self, a0, step, i, scale):
        a = a0 + i * step
        c = a + 0.5 * step
        return self._quad(lambda x: self.rv.pdf(x, *self.shapes) * (x - c), a, a + step,
                          epsabs=1e-15 * scale)

    def _cells1_one(self, a0, step, n):
        kink_cells = self._kink_cells(a0, step, n)
        if n <= self._MAX_DIRECT:
            c, half = self._centres(a0, step, n)
            hi = _gl_centred(self.pdf, c, half, 1, _GL20)
            lo = _gl_centred(self.pdf, c, half, 1, _GL10)
            size = 0.5 * step * np.abs(_gl_centred(self.pdf, c, half, 0, _GL20))
            bad = set(np.nonzero(np.abs(hi - lo) > 1e-13 * size + 1e-300)[0].tolist())
            bad.update(kink_cells)
            bad.update(self._missed_mass(c, half))
            for j in bad:
                hi[j] = self._cell1_quad(a0, step, j, max(size[j], 1e-300))
            return math.fsum(hi)
        total = 0.0
        edges = [-1] + kink_cells + [int(n)]
        for j in kink_cells:
            total += self._cell1_quad(a0, step, j, 0.5 * step * 1e-16)
        for left, right in zip(edges[:-1], edges[1:], strict=True):
            if right - left - 1 <= 0:
                continue
            a = a0 + (left + 1) * step
            b = a0 + right * step
            total += (step * step / 12.0 * (self._pdf0(b) - self._pdf0(a))
                      - step**4 / 720.0 * (self._d2pdf(b) - self._d2pdf(a)))
        return total

    def _pdf0(self, x):
        return float(self.pdf(x)) if np.isfinite(x) else 0.0

    def _d2pdf(self, x):
        if not np.isfinite(x):
            return 0.0
        h = 1e-3 * max(1.0, abs(x))
        return float((self.pdf(x + h) - 2.0 * self.pdf(x) + self.pdf(x - h)) / (h * h))


FAMILIES = {"norm": Normal(), "laplace": Laplace(), "uniform": Uniform()}


@lru_cache(maxsize=64)
def generic_family(rv, shapes):
    return GenericFamily(rv, shapes)


# ------------------------------------------------- first moments of cell blocks (bias)
#: coefficient B_{2j} / (2j)! of Delta^{2j} [f^{(2j-2)}]_a^b, j = 1..8 (cells1)
_EM1_COEF = [(2 * j, ({2: 1 / 6} | _BERNOULLI)[2 * j] / math.factorial(2 * j))
             for j in range(1, 9)]


def _laplace_k1(step):
    r""":math:`K_1(\Delta) = \int_0^\Delta e^{-u}(u-\Delta/2)du = -2e^{-h}(h\cosh h -
    \sinh h)`, :math:`h = \Delta/2`; the series :math:`h\cosh h - \sinh h =
    \sum_{k\ge1} 2k\,h^{2k+1}/(2k+1)!` below :math:`h = 1` avoids the cancellation."""
    h = 0.5 * np.asarray(step, dtype=np.float64)
    small = h < 1.0
    g = np.zeros_like(h)
    if small.any():
        hs = h[small]
        term = hs.copy()  # h^{2k+1}/(2k+1)! for k = 0
        acc = np.zeros_like(hs)
        h2 = hs * hs
        for k in range(1, 16):
            term = term * h2 / ((2 * k) * (2 * k + 1))
            acc += 2 * k * term
        g[small] = acc
    out = np.empty_like(h)
    out[small] = -2.0 * np.exp(-h[small]) * g[small]
    big = ~small
    if big.any():  # 2 e^{-h}(h cosh h - sinh h) = h (1 + e^{-2h}) - (1 - e^{-2h})
        hb = h[big]
        e2 = np.exp(-2.0 * hb)
        out[big] = (1.0 - e2) - hb * (1.0 + e2)
    return out


class _FirstMomentView:
    """A family seen through its first partial moments: ``seg`` is ``seg1`` and
    ``cells`` is ``cells1``, so the cell-block helpers written for the second moment
    (``_direct_cells``, ``error._restricted_cells``) compute the bias unchanged."""

    def __init__(self, fam):
        self.fam = fam

    def seg(self, a, b, c):
        return self.fam.seg1(a, b, c)

    def cells(self, a0, step, n):
        return self.fam.cells1(a0, step, n)
