#!/usr/bin/env python3
r"""Independent high-precision references for the expected MSE of block-scaled laws.

Writes ``blocks_reference.json`` next to this file.  Uses ONLY :mod:`mpmath` and the
standard library (no qerror, numpy or scipy), so that ``qerror.group_mse`` on a law
is checked against unrelated code.  Run: ``python tests/reference/generate_blocks.py``
(a few minutes).

Definition
----------
Blocks of ``n`` i.i.d. draws ``W_i`` (density ``f``, cdf ``F``); block maximum
``M = max |W_i|``; the element format's levels are ``alpha * l_k`` (``l`` below, at
``alpha = 1``; values beyond the outermost levels saturate to them; nearest level);
the block's ``alpha = s(M)`` by the rule:

* ``absmax``: ``alpha * top = M`` (``top`` = largest level at alpha = 1);
* ``pow2`` (OCP MX E8M0): ``alpha * top = 2^floor(log2 M) * r`` with ``r`` the
  element format's largest value over ``2^emax`` (INT4 as MXINT: 7/4; FP4 E2M1: 6/4);
* ``e4m3`` (NVFP4, tensor unit 1): ``alpha * top = E4M3(M)``, round to nearest,
  saturating at 448; 0 below 2^-10 (then every element quantizes to 0).

The expected MSE per element is computed in m-space (a different route from
qerror's, which integrates over the block maximum's quantile):

    E = int_0^inf [ P^(n-1) (f(m) e(m) + f(-m) e(-m))
                    + (n-1) P^(n-2) (f(m) + f(-m)) R(m) ] dm,

``P = F(m) - F(-m)``, ``e(w) = (w - Q(w))^2``, ``R(m) = int_{-m}^{m} f e`` with the
inner integrals in closed form (antiderivatives of ``f(w)(w-c)^2``), and the outer one
by ``mp.quad`` split where ``s`` jumps and, where ``s`` is constant, where ``+-m``
crosses a decision threshold or an outermost level.
"""

import json
import os
import sys

import mpmath as mp

mp.mp.dps = 30

E2M1 = [0, 0.5, 1, 1.5, 2, 3, 4, 6]
FORMATS = {
    # "int" (two's complement, absmax on +7): levels k * 2/15, k = -8..7
    "int4": ([mp.mpf(2 * k) / 15 for k in range(-8, 8)], mp.mpf(7) / 4),
    "fp4_e2m1": ([-mp.mpf(v) / 6 for v in E2M1[:0:-1]] + [mp.mpf(v) / 6 for v in E2M1],
                 mp.mpf(6) / 4),
    # QLoRA's NF4 (bitsandbytes' float32 table)
    "nf4": ([mp.mpf(v) for v in (
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
        -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
        0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
        0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
        0.7229568362236023, 1.0)], None),
}

# ---------------------------------------------------------------- laws
def normal():
    def F(x):
        return mp.ncdf(x)

    def f(x):
        return mp.npdf(x)

    def anti(w, c):  # d/dw = f(w) (w - c)^2
        return (1 + c * c) * mp.ncdf(w) + (2 * c - w) * mp.npdf(w)
    return F, f, anti, (), mp.mpf(12)


def laplace():
    def F(x):
        return 1 - mp.exp(-x) / 2 if x >= 0 else mp.exp(x) / 2

    def f(x):
        return mp.exp(-abs(x)) / 2

    def anti(w, c):  # continuous at 0 (the two branches meet there)
        u = w - c
        if w >= 0:
            return c * c + 2 - mp.exp(-w) / 2 * (u * u + 2 * u + 2)
        return mp.exp(w) / 2 * (u * u - 2 * u + 2)
    return F, f, anti, (0,), mp.mpf(90)


LAWS = {"norm": normal, "laplace": laplace}


# ---------------------------------------------------------------- e4m3
def e4m3_values():
    vals = [mp.mpf(k) / 512 for k in range(8)]
    for e in range(-6, 9):
        for j in range(8):
            if e == 8 and j == 7:
                continue
            vals.append((1 + mp.mpf(j) / 8) * mp.mpf(2) ** e)
    return vals


def e4m3_round(v, vals):
    best = min(vals, key=lambda q: (abs(q - v), q))
    return best


