r"""Saturating nonlinearities (SatNL, supplement Section 5 and Fig. 3A).

:func:`saturate` builds the law of :math:`Y = s(gW)` for a saturating function
:math:`s` and a gain :math:`g > 0`.  The supplement requires three properties of
:math:`s` (Section 5, after Section 4.2 of the paper):

1. odd, :math:`s(-x) = -s(x)`;
2. bounded, :math:`\sup_x |s(x)| = c < \infty`;
3. decreasing slope: :math:`s'` is non-increasing on :math:`x > 0`.

With (2) and (3), :math:`s` is non-decreasing; qerror also needs it *strictly*
increasing (:math:`s' > 0`), so that :math:`Y` has a density.  A function that
becomes flat at a finite :math:`x` (``hardtanh``) puts atoms at :math:`\pm c`: that is
the clamped law of :func:`qerror.clamp`.

The law of :math:`Y` follows by change of variables: on :math:`(-c, c)`,

.. math::

    f_Y(y) = \frac{f_W(x)}{g\,s'(gx)}, \qquad F_Y(y) = F_W(x),
    \qquad x = \frac{s^{-1}(y)}{g},

and it is returned as a frozen :class:`scipy.stats.rv_continuous` law, so every qerror
function (and scipy's own ``cdf``, ``ppf``, ``rvs``, ``expect``...) accepts it; the
error engine integrates it numerically (:class:`qerror.laws._families.GenericFamily`).
Moments are computed in the :math:`x` variable,
:math:`\mathbb E[Y^k] = \int s(gx)^k f_W(x)\,dx`.

Built-in functions (all with :math:`c = 1`):

==============  ======================================  ==========
name            :math:`s(x)`                            :math:`s'(0)`
==============  ======================================  ==========
``"tanh"``      :math:`\tanh x`                         1
``"softsign"``  :math:`x / (1 + |x|)`                   1
``"arctan"``    :math:`\tfrac{2}{\pi}\arctan(\pi x/2)`  1
``"erf"``       :math:`\operatorname{erf} x`            :math:`2/\sqrt\pi`
==============  ======================================  ==========
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import integrate, special, stats

from .._validation import check_positive_scalar

__all__ = ["saturate", "SaturatedDistribution", "SATURATING_FUNCTIONS"]

_SERIAL = itertools.count()
#: scipy's frozen-law class (public as the type of any frozen continuous law)
rv_continuous_frozen = type(stats.norm())

_LOG_2_SQRT_PI = math.log(2.0 / math.sqrt(math.pi))
_HALF_PI = 0.5 * math.pi


@dataclass(frozen=True)
class _Saturator:
    """A saturating function with its inverse, slope and log-slope."""

    name: str
    fn: Callable
    inverse: Callable
    derivative: Callable
    log_derivative: Callable
    bound: float


def _log_sech2(u):
    a = np.abs(u)
    return math.log(4.0) - 2.0 * a - 2.0 * np.log1p(np.exp(-2.0 * a))


_BUILTIN = {
    "tanh": _Saturator("tanh", np.tanh, np.arctanh,
                       lambda u: np.exp(_log_sech2(u)), _log_sech2, 1.0),
    "softsign": _Saturator("softsign", lambda u: u / (1.0 + np.abs(u)),
                           lambda y: y / (1.0 - np.abs(y)),
                           lambda u: 1.0 / (1.0 + np.abs(u)) ** 2,
                           lambda u: -2.0 * np.log1p(np.abs(u)), 1.0),
    "arctan": _Saturator("arctan", lambda u: np.arctan(_HALF_PI * u) / _HALF_PI,
                         lambda y: np.tan(_HALF_PI * y) / _HALF_PI,
                         lambda u: 1.0 / (1.0 + (_HALF_PI * u) ** 2),
                         lambda u: -np.log1p((_HALF_PI * u) ** 2), 1.0),
    "erf": _Saturator("erf", special.erf, special.erfinv,
                      lambda u: np.exp(_LOG_2_SQRT_PI - u * u),
                      lambda u: _LOG_2_SQRT_PI - u * u, 1.0),
}

#: names accepted by :func:`saturate` as `fn`
SATURATING_FUNCTIONS = tuple(_BUILTIN)


# ------------------------------------------------------------- property checks
_U_POS = np.concatenate([np.geomspace(1e-4, 20.0, 241)])


def _check_properties(fn, inverse, derivative, name: str) -> float:
    """Check the supplement's three properties numerically; return the bound c.

    Raises ValueError naming the property that fails and where.
    """
    u = _U_POS
    with np.errstate(all="ignore"):
        try:
            y = np.asarray(fn(u), dtype=np.float64)
            ym = np.asarray(fn(-u), dtype=np.float64)
            y0 = float(np.asarray(fn(np.array([0.0])), dtype=np.float64).ravel()[0])
        except Exception as exc:
            raise TypeError(f"fn {name!r} must accept a float64 ndarray and return an "
                            f"array of the same shape: {exc}") from None
    if y.shape != u.shape or not (np.all(np.isfinite(y)) and np.all(np.isfinite(ym))):
        raise ValueError(f"fn {name!r} must return finite values of the same shape as "
                         "its input on [-20, 20]")
    scale = float(np.max(np.abs(y))) or 1.0
    # 1. odd
    odd_err = np.abs(y + ym)
    if abs(y0) > 1e-12 * scale or np.any(odd_err > 1e-9 * np.maximum(np.abs(y), 1e-300)):
        k = int(np.argmax(odd_err))
        raise ValueError(f"fn {name!r} is not odd (property 1 of SatNL): "
                         f"fn({u[k]:.4g}) = {y[k]:.6g} but fn({-u[k]:.4g}) = {ym[k]:.6g}")
    # 2. bounded: fn converges as x -> infinity
    big = np.array([1e50, 1e100])
    with np.errstate(all="ignore"):
        yb = np.asarray(fn(big), dtype=np.float64)
    if not np.all(np.isfinite(yb)):
        raise ValueError(f"fn {name!r} returned non-finite values at x = 1e50, 1e100; "
                         "write it in an overflow-safe form (property 2, bounded, is "
                         "checked there)")
    if abs(yb[1] - yb[0]) > 1e-9 * abs(yb[1]) or abs(yb[1]) < np.max(np.abs(y)):
        raise ValueError(f"fn {name!r} is not bounded (property 2 of SatNL): fn(1e50) = "
                         f"{yb[0]:.6g}, fn(1e100) = {yb[1]:.6g} do not converge")
    bound = float(yb[1])
    # 3. decreasing slope, and strictly increasing
    with np.errstate(all="ignore"):
        try:
            sl = np.asarray(derivative(u), dtype=np.float64)
        except Exception as exc:
            raise TypeError(f"derivative of {name!r} must accept a float64 ndarray: "
                            f"{exc}") from None
    if sl.shape != u.shape or not np.all(np.isfinite(sl)):
        raise ValueError(f"derivative of {name!r} must return finite values on [0, 20]")
    if np.any(sl < 0.0):
        k = int(np.argmax(sl < 0.0))
        raise ValueError(f"fn {name!r} decreases at x = {u[k]:.4g} (slope {sl[k]:.3g}); a "
                         "saturating function must be increasing")
    rise = np.diff(sl) > 1e-9 * sl[:-1]
    if np.any(rise):
        k = int(np.argmax(rise))
        raise ValueError(f"fn {name!r} does not have a decreasing slope on x > 0 "
                         f"(property 3 of SatNL): slope {sl[k]:.6g} at x = {u[k]:.4g} "
                         f"rises to {sl[k + 1]:.6g} at x = {u[k + 1]:.4g}")
    # flat at a finite x (a clip): the slope drops from a sizeable value to exactly 0
    # between neighbouring grid points (a smooth saturation fades out through
    # tiny slopes before underflowing)
    drop = (sl[1:] == 0.0) & (sl[:-1] > 1e-3 * sl[0])
    if np.any(drop):
        k = int(np.argmax(drop)) + 1
        raise ValueError(
            f"fn {name!r} is flat from x = {u[k]:.4g} on: its output would have point "
            "masses at the bound, which is a clamped law (use qerror.clamp); SatNL "
            "needs a strictly increasing function")
    # consistency of the supplied inverse and derivative
    mid = u[(u <= 5.0) & (np.abs(y) < (1.0 - 1e-8) * abs(bound))]
    with np.errstate(all="ignore"):
        back = np.asarray(inverse(np.asarray(fn(mid), dtype=np.float64)), dtype=np.float64)
    if back.shape != mid.shape or np.any(~(np.abs(back - mid) <= 1e-6 * (1.0 + mid))):
        raise ValueError(f"inverse of {name!r} does not invert fn: inverse(fn(x)) != x "
                         "on [0, 5] (where fn is not yet at its bound)")
    h = 1e-6 * np.maximum(1.0, mid)
    with np.errstate(all="ignore"):
        num = (np.asarray(fn(mid + h)) - np.asarray(fn(mid - h))) / (2.0 * h)
        sl_mid = np.asarray(derivative(mid), dtype=np.float64)
    if np.any(~(np.abs(num - sl_mid) <= 1e-5 * np.abs(sl_mid) + 1e-9 * abs(bound))):
        raise ValueError(f"derivative of {name!r} does not match the slope of fn on "
                         "[0, 5]")
    return bound


def _saturator(fn, inverse, derivative) -> _Saturator:
    if isinstance(fn, str):
        if fn not in _BUILTIN:
            raise ValueError(f"fn must be one of {SATURATING_FUNCTIONS} or a callable, "
                             f"got {fn!r}")
        if inverse is not None or derivative is not None:
            raise TypeError(f"inverse and derivative are for a callable fn; the built-in "
                            f"{fn!r} has its own")
        return _BUILTIN[fn]
    if not callable(fn):
        raise TypeError(f"fn must be one of {SATURATING_FUNCTIONS} or a callable, got "
                        f"{type(fn).__name__}")
    if not (callable(inverse) and callable(derivative)):
        raise TypeError("a callable fn needs inverse= (its inverse on the open range) "
                        "and derivative= (its slope), both callables")
    name = getattr(fn, "__name__", "fn")
    bound = _check_properties(fn, inverse, derivative, name)

    def log_derivative(u):
        with np.errstate(divide="ignore"):
            return np.log(np.asarray(derivative(u), dtype=np.float64))

    return _Saturator(name, fn, inverse, derivative, log_derivative, bound)


# ------------------------------------------------------- the engine's family
def _logpdf(base, sat, gain, y):
    """log f_Y(y) = log f_W(x) - log g - log s'(g x), x = s^{-1}(y)/g."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        u = sat.inverse(y)
        out = base.logpdf(u / gain) - math.log(gain) - sat.log_derivative(u)
    return np.where(np.isnan(out), -np.inf, out)


