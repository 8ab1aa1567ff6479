"""Speed and quality of qerror's certified output-aware clipping against grid searches.

Run:  python benchmarks/bench_output.py [--repeat 5]

Layers: W (out x in) t(4) weights, calibration inputs X (2048 x in) with input powers
spread over three decades and neighbouring inputs correlated (AR(1), 0.8), seeded;
C = X^T X / N (full).  Midtread grid, one alpha per tensor and per output channel.

Methods, all interleaved in ONE process (each time the median of --repeat runs):
* qerror: ``qerror.optimal_alpha(W, b, input_cov=C, axis=...)``: every piece of the
  piecewise quadratic output error enumerated (certified global minimum);
* grid search, the route of PTQ tools that choose clipping by the layer-output error
  (AdaQuant-style calibration): K = 100 and K = 1000 candidates
  ``alpha = max|W| * k/K`` (per tensor) or ``max|w_i| * k/K`` (per channel), output error
  ``tr(dW C dW^T)`` of each, vectorised over candidates; in numpy and in PyTorch
  (CPU, default threads; skipped without torch: ``pip install torch==2.13.0``, a
  benchmark-only dependency).

Reported: time, time / qerror's, and each method's output error relative to the
certified optimum (>= 1; a grid misses the optimum between its points).
Also: ``qerror.product_mse`` (exact) against a Monte Carlo estimate with 10^6 pairs
(relative standard error ~1e-3).  This is a plain script, not a timed test.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
from scipy import stats

import qerror

GRID = "midtread"


def make_layer(out, n, seed=0, N=2048):
    rng = np.random.default_rng(seed)
    W = rng.standard_t(4, size=(out, n)) * 0.05
    z = rng.normal(size=(N, n))
    for j in range(1, n):  # AR(1) along the inputs
        z[:, j] = 0.8 * z[:, j - 1] + 0.6 * z[:, j]
    X = z * np.sqrt(np.geomspace(1e-2, 10.0, n))
    return W, X.T @ X / N


def _levels_quantize(W, a, bits):
    k = 2 ** (bits - 1) - 1
    step = a / k
    return np.clip(np.rint(W / step), -k, k) * step


def grid_numpy(W, C, bits, K, per_row):
    amax = np.abs(W).max(axis=1, keepdims=True) if per_row else np.abs(W).max()
    best_a, best_e = None, None
    for k in range(1, K + 1):
        a = amax * (k / K)
        dW = W - _levels_quantize(W, a, bits)
        e = np.einsum("ij,ij->i", dW @ C, dW)
        if per_row:
            if best_e is None:
                best_a, best_e = np.broadcast_to(a, e[:, None].shape).ravel().copy(), e
            else:
                better = e < best_e
                best_a[better] = np.ravel(np.broadcast_to(a, e[:, None].shape))[better]
                best_e = np.where(better, e, best_e)
        elif best_e is None or e.sum() < best_e:
            best_a, best_e = float(a), e.sum()
    return best_a


def grid_torch(W, C, bits, K, per_row):
    import torch

    Wt, Ct = torch.from_numpy(W), torch.from_numpy(C)
    amax = Wt.abs().amax(dim=1, keepdim=True) if per_row else Wt.abs().max()
    frac = torch.arange(1, K + 1, dtype=Wt.dtype) / K
    k = 2 ** (bits - 1) - 1
    best = None
    for chunk in torch.split(frac, 50):  # (chunk, out, in) candidates at once
        a = chunk.view(-1, 1, 1) * amax
        step = a / k
        dW = Wt - torch.clamp(torch.round(Wt / step), -k, k) * step
        e = torch.einsum("cij,jk,cik->ci", dW, Ct, dW)
        a_b = a.expand(-1, W.shape[0], 1)[..., 0] if per_row else a.view(-1, 1).expand(
            -1, W.shape[0])
        if best is None:
            best = (e, a_b)
        else:
            best = (torch.cat([best[0], e]), torch.cat([best[1], a_b]))
    e, a = best
    if per_row:
        i = torch.argmin(e, dim=0)
        return a[i, torch.arange(W.shape[0])].numpy()
    return float(a[torch.argmin(e.sum(dim=1)), 0])


def timed(fn, repeat):
    out, ts = None, []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    try:
        import torch
        torch_info = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    except ImportError:
        torch = None
        torch_info = "torch not installed"
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"numpy {np.__version__}; {torch_info}; qerror {qerror.__version__}")
    print(f"{'layer':>10} {'b':>2} {'mode':>8} {'method':>16} {'time (s)':>9} "
          f"{'x qerror':>9} {'err/opt':>9}")
    for out, n in ((64, 64), (256, 256)):
        W, C = make_layer(out, n)
        for bits in (4, 8):
            for per_row in (False, True):
                axis = 0 if per_row else None
                t_q, r = timed(lambda: qerror.optimal_alpha(W, bits, grid=GRID,
                                                            input_cov=C, axis=axis),
                               args.repeat)
                opt = r.extra["output_mse"]
                rows = [("qerror", t_q, r.alpha)]
                for K in (100, 1000):
                    t, a = timed(lambda: grid_numpy(W, C, bits, K, per_row), args.repeat)
                    rows.append((f"numpy grid {K}", t, a))
                    if torch is not None:
                        t, a = timed(lambda: grid_torch(W, C, bits, K, per_row),
                                     args.repeat)
                        rows.append((f"torch grid {K}", t, a))
                for name, t, a in rows:
                    e = qerror.output_mse(W, a, bits, grid=GRID, input_cov=C, axis=axis)
                    print(f"{out}x{n:<6} {bits:>2} {'channel' if per_row else 'tensor':>8} "
                          f"{name:>16} {t:9.4f} {t / t_q:9.2f} {e / opt:9.5f}")
    # product_mse against Monte Carlo
    dw, dx = stats.norm(), stats.laplace()
    t_e, e = timed(lambda: qerror.product_mse(dw, 2.7, 4, dx, 5.2, 4), args.repeat)

    def mc():
        rng = np.random.default_rng(1)
        w, x = dw.rvs(10**6, random_state=rng), dx.rvs(10**6, random_state=rng)
        d = w * x - qerror.quantize(w, 2.7, 4) * qerror.quantize(x, 5.2, 4)
        return np.mean(d * d)

    t_m, m = timed(mc, args.repeat)
    print(f"\nproduct_mse exact: {t_e * 1e3:.2f} ms; Monte Carlo 10^6 pairs: "
          f"{t_m * 1e3:.1f} ms ({t_m / t_e:.0f}x), relative deviation {m / e - 1:+.1e}")


if __name__ == "__main__":
    main()
