#!/usr/bin/env python3
"""Independent mpmath references for the exact MSE of the formats of issue 13.

Writes ``formats_reference.json`` next to this file.  Uses only mpmath and the Python
standard library (no qerror, numpy or scipy).

Levels (at clipping boundary ``alpha``; every level is an exact binary number times
``alpha`` / the format's largest value):

* ``int``  b bits: k*D, k = -2^(b-1) .. 2^(b-1)-1, D = 2 alpha / (2^b - 1);
* ``uint`` b bits: k*D, k = 0 .. 2^b-1, D = alpha / (2^b - 1);
* floating point E e M m, bias 2^(e-1)-1: subnormals j 2^(1-bias-m), normals
  (2^m + j) 2^(E-m) for E = 1-bias .. Emax, and their negatives; "ieee": Emax =
  2^e-2-bias; "fn": Emax = 2^e-1-bias without the all-ones mantissa; "none": Emax =
  2^e-1-bias; scaled by alpha / (largest value);
* ``nf4``: bitsandbytes' 16 float32 values (read as Python floats), times alpha.

Error: thresholds at the midpoints of neighbouring levels, values beyond the outermost
levels go to them; truncation = the part from outside [lowest level, highest level],
rounding = the rest.  Integrals split at 0 and reflected to x >= 0:

* normal: int_a^b phi (x-c)^2 = (1+c^2)(Q(a)-Q(b)) + (2c-b) phi(b) - (2c-a) phi(a)
  with Q = erfc(x/sqrt 2)/2 (no 1 - Phi), at 80 digits;
* Laplace (density e^-|x| / 2): antiderivative -e^-x/2 ((x-c)^2 + 2(x-c) + 2);
* Student t(5): mp.quad (tanh-sinh) on each cell at 40 digits.

Run: ``python tests/reference/generate_formats.py`` (about a minute).
"""

import json
import pathlib

import mpmath as mp

mp.mp.dps = 80

NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
       -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
       0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
       0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
       0.7229568362236023, 1.0]


def float_values(e, m, specials):
    bias = 2 ** (e - 1) - 1
    emin = 1 - bias
    emax = 2**e - (2 if specials == "ieee" else 1) - bias
    pos = [mp.mpf(j) * mp.mpf(2) ** (emin - m) for j in range(1, 2**m)]
    for E in range(emin, emax + 1):
        top = 2**m - (2 if (specials == "fn" and E == emax) else 1)
        pos += [mp.mpf(2**m + j) * mp.mpf(2) ** (E - m) for j in range(top + 1)]
    return [-v for v in reversed(pos)] + [mp.mpf(0)] + pos


FORMATS = {
    "fp8_e4m3": lambda: float_values(4, 3, "fn"),
    "fp8_e5m2": lambda: float_values(5, 2, "ieee"),
    "fp6_e2m3": lambda: float_values(2, 3, "none"),
    "fp6_e3m2": lambda: float_values(3, 2, "none"),
    "fp4_e2m1": lambda: float_values(2, 1, "none"),
    "nf4": lambda: [mp.mpf(v) for v in NF4],
}


def levels(fmt, alpha, bits):
    a = mp.mpf(alpha)
    if fmt == "int":
        D = 2 * a / (2**bits - 1)
        return [k * D for k in range(-(2 ** (bits - 1)), 2 ** (bits - 1))]
    if fmt == "uint":
        D = a / (2**bits - 1)
        return [k * D for k in range(2**bits)]
    v = FORMATS[fmt]()
    top = max(abs(x) for x in v)
    return [x * a / top for x in v]


def _phi(x):
    return mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi)


def _Q(x):
    return mp.erfc(x / mp.sqrt(2)) / 2