_GL16 = np.polynomial.legendre.leggauss(16)
_GL20 = np.polynomial.legendre.leggauss(20)
#: tail probabilities below this are neglected (their error is below 1e-60 c^2)
_P_MIN = 1e-60
#: width of one Gauss-Legendre panel in log(tail probability): half a decade
_PANEL = 0.5 * math.log(10.0)
#: cells integrated at once (memory: 16 nodes x this many float64 per array)
_CHUNK = 2**16
#: blocks with more cells use Euler-Maclaurin between explicitly summed end cells
_MAX_EXPLICIT = 2**14
_END_CELLS = 64


class _SaturatedFamily:
    r"""Partial moments of :math:`Y = s(gW)` for the error engine.

    Returned by the scipy family's ``_qerror_family()`` (qerror's law protocol),
    so the engine uses it in place of plain quadrature of :math:`f_Y`.  :math:`f_Y` may be singular at :math:`\pm c` (e.g. ``erf`` of a
    Laplace law with a large gain), and mass within one double-precision spacing of
    :math:`\pm c` is invisible in :math:`y`; so every integral
    :math:`\int_{y_1}^{y_2} f_Y(y)\,h(y)\,dy` is first tried with 16-point
    Gauss-Legendre in :math:`y`, accepted only if its mass agrees with
    :math:`F_Y(y_2) - F_Y(y_1)` to 1e-12, and otherwise done in the tail probability
    of :math:`W`: with :math:`p = P(W > x)` above the median (:math:`P(W < x)`
    below), :math:`\int h(y)\,f_Y dy = \int h\bigl(s(g\,F_W^{-1}(p))\bigr)\,dp`,
    integrated in :math:`\log p` over half-decade panels down to
    :math:`p = 10^{-60}` (20-point Gauss-Legendre each): a bounded, smooth integrand
    whatever the density does at :math:`\pm c`.
    """

    symmetric = False
    infinite_variance = False

    def __init__(self, name, base, sat, gain, support):
        self.name = name
        self.base, self.sat, self.gain = base, sat, gain
        self.support = support
        self.kinks = ()
        self._xm = float(base.median())
        self._ym = float(sat.fn(np.array([gain * self._xm]))[0])

    # ---- pointwise
    def _x(self, y):
        with np.errstate(divide="ignore", over="ignore"):
            return self.sat.inverse(np.asarray(y, dtype=np.float64)) / self.gain

    def pdf(self, y):
        y = np.asarray(y, dtype=np.float64)
        lo, hi = self.support
        inside = (y > lo) & (y < hi)
        out = np.zeros(y.shape)
        if inside.any():
            out[inside] = np.exp(_logpdf(self.base, self.sat, self.gain, y[inside]))
        return out

    def cdf(self, y):
        y = np.asarray(y, dtype=np.float64)
        lo, hi = self.support
        return np.where(y <= lo, 0.0, np.where(y >= hi, 1.0, self.base.cdf(self._x(y))))

    def sf(self, y):
        y = np.asarray(y, dtype=np.float64)
        lo, hi = self.support
        return np.where(y <= lo, 1.0, np.where(y >= hi, 0.0, self.base.sf(self._x(y))))

    def prob(self, a, b):
        """P(a < Y < b) from tail probabilities on each side of the median."""
        a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
        ym = self._ym
        up = a >= ym
        down = b <= ym
        out = 1.0 - self.cdf(a) - self.sf(b)
        out = np.where(up, self.sf(a) - self.sf(b), out)
        out = np.where(down, self.cdf(b) - self.cdf(a), out)
        return np.where(a < b, np.maximum(out, 0.0), 0.0)

    # ---- integrals of f_Y(y) (y - c)^k over [y1, y2]
    def _tail_space(self, p_lo, p_hi, c, k, upper):
        """int_{p_lo}^{p_hi} (y(p) - c)^k dp, y(p) = s(g W-quantile), log-p panels."""
        out = np.zeros(p_lo.shape)
        p_lo = np.maximum(p_lo, _P_MIN)
        ok = p_hi > p_lo
        if not ok.any():
            return out
        idx = np.flatnonzero(ok)
        t0, t1 = np.log(p_lo[idx]), np.log(p_hi[idx])
        npan = np.maximum(np.ceil((t1 - t0) / _PANEL), 1.0).astype(np.int64)
        owner = np.repeat(np.arange(idx.size), npan)
        start = np.cumsum(npan) - npan
        j = np.arange(owner.size) - np.repeat(start, npan)
        width = ((t1 - t0) / npan)[owner]
        lo = t0[owner] + j * width
        x, w = _GL20
        t = (lo + 0.5 * width)[:, None] + (0.5 * width)[:, None] * x
        p = np.exp(t)
        q = self.base.isf(p) if upper else self.base.ppf(p)
        with np.errstate(invalid="ignore", over="ignore"):
            y = self.sat.fn(self.gain * q)
        val = ((y - c[idx][owner][:, None]) ** k * p) @ w * (0.5 * width)
        out[idx] = np.bincount(owner, weights=val, minlength=idx.size)
        return out

    def _integrate(self, y1, y2, c, k):
        y1, y2, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64)
                                          for v in (y1, y2, c)))
        lo, hi = self.support
        y1, y2 = np.maximum(y1, lo), np.minimum(y2, hi)
        out = np.zeros(y1.shape)
        ok = np.flatnonzero((y1 < y2).ravel())
        if not ok.size:
            return out
        flat = out.ravel()
        for s0 in range(0, ok.size, _CHUNK):
            sel = ok[s0:s0 + _CHUNK]
            a, b, cc = y1.ravel()[sel], y2.ravel()[sel], c.ravel()[sel]
            # 1) Gauss-Legendre in y, accepted if it reproduces the mass
            x, w = _GL16
            half = 0.5 * (b - a)
            ys = (0.5 * (a + b))[:, None] + half[:, None] * x
            f = self.pdf(ys)
            mass = (f @ w) * half
            val = ((f * (ys - cc[:, None]) ** k) @ w) * half
            exact = self.prob(a, b)
            good = (np.abs(mass - exact) <= 1e-12 * exact) & (a > lo) & (b < hi)
            res = np.where(good, val, 0.0)
            bad = np.flatnonzero(~good)
            if bad.size:  # 2) in the tail probability of W
                ab, bb, cb = a[bad], b[bad], cc[bad]
                ym = self._ym
                acc = np.zeros(bad.size)
                u = bb > ym  # part above the median
                if u.any():
                    lo_y = np.maximum(ab[u], ym)
                    acc[u] += self._tail_space(self.sf(bb[u]), self.sf(lo_y), cb[u], k,
                                               True)
                d = ab < ym  # part below
                if d.any():
                    hi_y = np.minimum(bb[d], ym)
                    acc[d] += self._tail_space(self.cdf(ab[d]), self.cdf(hi_y), cb[d], k,
                                               False)
                res[bad] = acc
            flat[sel] = res
        return out

    def seg(self, a, b, c):
        r""":math:`\int_a^b f_Y(y)(y-c)^2 dy`."""
        return self._integrate(a, b, c, 2)

    def seg1(self, a, b, c):
        r""":math:`\int_a^b f_Y(y)(y-c) dy`."""
        return self._integrate(a, b, c, 1)

    # ---- blocks of whole cells
    def _cells(self, a0, step, n, k):
        a0, step, n = np.broadcast_arrays(*(np.asarray(v, float) for v in (a0, step, n)))
        out = np.zeros(a0.shape)
        small = (n > 0) & (n <= _MAX_EXPLICIT)
        if small.any():
            out[small] = self._explicit(a0[small], step[small], n[small], k)
        for i in zip(*np.nonzero(n > _MAX_EXPLICIT), strict=True):
            out[i] = self._em_block(float(a0[i]), float(step[i]), float(n[i]), k)
        return out

    def _explicit(self, a0, step, n, k):
        counts = n.astype(np.int64)
        owner = np.repeat(np.arange(a0.size), counts)
        start = np.cumsum(counts) - counts
        i = np.arange(owner.size) - np.repeat(start, counts)
        a = a0[owner] + i * step[owner]
        vals = self._integrate(a, a + step[owner], a + 0.5 * step[owner], k)
        return np.bincount(owner, weights=vals, minlength=a0.size)

    def _em_block(self, a0, step, n, k):
        """Explicit cells at both ends and around the median's image, Euler-Maclaurin
        (two terms, numerical derivatives of f_Y) over the stretches in between."""
        m = _END_CELLS
        j_med = math.floor((self._ym - a0) / step)
        keep = set(range(0, m)) | set(range(int(n) - m, int(n)))
        keep |= {j for j in range(j_med - m, j_med + m) if 0 <= j < n}
        keep = np.array(sorted(keep), dtype=np.float64)
        a = a0 + keep * step
        total = math.fsum(self._integrate(a, a + step, a + 0.5 * step, k))
        edges = [-1.0] + keep.tolist() + [n]
        for left, right in zip(edges[:-1], edges[1:], strict=True):
            if right - left <= 1:
                continue
            ya, yb = a0 + (left + 1) * step, a0 + right * step
            if k == 2:
                p = float(self.prob(np.array([ya]), np.array([yb]))[0])
                total += (step * step / 12.0 * p
                          + step**4 / 360.0 * (self._deriv(yb, 1) - self._deriv(ya, 1)))
            else:
                total += (step * step / 12.0 * float(self.pdf(yb) - self.pdf(ya))
                          - step**4 / 720.0 * (self._deriv(yb, 2) - self._deriv(ya, 2)))
        return total

    def _deriv(self, y, order):
        lo, hi = self.support
        h = 1e-3 * min(y - lo, hi - y, 1.0)
        f = self.pdf(np.array([y - h, y, y + h]))
        if order == 1:
            return float((f[2] - f[0]) / (2.0 * h))
        return float((f[2] - 2.0 * f[1] + f[0]) / (h * h))

    def cells(self, a0, step, n):
        """Rounding error of blocks of whole cells (second moments about the levels)."""
        return self._cells(a0, step, n, 2)

    def cells1(self, a0, step, n):
        """First-moment analogue of :meth:`cells` (for :func:`qerror.bias`)."""
        return self._cells(a0, step, n, 1)


