#!/usr/bin/env python3
r"""Independent high-precision reference values for optimal clipping of uniform quantizers.

Writes ``optimal_reference.json`` next to this file.  Uses ONLY :mod:`mpmath` and the
standard library on purpose: it must not import ``qerror``, ``numpy`` or ``scipy``, so
that the library can be tested against values computed by unrelated code.

Run: ``python tests/reference/generate_optimal.py`` (about 6-10 minutes on 2 cores).
``--quick`` runs a reduced set (for developing this script only; it does not write
the JSON unless ``--out`` is given).

Conventions (see ``shared/CONVENTIONS.md``)
-------------------------------------------
Grids, with ``alpha`` the clipping boundary:

* ``midrise``: ``N = 2^b`` levels, step ``D = 2 alpha / N``, levels
  ``-alpha + (2i+1) D / 2``, thresholds ``-alpha + i D``; values beyond ``+-alpha`` map
  to ``+-(alpha - D/2)``.
* ``midtread`` (b >= 2): ``K = 2^(b-1) - 1``, ``D = alpha / K``, levels ``k D`` for
  ``|k| <= K`` (outermost level exactly ``+-alpha``), thresholds ``(k + 1/2) D``;
  values beyond ``+-alpha`` map to ``+-alpha``.
* The Max (1960) table uses the same two shapes for an arbitrary number ``N`` of
  levels: even ``N`` is the midrise shape (``alpha = N D / 2``), odd ``N = 2K+1`` the
  midtread shape (``alpha = K D``, the outermost level).

Error models:

* ``aciq`` (supplement Eq. 3/4): ``E = int_alpha^inf f (x-alpha)^2 + mirror + D^2/12``
  (midrise: ``D^2/12 = alpha^2 / (3 4^b)``; midtread: ``alpha^2 / (12 K^2)``).
  For a clamped law (Eq. 7) the truncation term is
  ``2 [int_alpha^d f (x-alpha)^2 + (1-F(d)) (d-alpha)^2]`` for ``alpha < d`` and 0 else.
* ``exact``: ``E = E[(W - Q(W))^2]`` for the real quantizer of the grid, summed cell by
  cell with closed-form partial moments.  Split: ``truncation`` is the part coming
  from ``|W| > alpha``, ``rounding`` the part from ``|W| <= alpha``.

Distributions: ``normal`` is the standard normal (sigma = 1); ``laplace`` is the
standard Laplace with SCALE 1, density ``exp(-|x|)/2`` (variance 2).  Every alpha is in
those units (for a Laplace of scale ``s`` multiply alpha by ``s`` and mse by ``s^2``).

Clamped laws: ``W' = clip(W, -d, d)`` (density ``f`` on ``(-d, d)``, atoms of mass
``1 - F(d)`` at ``+-d``).

Method
------
Everything is reduced to the tail primitives
``A_k(x) = int_x^inf t^k f(t) dt`` (k = 0, 1, 2), which have closed forms:

* normal:  ``A0 = erfc(x/sqrt2)/2``, ``A1 = phi(x)``, ``A2 = x phi(x) + A0``;
* laplace: ``A0 = e^-x/2``, ``A1 = (x+1) e^-x/2``, ``A2 = (x^2+2x+2) e^-x/2``.

A cell ``[u, v)`` with level ``q`` contributes ``M2 - 2 q M1 + q^2 M0`` with
``Mk = A_k(u) - A_k(v)``.  Because every level is ``kappa alpha`` and interior thresholds
are midpoints of adjacent levels, the threshold terms of ``dE/dalpha`` cancel and

    dE/dalpha = -4 sum_cells kappa_i (M1_i - q_i M0_i)      (positive half, x2 folded in)

plus, for a clamped law, ``-4 (1-F(d)) kappa_j (d - q_j)`` for the cell ``j`` holding
``d``.  The exact models are scanned in double precision (stdlib ``math``) to find every
local minimum, and each one is refined in mpmath with ``findroot`` on the analytic
derivative.  Every published value is computed twice (two working precisions and, where
possible, two different methods) and the script asserts the agreement.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time

import mpmath
from mpmath import mp, mpf

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DEFAULT = os.path.join(HERE, "optimal_reference.json")

SIG = 40          # significant digits written for alpha / mse
DPS_A = 60        # main working precision
DPS_B = 80        # cross-check precision
DPS_GOLD = 90     # golden-section cross-check precision (flat minimum: sqrt(eps))

T0 = time.time()


def log(msg: str) -> None:
    print(f"[{time.time() - T0:7.1f}s] {msg}", flush=True)


def s(x, n: int = SIG) -> str:
    """mpf -> string with n significant digits."""
    return mpmath.nstr(x, n, min_fixed=-5, max_fixed=5, strip_zeros=False)


def agree_digits(x, y) -> float:
    """Number of agreeing significant digits of x and y (capped at 200)."""
    with mp.workdps(250):
        x = mpf(x)
        y = mpf(y)
        if x == y:
            return 200.0
        den = max(abs(x), abs(y))
        return float(-mpmath.log10(abs(x - y) / den))


# ---------------------------------------------------------------------------------
# Backends: the same formulas run in double precision (scans) and in mpmath.
# ---------------------------------------------------------------------------------

class FloatBackend:
    name = "float"
    inf = math.inf
    exp = staticmethod(math.exp)
    erfc = staticmethod(math.erfc)
    SQRT2 = math.sqrt(2.0)
    INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)

    @staticmethod
    def num(x):
        return float(x)


class MpBackend:
    name = "mp"
    inf = mpmath.inf

    @staticmethod
    def exp(x):
        return mp.exp(x)

    @staticmethod
    def erfc(x):
        return mp.erfc(x)

    # precision-dependent constants are properties of the current mp.dps
    @property
    def SQRT2(self):
        return mp.sqrt(2)

    @property
    def INV_SQRT2PI(self):
        return 1 / mp.sqrt(2 * mp.pi)

    @staticmethod
    def num(x):
        return mpf(x)


FB = FloatBackend()
MB = MpBackend()


def tail_prims(dist: str, B):
    """Return A(x) -> (A0, A1, A2), A_k(x) = int_x^inf t^k f(t) dt, for x >= 0."""
    inf = B.inf
    if dist == "normal":
        if B is FB:
            sq2 = FB.SQRT2
            c = FB.INV_SQRT2PI
            erfc = math.erfc
            exp = math.exp

            def A(x):
                if x == inf:
                    return 0.0, 0.0, 0.0
                q = 0.5 * erfc(x / sq2)
                ph = c * exp(-0.5 * x * x)
                return q, ph, x * ph + q
            return A
        sq2 = B.SQRT2
        c = B.INV_SQRT2PI

        def A(x):
            if x == inf:
                return mpf(0), mpf(0), mpf(0)
            q = mp.erfc(x / sq2) / 2
            ph = c * mp.exp(-x * x / 2)
            return q, ph, x * ph + q
        return A
    if dist == "laplace":
        exp = B.exp

        def A(x):
            if x == inf:
                return B.num(0), B.num(0), B.num(0)
            e = exp(-x) / 2
            return e, (x + 1) * e, (x * x + 2 * x + 2) * e
        return A
    raise ValueError(dist)


# ---------------------------------------------------------------------------------
# Grids (positive half).  A grid is (den, cells): cell = (lo, hi, lvl) integers, the
# cell is [lo*alpha/den, hi*alpha/den) with level lvl*alpha/den; hi None = +inf.
# ---------------------------------------------------------------------------------

def grid_cells(shape: str, n_levels: int):
    if shape == "midrise":
        N = n_levels
        assert N % 2 == 0 and N >= 2
        cells = [(2 * j, 2 * j + 2 if j < N // 2 - 1 else None, 2 * j + 1)
                 for j in range(N // 2)]
        return N, cells
    if shape == "midtread":
        N = n_levels
        assert N % 2 == 1 and N >= 3
        K = (N - 1) // 2
        cells = [(0, 1, 0)]
        cells += [(2 * k - 1, 2 * k + 1, 2 * k) for k in range(1, K)]
        cells.append((2 * K - 1, None, 2 * K))
        return 2 * K, cells
    raise ValueError(shape)


def levels_for(grid: str, bits: int) -> int:
    return 2 ** bits if grid == "midrise" else 2 ** bits - 1


def evaluate(alpha, A, grid_spec, B, d=None, P_d=None):
    """Exact-model (E, dE/dalpha) at alpha.  d: clamp bound (None = unclamped)."""
    den, cells = grid_spec
    sc = alpha / den
    E = 0
    G = 0
    u = B.num(0)
    Au = A(u)
    inf = B.inf
    for lo, hi, lvl in cells:
        v = hi * sc if hi is not None else inf
        last = False
        if d is not None and v > d:
            v = d
            last = True
        Av = A(v)
        q = lvl * sc
        M0 = Au[0] - Av[0]
        M1 = Au[1] - Av[1]
        M2 = Au[2] - Av[2]
        E += M2 - 2 * q * M1 + q * q * M0
        G += lvl * (M1 - q * M0)
        if last:
            dq = d - q
            E += P_d * dq * dq
            G += P_d * lvl * dq
            break
        u, Au = v, Av
    return 2 * E, -4 * G / den


def exact_split(alpha, A, grid_spec, d=None, P_d=None):
    """(mse, truncation, rounding) of the exact model, mp precision.

    truncation = part from |W| > alpha (|W'| > alpha for a clamped law)."""
    E, _ = evaluate(alpha, A, grid_spec, MB, d, P_d)
    den, cells = grid_spec
    lvl_out = cells[-1][2] * alpha / den      # outermost level
    if d is None:
        a = A(alpha)
        T = 2 * (a[2] - 2 * lvl_out * a[1] + lvl_out ** 2 * a[0])
    elif alpha < d:
        a = A(alpha)
        b = A(d)
        T = 2 * ((a[2] - b[2]) - 2 * lvl_out * (a[1] - b[1]) + lvl_out ** 2 * (a[0] - b[0])
                 + P_d * (d - lvl_out) ** 2)
    else:
        T = mpf(0)
    return E, T, E - T


# ---------------------------------------------------------------------------------
# ACIQ model
# ---------------------------------------------------------------------------------

def aciq_c(grid: str, bits: int):
    """Rounding coefficient c with rounding = c alpha^2."""
    if grid == "midrise":
        return 1 / (3 * mpf(4) ** bits)
    K = 2 ** (bits - 1) - 1
    return 1 / (12 * mpf(K) ** 2)


def aciq_funcs(A, c, d=None):
    """Return (E, E', E'') callables of the ACIQ model (mp)."""
    if d is None:
        def parts(a):
            t = A(a)
            T = 2 * (t[2] - 2 * a * t[1] + a * a * t[0])
            T1 = -4 * (t[1] - a * t[0])
            T2 = 4 * t[0]
            return T, T1, T2
    else:
        Ad = A(d)
        P = Ad[0]

        def parts(a):
            if a >= d:
                return mpf(0), mpf(0), mpf(0)
            t = A(a)
            M0 = t[0] - Ad[0]
            M1 = t[1] - Ad[1]
            M2 = t[2] - Ad[2]
            T = 2 * (M2 - 2 * a * M1 + a * a * M0 + P * (d - a) ** 2)
            T1 = -4 * (M1 - a * M0 + P * (d - a))
            T2 = 4 * t[0]
            return T, T1, T2

    def E(a):
        T, _, _ = parts(a)
        return T + c * a * a

    def E1(a):
        _, T1, _ = parts(a)
        return T1 + 2 * c * a

    def E2(a):
        _, _, T2 = parts(a)
        return T2 + 2 * c

    return E, E1, E2, parts


def bisect_root(f, lo, hi, tol_digits):
    """Plain bisection (method 1): f(lo) < 0 < f(hi)."""
    flo = f(lo)
    fhi = f(hi)
    assert flo < 0 < fhi, (flo, fhi)
    tol = mpf(10) ** (-tol_digits)
    while hi - lo > tol * abs(hi):
        mid = (lo + hi) / 2
        fm = f(mid)
        if fm < 0:
            lo = mid
        elif fm > 0:
            hi = mid
        else:
            return mid
    return (lo + hi) / 2


def newton_root(f, df, x0, tol_digits, maxit=200):
    """Newton iteration (method 2) from x0."""
    x = mpf(x0)
    tol = mpf(10) ** (-tol_digits)
    for _ in range(maxit):
        step = f(x) / df(x)
        x -= step
        if abs(step) <= tol * abs(x):
            # one more for quadratic convergence margin
            x -= f(x) / df(x)
            return x
    raise RuntimeError("newton did not converge")


def aciq_optimum(dist, grid, bits, d=None):
    """ACIQ optimum, two methods at two precisions.  Returns record dict."""
    out = {}
    vals = {}
    for tag, dps in (("A", DPS_A), ("B", DPS_B)):
        with mp.workdps(dps + 10):
            A = tail_prims(dist, MB)
            c = aciq_c(grid, bits)
            dd = mpf(d) if d is not None else None
            E, E1, E2, parts = aciq_funcs(A, c, dd)
            hi = mpf(40) if dist == "normal" else mpf(250)
            if dd is not None:
                hi = dd
            lo = mpf(10) ** -30
            assert E1(lo) < 0 and E1(hi) > 0
            if tag == "A":
                root = bisect_root(E1, lo, hi, dps + 3)
                method = "bisection on dE/dalpha"
            else:
                # Newton from a deliberately different start: the bracket midpoint
                # is far for large b, so start from a coarse bisection.
                x0 = bisect_root(E1, lo, hi, 3)
                root = newton_root(E1, E2, x0, dps + 3)
                method = "Newton on dE/dalpha with analytic d2E/dalpha2"
            T, _, _ = parts(root)
            R = c * root * root
            vals[tag] = (root, T + R, T, R, method)
    rA, eA, TA, RA, mA = vals["A"]
    rB, eB, _, _, mB_ = vals["B"]
    da = agree_digits(rA, rB)
    de = agree_digits(eA, eB)
    assert da > 45 and de > 45, (dist, grid, bits, d, da, de)
    # uniqueness: E'' = 4 A0(alpha) + 2c > 0 for every alpha (analytic); check on a grid
    with mp.workdps(30):
        A = tail_prims(dist, MB)
        c = aciq_c(grid, bits)
        dd = mpf(d) if d is not None else None
        _, E1, E2, _ = aciq_funcs(A, c, dd)
        top = (dd if dd is not None else (rB * 3))
        grid_pts = [top * k / 400 for k in range(1, 401)]
        min_E2 = min(E2(x) for x in grid_pts)
        assert min_E2 > 0
        # numeric derivative of E' agrees with the analytic E''
        x_chk = rB * mpf("0.9")
        num = mp.diff(E1, x_chk)
        assert agree_digits(num, E2(x_chk)) > 15
        lo_b = rB * mpf("0.5")
        hi_b = min(rB * mpf("1.5"), dd) if dd is not None else rB * mpf("1.5")
        assert E1(lo_b) < 0 < E1(hi_b)
    out.update(alpha=s(rA), mse=s(eA), truncation=s(TA), rounding=s(RA))
    out["checks"] = {
        "method_1": f"{mA} at dps {DPS_A}",
        "method_2": f"{mB_} at dps {DPS_B}",
        "alpha_agree_digits": round(da, 1),
        "mse_agree_digits": round(de, 1),
        "uniqueness": ("d2E/dalpha2 = 4*P(W>alpha) + 2c > 0 analytically (min on a "
                       f"400-point grid: {s(min_E2, 6)}); sign change of dE/dalpha "
                       f"on [{s(lo_b, 6)}, {s(hi_b, 6)}]"),
    }
    return out, rA


# ---------------------------------------------------------------------------------
# Exact model: scan (double precision) + refinement (mpmath)
# ---------------------------------------------------------------------------------

def float_scan(dist, grid_spec, alphas, d=None):
    A = tail_prims(dist, FB)
    P = A(float(d))[0] if d is not None else None
    Es = []
    Gs = []
    for a in alphas:
        E, G = evaluate(a, A, grid_spec, FB, float(d) if d is not None else None, P)
        Es.append(E)
        Gs.append(G)
    return Es, Gs


def mp_eval_factory(dist, grid_spec, d=None):
    A = tail_prims(dist, MB)
    dd = mpf(d) if d is not None else None
    P = A(dd)[0] if dd is not None else None

    def EG(a):
        return evaluate(mpf(a), A, grid_spec, MB, dd, P)
    return EG, A, dd, P


def bracket_root(g, lo, hi):
    """Root of g in [lo, hi] with g(lo) < 0 < g(hi): Illinois (modified regula falsi)
    with a bisection step whenever an Illinois step fails to halve the bracket."""
    a, b = mpf(lo), mpf(hi)
    fa, fb = g(a), g(b)
    assert fa < 0 < fb
    side = 0
    bisect_next = False
    for _ in range(4000):
        width = b - a
        if width <= 8 * mp.eps * abs(b):
            break
        if bisect_next:
            c = (a + b) / 2
        else:
            c = (a * fb - b * fa) / (fb - fa)
            if not (a < c < b):
                c = (a + b) / 2
        fc = g(c)
        if fc == 0:
            return c
        if fc < 0:
            a, fa = c, fc
            if side == -1:
                fb /= 2
            side = -1
        else:
            b, fb = c, fc
            if side == 1:
                fa /= 2
            side = 1
        bisect_next = (b - a) > width / 2 and not bisect_next
    return (a + b) / 2


def refine_smooth(EG, lo, hi):
    """Root of dE/dalpha in [lo, hi] (sign change - to +) at current precision."""
    g = lambda a: EG(a)[1]  # noqa: E731
    if not (g(lo) < 0 < g(hi)):
        return None
    return bracket_root(g, lo, hi)


def golden_min(F, lo, hi, tol):
    """Golden-section minimisation of F on [lo, hi] (bracketing, no derivative)."""
    invphi = (mp.sqrt(5) - 1) / 2
    a, b = mpf(lo), mpf(hi)
    c = b - invphi * (b - a)
    e = a + invphi * (b - a)
    fc, fe = F(c), F(e)
    while b - a > tol:
        if fc < fe:
            b, e, fe = e, c, fc
            c = b - invphi * (b - a)
            fc = F(c)
        else:
            a, c, fc = c, e, fe
            e = a + invphi * (b - a)
            fe = F(e)
    return (a + b) / 2


def kink_events(grid_spec, d, lo, hi):
    """alpha values in (lo, hi) where d sits exactly on a decision threshold."""
    if d is None:
        return []
    den, cells = grid_spec
    ev = []
    for clo, _, _ in cells:
        if clo > 0:
            a = mpf(d) * den / clo
            if lo < a < hi:
                ev.append(a)
    return sorted(ev)


def refine_local_min(EG, grid_spec, d, lo, hi):
    """Local minimiser of E in [lo, hi] (a scan bracket).  Returns (alpha, kind)."""
    lo = mpf(lo)
    hi = mpf(hi)
    ev = kink_events(grid_spec, d, lo, hi)
    pts = [lo] + ev + [hi]
    cands = []
    for a, b in zip(pts[:-1], pts[1:]):
        r = refine_smooth(EG, a, b)
        if r is not None:
            cands.append((EG(r)[0], r, "smooth"))
    for e in ev:
        eps = e * mpf(10) ** (-(mp.dps // 2))
        gl = EG(e - eps)[1]
        gr = EG(e + eps)[1]
        if gl < 0 < gr:
            cands.append((EG(e)[0], e, "kink"))
    if not cands:
        # fall back to bracketing minimisation
        r = golden_min(lambda x: EG(x)[0], lo, hi, mpf(10) ** (-(mp.dps // 2 - 2)))
        cands.append((EG(r)[0], r, "golden"))
    cands.sort(key=lambda t: t[0])
    return cands[0][1], cands[0][2]


def local_minima_indices(Es):
    idx = []
    for k in range(1, len(Es) - 1):
        if Es[k] <= Es[k - 1] and Es[k] <= Es[k + 1]:
            idx.append(k)
    return idx


def exact_optimum(dist, shape, n_levels, alphas, d=None, dedupe_rel=1e-9,
                  golden_check=True):
    """Global optimum of the exact model over the scan range; returns a record dict."""
    gs = grid_cells(shape, n_levels)
    if d is not None:
        # put scan points just either side of every kink, so that no scan interval
        # straddles a jump of dE/dalpha
        den, cells = gs
        extra = []
        for clo, _, _ in cells:
            if clo > 0:
                e = d * den / clo
                if alphas[0] < e < alphas[-1]:
                    extra += [e * (1 - 1e-13), e * (1 + 1e-13)]
        alphas = sorted(alphas + extra)
    Es, Gs = float_scan(dist, gs, alphas, d)
    idx = local_minima_indices(Es)
    sign_idx = [k for k in range(len(Gs) - 1) if Gs[k] < 0 <= Gs[k + 1]]
    # boundary minima would mean the scan range is too small
    assert Es[0] > min(Es) and Es[-1] > min(Es), "minimum at the edge of the scan range"
    assert Gs[0] < 0 < Gs[-1]
    # candidate brackets: discrete minima of E and - to + sign changes of dE/dalpha
    brackets = sorted({(k - 1, k + 1) for k in idx} | {(k, k + 1) for k in sign_idx})
    # refine every candidate at modest precision, then dedupe
    mins = []
    with mp.workdps(30):
        EG, _, _, _ = mp_eval_factory(dist, gs, d)
        for i, j in brackets:
            r, kind = refine_local_min(EG, gs, d, alphas[i], alphas[j])
            e = EG(r)[0]
            if any(abs(r - m[0]) <= dedupe_rel * r for m in mins):
                continue
            mins.append((r, e, kind, i, j))
    mins.sort(key=lambda t: t[0])
    best = min(mins, key=lambda t: t[1])
    n_sign = len(sign_idx)
    lo_b, hi_b = alphas[best[3]], alphas[best[4]]
    res = {}
    for tag, dps in (("A", DPS_A), ("B", DPS_B)):
        with mp.workdps(dps):
            EG, A, dd, P = mp_eval_factory(dist, gs, d)
            if best[2] == "kink":
                # the kink location is known in closed form: d N / (2j)
                r = [x for x in kink_events(gs, d, mpf(lo_b), mpf(hi_b))
                     if abs(x - best[0]) < mpf(10) ** -20][0]
            elif tag == "A":
                r, kind = refine_local_min(EG, gs, d, lo_b, hi_b)
                assert kind == best[2]
            else:
                # second solver: secant on dE/dalpha at higher precision, started from
                # the double-precision value of the first solution
                g = lambda a: EG(a)[1]  # noqa: E731
                x0 = mpf(float(best[0]))
                r = mp.findroot(g, (x0, x0 * (1 + mpf("1e-12"))), solver="secant",
                                tol=mpf(10) ** (-dps), maxsteps=200, verify=False)
                g0 = abs(g(r))
                gs_scale = abs(g(r * (1 + mpf(10) ** -20))) * mpf(10) ** 20
                assert g0 <= gs_scale * r * mpf(10) ** (-(dps - 10)), (g0, gs_scale)
            E, T, R = exact_split(r, A, gs, dd, P)
            res[tag] = (r, E, T, R)
    rA, EA, TA, RA = res["A"]
    rB, EB, _, _ = res["B"]
    da = agree_digits(rA, rB)
    de = agree_digits(EA, EB)
    assert da > 40 and de > 40, (dist, shape, n_levels, d, da, de)
    checks = {
        "method_1": (f"double-precision scan of E and dE/dalpha on {len(alphas)} points, "
                     f"every discrete minimum of E and every - to + sign change of "
                     f"dE/dalpha "
                     f"refined with an Illinois/bisection bracket solver on the "
                     f"analytic dE/dalpha; global one re-solved at dps {DPS_A}"),
        "method_2": f"mpmath findroot (secant) on dE/dalpha at dps {DPS_B}",
        "alpha_agree_digits": round(da, 1),
        "mse_agree_digits": round(de, 1),
    }
    with mp.workdps(DPS_A):
        EG, A, dd, P = mp_eval_factory(dist, gs, d)
        r = rA
        # analytic derivative vs numerical differentiation of E (away from kinks)
        if best[2] != "kink":
            x_chk = r * mpf("0.97")
            if not kink_events(gs, d, x_chk * mpf("0.999"), x_chk * mpf("1.001")):
                num = mp.diff(lambda a: EG(a)[0], x_chk)
                ana = EG(x_chk)[1]
                assert agree_digits(num, ana) > 20, (num, ana)
                checks["dE_analytic_vs_mp_diff_digits"] = round(
                    min(agree_digits(num, ana), 100.0), 1)
        # it is a minimum: E(r(1 +- 1e-8)) > E(r)
        e0 = EG(r)[0]
        for sgn in (-1, 1):
            assert EG(r * (1 + sgn * mpf("1e-8")))[0] > e0
    if golden_check and best[2] != "kink":
        with mp.workdps(DPS_GOLD):
            EG, _, _, _ = mp_eval_factory(dist, gs, d)
            lo_g = max(mpf(lo_b), rA * (1 - mpf("1e-4")))
            hi_g = min(mpf(hi_b), rA * (1 + mpf("1e-4")))
            evs = kink_events(gs, d, lo_g, hi_g)
            for e in evs:       # keep the golden bracket on the smooth piece
                if e < rA:
                    lo_g = max(lo_g, e)
                else:
                    hi_g = min(hi_g, e)
            rg = golden_min(lambda x: EG(x)[0], lo_g, hi_g, mpf(10) ** -45)
            dg = agree_digits(rg, rA)
            assert dg > 30, dg
            checks["golden_section_alpha_agree_digits"] = round(min(dg, 100.0), 1)
            checks["method_3"] = (f"golden-section on E itself at dps {DPS_GOLD} "
                                  "(bracket minimiser, no derivative)")
    # every - to + sign change of the scanned derivative is one of the minima
    assert n_sign <= len(mins), (n_sign, len(mins))
    with mp.workdps(DPS_A):
        step = 2 * rA / gs[0]
    rec = {
        "alpha": s(rA), "mse": s(EA), "truncation": s(TA), "rounding": s(RA),
        "step": s(step),
        "kind": best[2],
        "n_local_minima": len(mins),
        "n_dEdalpha_sign_changes_in_scan": n_sign,
        "n_discrete_E_minima_in_scan": len(idx),
        "local_minima": [{"alpha": s(m[0], 20), "mse": s(m[1], 20), "kind": m[2]}
                         for m in mins],
        "scan": {"points": len(alphas), "alpha_min": float(alphas[0]),
                 "alpha_max": float(alphas[-1])},
        "checks": checks,
    }
    return rec, rA, EA


def uniform_alphas(lo, hi, n):
    return [lo + (hi - lo) * k / (n - 1) for k in range(n)]


def geometric_alphas(lo, hi, ratio):
    out = [lo]
    while out[-1] < hi:
        out.append(out[-1] * ratio)
    return out


# ---------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------

ACIQ_PUBLISHED_LAPLACE = {  # Banner et al. (ACIQ), alpha*/b for a Laplace(0, b)
    1: "1.86", 2: "2.83", 3: "3.89", 4: "5.03", 5: "6.20", 6: "7.41", 7: "8.64", 8: "9.89"}

# Optimum-uniform-quantizer values attributed to Max (1960) in third-party material.
# The printed Table II could not be retrieved; these are secondary quotations (several
# independent code bases quote the same steps), NOT a transcription of the table.
MAX_SECONDARY = {
    2: {"step": "1.596", "mse": None},
    3: {"step": None, "mse": "0.1902"},  # one code base, mislabelled as "1-bit"
    4: {"step": "0.9957", "mse": "0.1188"},
    8: {"step": "0.5860", "mse": "0.0374"},
    16: {"step": "0.3352", "mse": "0.0115"},
    32: {"step": "0.1881", "mse": None},
}


def printed_match(value, printed: str | None):
    """Does value, rounded to the printed number of decimals, reproduce it exactly?"""
    if printed is None:
        return None
    dec = len(printed.split(".")[1]) if "." in printed else 0
    with mp.workdps(60):
        q = mpf(10) ** dec
        r = mpmath.nint(mpf(value) * q)
        return r == mpmath.nint(mpf(printed) * q)


def truncated_match(value, printed: str | None):
    """Does value, TRUNCATED to the printed number of decimals, reproduce it?"""
    dec = len(printed.split(".")[1]) if "." in printed else 0
    with mp.workdps(60):
        q = mpf(10) ** dec
        return mpmath.floor(mpf(value) * q) == mpmath.nint(mpf(printed) * q)


# Gaussian ACIQ constants as they appear in third-party ACIQ code (a commented-out
# lookup table, bits 2..8); NOT checked against the paper's own text.
ACIQ_QUOTED_GAUSS = {2: "1.71", 3: "2.15", 4: "2.55", 5: "2.93", 6: "3.28", 7: "3.61",
                     8: "3.92"}


def section_aciq_unclamped(quick):
    recs = []
    cross = []
    bits_mr = range(1, 65) if not quick else [1, 2, 8, 64]
    bits_mt = range(2, 33) if not quick else [2, 8, 32]
    for dist in ("normal", "laplace"):
        for grid, bits_list in (("midrise", bits_mr), ("midtread", bits_mt)):
            for b in bits_list:
                rec, r = aciq_optimum(dist, grid, b)
                rec = {"section": "aciq", "model": "aciq", "dist": dist, "grid": grid,
                       "bits": b, "d": None, **rec}
                if dist == "laplace":
                    with mp.workdps(DPS_B):
                        c = aciq_c(grid, b)
                        w = mp.lambertw(1 / c).real
                        dw = agree_digits(w, r)
                    assert dw > 45, dw
                    rec["checks"]["lambertw_closed_form"] = s(w)
                    rec["checks"]["lambertw_agree_digits"] = round(min(dw, 100.0), 1)
                    rec["checks"]["lambertw_formula"] = (
                        "alpha* = W(3*4^b)" if grid == "midrise" else "alpha* = W(12*K^2)")
                    if grid == "midrise" and b in ACIQ_PUBLISHED_LAPLACE:
                        pub = ACIQ_PUBLISHED_LAPLACE[b]
                        cross.append({"dist": "laplace", "bits": b, "published": pub,
                                      "computed": s(mpf(rec["alpha"]), 8),
                                      "rounds_to_published": printed_match(rec["alpha"],
                                                                           pub),
                                      "truncates_to_published": truncated_match(
                                          rec["alpha"], pub)})
                if dist == "normal" and grid == "midrise" and b in ACIQ_QUOTED_GAUSS:
                    pub = ACIQ_QUOTED_GAUSS[b]
                    cross.append({"dist": "normal", "bits": b, "quoted": pub,
                                  "computed": s(mpf(rec["alpha"]), 8),
                                  "rounds_to_quoted": printed_match(rec["alpha"], pub),
                                  "truncates_to_quoted": truncated_match(rec["alpha"],
                                                                         pub)})
                recs.append(rec)
            log(f"aciq {dist} {grid} done")
    return recs, cross


def section_exact(quick):
    recs = []
    best = {}
    mr = list(range(1, 9)) + [10, 12]
    mt = list(range(2, 9)) + [10, 12]
    if quick:
        mr, mt = [1, 2, 4], [2, 3]
    for dist in ("normal", "laplace"):
        amax = 12.0 if dist == "normal" else 30.0
        for grid, bl in (("midrise", mr), ("midtread", mt)):
            for b in bl:
                n = 2400
                alphas = uniform_alphas(amax / n, amax, n)
                t = time.time()
                rec, r, e = exact_optimum(dist, grid, levels_for(grid, b), alphas,
                                          golden_check=(b <= 8))
                rec = {"section": "exact", "model": "exact", "dist": dist, "grid": grid,
                       "bits": b, "d": None, **rec}
                recs.append(rec)
                best[(dist, grid, b)] = (r, e)
                log(f"exact {dist} {grid} b={b}: alpha={s(r, 12)} "
                    f"minima={rec['n_local_minima']} ({time.time() - t:.1f}s)")
    return recs, best


def section_clamped(quick, exact_best):
    recs = []
    cases = [("normal", 1), ("normal", 2), ("normal", 3), ("laplace", 3)]
    bl = [2, 4, 8] if not quick else [2, 4]
    for dist, d in cases:
        for b in bl:
            N = 2 ** b
            # aciq model (unique minimum, < d)
            rec, r_aciq = aciq_optimum(dist, "midrise", b, d=d)
            with mp.workdps(DPS_A):
                assert r_aciq < d
                _, _, _, parts = aciq_funcs(tail_prims(dist, MB), aciq_c("midrise", b),
                                            mpf(d))
            rec = {"section": "clamped", "model": "aciq", "dist": dist, "grid": "midrise",
                   "bits": b, "d": d, "alpha_ge_d": False, **rec}
            rec["checks"]["alpha_ge_d_branch"] = (
                "for alpha >= d the truncation is 0 and E = alpha^2/(3 4^b) is increasing, "
                "and dE/dalpha is continuous at alpha = d, so the optimum is the interior "
                "root")
            recs.append(rec)
            # exact model: scan the whole relevant range.  For alpha >= N d every value of
            # W' lies in the two central cells, so E = E[(|W'| - alpha/N)^2] increases.
            m = 60
            ratio = 1 + 2.0 / (N * m)
            alphas = geometric_alphas(0.02 * d, N * d * 1.02, ratio)
            t = time.time()
            rec, r, e = exact_optimum(dist, "midrise", N, alphas, d=d, dedupe_rel=1e-12)
            n12 = sum(1 for mm in rec["local_minima"] if mpf(mm["alpha"]) <= 12)
            with mp.workdps(DPS_A):
                kinks_total = len(kink_events(grid_cells("midrise", N), d, mpf(0),
                                              mpf(N * d)))
            rec = {"section": "clamped", "model": "exact", "dist": dist, "grid": "midrise",
                   "bits": b, "d": d, "alpha_ge_d": bool(r >= d), **rec}
            rec["n_local_minima_alpha_le_12"] = n12
            rec["n_kinks_in_range"] = kinks_total
            rec["kinks_all_concave"] = kinks_concave(dist, N, d)
            assert rec["kinks_all_concave"]
            rec["note"] = (
                "E is continuous but has a kink wherever +-d sits on a decision threshold "
                "(alpha = d N / (2j)); there dE/dalpha jumps down (checked at every kink: "
                "kinks_all_concave), so no kink is a local minimum; the smooth local "
                "minima sit "
                "near alpha where a level meets d.  Scan: geometric, "
                f"{m} points per step D, alpha in (0.02 d, 1.02 N d].")
            ub = exact_best.get((dist, "midrise", b))
            if ub is not None:
                rec["unclamped_exact_mse"] = s(ub[1])
                rec["unclamped_exact_alpha"] = s(ub[0])
                assert e < ub[1]
            recs.append(rec)
            log(f"clamped {dist} d={d} b={b}: aciq alpha={s(r_aciq, 12)}, exact "
                f"alpha={s(r, 12)} minima={rec['n_local_minima']} ({time.time() - t:.1f}s)")
    return recs


def kinks_concave(dist, N, d):
    """Check at every kink (d on a threshold) that dE/dalpha jumps DOWN (concave kink,
    so no kink can be a local minimum, which needs left <= 0 <= right)."""
    gs = grid_cells("midrise", N)
    with mp.workdps(40):
        EG, _, _, _ = mp_eval_factory(dist, gs, d)
        for e in kink_events(gs, d, mpf(0), mpf(N * d)):
            eps = e * mpf(10) ** -25
            if not (EG(e - eps)[1] > EG(e + eps)[1]):
                return False
    return True


def section_max(quick):
    rows = []
    Ns = range(2, 37) if not quick else [2, 3, 4, 8]
    for N in Ns:
        shape = "midrise" if N % 2 == 0 else "midtread"
        n = 2400
        alphas = uniform_alphas(12.0 / n, 12.0, n)
        rec, r, e = exact_optimum("normal", shape, N, alphas, golden_check=(N <= 8))
        with mp.workdps(DPS_A):
            step = 2 * r / grid_cells(shape, N)[0]
        row = {"N": N, "shape": shape, "step": s(step), "alpha": rec["alpha"],
               "mse": rec["mse"], "n_local_minima": rec["n_local_minima"],
               "checks": rec["checks"]}
        sec = MAX_SECONDARY.get(N)
        if sec:
            row["quoted_step"] = sec["step"]
            row["quoted_mse"] = sec["mse"]
            row["quoted_step_reproduced"] = printed_match(step, sec["step"])
            row["quoted_mse_reproduced"] = printed_match(rec["mse"], sec["mse"])
        row["step_4_decimals"] = mpmath.nstr(step, 4, strip_zeros=False)
        row["mse_4_significant"] = mpmath.nstr(mpf(rec["mse"]), 4, strip_zeros=False)
        rows.append(row)
    log("max table done")
    return rows


def density(dist):
    if dist == "normal":
        return lambda x: mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi)
    return lambda x: mp.exp(-abs(x)) / 2


def quantize_direct(x, grid, bits, alpha):
    """Q(x) straight from the CONVENTIONS definitions (independent of grid_cells)."""
    if grid == "midrise":
        N = 2 ** bits
        D = 2 * alpha / N
        i = int(mpmath.floor((x + alpha) / D))
        i = min(max(i, 0), N - 1)
        return -alpha + (2 * i + 1) * D / 2
    K = 2 ** (bits - 1) - 1
    D = alpha / K
    k = int(mpmath.nint(x / D))
    return min(max(k, -K), K) * D


def self_tests():
    """Closed forms vs direct numerical quadrature of the definitions (dps 30)."""
    worst = {"exact_vs_quad": 200.0, "aciq_vs_quad": 200.0}
    n = 0
    with mp.workdps(30):
        for dist in ("normal", "laplace"):
            f = density(dist)
            A = tail_prims(dist, MB)
            for grid, bits in (("midrise", 1), ("midrise", 2), ("midrise", 3),
                               ("midtread", 2), ("midtread", 3)):
                gs = grid_cells(grid, levels_for(grid, bits))
                for alpha in (mpf("0.7"), mpf("1.9"), mpf("3.3")):
                    for d in (None, mpf("1.5"), mpf("2.5")):
                        # breakpoints: all thresholds of Q (symmetric) and +-d
                        if grid == "midrise":
                            N = 2 ** bits
                            D = 2 * alpha / N
                            br = [-alpha + i * D for i in range(1, N)]
                        else:
                            K = 2 ** (bits - 1) - 1
                            D = alpha / K
                            br = [(k + mpf(1) / 2) * D for k in range(-K, K)]
                        lo, hi = (-mp.inf, mp.inf) if d is None else (-d, d)
                        # 0 too: the Laplace density has a kink there
                        pts = sorted(set([x for x in br + [mpf(0)] if lo < x < hi]))
                        edges = [lo] + pts + [hi]
                        tot = mpf(0)
                        for a, b in zip(edges[:-1], edges[1:]):
                            if a == -mp.inf:
                                mid = b - 1
                            elif b == mp.inf:
                                mid = a + 1
                            else:
                                mid = (a + b) / 2
                            q = quantize_direct(mid, grid, bits, alpha)
                            tot += mp.quad(lambda x: f(x) * (x - q) ** 2, [a, b])
                        P = None
                        if d is not None:
                            P = A(d)[0]
                            for xd in (d, -d):
                                qd = quantize_direct(xd, grid, bits, alpha)
                                tot += P * (xd - qd) ** 2
                        E, _ = evaluate(alpha, A, gs, MB, d, P)
                        worst["exact_vs_quad"] = min(worst["exact_vs_quad"],
                                                     agree_digits(E, tot))
                        n += 1
            for grid, bits in (("midrise", 2), ("midtread", 3)):
                c = aciq_c(grid, bits)
                for d in (None, mpf("2.5")):
                    E, _, _, _ = aciq_funcs(A, c, d)
                    for alpha in (mpf("0.7"), mpf("1.9")):
                        up = mp.inf if d is None else d
                        T = 2 * mp.quad(lambda x: f(x) * (x - alpha) ** 2, [alpha, up])
                        if d is not None:
                            T += 2 * A(d)[0] * (d - alpha) ** 2
                        D = (2 * alpha / 2 ** bits if grid == "midrise"
                             else alpha / (2 ** (bits - 1) - 1))
                        ref = T + D * D / 12
                        worst["aciq_vs_quad"] = min(worst["aciq_vs_quad"],
                                                    agree_digits(E(alpha), ref))
                        n += 1
    assert worst["exact_vs_quad"] > 22 and worst["aciq_vs_quad"] > 22, worst
    log(f"self-tests passed ({n} cases): {worst}")
    return {"cases": n, "description": (
        "closed-form E (cell sums, ACIQ formulas) vs mp.quad of f(x)(x-Q(x))^2 with Q "
        "taken directly from the grid definitions (plus the atoms of a clamped law), "
        "normal and laplace, midrise b=1..3, midtread b=2..3, alpha in {0.7,1.9,3.3}, "
        "d in {none,1.5,2.5}, at dps 30"),
        "worst_agree_digits": {k: round(v, 1) for k, v in worst.items()}}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    out = args.out or (None if args.quick else OUT_DEFAULT)

    st = self_tests()
    aciq_recs, aciq_cross = section_aciq_unclamped(args.quick)
    exact_recs, exact_best = section_exact(args.quick)
    clamped_recs = section_clamped(args.quick, exact_best)
    max_rows = section_max(args.quick)

    # N = 2: closed form alpha = 2 sqrt(2/pi) (levels +-E|W|), mse = 1 - 2/pi
    with mp.workdps(DPS_A):
        r2 = [r for r in max_rows if r["N"] == 2][0]
        assert agree_digits(mpf(r2["alpha"]), 2 * mp.sqrt(2 / mp.pi)) > 38
        assert agree_digits(mpf(r2["mse"]), 1 - 2 / mp.pi) > 38

    doc = {
        "schema": "qerror-optimal-reference/1",
        "generator": "tests/reference/generate_optimal.py (mpmath + stdlib only)",
        "python": platform.python_version(),
        "mpmath": mpmath.__version__,
        "dps": {"main": DPS_A, "cross_check": DPS_B, "golden_section": DPS_GOLD},
        "significant_digits_written": SIG,
        "quick": bool(args.quick),
        "conventions": {
            "midrise": "2^b levels, D = 2 alpha/2^b, levels -alpha+(2i+1)D/2, thresholds "
                       "-alpha+iD, beyond +-alpha -> +-(alpha-D/2)",
            "midtread": "K = 2^(b-1)-1, D = alpha/K, levels kD (|k|<=K), thresholds "
                        "(k+1/2)D, beyond +-alpha -> +-alpha",
            "aciq": "E = int_alpha^inf f(x-alpha)^2 + mirror + D^2/12 (supplement Eq. 3/4; "
                    "clamped: Eq. 7 with the atoms (1-F(d))(d-alpha)^2)",
            "exact": "E = E[(W-Q(W))^2]; truncation = part from |W| > alpha, rounding = "
                     "part from |W| <= alpha",
            "normal": "standard normal, sigma = 1",
            "laplace": "standard Laplace, SCALE 1: f(x) = exp(-|x|)/2 (variance 2)",
            "clamped": "W' = clip(W, -d, d): density f on (-d, d), atoms 1-F(d) at +-d",
        },
        "self_tests": st,
        "records": aciq_recs + exact_recs + clamped_recs,
        "aciq_published_laplace_check": {
            "source": "Banner, Nahshan, Hoffer, Soudry, ACIQ (arXiv:1810.05723): alpha* = "
                      "2.83b, 3.89b, 5.03b, 6.20b, 7.41b, 8.64b, 9.89b for 2..8 bits; "
                      "1.86b "
                      "for 1 bit as quoted in the brief",
            "formula": "alpha*/b = LambertW(3*4^bits) (root of -2 e^-a + 2a/(3 4^b))",
            "gaussian_quoted_source": "normal rows: constants 1.71, 2.15, 2.55, 2.93, "
                                      "3.28, "
                                      "3.61, 3.92 (bits 2..8) as found in third-party ACIQ "
                                      "code, not checked against the paper text",
            "rows": aciq_cross,
        },
        "max_table": {
            "reference": "J. Max, 'Quantizing for minimum distortion', IRE Trans. Inform. "
                         "Theory IT-6, 7-12 (1960), Table II (optimum uniform quantizer, "
                         "unit-variance Gaussian, N = 2..36); also Jayant & Noll (1984)",
            "printed_table_found": False,
            "note": ("The printed table could not be retrieved with the tools available. "
                     "'quoted_*' fields are values attributed to Max (1960) in third-party "
                     "code and course material (several independent sources agree on the "
                     "steps 1.596, 0.9957, 0.5860, 0.3352, 0.1881 for N = 2, 4, 8, 16, "
                     "32); they are secondary quotations, not a transcription (the N = 3 "
                     "mse 0.1902 appears in one code base mislabelled as a 1-bit value; "
                     "the N = 8 mse is quoted there rounded to 0.0374). "
                     "step/alpha/mse are computed here: global minimum of the exact MSE "
                     "over the step, even N = "
                     "midrise shape (alpha = N D/2), odd N = midtread shape with N levels "
                     "(alpha = (N-1)/2 D = outermost level)."),
            "rows": max_rows,
        },
        "runtime_seconds": round(time.time() - T0, 1),
    }
    if out:
        with open(out, "w") as fh:
            json.dump(doc, fh, indent=1)
            fh.write("\n")
        log(f"wrote {out}: {len(doc['records'])} records, {len(max_rows)} Max rows")
    else:
        print(json.dumps(doc, indent=1)[:6000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