def seg_pos(law, a, b, c):
    """int_a^b f(x)(x-c)^2 dx for 0 <= a < b <= inf (standardised law)."""
    if law == "norm":
        pa = _phi(a)
        pb = mp.mpf(0) if b == mp.inf else _phi(b)
        qb = mp.mpf(0) if b == mp.inf else _Q(b)
        tb = mp.mpf(0) if b == mp.inf else (2 * c - b) * pb
        return (1 + c * c) * (_Q(a) - qb) + tb - (2 * c - a) * pa
    if law == "laplace":
        def F(x):
            if x == mp.inf:
                return mp.mpf(0)
            u = x - c
            return -mp.exp(-x) / 2 * (u * u + 2 * u + 2)
        return F(b) - F(a)
    if law == "t5":
        nu = 5
        k = mp.gamma((nu + 1) / mp.mpf(2)) / (mp.sqrt(nu * mp.pi) * mp.gamma(nu / mp.mpf(2)))
        with mp.workdps(40):
            return mp.quad(lambda x: k * (1 + x * x / nu) ** (-(nu + 1) / mp.mpf(2))
                           * (x - c) ** 2, [a, b])
    raise ValueError(law)


def seg(law, a, b, c):
    out = mp.mpf(0)
    if b > 0:
        out += seg_pos(law, max(a, mp.mpf(0)), b, c)
    if a < 0:
        out += seg_pos(law, max(-b, mp.mpf(0)), -a, -c)
    return out


def parts(law, loc, scale, fmt, alpha, bits):
    lv = levels(fmt, alpha, bits)
    loc, scale = mp.mpf(loc), mp.mpf(scale)
    z = [(q - loc) / scale for q in lv]
    th = [(z[i] + z[i + 1]) / 2 for i in range(len(z) - 1)]
    trunc = seg(law, -mp.inf, z[0], z[0]) + seg(law, z[-1], mp.inf, z[-1])
    edges = [z[0]] + th + [z[-1]]
    rnd = mp.mpf(0)
    for i, c in enumerate(z):
        if edges[i] < edges[i + 1]:
            rnd += seg(law, edges[i], edges[i + 1], c)
    return trunc * scale**2, rnd * scale**2


CASES = []
for fmt, bits_list, alphas in (
        ("int", (2, 4, 8), (0.5, 2.0, 3.5, 12.0)),
        ("uint", (2, 4, 8), (0.5, 2.0, 3.5, 12.0)),
        ("fp8_e4m3", (8,), (1.0, 4.0, 20.0, 448.0)),
        ("fp8_e5m2", (8,), (1.0, 4.0, 100.0, 57344.0)),
        ("fp6_e2m3", (6,), (1.0, 3.0, 7.5)),
        ("fp6_e3m2", (6,), (1.0, 3.0, 28.0)),
        ("fp4_e2m1", (4,), (1.0, 3.0, 6.0)),
        ("nf4", (4,), (0.5, 1.0, 2.5, 4.0))):
    for law, loc, scale in (("norm", 0.0, 1.0), ("laplace", 0.0, 1.0),
                            ("norm", 0.3, 1.7), ("laplace", -0.25, 0.5),
                            ("t5", 0.0, 1.0)):
        for bits in bits_list:
            for alpha in alphas:
                if law == "t5" and (fmt == "fp8_e5m2" or bits == 8) and alpha > 50:
                    continue  # keeps the run short; t5 has the quadrature path
                CASES.append((law, loc, scale, fmt, bits, alpha))


def main():
    out = []
    for law, loc, scale, fmt, bits, alpha in CASES:
        t, r = parts(law, loc, scale, fmt, alpha, bits)
        out.append({"law": law, "loc": loc, "scale": scale, "grid": fmt, "bits": bits,
                    "alpha": alpha, "truncation": mp.nstr(t, 20),
                    "rounding": mp.nstr(r, 20), "mse": mp.nstr(t + r, 20)})
    path = pathlib.Path(__file__).with_name("formats_reference.json")
    path.write_text(json.dumps({"generator": "generate_formats.py", "dps": 80,
                                "cases": out}, indent=1) + "\n")
    print(f"{len(out)} cases -> {path}")


if __name__ == "__main__":
    main()
