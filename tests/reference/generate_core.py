#!/usr/bin/env python3
"""Independent high-precision reference generator for qerror's core MSE values.

Writes ``core_reference.json`` next to this file.  Uses ONLY mpmath and the Python
standard library: it does not import qerror, numpy or scipy, so it is an independent
check of the library.

Definitions (see shared CONVENTIONS.md):

* grids  -- ``midrise``: 2^b levels -a+(2i+1)D/2, D = 2a/2^b, x beyond +-a -> +-(a-D/2);
  ``midtread`` (b>=2): K = 2^(b-1)-1, D = a/K, levels kD, |k|<=K, x beyond +-a -> +-a;
  ``unsigned``: range [0,a], levels (2i+1)D/2, D = a/2^b, x>a -> a-D/2, x<0 -> D/2.
* models -- ``exact``: E[(W-Q(W))^2], truncation = part from W outside the range,
  rounding = part from W inside the closed range;  ``aciq`` (supplement Eq. 3):
  truncation = int_hi^inf f (x-hi)^2 + int_-inf^lo f (x-lo)^2 (clipped values measured
  against the range edges), rounding = D^2/12 of the grid over the whole mass.
* clamped laws W' = clip(W,-d,d): density f on (-d,d) plus atoms F(-d) at -d and
  1-F(d) at +d.  Atoms inside the closed range count as rounding, else truncation.

Every number is computed from the exact binary value of the double parameters
(alpha, loc, scale, d, shapes), i.e. exact for the inputs the library sees.

Methods
-------
All laws are handled as ``loc + scale * Z`` with a standardised Z; every integral is
``scale^2 *`` the standardised integral.  For the symmetric standard laws (normal,
Laplace, t, logistic, gennorm) every integral is split at 0 and reflected to z >= 0.

* "cf"   (closed form): int_a^b g(z)(z-c)^2 dz = V(a) - V(b), V = U2 - 2c U1 + c^2 U0
  with the upper partial moments U_k(z) = int_z^inf t^k g(t) dt in closed form:
  normal (erfc), Laplace (exp), t (regularised incomplete beta; U2 through the
  t_{nu-2} tail), logistic (log1p, dilogarithm via Landen + Bernoulli series),
  gennorm (upper incomplete gamma), uniform (polynomial).  The cancellation in tiny
  cells (and in far tails) is absorbed by working at dps P = 63 + ceil(3*log10(scale/D)),
  and every value is recomputed at P+20 dps.
* "quad" mp.quad (tanh-sinh, dps 48) of the density written in mpmath, split at 0
  and at the cell boundaries.  mp.quad's stopping test is absolute, so the integrand
  is normalised to O(1) (divided by g(z0) and the squared cell scale, variable
  rescaled to the cell or to 1/decay-rate) and subdivided geometrically from z0
  (first step <= z0 when the density has a branch point at 0, gennorm(1.5));
  tails run to infinity past z0 + 1e5/rate.
* block sums of many whole cells centred on their levels (large b):
  - normal, t, logistic, gennorm: Euler-Maclaurin for the sawtooth second moment,
    R = D^2/12 P(a<Z<b) - sum_{j>=2} 2 B_{2j}/(2j)! D^{2j} [g^(2j-3)(b) - g^(2j-3)(a)]
    (derived from (x-c(x))^2 = D^2 (B2({t}) + 1/12) and repeated integration by
    parts with periodic Bernoulli functions), summed until 8 consecutive terms are
    below 10^-63 of R (some odd derivatives vanish structurally, e.g. gennorm(3) at 0).  Derivatives are exact: Hermite polynomials for the normal,
    exact Taylor coefficients from power-series recurrences (J.C.P. Miller power
    recurrence, exp recurrence) for t, logistic, gennorm.  For gennorm(beta=1.5),
    whose density has a branch point at 0, the first PEEL cells next to 0 are
    summed directly (EM remainder ~ exp(-2 pi PEEL)).
  - Laplace: cells on one side of the kink form a geometric series:
    sum = exp(-(a+D/2)) (1-r^n)/(1-r) K(D/2), r = e^-D,
    K(h) = sum_{k>=1} h^(2k+1) / ((2k-2)! (2k+1))  (exact series, no cancellation).
  - uniform: every whole cell inside the support contributes exactly D^3/12 (std).
  Blocks are always split at the kinks of the law (the Laplace/gennorm peak at loc,
  the uniform edges, +-d of a clamped law) and at loc; the cut cells are integrated
  explicitly, so the block formulas only ever see whole cells where f is smooth.

Cross-checks (all asserted; the script aborts on disagreement; tolerance: relative
1e-35 per component (truncation, rounding), absolute floor 1e-60 of the total):
  closed families, exact model:
    b<=7:      direct cf cell sum at dps P  == direct cf at dps P+20;
    b=8..12:   block method (EM / geometric / count) at dps P == direct cf at P+20;
    b<=3:      direct per-cell mp.quad (dps 48) == direct cf;
    b>=16:     block method at dps P == block method at P+20.
  all families, aciq: tails cf at dps P == cf at P+20, and cf == mp.quad (dps 48).
  generic families, exact model:
    b<=4:      per-cell mp.quad (dps 48) == per-cell cf (dps P+20);
    b=5..7:    per-cell cf at dps P == P+20;
    b=8 (and b=6 when D<=0.05 scale): EM == direct cf;
    b=12,16:   EM (peel cells by cf, PEEL=32, dps P) == EM (peel cells by mp.quad,
               PEEL=40, dps P+20);  b=12, alpha=1: EM == direct cf sum.
The reported value is always the dps P+20 one.
"""