# ---------------------------------------------------------------- engine
def case(law_name, fmt_name, rule, n):
    F, f, anti, law_kinks, upper = LAWS[law_name]()
    levels, ratio = FORMATS[fmt_name]
    top = max(levels)
    th = [(levels[i] + levels[i + 1]) / 2 for i in range(len(levels) - 1)]

    def seg(a, b, c):
        """int_a^b f (w-c)^2, split at the law's kinks."""
        if not a < b:
            return mp.mpf(0)
        pts = [a] + [k for k in law_kinks if a < k < b] + [b]
        return mp.fsum(anti(pts[i + 1], c) - anti(pts[i], c) for i in range(len(pts) - 1))

    def q(w, alpha):
        if alpha == 0:
            return mp.mpf(0)
        u = w / alpha
        i = sum(1 for t in th if u > t)
        return levels[i] * alpha

    def R(m, alpha):
        if alpha == 0:
            return seg(-m, m, 0)
        edges = [-mp.inf] + [t * alpha for t in th] + [mp.inf]
        out = []
        for i, lv in enumerate(levels):
            a, b = max(edges[i], -m), min(edges[i + 1], m)
            out.append(seg(a, b, lv * alpha))
        return mp.fsum(out)

    def alpha_of(m):
        if rule == "absmax":
            return m / top
        if rule == "pow2":
            return mp.mpf(2) ** mp.floor(mp.log(m, 2)) * ratio / top
        return e4m3_round(m, E4M3) / top

    def integrand(m, alpha=None):
        al = alpha_of(m) if alpha is None else alpha
        P = F(m) - F(-m)
        ep, em = (m - q(m, al)) ** 2, (-m - q(-m, al)) ** 2
        out = P ** (n - 1) * (f(m) * ep + f(-m) * em)
        if n > 1:
            out += (n - 1) * P ** (n - 2) * (f(m) + f(-m)) * R(m, al)
        return out

    lo = mp.mpf(2) ** -30
    if rule == "absmax":
        pts = [lo, mp.mpf(1) / 4, 1, 2, 4, 8, 16, 32, upper]
        pts = sorted(set(p for p in pts if p <= upper))
        return mp.fsum(mp.quad(integrand, [pts[i], pts[i + 1]])
                       for i in range(len(pts) - 1))
    if rule == "pow2":
        jumps = [mp.mpf(2) ** k for k in range(-29, 8) if mp.mpf(2) ** k < upper]
    else:
        jumps = [(E4M3[i] + E4M3[i + 1]) / 2 for i in range(len(E4M3) - 1)]
        jumps = [j for j in jumps if lo < j < upper]
    pts = [lo] + jumps + [upper]
    total = []
    for a, b in zip(pts[:-1], pts[1:]):
        al = alpha_of((a + b) / 2)
        kinks = sorted(set(abs(t * al) for t in th + [levels[0], levels[-1]]
                           if a < abs(t * al) < b))
        sub = [a] + kinks + [b]
        for c, d in zip(sub[:-1], sub[1:]):
            total.append(mp.quad(lambda m: integrand(m, al), [c, d]))
    return mp.fsum(total)


E4M3 = e4m3_values()

CASES = [
    ("norm", "int4", "absmax", 64), ("norm", "fp4_e2m1", "absmax", 64),
    ("norm", "nf4", "absmax", 64), ("norm", "int4", "absmax", 128),
    ("norm", "fp4_e2m1", "absmax", 16), ("norm", "nf4", "absmax", 2),
    ("norm", "fp4_e2m1", "pow2", 32), ("norm", "int4", "pow2", 32),
    ("norm", "fp4_e2m1", "e4m3", 16), ("norm", "int4", "e4m3", 16),
    ("laplace", "fp4_e2m1", "absmax", 32), ("laplace", "int4", "pow2", 32),
    ("laplace", "nf4", "absmax", 64),
]


def main():
    quick = "--quick" in sys.argv
    rows = []
    for law, fmt, rule, n in (CASES[:2] if quick else CASES):
        v = case(law, fmt, rule, n)
        print(law, fmt, rule, n, mp.nstr(v, 20), flush=True)
        rows.append({"law": law, "grid": fmt, "scale": rule, "group_size": n,
                     "mse": mp.nstr(v, 25)})
    if not quick:
        out = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "blocks_reference.json")
        with open(out, "w") as fh:
            json.dump({"dps": mp.mp.dps, "generator": "generate_blocks.py",
                       "cases": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
