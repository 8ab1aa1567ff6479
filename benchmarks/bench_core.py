"""Speed of the core engine, side by side with its alternatives, in one run.

Run:  python benchmarks/bench_core.py  [--quick]

1. ACIQ-model MSE of N(0,1) for 10^6 boundaries vs 10^6 scipy.special.erfc calls (the
   floor any erfc-based implementation pays) and vs the naive cancelling formula
   2[(1+a^2) Q(a) - a phi(a)] + a^2/(3 4^b) (fast, but wrong past ~8 sigma).
2. Exact-model MSE at b bits for 10^4 boundaries in one call vs the 2^b + 1 cell CDFs
   per boundary that a cell-by-cell sum needs, and vs such a cell-by-cell numpy sum
   (which also loses accuracy at high b).
3. Single exact optimal-alpha solves (closed-form family, b = 8) and vectorised ACIQ
   solves over many (scale, bits) pairs.
4. Laws without closed forms (Student t(5)): ACIQ MSE for 100 boundaries vs scipy's
   own ``rv.expect`` per boundary, and the exact MSE vs a cell-by-cell
   ``scipy.integrate.quad`` sum.

All times are medians of repeated runs; ratios are what to read (this machine is
shared).  Nothing here is a test.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import integrate, special, stats

import qerror


def timeit(fn, repeat=5, number=1):
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        ts.append((time.perf_counter() - t0) / number)
    return float(np.median(ts))


def naive_aciq_norm(a, bits):
    q = special.erfc(a / np.sqrt(2)) / 2
    phi = np.exp(-a * a / 2) / np.sqrt(2 * np.pi)
    return 2 * ((1 + a * a) * q - a * phi) + a * a / (3 * 4.0**bits)


def naive_cells_norm(alpha, bits):
    """Cell-by-cell exact midrise rounding + truncation with textbook closed forms."""
    n = 2**bits
    a = alpha[:, None]
    step = 2 * a / n
    edges = -a + step * np.arange(n + 1)
    cdf = special.ndtr(edges)
    pdf = np.exp(-edges**2 / 2) / np.sqrt(2 * np.pi)
    q = (edges[:, :-1] + edges[:, 1:]) / 2
    anti = lambda k, c: (1 + c * c) * cdf[:, k] - (edges[:, k] - 2 * c) * pdf[:, k]  # noqa
    rnd = ((1 + q * q) * (cdf[:, 1:] - cdf[:, :-1])
           - ((edges[:, 1:] - 2 * q) * pdf[:, 1:] - (edges[:, :-1] - 2 * q) * pdf[:, :-1]))
    c = alpha - alpha / n
    sf = special.ndtr(-alpha)
    ph = np.exp(-alpha**2 / 2) / np.sqrt(2 * np.pi)
    trunc = 2 * ((1 + c * c) * sf + (alpha - 2 * c) * ph)
    return rnd.sum(axis=1) + trunc


def main(quick=False):
    rng = np.random.default_rng(0)
    n = 10**5 if quick else 10**6
    print(f"qerror {qerror.__version__} core benchmark (n = {n:,})\n")
    norm = stats.norm()

    print("1. ACIQ-model MSE, N(0,1), midrise, b = 8")
    for lo, hi in ((0.01, 10.0), (0.5, 6.0)):
        a = rng.uniform(lo, hi, n)
        t_erfc = timeit(lambda: special.erfc(a))
        t_q = timeit(lambda: qerror.mse(norm, a, 8, model="aciq"))
        t_naive = timeit(lambda: naive_aciq_norm(a, 8))
        print(f"   alpha ~ U({lo}, {hi}) sigma: qerror {t_q * 1e3:7.1f} ms = "
              f"{t_q / t_erfc:4.1f} x erfc ({t_erfc * 1e3:.1f} ms); naive formula "
              f"{t_naive / t_erfc:4.1f} x erfc")
    big = np.array([6.0, 8.0, 10.0, 15.0, 25.0])
    ref = qerror.truncation_error(norm, big, 8, model="aciq")
    q = special.erfc(big / np.sqrt(2)) / 2
    bad = 2 * ((1 + big**2) * q - big * np.exp(-big**2 / 2) / np.sqrt(2 * np.pi))
    fmt = {"float_kind": lambda v: f"{v:.4e}"}
    print("   ACIQ truncation at 6, 8, 10, 15, 25 sigma:\n     qerror               ",
          np.array2string(ref, formatter=fmt),
          "\n     naive (1+a^2)Q-a*phi ", np.array2string(bad, formatter=fmt))

    print("\n2. Exact-model MSE, N(0,1), midrise, 10^4 boundaries in one call")
    m = 10**3 if quick else 10**4
    a = rng.uniform(0.5, 6.0, m)
    for bits in (2, 4, 6, 8, 10, 12):
        pts = rng.standard_normal(m * (2**bits + 1))
        t_cdf = timeit(lambda: special.ndtr(pts), repeat=3)
        t_q = timeit(lambda: qerror.mse(norm, a, bits), repeat=3)
        if bits <= 10:
            t_naive = timeit(lambda: naive_cells_norm(a, bits), repeat=3)
            naive = f"{t_q / t_naive:6.2f} x a numpy cell sum"
        else:
            naive = "(numpy cell sum: too much memory)"
        print(f"   b = {bits:2d}: qerror {t_q * 1e3:8.2f} ms = {t_q / t_cdf:6.3f} x the "
              f"{2**bits + 1} cell CDFs per alpha ({t_cdf * 1e3:.2f} ms); {naive}")
    for bits in (16, 24, 32):
        t_q = timeit(lambda: qerror.mse(norm, a, bits), repeat=3)
        print(f"   b = {bits:2d}: qerror {t_q * 1e3:8.2f} ms "
              f"(2^{bits} cell CDFs per alpha: not computable)")
    t_gen = timeit(lambda: qerror.mse(stats.logistic(), 3.0, 8), repeat=3)
    t_cdf = timeit(lambda: stats.logistic.cdf(rng.standard_normal(257)), repeat=3)
    print(f"   generic family (logistic), one alpha, b = 8: {t_gen * 1e3:.2f} ms "
          f"= {t_gen / t_cdf:.1f} x its 257 cell CDFs")

    print("\n3. Optimal alpha")
    for dist, name in ((norm, "N(0,1)"), (stats.laplace(), "Laplace")):
        t = timeit(lambda: qerror.optimal_alpha(dist, 8), repeat=5)
        print(f"   exact global solve, {name}, b = 8: {t * 1e3:.1f} ms")
    t = timeit(lambda: qerror.optimal_alpha(qerror.clamp(norm, 2.0), 8), repeat=3)
    print(f"   exact global solve, clamp(N(0,1), 2), b = 8 (dozens of local minima): "
          f"{t * 1e3:.1f} ms")
    scales = rng.uniform(0.01, 1.0, 10**5)
    bits = rng.integers(2, 17, 10**5)
    t = timeit(lambda: qerror.optimal_alpha(norm, np.unique(bits), model="aciq"), repeat=3)

    def many():
        ub, inv = np.unique(bits, return_inverse=True)
        return scales * qerror.optimal_alpha(norm, ub, model="aciq").alpha[inv]

    t_many = timeit(many, repeat=3)
    print(f"   ACIQ solves for 10^5 (scale, bits) pairs: {t_many * 1e3:.1f} ms "
          f"({t_many / 1e5 * 1e9:.0f} ns per pair; alpha* is scale-equivariant, so one "
          f"Brent solve per distinct bit-width)")

    print("\n4. A law without closed forms: Student t(5)")
    t5 = stats.t(5)
    a100 = np.linspace(0.5, 10.0, 10 if quick else 100)

    def expect_loop():
        return [2 * t5.expect(lambda x, a=a: (x - a) ** 2, lb=a) + a * a / (3 * 4.0**8)
                for a in a100]

    t_q = timeit(lambda: qerror.mse(t5, a100, 8, model="aciq"), repeat=3)
    t_e = timeit(expect_loop, repeat=1)
    err = np.max(np.abs(qerror.mse(t5, a100, 8, model="aciq") / expect_loop() - 1))
    print(f"   ACIQ MSE, {a100.size} alphas, b = 8: qerror {t_q * 1e3:.1f} ms, scipy "
          f"rv.expect loop {t_e * 1e3:.0f} ms: {t_q / t_e:.3f} x (max rel. difference "
          f"{err:.1e})")

    def quad_cells(alpha, bits):
        n = 2**bits
        step = 2 * alpha / n
        tot = 2 * integrate.quad(lambda x: t5.pdf(x) * (x - alpha + step / 2) ** 2,
                                 alpha, np.inf, epsrel=1e-12)[0]
        for i in range(n):
            lo = -alpha + i * step
            c = lo + step / 2
            tot += integrate.quad(lambda x, c=c: t5.pdf(x) * (x - c) ** 2, lo, lo + step,
                                  epsrel=1e-12)[0]
        return tot

    for bits in (4, 8):
        t_q = timeit(lambda: qerror.mse(t5, 3.0, bits), repeat=3)
        t_c = timeit(lambda: quad_cells(3.0, bits), repeat=1)
        rel = abs(qerror.mse(t5, 3.0, bits) / quad_cells(3.0, bits) - 1)
        print(f"   exact MSE, alpha = 3, b = {bits}: qerror {t_q * 1e3:.1f} ms, quad per "
              f"cell {t_c * 1e3:.0f} ms: {t_q / t_c:.3f} x (rel. difference {rel:.1e})")
    t_q = timeit(lambda: qerror.mse(t5, 3.0, 16), repeat=3)
    print(f"   exact MSE, alpha = 3, b = 16: qerror {t_q * 1e3:.0f} ms (65,536 cells)")
    t_q = timeit(lambda: qerror.optimal_alpha(t5, 4), repeat=1)
    print(f"   exact global solve, t(5), b = 4: {t_q:.2f} s")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    main(**vars(ap.parse_args()))