import datetime
import json
import math
import multiprocessing
import os
import platform
import sys
import time

import mpmath
from mpmath import mp, mpf

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "core_reference.json")

INF = mpf("inf")
TOL = mpf(10) ** -35          # relative agreement demanded between two computations
QUAD_DPS = 48
PEEL_A, PEEL_B = 32, 40
EM_DIGITS = 63              # Euler-Maclaurin terms summed until < 10^-63 of the block

BITS = [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 20, 24, 32]
ALPHAS = [1e-6, 1e-3, 0.1, 0.5, 1, 1.5, 2, 3, 4, 5, 8, 12, 16, 25]
GRIDS = ["midrise", "midtread", "unsigned"]
MODELS = ["exact", "aciq"]
GENERIC_EXACT_BITS = [1, 2, 3, 4, 5, 6, 7, 8, 12, 16]
GENERIC_EXACT_ALPHAS = [0.1, 1, 2, 3, 5, 8]


_CACHE = {}


def cached(key, fn):
    if key not in _CACHE:
        _CACHE[key] = fn()
    return _CACHE[key]


# ----------------------------------------------------------------------------------
# power series helpers (exact Taylor coefficients)
# ----------------------------------------------------------------------------------

def ser_power(p, alpha, N):
    """Taylor coefficients of P(h)^alpha, P = sum p_k h^k (Miller recurrence)."""
    g = [p[0] ** alpha]
    inv = 1 / p[0]
    L = len(p) - 1
    for n in range(1, N + 1):
        s = mpf(0)
        for k in range(1, min(n, L) + 1):
            if p[k]:
                s += ((alpha + 1) * k - n) * p[k] * g[n - k]
        g.append(s * inv / n)
    return g


def ser_exp(s, N):
    """Taylor coefficients of exp(S(h))."""
    g = [mp.exp(s[0])]
    L = len(s) - 1
    for n in range(1, N + 1):
        acc = mpf(0)
        for k in range(1, min(n, L) + 1):
            if s[k]:
                acc += k * s[k] * g[n - k]
        g.append(acc / n)
    return g


def ser_mul(a, b, N):
    return [mp.fsum(a[k] * b[n - k] for k in range(n + 1)) for n in range(N + 1)]


# ----------------------------------------------------------------------------------
# standardised symmetric laws
# ----------------------------------------------------------------------------------

