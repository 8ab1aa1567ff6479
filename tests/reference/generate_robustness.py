#!/usr/bin/env python3
r"""Independent high-precision references for bias, saturated laws, curvature, kurtosis.

Writes ``robustness_reference.json`` next to this file.  Uses ONLY :mod:`mpmath` and
the standard library: it does not import ``qerror``, ``numpy`` or ``scipy``, so the
library (``qerror.symmetry``, ``qerror.laws.saturated``, ``qerror.robustness``) is tested
against values computed by unrelated code.

Run: ``python tests/reference/generate_robustness.py`` (a few minutes).

Conventions (shared/CONVENTIONS.md)
-----------------------------------
* ``midrise``: ``N = 2^b`` levels ``-a + (2i+1) D/2``, ``D = 2a/N``, thresholds
  ``-a + i D`` (i = 1..N-1); values beyond the range go to the outermost levels.
  A value on a threshold belongs to the cell above.
* ``midtread`` (b >= 2): ``K = 2^(b-1) - 1``, ``D = a/K``, levels ``k D``, ``|k| <= K``,
  thresholds ``(k + 1/2) D``.
* ``unsigned``: range ``[0, a]``, ``D = a/N``, levels ``(2i+1) D/2``, thresholds ``i D``.
* A clamped law ``clip(W, -d, d)`` has density ``f`` on ``(-d, d)`` and atoms
  ``F(-d)``, ``1 - F(d)`` at ``-d``, ``d``.
* A saturated law is ``Y = s(g W)``, ``s`` in {tanh, erf, softsign
  ``x/(1+|x|)``, arctan ``(2/pi) atan(pi x / 2)``}.

Methods
-------
*Bias* ``E[W - Q(W)]``: every cell, the two unbounded outer cells included, contributes
``(M1(v) - M1(u)) - q (F(v) - F(u))`` with the first partial moment
``M1(x) = int_-inf^x t f(t) dt`` in closed form (normal ``-phi``, Laplace, uniform,
half-normal ``2(phi(0) - phi)``, skew-normal
``-2 phi(z) Phi(a z) + 2a/sqrt(2 pi (1+a^2)) Phi(z sqrt(1+a^2))``; the skew-normal CDF by
``mp.quad``).  Summed directly up to ``2^16`` cells.  Beyond, the interior block of whole
cells is summed in closed form -- Euler-Maclaurin with the periodic Bernoulli function
for the normal (``sum_j B_2j/(2j)! D^2j [He_2j-2 phi]``, Hermite polynomials from
``mp.hermite``, until the terms are below ``10^-(dps+5)``), geometric series for the
Laplace law -- and checked here against the direct sums at ``b = 10, 12`` (asserted).

*Saturated laws*: every integral is taken in the variable of ``W``: a cell ``[t_i,
t_i+1)`` of ``Y`` is the interval ``[s^-1(t_i)/g, s^-1(t_i+1)/g)`` of ``W``, and
``int f_W(x) (s(g x) - q)^k dx`` is integrated with ``mp.quad`` (split at 0 and a few
scale points).  Kurtosis likewise.

*Curvature at the optimum* (exact model, midrise): ``E(alpha)`` by direct cell sums with
closed-form partial moments; ``alpha*`` by ``findroot`` on ``dE/dalpha`` (``mp.diff``);
``E''`` by ``mp.diff``.  Reported per unit step: ``d2E/dD2 = E''(alpha) (N/2)^2`` and
``kappa = alpha*^2 E''(alpha*) / E(alpha*)``.

Every value is computed at two working precisions (``DPS`` and ``DPS + 15``) and the
two must agree to ``10^-(DPS-10)`` relative (asserted); 17 significant digits are
written.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import mpmath as mp

DPS = 40
OUT = Path(__file__).with_name("robustness_reference.json")


# ----------------------------------------------------------------- laws (mpmath)
def phi(z):
    return mp.npdf(z)


def Phi(z):
    return mp.ncdf(z)


class Law:
    """A law with F and M1 (first partial moment) in closed form, loc/scale applied."""

    def __init__(self, name, loc=0, scale=1, **shape):
        self.name, self.shape = name, shape
        self.loc, self.scale = mp.mpf(loc), mp.mpf(scale)

    def _FM(self, z):
        n = self.name
        if z == mp.inf:
            return mp.mpf(1), self._mean_z()
        if z == -mp.inf:
            return mp.mpf(0), mp.mpf(0)
        if n == "norm":
            return Phi(z), -phi(z)
        if n == "laplace":
            if z < 0:
                return mp.exp(z) / 2, (z - 1) * mp.exp(z) / 2
            return 1 - mp.exp(-z) / 2, -(1 + z) * mp.exp(-z) / 2
        if n == "uniform":  # scipy: [0, 1] standardized
            zc = min(max(z, mp.mpf(0)), mp.mpf(1))
            return zc, zc * zc / 2
        if n == "halfnorm":
            if z <= 0:
                return mp.mpf(0), mp.mpf(0)
            return 2 * Phi(z) - 1, 2 * (phi(0) - phi(z))
        if n == "skewnorm":
            a = mp.mpf(self.shape["a"])
            F = mp.quad(lambda t: 2 * phi(t) * Phi(a * t), [-mp.inf, min(z, 0), z]
                        if z > 0 else [-mp.inf, z])
            M = (-2 * phi(z) * Phi(a * z)
                 + 2 * a / mp.sqrt(2 * mp.pi * (1 + a * a)) * Phi(z * mp.sqrt(1 + a * a)))
            return F, M
        raise ValueError(n)

    def _mean_z(self):
        n = self.name
        if n in ("norm", "laplace"):
            return mp.mpf(0)
        if n == "uniform":
            return mp.mpf(1) / 2
        if n == "halfnorm":
            return 2 * phi(0)
        if n == "skewnorm":
            a = mp.mpf(self.shape["a"])
            return a / mp.sqrt(1 + a * a) * mp.sqrt(2 / mp.pi)
        raise ValueError(n)

    def FM(self, x):
        """(F(x), M1(x)) in real units: M1 = loc F_z + scale M1_z."""
        if x in (mp.inf, -mp.inf):
            z = x
        else:
            z = (x - self.loc) / self.scale
        F, M = self._FM(z)
        return F, self.loc * F + self.scale * M


# ----------------------------------------------------------------- grids
def grid_cells(alpha, b, grid):
    """[(lower, upper, level)] covering the line; outer cells unbounded."""
    alpha = mp.mpf(alpha)
    N = 2**b
    if grid == "midrise":
        D = 2 * alpha / N
        th = [-alpha + i * D for i in range(1, N)]
        lv = [-alpha + (2 * i + 1) * D / 2 for i in range(N)]
    elif grid == "unsigned":
        D = alpha / N
        th = [i * D for i in range(1, N)]
        lv = [(2 * i + 1) * D / 2 for i in range(N)]
    elif grid == "midtread":
        K = 2 ** (b - 1) - 1
        D = alpha / K
        th = [(k + mp.mpf(1) / 2) * D for k in range(-K, K)]
        lv = [k * D for k in range(-K, K + 1)]
    else:
        raise ValueError(grid)
    edges = [-mp.inf] + th + [mp.inf]
    return [(edges[i], edges[i + 1], lv[i]) for i in range(len(lv))]


def quantize(x, alpha, b, grid):
    for lo, hi, q in grid_cells(alpha, b, grid):
        if lo <= x < hi:
            return q
    raise AssertionError


# ----------------------------------------------------------------- bias
def bias_direct(law, alpha, b, grid, d=None):
    total = mp.mpf(0)
    cut_lo, cut_hi = (-mp.inf, mp.inf) if d is None else (-mp.mpf(d), mp.mpf(d))
    for lo, hi, q in grid_cells(alpha, b, grid):
        u, v = max(lo, cut_lo), min(hi, cut_hi)
        if u >= v:
            continue
        Fu, Mu = law.FM(u)
        Fv, Mv = law.FM(v)
        total += (Mv - Mu) - q * (Fv - Fu)
    if d is not None:
        d = mp.mpf(d)
        Fl, _ = law.FM(-d)
        Fr, _ = law.FM(d)
        total += Fl * (-d - quantize(-d, alpha, b, grid))
        total += (1 - Fr) * (d - quantize(d, alpha, b, grid))
    return total


def _em_block_normal(law, a, bnd, step):
    """sum over whole cells [a + i step, ...) up to bnd of int f (x - mid) dx (normal)."""
    s, mu = law.scale, law.loc
    za, zb, dz = (a - mu) / s, (bnd - mu) / s, step / s
    total = mp.mpf(0)
    for j in range(1, 200):
        n = 2 * j - 2

        def he(z, n=n):  # probabilists' Hermite from mpmath's physicists' H_n
            return mp.hermite(n, z / mp.sqrt(2)) / mp.mpf(2) ** (mp.mpf(n) / 2)

        term = (mp.bernoulli(2 * j) / mp.factorial(2 * j) * dz ** (2 * j)
                * (he(zb) * phi(zb) - he(za) * phi(za)))
        total += term
        if j > 3 and abs(term) < mp.mpf(10) ** (-(mp.mp.dps + 5)) * (abs(total) + dz**2):
            break
    return s * total


def _geom_block_laplace(law, a, bnd, step):
    """Same sum for the Laplace law: cells on each side of loc are geometric series."""
    s, mu = law.scale, law.loc
    za, zb, dz = (a - mu) / s, (bnd - mu) / s, step / s
    n = int(mp.nint((zb - za) / dz))
    k1 = (1 - mp.exp(-dz)) - dz / 2 * (1 + mp.exp(-dz))  # int_0^dz e^-u (u - dz/2) du
    k = int(mp.floor(-za / dz))  # cell holding 0
    total = mp.mpf(0)
    i_pos = max(k + 1, 0)
    m_pos = max(n - i_pos, 0)
    if m_pos:
        a_pos = za + i_pos * dz
        total += k1 / 2 * mp.exp(-a_pos) * (1 - mp.exp(-m_pos * dz)) / (1 - mp.exp(-dz))
    m_neg = min(max(k, 0), n)
    if m_neg:
        b_neg = za + m_neg * dz
        total -= k1 / 2 * mp.exp(b_neg) * (1 - mp.exp(-m_neg * dz)) / (1 - mp.exp(-dz))
    if 0 <= k < n:
        u = za + k * dz
        Fu, Mu = law._FM(u)
        Fv, Mv = law._FM(u + dz)
        total += (Mv - Mu) - (u + dz / 2) * (Fv - Fu)
    return s * total


def bias_block(law, alpha, b, grid):
    """Midrise bias with the interior whole cells summed in closed form."""
    assert grid == "midrise"
    alpha = mp.mpf(alpha)
    N = 2**b
    D = 2 * alpha / N
    total = mp.mpf(0)
    # outer cells
    outer = ((-mp.inf, -alpha + D, -alpha + D / 2), (alpha - D, mp.inf, alpha - D / 2))
    for lo, hi, q in outer:
        Fu, Mu = law.FM(lo)
        Fv, Mv = law.FM(hi)
        total += (Mv - Mu) - q * (Fv - Fu)
    block = _em_block_normal if law.name == "norm" else _geom_block_laplace
    total += block(law, -alpha + D, alpha - D, D)
    return total


# ----------------------------------------------------------------- saturated laws
SAT = {
    "tanh": (mp.tanh, mp.atanh),
    "erf": (mp.erf, mp.erfinv),
    "softsign": (lambda x: x / (1 + abs(x)), lambda y: y / (1 - abs(y))),
    "arctan": (lambda x: 2 / mp.pi * mp.atan(mp.pi * x / 2),
               lambda y: 2 / mp.pi * mp.tan(mp.pi * y / 2)),
}


def base_pdf(name, loc, scale, nu=None):
    loc, scale = mp.mpf(loc), mp.mpf(scale)
    if name == "norm":
        return lambda x: phi((x - loc) / scale) / scale
    if name == "laplace":
        return lambda x: mp.exp(-abs(x - loc) / scale) / (2 * scale)
    if name == "t":
        nu = mp.mpf(nu)
        c = mp.gamma((nu + 1) / 2) / (mp.sqrt(nu * mp.pi) * mp.gamma(nu / 2))
        return lambda x: c * (1 + ((x - loc) / scale) ** 2 / nu) ** (-(nu + 1) / 2) / scale
    raise ValueError(name)


def _xquad(f, lo, hi, marks):
    pts = [lo] + sorted(m for m in marks if lo < m < hi) + [hi]
    return mp.quad(f, pts)


def saturated_moment(fn, base, gain, cells=None, power=2, center=None):
    """sum over cells of int f_W(x) (s(g x) - q)^power dx, or a central moment."""
    s, sinv = SAT[fn]
    name, loc, scale, nu = base
    f = base_pdf(name, loc, scale, nu)
    g = mp.mpf(gain)
    marks = [mp.mpf(loc) + k * mp.mpf(scale) for k in (-20, -5, -2, -1, 0, 1, 2, 5, 20)]
    if cells is None:  # central moment about `center`
        return _xquad(lambda x: f(x) * (s(g * x) - center) ** power, -mp.inf, mp.inf, marks)
    total = mp.mpf(0)
    def x_of(y):  # the support of Y is (-1, 1)
        return -mp.inf if y <= -1 else (mp.inf if y >= 1 else sinv(y) / g)

    for lo, hi, q in cells:
        xl, xh = x_of(lo), x_of(hi)
        if xl < xh:
            total += _xquad(lambda x, q=q: f(x) * (s(g * x) - q) ** power, xl, xh, marks)
    return total


def saturated_kurtosis(fn, base, gain):
    m = saturated_moment(fn, base, gain, power=1, center=0)
    m2 = saturated_moment(fn, base, gain, power=2, center=m)
    m4 = saturated_moment(fn, base, gain, power=4, center=m)
    return m, m2, m4 / (m2 * m2)


# ----------------------------------------------------------------- exact MSE, curvature
def A_normal(x):
    return (mp.erfc(x / mp.sqrt(2)) / 2, phi(x), x * phi(x) + mp.erfc(x / mp.sqrt(2)) / 2)


def A_laplace(x):
    if x >= 0:
        e = mp.exp(-x) / 2
        return (e, (x + 1) * e, (x * x + 2 * x + 2) * e)
    # A_k(x) = total moment - int_-inf^x
    e = mp.exp(x) / 2
    lower = (e, (x - 1) * e, (x * x - 2 * x + 2) * e)
    total = (mp.mpf(1), mp.mpf(0), mp.mpf(2))
    return tuple(t - w for t, w in zip(total, lower, strict=True))


def mse_exact(Afun, alpha, b):
    """Exact midrise MSE of a symmetric standard law, by direct cell sums."""
    total = mp.mpf(0)
    for lo, hi, q in grid_cells(alpha, b, "midrise"):
        Au = Afun(lo) if lo != -mp.inf else (mp.mpf(1), *Afun_total(Afun))
        Av = Afun(hi) if hi != mp.inf else (mp.mpf(0), mp.mpf(0), mp.mpf(0))
        M0, M1, M2 = (Au[k] - Av[k] for k in range(3))
        total += M2 - 2 * q * M1 + q * q * M0
    return total


def Afun_total(Afun):
    # total first and second moments: 0 and the variance
    return (mp.mpf(0), mp.mpf(1) if Afun is A_normal else mp.mpf(2))


def curvature(Afun, b, alpha0):
    E = lambda a: mse_exact(Afun, a, b)  # noqa: E731
    a_star = mp.findroot(lambda a: mp.diff(E, a), mp.mpf(alpha0))
    e_star = E(a_star)
    e2 = mp.diff(E, a_star, 2)
    N = mp.mpf(2) ** b
    return a_star, e_star, e2 * (N / 2) ** 2, a_star**2 * e2 / e_star


# ----------------------------------------------------------------- tables
BIAS_CASES = [
    # (law name, loc, scale, shape, alpha, bits, grid, clamp d)
    ("norm", 0.5, 1.0, {}, 2.0, 4, "midrise", None),
    ("norm", 0.5, 1.0, {}, 2.0, 4, "midtread", None),
    ("norm", -0.3, 2.0, {}, 5.0, 3, "midrise", None),
    ("norm", 0.0, 1.0, {}, 2.5, 3, "unsigned", None),
    ("norm", 0.2, 1.0, {}, 3.0, 8, "midrise", None),
    ("norm", 1e-3, 1.0, {}, 3.0, 6, "midrise", None),
    ("norm", 0.3, 1.0, {}, 1.5, 3, "midrise", 1.2),
    ("laplace", 0.3, 1.0, {}, 3.0, 3, "midtread", None),
    ("laplace", -0.7, 0.5, {}, 2.0, 5, "midrise", None),
    ("laplace", 0.25, 1.0, {}, 6.0, 8, "midrise", None),
    ("uniform", -0.7, 2.0, {}, 1.0, 2, "midrise", None),
    ("uniform", -0.2, 1.5, {}, 1.2, 5, "midtread", None),
    ("halfnorm", 0.0, 1.0, {}, 2.0, 4, "midrise", None),
    ("halfnorm", 0.0, 1.0, {}, 3.0, 4, "unsigned", None),
    ("skewnorm", 0.0, 1.0, {"a": 4.0}, 2.0, 4, "midrise", None),
    ("skewnorm", 0.0, 1.0, {"a": -2.0}, 2.5, 3, "midtread", None),
]
BIAS_BLOCK_CASES = [  # large b, midrise, block method (checked against direct at b<=12)
    ("norm", 0.2, 1.0, 4.0, 16), ("norm", 0.2, 1.0, 4.0, 24), ("norm", 0.2, 1.0, 4.0, 32),
    ("norm", -0.05, 0.5, 3.0, 64), ("laplace", 0.25, 1.0, 8.0, 20),
    ("laplace", 0.25, 1.0, 8.0, 32),
]
SAT_CASES = [
    # (fn, (base, loc, scale, nu), gain, alpha, bits)
    ("tanh", ("norm", 0, 1, None), 1.0, 1.0, 4),
    ("tanh", ("norm", 0, 1, None), 1.5, 0.8, 3),
    ("tanh", ("norm", 0.3, 1, None), 1.0, 0.9, 3),
    ("erf", ("laplace", 0, 0.7, None), 2.0, 1.0, 4),
    ("erf", ("t", 0, 1, 3), 1.0, 0.9, 3),
    ("softsign", ("norm", 0, 1, None), 1.0, 0.7, 3),
    ("arctan", ("t", 0, 1, 3), 1.0, 1.0, 2),
]
KURT_CLAMP = [("norm", 0.5), ("norm", 1.0), ("norm", 2.0), ("laplace", 1.0)]
KURT_SAT = [("tanh", ("norm", 0, 1, None), 1.0), ("tanh", ("norm", 0, 1, None), 2.0),
            ("erf", ("laplace", 0, 0.7, None), 2.0), ("softsign", ("t", 0, 1, 5), 1.0),
            ("arctan", ("norm", 0, 1, None), 1.0)]
CURV_CASES = [("norm", b, a0) for b, a0 in ((2, 2.0), (3, 2.3), (4, 2.7), (6, 3.4))] + [
    ("laplace", b, a0) for b, a0 in ((2, 3.0), (3, 4.0), (4, 5.2))]


def clamped_kurtosis(name, d):
    f = base_pdf(name, 0, 1)
    d = mp.mpf(d)
    def F(x):
        if name == "norm":
            return Phi(x)
        return mp.exp(x) / 2 if x < 0 else 1 - mp.exp(-x) / 2

    atom = F(-d)  # symmetric: mean 0
    m2 = mp.quad(lambda x: f(x) * x**2, [-d, 0, d]) + 2 * atom * d**2
    m4 = mp.quad(lambda x: f(x) * x**4, [-d, 0, d]) + 2 * atom * d**4
    return m4 / (m2 * m2)


def compute(dps):
    mp.mp.dps = dps
    out = {"bias": [], "bias_block": [], "saturated": [], "kurtosis_clamped": [],
           "kurtosis_saturated": [], "curvature": []}
    for name, loc, scale, shape, alpha, b, grid, d in BIAS_CASES:
        law = Law(name, loc, scale, **shape)
        out["bias"].append(dict(law=name, loc=loc, scale=scale, shape=shape, alpha=alpha,
                                bits=b, grid=grid, d=d,
                                bias=bias_direct(law, mp.mpf(alpha), b, grid, d)))
    for name, loc, scale, alpha, b in BIAS_BLOCK_CASES:
        law = Law(name, loc, scale)
        out["bias_block"].append(dict(law=name, loc=loc, scale=scale, alpha=alpha, bits=b,
                                      grid="midrise",
                                      bias=bias_block(law, mp.mpf(alpha), b, "midrise")))
    for fn, base, gain, alpha, b in SAT_CASES:
        cells = grid_cells(mp.mpf(alpha), b, "midrise")
        mse = saturated_moment(fn, base, gain, cells, power=2)
        bias = saturated_moment(fn, base, gain, cells, power=1)
        out["saturated"].append(dict(fn=fn, base=list(base), gain=gain, alpha=alpha, bits=b,
                                     grid="midrise", mse=mse, bias=bias))
    for name, d in KURT_CLAMP:
        out["kurtosis_clamped"].append(dict(law=name, d=d,
                                            kurtosis=clamped_kurtosis(name, d)))
    for fn, base, gain in KURT_SAT:
        m, v, k = saturated_kurtosis(fn, base, gain)
        out["kurtosis_saturated"].append(dict(fn=fn, base=list(base), gain=gain, mean=m,
                                              var=v, kurtosis=k))
    for name, b, a0 in CURV_CASES:
        A = A_normal if name == "norm" else A_laplace
        a_star, e_star, d2, kappa = curvature(A, b, a0)
        out["curvature"].append(dict(law=name, bits=b, grid="midrise", model="exact",
                                     alpha_opt=a_star, mse_opt=e_star, d2E_dstep2=d2,
                                     kappa=kappa))
    return out


def _self_tests():
    """Block methods vs direct sums (asserted), at DPS + 15."""
    mp.mp.dps = DPS + 15
    msgs = []
    cases = (("norm", 0.2, 1.0, 4.0), ("norm", -0.05, 0.5, 3.0),
             ("laplace", 0.25, 1.0, 8.0), ("laplace", -0.4, 2.0, 5.0))
    for name, loc, scale, alpha in cases:
        law = Law(name, loc, scale)
        for b in (10, 12):
            x = bias_direct(law, mp.mpf(alpha), b, "midrise")
            y = bias_block(law, mp.mpf(alpha), b, "midrise")
            rel = abs(x - y) / abs(x)
            assert rel < mp.mpf(10) ** -(DPS - 5), (name, b, x, y)
            msgs.append(f"{name} loc={loc} alpha={alpha} b={b}: block vs direct "
                        f"{mp.nstr(rel, 3)}")
    return msgs


def _num(x):
    return float(mp.nstr(x, 17, strip_zeros=False)) if isinstance(x, mp.mpf) else x


def _agree(a, b, path=""):
    if isinstance(a, dict):
        for k in a:
            _agree(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _agree(x, y, f"{path}[{i}]")
    elif isinstance(a, mp.mpf):
        mp.mp.dps = DPS + 15
        rel = abs(a - b) / max(abs(b), mp.mpf(10) ** -300)
        tol = mp.mpf(10) ** -(DPS - 10)
        assert rel < tol or abs(a - b) < mp.mpf(10) ** -(DPS - 5), (path, a, b)


def _to_json(x):
    if isinstance(x, dict):
        return {k: _to_json(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_to_json(v) for v in x]
    return _num(x)


def main():
    t0 = time.time()
    checks = _self_tests()
    lo = compute(DPS)
    hi = compute(DPS + 15)
    _agree(lo, hi)
    mp.mp.dps = DPS + 15
    doc = {
        "schema": "qerror-robustness-reference/1",
        "generator": "tests/reference/generate_robustness.py",
        "python": platform.python_version(),
        "mpmath": mp.__version__,
        "dps": [DPS, DPS + 15],
        "significant_digits_written": 17,
        "self_tests": checks,
        "records": _to_json(hi),
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT} in {time.time() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
