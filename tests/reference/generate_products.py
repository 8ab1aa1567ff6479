#!/usr/bin/env python3
"""Independent high-precision references for qerror's product error (issue 15).

Writes ``products_reference.json`` next to this file.  Uses ONLY mpmath and the Python
standard library (no qerror, numpy or scipy): an independent check of
``qerror.products.quantizer_moments`` and ``qerror.product_mse``.

Definitions (shared CONVENTIONS.md):

* grids -- ``midrise``: 2^b levels -a+(2i+1)D/2, D = 2a/2^b, x beyond +-a -> +-(a-D/2);
  ``midtread`` (b>=2): K = 2^(b-1)-1, D = a/K, levels kD, |k|<=K, x beyond +-a -> +-a;
  ``unsigned``: range [0,a], levels (2i+1)D/2, D = a/2^b, x>a -> a-D/2, x<0 -> D/2.
  Every grid is nearest-level: the cell of level q_i is [t_i, t_{i+1}] with the
  thresholds t_i the midpoints between neighbouring levels (and -inf, +inf at the
  ends).
* moments -- S = E[W^2], m = E[(W-Q)^2], g = E[Q (W-Q)], beta = E[W-Q], mu = E[W];
  product error of independent W, X:
  E = E[W^2]E[X^2] - 2 E[WQ_W] E[XQ_X] + E[Q_W^2] E[Q_X^2]  (computed in THIS form,
  from the raw moments, not from the S m g identity the library uses), and for a dot
  product of length n: n E + n (n-1) (E[W]E[X] - E[Q_W]E[Q_X])^2.

Method: every cell integral is a combination of the partial moments
M_k(a, b) = int_a^b x^k f(x) dx, k = 0, 1, 2, in closed form (normal: erfc and exp;
Laplace: exp; uniform: polynomials), evaluated at 60 significant digits from the exact
binary values of the double parameters; the cancellation of raw moments costs at most
~25 digits here, and every record is recomputed at 90 digits and must agree to 40.

Run: python tests/reference/generate_products.py
"""

from __future__ import annotations

import datetime
import json
import platform
from pathlib import Path

import mpmath as mp

DPS = 60


# ------------------------------------------------------------------ laws (x-space)
def _normal_moments(loc, s):
    def phi(z):
        return mp.mpf(0) if mp.isinf(z) else mp.npdf(z)

    def zphi(z):
        return mp.mpf(0) if mp.isinf(z) else z * mp.npdf(z)

    def M(a, b):
        # standardised z = (x - loc)/s; x = loc + s z
        za, zb = (a - loc) / s, (b - loc) / s
        p0 = mp.ncdf(zb) - mp.ncdf(za)  # at 60 digits the difference is harmless
        z1 = phi(za) - phi(zb)  # int z phi
        z2 = p0 + zphi(za) - zphi(zb)  # int z^2 phi
        return (p0, loc * p0 + s * z1, loc * loc * p0 + 2 * loc * s * z1 + s * s * z2)
    return M


def _laplace_moments(loc, s):
    def one_side(u, v):
        # int_u^v z^k e^{-z}/2 dz for 0 <= u <= v (v may be inf)
        def G(z, k):  # antiderivative of z^k e^{-z}/2 (negated upper tail)
            if z == mp.inf:
                return mp.mpf(0)
            e = mp.exp(-z) / 2
            return -e * (1 if k == 0 else (z + 1) if k == 1 else (z * z + 2 * z + 2))
        return [G(v, k) - G(u, k) for k in range(3)]

    def Mz(za, zb):
        out = [mp.mpf(0)] * 3
        if zb > 0:
            pos = one_side(max(za, mp.mpf(0)), zb)
            out = [o + p for o, p in zip(out, pos)]
        if za < 0:
            neg = one_side(max(-zb, mp.mpf(0)), -za)  # reflect: z -> -z
            out = [out[0] + neg[0], out[1] - neg[1], out[2] + neg[2]]
        return out

    def M(a, b):
        za, zb = (a - loc) / s, (b - loc) / s
        p0, z1, z2 = Mz(za, zb)
        return (p0, loc * p0 + s * z1, loc * loc * p0 + 2 * loc * s * z1 + s * s * z2)
    return M


def _uniform_moments(lo, width):
    hi = lo + width

    def M(a, b):
        u, v = max(a, lo), min(b, hi)
        if not u < v:
            return (mp.mpf(0),) * 3
        return tuple((v ** (k + 1) - u ** (k + 1)) / ((k + 1) * width) for k in range(3))
    return M


LAWS = {
    "norm": _normal_moments,
    "laplace": _laplace_moments,
    "uniform": _uniform_moments,
}


# ------------------------------------------------------------------------- grids
def levels(grid, a, b):
    if grid == "midrise":
        D = 2 * a / mp.mpf(2) ** b
        return [-a + (2 * i + 1) * D / 2 for i in range(2**b)]
    if grid == "midtread":
        K = 2 ** (b - 1) - 1
        D = a / K
        return [k * D for k in range(-K, K + 1)]
    if grid == "unsigned":
        D = a / mp.mpf(2) ** b
        return [(2 * i + 1) * D / 2 for i in range(2**b)]
    raise ValueError(grid)


