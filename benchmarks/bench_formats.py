"""Formats: qerror against the alternatives, side by side in one run, as ratios.

1. Quantizing to FP8 E4M3: ``qerror.quantize(x, 448, grid="fp8_e4m3")`` (float64 in and
   out, saturating) against ml_dtypes' cast ``x.astype(float8_e4m3fn).astype(float64)``
   (both on the values clipped to +-448; they agree bit for bit).
2. The exact MSE of N(0,1) under E4M3 at one scale: qerror (closed forms, one block
   per binade) against integrating (x - Q(x))^2 phi(x) on a fine grid with the
   trapezoid rule (what research code for FP8 does), at 10^5 and 10^6 points, with the
   error of each against qerror's value (1e-12 from the mpmath references).
3. The certified data optimum on the full-range int8 grid (two-sided solver) for
   2^20 Gaussian values, against PyTorch's HistogramObserver (per_tensor_symmetric,
   qint8): time and the MSE each choice gives.  Skipped without torch.

Peers at their default settings (threads included).  Prints machine and thread
counts.  Run: ``python benchmarks/bench_formats.py``.
"""

import os
import platform
import time

import numpy as np
from scipy import stats

import qerror


def best_of(f, n=5):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return min(ts)


def main():
    print(f"machine: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, python {platform.python_version()}")
    rng = np.random.default_rng(0)
    # 1. quantize
    import ml_dtypes

    x = np.clip(rng.standard_normal(1 << 22) * 100.0, -448, 448)
    t_q = best_of(lambda: qerror.quantize(x, 448.0, grid="fp8_e4m3"))
    t_m = best_of(lambda: x.astype(ml_dtypes.float8_e4m3fn).astype(np.float64))
    same = np.array_equal(qerror.quantize(x, 448.0, grid="fp8_e4m3"),
                          x.astype(ml_dtypes.float8_e4m3fn).astype(np.float64))
    print(f"1. quantize 2^22 values to E4M3: qerror {t_q * 1e3:.1f} ms, ml_dtypes cast "
          f"{t_m * 1e3:.1f} ms, ratio qerror/ml_dtypes {t_q / t_m:.2f} (bit-identical: "
          f"{same})")
    # 2. law MSE
    law, alpha = stats.norm(), 8.0
    ref = qerror.mse(law, alpha, grid="fp8_e4m3")
    t_e = best_of(lambda: qerror.mse(law, alpha, grid="fp8_e4m3"), 20)
    for n in (10**5, 10**6):
        def trap():
            g = np.linspace(-12, 12, n)
            q = qerror.quantize(g, alpha, grid="fp8_e4m3")
            return np.trapezoid((g - q) ** 2 * law.pdf(g), g)
        t_t = best_of(trap, 3)
        err = abs(trap() / ref - 1)
        print(f"2. exact MSE, N(0,1), E4M3 at alpha = 8: qerror {t_e * 1e3:.2f} ms; "
              f"trapezoid on {n:.0e} points {t_t * 1e3:.1f} ms (relative error "
              f"{err:.1e}), ratio trapezoid/qerror {t_t / t_e:.0f}")
    # 3. data optimum vs HistogramObserver
    try:
        import torch
    except ImportError:
        print("3. skipped (no torch)")
        return
    w = rng.standard_normal(1 << 20).astype(np.float32)
    t_o = best_of(lambda: qerror.optimal_alpha(w, 8, grid="int"), 3)
    r = qerror.optimal_alpha(w, 8, grid="int")

    def hist():
        obs = torch.ao.quantization.HistogramObserver(dtype=torch.qint8,
                                                      qscheme=torch.per_tensor_symmetric)
        obs(torch.from_numpy(w))
        return obs.calculate_qparams()
    t_h = best_of(hist, 3)
    scale, _ = hist()
    a_h = float(scale) * 255 / 2
    m_h = qerror.mse(w, a_h, 8, grid="int")
    print(f"3. int8, 2^20 N(0,1) values: qerror certified optimum {t_o:.2f} s (MSE "
          f"{r.mse:.4e}), HistogramObserver {t_h:.2f} s (MSE {m_h:.4e}); time ratio "
          f"qerror/observer {t_o / t_h:.2f}, MSE ratio observer/optimum "
          f"{m_h / r.mse:.3f}; torch threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
