"""Any continuous scipy.stats law by quadrature (tanh-sinh, Gauss-Legendre, quad)."""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np
from scipy import integrate

from ._base import (
    _BULK_MARKS,
    _GL10,
    _GL20,
    _TAIL_MARKS,
    _gl_centred,
    _tanhsinh,
)


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


@lru_cache(maxsize=64)
def generic_family(rv, shapes):
    return GenericFamily(rv, shapes)