class StdSym:
    """Symmetric standard law; subclasses give pdf(z), U(z) for z>=0, taylor(z0,N)."""
    symmetric = True
    singular0 = False      # density not analytic at 0 on the one-sided branch
    split_z = [0]

    # -- upper partial moments
    def V(self, Ut, c):
        U0, U1, U2 = Ut
        return U2 - 2 * c * U1 + c * c * U0

    def H(self, z, c):
        if z == INF:
            return mpf(0)
        return self.V(self.U(z), c)

    def rate(self, z):
        """rough decay rate |d log g / dz| at z >= 0 (sets the quad subdivision)."""
        return max(mpf(1), z)

    def quad_pos(self, za, zb, c):
        """mp.quad of g(z)(z-c)^2 over [za, zb], 0 <= za (g is decreasing there).

        mp.quad's stopping test is absolute, so the integrand is normalised to O(1):
        z = za + L*u (finite) or z = za + u/rate (infinite), divided by g(za) and by
        the square of the cell scale; the u-range is subdivided geometrically from
        1/(4*rate) so that tanh-sinh never sees a steep decay on one piece."""
        g0 = self.pdf(za)
        r = self.rate(za)
        if zb == INF:
            w = 1 / r
            f = lambda u: self.pdf(za + u * w) / g0 * (u + (za - c) * r) ** 2
            pts, x = [mpf(0)], mpf(1) / 4
            if self.singular0 and za > 0:      # branch point at 0, just left of za
                x = min(x, za * r)
            while x < mpf(10) ** 5 * r:
                pts.append(x)
                x *= 2 if x < 8 else 4
            pts.append(INF)
            return g0 * w ** 3 * mp.quad(f, pts)
        L = zb - za
        w = max(abs(za - c), abs(zb - c))
        f = lambda u: self.pdf(za + L * u) / g0 * ((za + L * u - c) / w) ** 2
        pts, x = [mpf(0)], 1 / (4 * r * L)
        if self.singular0 and za > 0:
            x = min(x, za / L)
        while x < 1:
            pts.append(x)
            x *= 2
        pts.append(mpf(1))
        return g0 * L * w * w * mp.quad(f, pts)

    def seg_z(self, za, zb, c, segm):
        if not za < zb:
            return mpf(0)
        if za < 0 < zb:
            return self.seg_z(za, mpf(0), c, segm) + self.seg_z(mpf(0), zb, c, segm)
        if zb <= 0:
            return self.seg_z(-zb, -za, -c, segm)
        if segm == "cf":
            return self.H(za, c) - self.H(zb, c)
        return self.quad_pos(za, zb, c)

    def sf_z(self, z):
        if z >= 0:
            return self.U(z)[0] if z != INF else mpf(0)
        return 1 - self.U(-z)[0]

    def cdf_z(self, z):
        return self.sf_z(-z)

    def mass_z(self, za, zb):
        if not za < zb:
            return mpf(0)
        if za < 0 < zb:
            return self.mass_z(za, mpf(0)) + self.mass_z(mpf(0), zb)
        if zb <= 0:
            za, zb = -zb, -za
        return self.U(za)[0] - (self.U(zb)[0] if zb != INF else 0)

    # -- blocks of whole cells centred on their levels
    def block_z(self, za, n, Dz, how, segm, peel=PEEL_A):
        if n <= 0:
            return mpf(0)
        zb = za + n * Dz
        tiny = Dz * mpf(10) ** (-(mp.dps // 2))
        if za < 0 < zb:
            if -za < tiny:
                za, zb = mpf(0), zb - za
            elif zb < tiny:
                za, zb = za - zb, mpf(0)
            else:
                raise AssertionError("block straddles 0")
        if zb <= 0:                       # reflect to the positive side
            za, zb = -zb, -za
        if how == "direct":
            return self.direct(za, n, Dz, segm)
        return self.fast(za, n, Dz, segm, peel)

    def direct(self, za, n, Dz, segm):
        tot = mpf(0)
        if segm == "cf":
            Uprev = self.U(za)
            for i in range(n):
                Unext = self.U(za + (i + 1) * Dz)
                c = za + (i + mpf(1) / 2) * Dz
                tot += self.V(Uprev, c) - self.V(Unext, c)
                Uprev = Unext
        else:
            for i in range(n):
                a = za + i * Dz
                tot += self.quad_pos(a, za + (i + 1) * Dz, a + Dz / 2)
        return tot

    def fast(self, za, n, Dz, segm, peel):
        return self.em(za, n, Dz, segm, peel)

    def derivs(self, z0, N):
        a = self.taylor(z0, N)
        out, fac = [], mpf(1)
        for k in range(N + 1):
            if k:
                fac *= k
            out.append(a[k] * fac)
        return out

    def em(self, za, n, Dz, segm, peel):
        tot = mpf(0)
        if self.singular0 and za < peel * Dz:
            k = min(n, peel)
            tot += self.direct(za, k, Dz, segm)
            za = za + k * Dz
            n -= k
            if n == 0:
                return tot
        zb = za + n * Dz
        R = Dz * Dz / 12 * self.mass_z(za, zb)
        eps = mpf(10) ** (-min(mp.dps - 5, EM_DIGITS))
        for Jmax in (40, 160):
            N = 2 * Jmax - 3
            da, db = self.derivs(za, N), self.derivs(zb, N)
            S = mpf(0)
            small = 0
            D2 = Dz * Dz
            Dp = D2
            ok = False
            for j in range(2, Jmax + 1):
                Dp *= D2
                k = 2 * j - 3
                term = 2 * mp.bernoulli(2 * j) / mp.factorial(2 * j) * Dp * (db[k] - da[k])
                S += term
                if abs(term) <= eps * abs(R):
                    small += 1
                    # several in a row: some derivatives vanish structurally
                    # (e.g. gennorm(3) at 0: only every third odd order is non-zero)
                    if small >= 8:
                        ok = True
                        break
                else:
                    small = 0
            if ok:
                return tot + R - S
        raise AssertionError("Euler-Maclaurin did not converge (Dz=%s)" % mp.nstr(Dz, 5))


class StdNorm(StdSym):
    name = "norm"

    def pdf(self, z):
        return mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi)

    def U(self, z):
        Q = mp.erfc(z / mp.sqrt(2)) / 2
        phi = self.pdf(z)
        return (Q, phi, z * phi + Q)

    def derivs(self, z0, N):
        phi = self.pdf(z0)
        He = [mpf(1), z0]
        for k in range(1, N):
            He.append(z0 * He[k] - k * He[k - 1])
        return [(-1) ** k * He[k] * phi for k in range(N + 1)]


class StdLaplace(StdSym):
    name = "laplace"
    singular0 = True

    def pdf(self, z):
        return mp.exp(-abs(z)) / 2

    def U(self, z):
        e = mp.exp(-z) / 2
        return (e, e * (z + 1), e * (z * z + 2 * z + 2))

    def fast(self, za, n, Dz, segm, peel):
        # geometric series over cells on the side z >= 0
        h = Dz / 2
        K, k, h2 = mpf(0), 1, h * h
        hp = h ** 3
        fact = mpf(1)                    # (2k-2)!
        eps = mpf(10) ** (-(mp.dps + 5))
        while True:
            t = hp / (fact * (2 * k + 1))
            K += t
            if t < eps * K:
                break
            hp *= h2
            fact *= (2 * k - 1) * (2 * k)
            k += 1
        ratio = mp.expm1(-n * Dz) / mp.expm1(-Dz)
        return mp.exp(-(za + h)) * ratio * K


class StdT(StdSym):
    name = "t"

    def __init__(self, nu):
        self._nu = nu

    @property
    def nu(self):
        return mpf(self._nu)

    @property
    def C(self):                      # recomputed at the working precision (cached)
        return cached(("t", self._nu, mp.prec), lambda: self.const(self.nu))

    @staticmethod
    def const(nu):
        return mp.gamma((nu + 1) / 2) / (mp.sqrt(nu * mp.pi) * mp.gamma(nu / 2))

    @staticmethod
    def S(nu, z):  # upper tail of t_nu for z >= 0
        return mp.betainc(nu / 2, mpf(1) / 2, 0, nu / (nu + z * z), regularized=True) / 2

    def pdf(self, z):
        p = 1 + z * z / self.nu
        if self._nu == int(self._nu) and int(self._nu) % 2 == 0:   # (nu+1)/2 = k + 1/2
            k = int(self._nu) // 2
            return self.C / (p ** k * mp.sqrt(p))
        return self.C * p ** (-(self.nu + 1) / 2)

    def U(self, z):
        nu = self.nu
        U0 = self.S(nu, z)
        U1 = self.C * nu / (nu - 1) * (1 + z * z / nu) ** (-(nu - 1) / 2)
        Cm = cached(("t-2", self._nu, mp.prec), lambda: self.const(nu - 2))
        U2 = nu * (self.C * mp.sqrt(nu / (nu - 2)) / Cm * self.S(nu - 2, z * mp.sqrt((nu - 2) / nu)) - U0)
        return (U0, U1, U2)

    def taylor(self, z0, N):
        nu = self.nu
        p = [1 + z0 * z0 / nu, 2 * z0 / nu, 1 / nu]
        g = ser_power(p, -(nu + 1) / 2, N)
        return [self.C * x for x in g]


def li2_neg(x):
    """dilogarithm Li2(-x) for 0 <= x <= 1 (mpmath's polylog is slow near -1).

    Landen: Li2(-x) = -Li2(y) - log(1+x)^2/2 with y = x/(1+x) <= 1/2, and
    Li2(y) = sum_m B_m u^(m+1)/(m+1)!, u = -log(1-y) = log(1+x) <= log 2."""
    if x == 0:
        return mpf(0)
    u = mp.log1p(x)
    u2 = u * u
    coef = cached(("li2", mp.prec), lambda: [mp.bernoulli(m) / mp.factorial(m + 1)
                                             for m in range(2, 4 * mp.dps + 40, 2)])
    s = u - u2 / 4
    up = u
    eps = mp.eps * abs(s) / 1000
    for c in coef:
        up *= u2
        t = c * up
        s += t
        if abs(t) < eps:
            break
    else:
        raise AssertionError("li2 series did not converge")
    return -s - u2 / 2


class StdLogistic(StdSym):
    name = "logistic"

    def pdf(self, z):
        e = mp.exp(-abs(z))
        return e / (1 + e) ** 2

    def U(self, z):
        e = mp.exp(-z)
        U0 = e / (1 + e)
        L = mp.log1p(e)
        U1 = z * U0 + L
        U2 = z * z * U0 + 2 * z * L - 2 * li2_neg(e)
        return (U0, U1, U2)

    def taylor(self, z0, N):
        e0 = mp.exp(-z0)
        E = [mpf(e0)]
        for k in range(1, N + 1):
            E.append(-E[-1] / k)
        P = [1 + E[0]] + E[1:]
        g = ser_power(P, mpf(-2), N)
        return ser_mul(E, g, N)


class StdGennorm(StdSym):
    name = "gennorm"

    def __init__(self, beta):
        self._beta = beta
        self.singular0 = (float(beta) != int(beta))

    @property
    def beta(self):
        return mpf(self._beta)

    @property
    def C(self):                      # recomputed at the working precision (cached)
        return cached(("gennorm", self._beta, mp.prec),
                      lambda: self.beta / (2 * mp.gamma(1 / self.beta)))

    def pdf(self, z):
        return self.C * mp.exp(-abs(z) ** self.beta)

    def rate(self, z):
        return max(mpf(1), self.beta * z ** (self.beta - 1))

    def U(self, z):
        b = self.beta
        zb = z ** b
        den = cached(("gennorm-den", self._beta, mp.prec), lambda: 2 * mp.gamma(1 / b))
        return tuple(mp.gammainc((k + 1) / b, zb) / den for k in range(3))

    def taylor(self, z0, N):
        b = self.beta
        if z0 == 0:
            assert not self.singular0
            s = [mpf(0)] * (N + 1)
            if int(b) <= N:
                s[int(b)] = mpf(-1)
        else:
            zb = z0 ** b
            s, binom = [], mpf(1)
            for k in range(N + 1):
                s.append(-zb * binom / z0 ** k)
                binom = binom * (b - k) / (k + 1)
        g = ser_exp(s, N)
        return [self.C * x for x in g]


class StdUniform:
    """U[0,1]."""
    name = "uniform"
    symmetric = False
    singular0 = False
    split_z = [0, 1]

    def pdf(self, z):
        return mpf(1) if 0 <= z <= 1 else mpf(0)

    def seg_z(self, za, zb, c, segm):
        a, b = max(za, mpf(0)), min(zb, mpf(1))
        if not a < b:
            return mpf(0)
        if segm == "cf":
            return ((b - c) ** 3 - (a - c) ** 3) / 3
        return mp.quad(lambda z: (z - c) ** 2, [a, b])

    def mass_z(self, za, zb):
        a, b = max(za, mpf(0)), min(zb, mpf(1))
        return b - a if a < b else mpf(0)

    def cdf_z(self, z):
        return min(max(z, mpf(0)), mpf(1))

    def sf_z(self, z):
        return 1 - self.cdf_z(z)

    def block_z(self, za, n, Dz, how, segm, peel=None):
        if n <= 0:
            return mpf(0)
        zb = za + n * Dz
        mid = (za + zb) / 2
        if mid <= 0 or mid >= 1:
            assert zb <= Dz * mpf(10) ** -(mp.dps // 2) or za >= 1 - Dz * mpf(10) ** -(mp.dps // 2)
            return mpf(0)
        if how == "direct":
            return mp.fsum(self.seg_z(za + i * Dz, za + (i + 1) * Dz, za + (i + mpf(1) / 2) * Dz, segm)
                           for i in range(n))
        return n * Dz ** 3 / 12


def make_std(family, shapes):
    if family == "norm":
        return StdNorm()
    if family == "laplace":
        return StdLaplace()
    if family == "uniform":
        return StdUniform()
    if family == "t":
        return StdT(shapes[0])
    if family == "logistic":
        return StdLogistic()
    if family == "gennorm":
        return StdGennorm(shapes[0])
    raise ValueError(family)


# ----------------------------------------------------------------------------------
# laws in x-space, clamped laws
# ----------------------------------------------------------------------------------

class Law:
    def __init__(self, std, loc, scale):
        self.std, self.m, self.s = std, mpf(loc), mpf(scale)
        self.split_pts = [self.m + self.s * k for k in std.split_z]
        self.atoms = []

    def z(self, x):
        if x == INF or x == -INF:
            return x
        return (x - self.m) / self.s

    def seg(self, a, b, c, segm):
        return self.s ** 2 * self.std.seg_z(self.z(a), self.z(b), self.z(c), segm)

    def block(self, a, n, D, how, segm, peel=PEEL_A):
        return self.s ** 2 * self.std.block_z(self.z(a), n, D / self.s, how, segm, peel)

    def cdf(self, x):
        return self.std.cdf_z(self.z(x))

    def sf(self, x):
        return self.std.sf_z(self.z(x))


class Clamped:
    def __init__(self, base, d):
        self.base, self.d = base, mpf(d)
        self.split_pts = base.split_pts + [-self.d, self.d]
        self.s = base.s

    @property
    def atoms(self):
        return [(-self.d, self.base.cdf(-self.d)), (self.d, self.base.sf(self.d))]

    def seg(self, a, b, c, segm):
        a, b = max(a, -self.d), min(b, self.d)
        if not a < b:
            return mpf(0)
        return self.base.seg(a, b, c, segm)

    def block(self, a, n, D, how, segm, peel=PEEL_A):
        b = a + n * D
        tiny = D * mpf(10) ** (-(mp.dps // 2))
        if a >= self.d - tiny or b <= -self.d + tiny:
            return mpf(0)
        assert a >= -self.d - tiny and b <= self.d + tiny, "block crosses a clamp bound"
        return self.base.block(a, n, D, how, segm, peel)


# ----------------------------------------------------------------------------------
# grids and the two error models
# ----------------------------------------------------------------------------------

def grid_params(grid, bits, alpha):
    """(D, lo, hi) of a grid."""
    if grid == "midrise":
        return 2 * alpha / mpf(2) ** bits, -alpha, alpha
    if grid == "midtread":
        K = 2 ** (bits - 1) - 1
        return alpha / K, -alpha, alpha
    if grid == "unsigned":
        return alpha / mpf(2) ** bits, mpf(0), alpha
    raise ValueError(grid)


def quantize(grid, bits, alpha, x):
    D, lo, hi = grid_params(grid, bits, alpha)
    if grid == "midtread":
        K = 2 ** (bits - 1) - 1
        k = int(mp.nint(x / D))
        k = max(-K, min(K, k))
        return k * D
    n = 2 ** bits
    i = int(mp.floor((x - lo) / D))
    i = max(0, min(n - 1, i))
    return lo + (i + mpf(1) / 2) * D


def pieces_of(grid, bits, alpha):
    D, lo, hi = grid_params(grid, bits, alpha)
    if grid == "midrise":
        return [("seg", -INF, -alpha, -alpha + D / 2, "out"),
                ("block", -alpha, 2 ** bits, D, "in"),
                ("seg", alpha, INF, alpha - D / 2, "out")]
    if grid == "midtread":
        K = 2 ** (bits - 1) - 1
        return [("seg", -INF, -alpha, -alpha, "out"),
                ("seg", -alpha, -alpha + D / 2, -alpha, "in"),
                ("block", -(K - mpf(1) / 2) * D, 2 * K - 1, D, "in"),
                ("seg", alpha - D / 2, alpha, alpha, "in"),
                ("seg", alpha, INF, alpha, "out")]
    return [("seg", -INF, mpf(0), D / 2, "out"),
            ("block", mpf(0), 2 ** bits, D, "in"),
            ("seg", alpha, INF, alpha - D / 2, "out")]


def split_blocks(pieces, pts):
    for p in pts:
        new = []
        for pc in pieces:
            if pc[0] == "block":
                _, a, n, D, cls = pc
                if n > 0 and a < p < a + n * D:
                    j = int(mp.floor((p - a) / D))
                    j = max(0, min(n - 1, j))
                    tj = a + j * D
                    c = tj + D / 2
                    new += [("block", a, j, D, cls), ("seg", tj, p, c, cls),
                            ("seg", p, tj + D, c, cls), ("block", tj + D, n - j - 1, D, cls)]
                    continue
            new.append(pc)
        pieces = new
    return pieces


def exact_model(law, grid, bits, alpha, how, segm, peel=PEEL_A):
    parts = {"in": mpf(0), "out": mpf(0)}
    for pc in split_blocks(pieces_of(grid, bits, alpha), law.split_pts):
        if pc[0] == "seg":
            _, a, b, c, cls = pc
            parts[cls] += law.seg(a, b, c, segm)
        else:
            _, a, n, D, cls = pc
            parts[cls] += law.block(a, n, D, how, segm, peel)
    D, lo, hi = grid_params(grid, bits, alpha)
    for x, p in law.atoms:
        cls = "in" if lo <= x <= hi else "out"
        parts[cls] += p * (x - quantize(grid, bits, alpha, x)) ** 2
    return parts["out"], parts["in"]


def aciq_truncation(law, grid, alpha, segm):
    lo = mpf(0) if grid == "unsigned" else -alpha
    hi = alpha
    t = law.seg(hi, INF, hi, segm) + law.seg(-INF, lo, lo, segm)
    for x, p in law.atoms:
        if x > hi:
            t += p * (x - hi) ** 2
        elif x < lo:
            t += p * (x - lo) ** 2
    return t


# ----------------------------------------------------------------------------------
# cases
# ----------------------------------------------------------------------------------

CLOSED = [
    ("norm", [], 0.0, 1.0, None), ("norm", [], 0.3, 2.0, None),
    ("laplace", [], 0.0, 1.0, None), ("laplace", [], -0.2, 0.5, None),
    ("uniform", [], -1.0, 2.0, None), ("uniform", [], -0.3, 1.5, None),
    ("norm", [], 0.0, 1.0, 0.5), ("norm", [], 0.0, 1.0, 2.0), ("norm", [], 0.0, 1.0, 4.0),
    ("laplace", [], 0.0, 1.0, 0.5), ("laplace", [], 0.0, 1.0, 2.0), ("laplace", [], 0.0, 1.0, 4.0),
    ("norm", [], 0.3, 2.0, 3.0),
]
GENERIC = [
    ("t", [4.0], 0.0, 1.0, None), ("t", [10.0], 0.0, 1.0, None), ("logistic", [], 0.0, 1.0, None),
    ("gennorm", [1.5], 0.0, 1.0, None), ("gennorm", [3.0], 0.0, 1.0, None),
]


def build_law(spec):
    family, shapes, loc, scale, d = spec
    law = Law(make_std(family, shapes), mpf(loc), mpf(scale))
    return Clamped(law, mpf(d)) if d is not None else law


def work_dps(law, D):
    r = law.s / D
    return 63 + int(math.ceil(3 * max(0.0, float(mp.log10(r)))))


class Stats:
    def __init__(self):
        self.d = {}

    def add(self, name, a, b, floor=mpf(0)):
        """assert relative agreement of a and b (components)."""
        diff = abs(a - b)
        ref = max(abs(a), abs(b))
        rel = diff / ref if ref > 0 else mpf(0)
        if diff > TOL * ref and diff > floor:
            raise AssertionError("cross-check %s failed: %s vs %s (rel %s)"
                                 % (name, mp.nstr(a, 40), mp.nstr(b, 40), mp.nstr(rel, 5)))
        cnt, mx = self.d.get(name, (0, 0.0))
        self.d[name] = (cnt + 1, max(mx, float(rel)))


def agree(stats, name, x, y, scale_ref):
    """x, y = (trunc, round) pairs; floor: 1e-60 of the total."""
    floor = abs(scale_ref) * mpf(10) ** -60
    stats.add(name + ":truncation", x[0], y[0], floor)
    stats.add(name + ":rounding", x[1], y[1], floor)


def fmt(x):
    from mpmath.libmp import to_str
    if x == 0:
        return "0.0"
    return to_str(mpf(x)._mpf_, 34)


def run_task(task):
    spec, aval, generic = task
    t0 = time.time()
    c0 = time.process_time()
    family, shapes, loc, scale, d = spec
    stats = Stats()
    records = []
    alpha_f = aval * scale               # the double the library sees
    alpha_f = float(alpha_f)
    tails = {}
    for grid in GRIDS:
        for bits in BITS:
            if grid == "midtread" and bits < 2:
                continue
            for model in MODELS:
                if generic and model == "exact" and (bits not in GENERIC_EXACT_BITS
                                                     or aval not in GENERIC_EXACT_ALPHAS):
                    continue
                with mp.workdps(60):
                    D0 = grid_params(grid, bits, mpf(alpha_f))[0]
                    P = work_dps(build_law(spec), D0)
                if model == "aciq":
                    key = "u" if grid == "unsigned" else "s"
                    if key not in tails:
                        with mp.workdps(P + 20):
                            law = build_law(spec)
                            t_hi = aciq_truncation(law, grid, mpf(alpha_f), "cf")
                        with mp.workdps(P):
                            law = build_law(spec)
                            t_lo = aciq_truncation(law, grid, mpf(alpha_f), "cf")
                        stats.add("aciq tail cf dps P vs P+20", t_lo, t_hi, mpf(0))
                        with mp.workdps(QUAD_DPS):
                            law = build_law(spec)
                            t_q = aciq_truncation(law, grid, mpf(alpha_f), "quad")
                        with mp.workdps(QUAD_DPS):
                            stats.add("aciq tail cf vs mp.quad", +t_q, +t_hi, mpf(0))
                        tails[key] = t_hi
                    with mp.workdps(P + 20):
                        D = grid_params(grid, bits, mpf(alpha_f))[0]
                        tr, ro = tails[key], D * D / 12
                else:
                    tr, ro = exact_case(spec, generic, grid, bits, alpha_f, aval, P, stats)
                with mp.workdps(P + 20):
                    mse = tr + ro
                    rec = {"family": family, "shapes": shapes, "loc": loc, "scale": scale, "d": d,
                           "model": model, "grid": grid, "bits": bits, "alpha": alpha_f,
                           "mse": fmt(mse), "truncation": fmt(tr), "rounding": fmt(ro)}
                records.append(rec)
    return records, stats.d, time.time() - t0, task, time.process_time() - c0


def exact_case(spec, generic, grid, bits, alpha_f, aval, P, stats):
    def run(dps, how, segm, peel=PEEL_A):
        with mp.workdps(dps):
            law = build_law(spec)
            return exact_model(law, grid, bits, mpf(alpha_f), how, segm, peel)

    def chk(name, x, y, ref):
        with mp.workdps(P):
            agree(stats, name, x, y, ref[0] + ref[1])

    if not generic:
        if bits <= 12:
            best = run(P + 20, "direct", "cf")
            if bits <= 7:
                chk("exact cf direct dps P vs P+20 (b<=7)", run(P, "direct", "cf"), best, best)
            else:
                chk("exact block method (EM/geometric/count) dps P vs direct cf dps P+20 (b=8..12)",
                    run(P, "fast", "cf"), best, best)
            if bits <= 3:
                chk("exact direct mp.quad vs cf (b<=3)", run(QUAD_DPS, "direct", "quad"), best, best)
        else:
            best = run(P + 20, "fast", "cf")
            chk("exact block method dps P vs P+20", run(P, "fast", "cf"), best, best)
        return best
    # generic families
    if bits <= 8:
        best = run(P + 20, "direct", "cf")
        if bits <= 4:
            chk("generic exact per-cell mp.quad (dps 48) vs per-cell cf (dps P+20) (b<=4)",
                run(QUAD_DPS, "direct", "quad"), best, best)
        elif bits < 8:
            chk("generic exact per-cell cf dps P vs P+20 (b=5..7)", run(P, "direct", "cf"), best, best)
        D = grid_params(grid, bits, mpf(alpha_f))[0]
        if bits == 8 or (bits == 6 and D <= 0.05):
            chk("generic exact EM vs direct (b=6,8)", run(P, "fast", "cf"), best, best)
        return best
    best = run(P + 20, "fast", "quad", PEEL_B)
    chk("generic exact EM (peel cf, PEEL 32, dps P) vs EM (peel quad, PEEL 40, dps P+20)",
        run(P, "fast", "cf", PEEL_A), best, best)
    if bits == 12 and aval == 1:
        chk("generic exact EM vs direct cf sum (b=12)", run(P, "direct", "cf"), best, best)
    return best


def all_tasks():
    tasks = []
    for spec in CLOSED:
        for a in ALPHAS:
            tasks.append((spec, a, False))
    for spec in GENERIC:
        for a in ALPHAS:
            tasks.append((spec, a, True))
    return tasks


def expected_count():
    n_grid_bits = sum(1 for g in GRIDS for b in BITS if not (g == "midtread" and b < 2))
    n_gen_exact = sum(1 for g in GRIDS for b in GENERIC_EXACT_BITS if not (g == "midtread" and b < 2))
    closed = len(CLOSED) * len(MODELS) * n_grid_bits * len(ALPHAS)
    generic = len(GENERIC) * (n_grid_bits * len(ALPHAS) + n_gen_exact * len(GENERIC_EXACT_ALPHAS))
    return closed + generic


def sort_key(r):
    fam_order = [s for s in CLOSED + GENERIC]
    spec = (r["family"], r["shapes"], r["loc"], r["scale"], r["d"])
    return (fam_order.index(spec), MODELS.index(r["model"]), GRIDS.index(r["grid"]), r["bits"], r["alpha"])


def write_json(path, meta, records):
    """metadata pretty-printed, one record per line (diff-friendly, compact)."""
    with open(path, "w") as fh:
        fh.write('{"metadata": ')
        fh.write(json.dumps(meta, indent=1))
        fh.write(',\n"records": [\n')
        fh.write(",\n".join(json.dumps(r) for r in records))
        fh.write("\n]}\n")


def main():
    t0 = time.time()
    tasks = all_tasks()
    only = os.environ.get("GEN_ONLY")       # debugging: restrict to one family
    if only:
        tasks = [t for t in tasks if t[0][0] in only.split(",")]
    # expensive tasks first
    tasks.sort(key=lambda t: (not t[2], -t[1]))
    nproc = int(os.environ.get("GEN_PROCS", "2"))
    records, stats, cpu_total = [], {}, 0.0
    with multiprocessing.Pool(nproc) as pool:
        for i, (recs, st, dt, task, cpu) in enumerate(pool.imap_unordered(run_task, tasks)):
            records += recs
            cpu_total += cpu
            for k, (c, m) in st.items():
                c0, m0 = stats.get(k, (0, 0.0))
                stats[k] = (c0 + c, max(m0, m))
            spec, a, _ = task
            print("[%3d/%d] %-8s %-6s loc=%-5s scale=%-4s d=%-4s alpha=%-6g %4d records %6.1fs (total %6.0fs)"
                  % (i + 1, len(tasks), spec[0], spec[1], spec[2], spec[3], spec[4], a, len(recs), dt,
                     time.time() - t0), flush=True)
    records.sort(key=sort_key)
    elapsed = time.time() - t0
    meta = {
        "description": "High-precision reference values of the MSE of clipped uniform quantizers "
                       "(qerror core), generated independently of qerror with mpmath only.",
        "generator": "tests/reference/generate_core.py",
        "mpmath_version": mpmath.__version__,
        "python_version": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "dps": "per case: P = 63 + ceil(3*log10(scale/D)) (63..110); reported values computed "
               "at P+20; mp.quad cross-checks at dps %d" % QUAD_DPS,
        "digits": "mse, truncation, rounding are decimal strings with 34 significant digits "
                  "(trailing zeros stripped); mse = truncation + rounding",
        "parameters": "scipy.stats parameterisation (loc, scale, shapes); alpha = value*scale "
                      "computed in double precision; every parameter is used at its exact "
                      "binary (double) value",
        "definitions": __doc__.split("Methods")[0].strip(),
        "methods": {
            "tails": "closed forms of the upper partial moments U0,U1,U2 (erfc, exp, "
                     "incomplete beta, log1p/dilogarithm, upper incomplete gamma); "
                     "checked at two precisions and against mp.quad",
            "exact_rounding_small_b": "direct sum over cells of closed-form cell integrals "
                                      "V(t_i)-V(t_{i+1}) (generic families: also per-cell mp.quad)",
            "exact_rounding_large_b": "Euler-Maclaurin for the sawtooth second moment with exact "
                                      "derivatives (normal, t, logistic, gennorm); geometric series "
                                      "(Laplace); exact D^3/12 per whole cell (uniform); blocks split "
                                      "at the law's kinks and at loc, cut cells integrated explicitly",
            "aciq_rounding": "D^2/12 of the grid",
            "clamped": "density on (-d,d) integrated as above, atoms F(-d) and 1-F(d) added with "
                       "their exact quantization error, classified in/out of the closed range",
            "long": __doc__.split("Methods\n-------")[1].strip(),
        },
        "cross_checks": {k: {"count": c, "max_relative_discrepancy": m} for k, (c, m) in sorted(stats.items())},
        "n_records": len(records),
        "run_time_seconds": round(elapsed, 1),
        "worker_cpu_seconds": round(cpu_total, 1),
        "processes": nproc,
    }
    # final consistency checks of the records themselves
    with mp.workdps(40):
        for r in records:
            tr, ro, ms = mpf(r["truncation"]), mpf(r["rounding"]), mpf(r["mse"])
            assert tr >= 0 and ro >= 0 and ms > 0, r
            assert abs(tr + ro - ms) <= mpf(10) ** -33 * ms, r
            assert float(repr(r["alpha"])) == r["alpha"]
    if not only:
        assert len(records) == expected_count(), (len(records), expected_count())
    out = OUT if not only else os.environ.get("GEN_OUT")
    if out:
        write_json(out, meta, records)
    print("wrote %d records to %s in %.0fs wall, %.0fs worker CPU" % (len(records), out, elapsed, cpu_total))
    for k, (c, m) in sorted(stats.items()):
        print("  %-90s n=%5d max rel diff %.2e" % (k, c, m))


if __name__ == "__main__":
    main()
