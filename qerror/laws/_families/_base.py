"""Shared quadrature constants, the symmetric-family base class and cell helpers."""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate

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
# ------------------------------------------------- first moments of cell blocks (bias)
#: coefficient B_{2j} / (2j)! of Delta^{2j} [f^{(2j-2)}]_a^b, j = 1..8 (cells1)
_EM1_COEF = [(2 * j, ({2: 1 / 6} | _BERNOULLI)[2 * j] / math.factorial(2 * j))
             for j in range(1, 9)]



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