# ------------------------------------------------------------------ the law
class _saturated_gen(stats.rv_continuous):
    """scipy family of Y = fn(gain * W) for one base law W (no shape parameters)."""

    def __init__(self, base=None, sat=None, gain=1.0, **kwds):
        self._base, self._sat, self._gain = base, sat, float(gain)
        self._family = None
        super().__init__(**kwds)

    def _qerror_family(self) -> _SaturatedFamily:
        """The partial-moment family the error engine integrates with (built once)."""
        if self._family is None:
            self._family = _SaturatedFamily(self.name, self._base, self._sat, self._gain,
                                            (float(self.a), float(self.b)))
        return self._family

    def _updated_ctor_param(self):
        dct = super()._updated_ctor_param()
        dct.update(base=self._base, sat=self._sat, gain=self._gain)
        return dct

    def _x(self, y):
        with np.errstate(divide="ignore", over="ignore"):
            return self._sat.inverse(y) / self._gain

    def _logpdf(self, y):
        return _logpdf(self._base, self._sat, self._gain, y)

    def _pdf(self, y):
        return np.exp(self._logpdf(y))

    def _cdf(self, y):
        return self._base.cdf(self._x(y))

    def _sf(self, y):
        return self._base.sf(self._x(y))

    def _ppf(self, q):
        return self._sat.fn(self._gain * self._base.ppf(q))

    def _isf(self, q):
        return self._sat.fn(self._gain * self._base.isf(q))

    def _rvs(self, size=None, random_state=None):
        w = self._base.rvs(size=size, random_state=random_state)
        return self._sat.fn(self._gain * w)

    def _expect_x(self, g):
        """E[g(Y)] = int g(fn(gain x)) f_W(x) dx, split at the base law's quartiles."""
        base = self._base
        lo, hi = (float(v) for v in base.support())
        marks = sorted({float(base.ppf(p)) for p in (0.001, 0.25, 0.5, 0.75, 0.999)})
        edges = [lo] + [m for m in marks if lo < m < hi] + [hi]

        def integrand(x):
            return g(self._sat.fn(self._gain * x)) * base.pdf(x)

        parts = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            for x0, x1 in zip(edges[:-1], edges[1:], strict=True):
                parts.append(integrate.quad(integrand, x0, x1, epsabs=0.0, epsrel=1e-12,
                                            limit=400)[0])
        return math.fsum(parts)

    def _stats(self):
        m = self._expect_x(lambda y: y)
        mu2 = self._expect_x(lambda y: (y - m) ** 2)
        mu3 = self._expect_x(lambda y: (y - m) ** 3)
        mu4 = self._expect_x(lambda y: (y - m) ** 4)
        return m, mu2, mu3 / mu2**1.5, mu4 / mu2**2 - 3.0


