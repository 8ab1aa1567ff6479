"""Block scaling: qerror against the alternatives, side by side in one run, as ratios.

1. The expected MSE of i.i.d. blocks of a law (MXFP4: N(0,1), FP4 E2M1, blocks of 32,
   E8M0 scales; NVFP4: blocks of 16, E4M3 scales): qerror's exact order-statistics
   integral against the only alternative, seeded Monte Carlo of blocks (numpy), sized
   to a relative standard error of 1e-3 and of 1e-4 (qerror: 5e-15 of the mpmath
   references).
2. MXFP4 of data: ``qerror.blocks.group_quantize`` on 2^22 float32 Gaussian values
   against the plain numpy recipe of the OCP MX spec (shared exponent with frexp, cast
   by a searchsorted into the E2M1 values; the two agree bit for bit), and against
   PyTorch doing the same recipe when torch is installed (default threads).

Run: ``python benchmarks/bench_blocks.py``.  Prints machine and thread counts.
"""

import os
import platform
import time

import numpy as np
from scipy import stats

import qerror
from qerror.blocks import group_quantize


def best_of(f, n=3):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t)
    return min(ts), out


E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6.0])


def mc_block_mse(n, scale, blocks, seed=0, chunk=2**16):
    rng = np.random.default_rng(seed)
    s = s2 = 0.0
    done = 0
    while done < blocks:
        k = min(chunk, blocks - done)
        x = rng.standard_normal((k, n))
        e = ((x - group_quantize(x, n, grid="fp4_e2m1", scale=scale,
                                 **({"tensor_amax": 448.0} if scale == "e4m3" else {})))
             ** 2).mean(axis=1)
        s += e.sum()
        s2 += (e * e).sum()
        done += k
    m = s / blocks
    return m, np.sqrt((s2 / blocks - m * m) / blocks)


def numpy_mxfp4(x, n=32):
    g = x.reshape(-1, n)
    amax = np.abs(g).max(axis=1, keepdims=True)
    _, e = np.frexp(amax)
    X = np.ldexp(1.0, e - 1 - 2)  # 2^(floor(log2 amax) - emax), emax(E2M1) = 2
    v = np.abs(g) / X
    mid = 0.5 * (E2M1[1:] + E2M1[:-1])
    q = E2M1[np.searchsorted(mid, np.minimum(v, 6.0), side="left")]
    return (np.sign(g) * q * X).reshape(x.shape)


def main():
    print(f"machine: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; numpy {np.__version__}")
    print("\n1. expected MSE of i.i.d. N(0,1) blocks: exact vs Monte Carlo")
    for label, n, scale in (("MXFP4 (n=32, pow2)", 32, "pow2"),
                            ("NVFP4 (n=16, e4m3)", 16, "e4m3")):
        t_q, v = best_of(lambda: qerror.group_mse(stats.norm(), n, grid="fp4_e2m1",
                                                  scale=scale))
        pilot_m, pilot_se = mc_block_mse(n, scale, 20_000)
        sd = pilot_se * np.sqrt(20_000)
        for target in (1e-3, 1e-4):
            blocks = int((sd / (target * pilot_m)) ** 2) + 1
            t0 = time.perf_counter()
            m, se = mc_block_mse(n, scale, blocks, seed=1)
            t_mc = time.perf_counter() - t0
            print(f"   {label}: qerror {v:.6f} in {t_q * 1e3:.0f} ms;  Monte Carlo "
                  f"{blocks} blocks (rel. s.e. {se / m:.1e}): {m:.6f} in {t_mc:.2f} s  "
                  f"-> {t_mc / t_q:.0f}x")
    print("\n2. MXFP4 fake-quantization of 2^22 float32 values (n=32)")
    x = np.random.default_rng(0).standard_normal(2**22).astype(np.float32)
    t_q, a = best_of(lambda: group_quantize(x, 32, grid="fp4_e2m1", scale="pow2"))
    xf = x.astype(np.float64)
    t_n, b = best_of(lambda: numpy_mxfp4(xf))
    assert np.array_equal(a, b)
    print(f"   qerror {t_q:.3f} s; numpy recipe {t_n:.3f} s  (qerror/numpy = "
          f"{t_q / t_n:.2f})")
    try:
        import torch
    except ImportError:
        print("   torch not installed: peer skipped")
        return
    vals = torch.tensor(E2M1, dtype=torch.float64)
    mid = 0.5 * (vals[1:] + vals[:-1])
    xt = torch.from_numpy(xf)

    def torch_mxfp4():
        g = xt.reshape(-1, 32)
        amax = g.abs().amax(dim=1, keepdim=True)
        X = torch.exp2(torch.floor(torch.log2(amax)) - 2)
        v = (g.abs() / X).clamp(max=6.0)
        q = vals[torch.searchsorted(mid, v.contiguous(), right=False)]
        return (torch.sign(g) * q * X).reshape(-1)

    t_t, c = best_of(torch_mxfp4)
    agree = np.array_equal(c.numpy(), a)
    print(f"   torch {torch.__version__} ({torch.get_num_threads()} threads) {t_t:.3f} s "
          f"(qerror/torch = {t_q / t_t:.2f}; same values: {agree})")


if __name__ == "__main__":
    main()
