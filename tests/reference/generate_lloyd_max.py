"""Generate ``lloyd_max_reference.json``: Lloyd-Max quantizers to 30 digits with mpmath.

Uses mpmath only (not qerror), so the references are independent of the code under
test.  Laws: the unit Gaussian ``stats.norm()`` and the unit-scale Laplace
``stats.laplace()`` (density exp(-|x|)/2, variance 2); N = 2, 4, 8, 16 levels.

Both laws are symmetric and log-concave, so the optimum is unique and symmetric
(Fleischer 1964): only the K = N/2 positive levels are solved, with the threshold 0 in
the middle.  Newton's method on the gradient of the distortion (tridiagonal Hessian,
dense mpmath solve), started from Lloyd iterations, is run to 1e-28.

Run: ``python tests/reference/generate_lloyd_max.py`` (a few seconds).
"""

import json
from pathlib import Path

import mpmath as mp

mp.mp.dps = 40


def gauss():
    pdf = lambda x: mp.npdf(x)  # noqa: E731

    def m012(a, b):  # integrals of x^n phi(x) over [a, b], 0 <= a < b <= inf
        pa = pdf(a)
        pb = mp.mpf(0) if b == mp.inf else pdf(b)
        bpb = mp.mpf(0) if b == mp.inf else b * pb
        m0 = (mp.erfc(a / mp.sqrt(2)) - (0 if b == mp.inf else mp.erfc(b / mp.sqrt(2)))) / 2
        m1 = pa - pb
        m2 = m0 + a * pa - bpb
        return m0, m1, m2
    return pdf, m012


def laplace():
    pdf = lambda x: mp.exp(-abs(x)) / 2  # noqa: E731

    def m012(a, b):
        def prim(x):  # antiderivatives of x^n e^{-x}/2 for n = 0, 1, 2 (at +inf: 0)
            if x == mp.inf:
                return (0, 0, 0)
            e = mp.exp(-x) / 2
            return (-e, -(x + 1) * e, -(x * x + 2 * x + 2) * e)
        pa, pb = prim(a), prim(b)
        return tuple(pb[i] - pa[i] for i in range(3))
    return pdf, m012


def solve(pdf, m012, n):
    k = n // 2
    y = [mp.mpf(i + 1) * 3 / (k + 1) for i in range(k)]  # rough start

    def cells(y):
        t = [mp.mpf(0)] + [(y[i] + y[i + 1]) / 2 for i in range(k - 1)] + [mp.inf]
        return t, [m012(t[i], t[i + 1]) for i in range(k)]

    for _ in range(300):  # Lloyd
        t, m = cells(y)
        y = [m[i][1] / m[i][0] for i in range(k)]
    for _ in range(100):  # Newton on g_i = 2 (M0 y - M1)
        t, m = cells(y)
        g = mp.matrix([2 * (m[i][0] * y[i] - m[i][1]) for i in range(k)])
        H = mp.zeros(k, k)
        for i in range(k):
            H[i, i] = 2 * m[i][0]
        for i in range(k - 1):
            c = -pdf(t[i + 1]) * (y[i + 1] - y[i]) / 2
            H[i, i + 1] = H[i + 1, i] = c
            H[i, i] += c
            H[i + 1, i + 1] += c
        dy = mp.lu_solve(H, -g)
        y = [y[i] + dy[i] for i in range(k)]
        if max(abs(v) for v in dy) < mp.mpf(10) ** -32:
            break
    t, m = cells(y)
    half = sum(m[i][2] - 2 * y[i] * m[i][1] + y[i] ** 2 * m[i][0] for i in range(k))
    levels = [-v for v in reversed(y)] + y
    return levels, 2 * half


def main():
    out = {"description": "Lloyd-Max quantizers (mpmath, 40 digits): levels and MSE",
           "laws": {}}
    for name, law in (("norm", gauss()), ("laplace", laplace())):
        out["laws"][name] = {}
        for n in (2, 4, 8, 16):
            levels, mse = solve(*law, n)
            out["laws"][name][str(n)] = {"levels": [mp.nstr(v, 25) for v in levels],
                                         "mse": mp.nstr(mse, 25)}
            print(name, n, mp.nstr(mse, 12))
    path = Path(__file__).with_name("lloyd_max_reference.json")
    path.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
