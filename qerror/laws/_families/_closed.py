"""The Laplace and uniform laws in closed form."""

from __future__ import annotations

import numpy as np
from scipy import special

from ._base import (
    _combine,
    _Family,
)


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