def quantizer_moments(M, grid, a, b):
    """(S, mu, m, g, beta, EWQ, EQ2, EQ) from the cells of the nearest-level grid."""
    lv = levels(grid, a, b)
    th = [mp.ninf] + [(lv[i] + lv[i + 1]) / 2 for i in range(len(lv) - 1)] + [mp.inf]
    p0, p1, p2 = M(mp.ninf, mp.inf)
    m = g = beta = ewq = eq2 = eq = mp.mpf(0)
    for i, q in enumerate(lv):
        c0, c1, c2 = M(th[i], th[i + 1])
        m += c2 - 2 * q * c1 + q * q * c0
        g += q * (c1 - q * c0)
        beta += c1 - q * c0
        ewq += q * c1
        eq2 += q * q * c0
        eq += q * c0
    return {"S": p2, "mu": p1, "m": m, "g": g, "beta": beta, "EWQ": ewq, "EQ2": eq2,
            "EQ": eq}


CASES = [
    # (law_w, params_w, grid_w, alpha_w, bits_w, law_x, params_x, grid_x, alpha_x,
    #  bits_x, length)
    ("norm", (0.0, 1.0), "midrise", 2.5, 4, "laplace", (0.0, 1.0), "midrise", 4.0, 4, 1),
    ("norm", (0.0, 1.0), "midrise", 2.681604897597972, 4, "norm", (0.0, 1.0),
     "midrise", 2.681604897597972, 4, 1),
    ("norm", (0.0, 1.0), "midtread", 3.0, 3, "laplace", (0.0, 2.0), "midtread", 7.5, 5, 1),
    ("laplace", (0.0, 1.0), "midrise", 1.25, 2, "uniform", (-1.0, 2.0), "midrise", 0.8,
     3, 1),
    ("uniform", (-1.0, 2.0), "midrise", 1.0, 8, "norm", (0.0, 0.5), "midrise", 1.7, 8, 1),
    ("norm", (0.3, 1.5), "midrise", 4.0, 6, "laplace", (-0.2, 0.7), "midtread", 3.1, 4, 1),
    ("norm", (0.0, 1.0), "midrise", 3.0, 4, "uniform", (0.0, 1.0), "unsigned", 0.9, 4, 1),
    ("laplace", (0.0, 1.0), "midtread", 6.0, 6, "laplace", (0.0, 1.0), "midtread", 6.0,
     6, 1),
    ("norm", (1.0, 1.0), "midrise", 3.0, 4, "norm", (0.5, 2.0), "midrise", 5.0, 4, 64),
    ("norm", (0.0, 1.0), "midrise", 2.5, 4, "norm", (0.0, 1.0), "midrise", 2.5, 4, 64),
    ("laplace", (0.5, 1.0), "midtread", 5.0, 5, "uniform", (0.0, 1.0), "unsigned", 1.1,
     3, 16),
    ("norm", (0.0, 1.0), "midrise", 0.05, 8, "norm", (0.0, 1.0), "midrise", 12.0, 2, 1),
]


def record(case, dps):
    with mp.workdps(dps):
        lw, pw, gw, aw, bw, lx, px, gx, ax, bx, n = case
        Mw = LAWS[lw](*(mp.mpf(v) for v in pw))
        Mx = LAWS[lx](*(mp.mpf(v) for v in px))
        w = quantizer_moments(Mw, gw, mp.mpf(aw), bw)
        x = quantizer_moments(Mx, gx, mp.mpf(ax), bx)
        e = w["S"] * x["S"] - 2 * w["EWQ"] * x["EWQ"] + w["EQ2"] * x["EQ2"]
        d = w["mu"] * x["mu"] - w["EQ"] * x["EQ"]
        total = n * e + n * (n - 1) * d * d
        return w, x, total


def _s(v):
    return mp.nstr(v, 34, strip_zeros=True, min_fixed=-mp.inf, max_fixed=mp.inf)


def main():
    records = []
    for case in CASES:
        w, x, total = record(case, DPS)
        w2, x2, total2 = record(case, DPS + 30)
        with mp.workdps(DPS + 30):
            for a, b in [(total, total2)] + [(w[k], w2[k]) for k in w] + [
                    (x[k], x2[k]) for k in x]:
                assert abs(a - b) <= mp.mpf(10) ** -40 * max(abs(b), mp.mpf(10) ** -10), \
                    (case, a, b)
        lw, pw, gw, aw, bw, lx, px, gx, ax, bx, n = case
        records.append({
            "w": {"family": lw, "params": list(pw), "grid": gw, "alpha": aw, "bits": bw},
            "x": {"family": lx, "params": list(px), "grid": gx, "alpha": ax, "bits": bx},
            "length": n,
            "product_mse": _s(total2),
            "moments_w": {k: _s(w2[k]) for k in ("S", "m", "g", "beta")},
            "moments_x": {k: _s(x2[k]) for k in ("S", "m", "g", "beta")},
        })
    out = {
        "metadata": {
            "description": "mpmath references of the error of quantized products "
                           "(qerror.product_mse, qerror.products.quantizer_moments)",
            "generator": "tests/reference/generate_products.py",
            "mpmath_version": mp.__version__,
            "python_version": platform.python_version(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"),
            "dps": f"{DPS}, checked against {DPS + 30} (agreement to 1e-40 relative, 1e-50 absolute, asserted)",
            "params": "norm/laplace: (loc, scale); uniform: (loc, width) as scipy's "
                      "uniform(loc, scale)",
        },
        "records": records,
    }
    path = Path(__file__).with_name("products_reference.json")
    path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path} ({len(records)} records)")


if __name__ == "__main__":
    main()