class SaturatedDistribution(rv_continuous_frozen):
    r"""Frozen law of :math:`Y = s(gW)`; build it with :func:`saturate`.

    A :class:`scipy.stats` frozen continuous distribution (``pdf``, ``cdf``, ``ppf``,
    ``rvs``, ``mean``, ``var``, ``stats``, ``expect``, ``support``...).

    Attributes
    ----------
    base : scipy.stats frozen distribution
        The law of :math:`W`.
    fn : str
        Name of the saturating function :math:`s`.
    gain : float
        The gain :math:`g`.
    bound : float
        :math:`c = \sup|s|`; the support is inside :math:`[-c, c]`.
    """

    @property
    def base(self):
        return self.dist._base

    @property
    def fn(self) -> str:
        return self.dist._sat.name

    @property
    def gain(self) -> float:
        return self.dist._gain

    @property
    def bound(self) -> float:
        return self.dist._sat.bound

    def __repr__(self) -> str:
        b = self.base
        args = ", ".join([*(repr(a) for a in b.args),
                          *(f"{k}={v!r}" for k, v in b.kwds.items())])
        return f"saturate({b.dist.name}({args}), fn={self.fn!r}, gain={self.gain!r})"


def saturate(dist, fn="tanh", *, gain=1.0, inverse=None, derivative=None):
    r"""Law of :math:`Y = s(g\,W)`, the output of a saturating nonlinearity (SatNL).

    .. math::

        f_Y(y) = \frac{f_W\!\left(s^{-1}(y)/g\right)}{g\,s'\!\left(s^{-1}(y)\right)},
        \qquad |y| < c = \sup_x |s(x)|,

    where :math:`s` is `fn`, :math:`g` is `gain` and :math:`f_W` the density of `dist`.

    Parameters
    ----------
    dist : scipy.stats frozen continuous distribution
        The law of :math:`W` (e.g. ``stats.norm(scale=0.5)``).  To saturate and then
        clamp, use ``qerror.clamp(qerror.saturate(...), d)``.
    fn : {"tanh", "softsign", "arctan", "erf"} or callable
        The saturating function.  A callable must be vectorised and come with
        `inverse` and `derivative`; it is checked numerically for the supplement's
        three properties (odd, bounded, decreasing slope on :math:`x > 0`) and for
        a strictly positive slope, and refused with the reason if it fails one.
    gain : float
        :math:`g > 0`, applied before `fn` (a larger gain saturates more).
    inverse, derivative : callable, optional
        For a callable `fn` only: :math:`s^{-1}` on :math:`(-c, c)` and :math:`s'`.

    Returns
    -------
    SaturatedDistribution
        A frozen scipy.stats law with support inside :math:`[-c, c]`, accepted by
        every qerror function (:func:`qerror.mse`, :func:`qerror.optimal_alpha`,
        :func:`qerror.bias`, :func:`qerror.clamp`...).

    Raises
    ------
    ValueError
        If `fn` is an unknown name or fails one of the properties, or `gain` is not
        a finite number > 0.
    TypeError
        If `dist` is not a frozen scipy.stats continuous law, or a callable `fn`
        lacks `inverse` / `derivative`.

    Examples
    --------
    >>> from scipy import stats
    >>> import qerror
    >>> y = qerror.saturate(stats.norm(), "tanh", gain=1.5)
    >>> tuple(float(v) for v in y.support())
    (-1.0, 1.0)
    >>> round(float(y.cdf(0.5)), 6)  # = P(W < artanh(0.5) / 1.5)
    0.642894
    >>> round(qerror.mse(y, 1.0, 4), 8)
    0.00142428
    """
    from ._protocol import _check_scipy_law
    from .clamped import ClampedDistribution

    if isinstance(dist, ClampedDistribution):
        raise TypeError("dist must be a frozen scipy.stats continuous law, not a clamped "
                        "law (its atoms would map to atoms); saturate first and clamp "
                        "the result: qerror.clamp(qerror.saturate(dist), d)")
    _check_scipy_law(dist)
    gain = check_positive_scalar(gain, "gain")
    sat = _saturator(fn, inverse, derivative)
    lo, hi = (float(v) for v in dist.support())
    with np.errstate(all="ignore"):
        a = -sat.bound if lo == -np.inf else float(sat.fn(np.array([gain * lo]))[0])
        b = sat.bound if hi == np.inf else float(sat.fn(np.array([gain * hi]))[0])
    name = f"qerror_saturated_{sat.name}_{next(_SERIAL)}"
    gen = _saturated_gen(base=dist, sat=sat, gain=gain, a=a, b=b, name=name)
    return SaturatedDistribution(gen)
