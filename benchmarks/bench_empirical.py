"""Speed and quality of qerror's exact empirical clipping against its peers.

Run:  python benchmarks/bench_empirical.py [--repeat 7] [--size 4194304] [--no-channels]

Data: N = 4 * 2**20 float32 values, t(4) * 0.02 plus 8 outliers (seeded default_rng),
b = 4, midtread grid (quant_min = -7, quant_max = 7).  All methods run interleaved in
ONE process, so machine load hits them alike; each time is the median of --repeat
runs.  Reported: time, time / qerror's time, time as a multiple of one
``np.abs(x).max()`` pass (the floor), and each method's alpha and exact MSE relative
to the certified optimum.

Peers:
* PyTorch ``HistogramObserver`` (per_tensor_symmetric, qint8, quant_min=-7,
  quant_max=7); its alpha is ``scale * 7``.  Skipped if torch is not installed
  (``pip install torch==2.13.0``; a benchmark-only dependency, never needed by qerror).
* OCTAV, 10 fixed-point iterations (numpy, as in :func:`qerror.data.routes.octav_alpha`).
* ACIQ Laplace moment fit, max-abs (one ``np.abs(x).max()`` pass: the floor).

Peers are timed computing alpha only; every MSE in the table is then the exact
empirical MSE at that alpha.

Per channel: a (1024, 4096) matrix of the same law, one alpha per row.
This is a plain script, not a timed test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from qerror.data import _kernels as kern
from qerror.data.solver import empirical_error_parts, optimal_alpha_data
from qerror.data.routes import fit_alpha, maxabs_alpha, octav_alpha

BITS, GRID = 4, "midtread"


def make_data(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (rng.standard_t(4, size=n) * 0.02).astype(np.float32)
    idx = rng.choice(n, size=8, replace=False)
    x[idx] = (rng.choice([-1.0, 1.0], size=8) * rng.uniform(0.5, 3.0, size=8)).astype(
        np.float32)
    return x


def torch_histogram_alpha(x: np.ndarray):
    """alpha of PyTorch's HistogramObserver, or None without torch."""
    try:
        import torch
        from torch.ao.quantization.observer import HistogramObserver
    except ImportError:
        return None
    torch.set_num_threads(1)
    t = torch.from_numpy(x)

    def run():
        obs = HistogramObserver(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric,
                                quant_min=-7, quant_max=7)
        obs(t)
        scale, _ = obs.calculate_qparams()
        return float(scale) * 7

    return run


def octav10(x: np.ndarray) -> float:
    """alpha after 10 OCTAV steps (numpy; the same iteration as qerror's
    octav_alpha, without evaluating the exact MSE afterwards)."""
    a = np.abs(x.astype(np.float64))
    kappa = 1.0 / (12.0 * (2 ** (BITS - 1) - 1) ** 2)
    alpha = float(np.sqrt(np.mean(a * a)))
    for _ in range(10):
        out = a > alpha
        n_out = int(np.count_nonzero(out))
        alpha = float(a[out].sum()) / (kappa * (a.size - n_out) + n_out)
    return alpha


def laplace_fit(x: np.ndarray) -> float:
    """ACIQ Laplace moment fit, alpha only: mean |x| times the ACIQ constant."""
    from scipy.special import lambertw

    k = 2 ** (BITS - 1) - 1
    return float(np.mean(np.abs(x.astype(np.float64)))) * float(lambertw(12.0 * k * k).real)


def timed(fn, repeat: int):
    fn()  # warm up (numba compile / caches)
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--size", type=int, default=4 * 2**20)
    ap.add_argument("--no-channels", action="store_true")
    args = ap.parse_args(argv)

    x = make_data(args.size)
    torch_run = torch_histogram_alpha(x)
    methods = {
        "max-abs: np.abs(x).max()": lambda: float(np.abs(x).max()),
        "qerror exact optimum": lambda: optimal_alpha_data(x, BITS, grid=GRID).alpha,
    }
    if kern.HAVE_NUMBA:
        methods["qerror exact, numpy only"] = lambda: optimal_alpha_data(
            x, BITS, grid=GRID, use_numba=False).alpha
    if torch_run is not None:
        methods["torch HistogramObserver"] = torch_run
    methods["OCTAV, 10 iterations"] = lambda: octav10(x)
    methods["ACIQ Laplace fit"] = lambda: laplace_fit(x)
    # the timed peers compute alpha only; check they agree with qerror's versions
    assert np.isclose(octav10(x), octav_alpha(x, BITS, grid=GRID).alpha, rtol=1e-12)
    assert np.isclose(laplace_fit(x), fit_alpha(x, BITS, law="laplace", grid=GRID).alpha,
                      rtol=1e-9)

    # interleave the repeats so that load spikes hit every method alike
    for fn in methods.values():
        fn()
    samples = {k: [] for k in methods}
    alphas = {}
    for _ in range(args.repeat):
        for name, fn in methods.items():
            t0 = time.perf_counter()
            alphas[name] = fn()
            samples[name].append(time.perf_counter() - t0)
    times = {k: statistics.median(v) for k, v in samples.items()}

    opt = optimal_alpha_data(x, BITS, grid=GRID)
    floor = times["max-abs: np.abs(x).max()"]
    ours = times["qerror exact optimum"]
    print(f"N = {x.size} float32, t(4)*0.02 + 8 outliers, b = {BITS}, grid = {GRID}; "
          f"median of {args.repeat} interleaved runs; numba: {kern.HAVE_NUMBA}; "
          f"torch: {torch_run is not None}")
    print(f"certified optimum: alpha = {opt.alpha:.6g}, MSE = {opt.mse:.6g}  "
          f"({opt.message})\n")
    head = (f"{'method':<28}{'time ms':>9}{'/ qerror':>10}{'/ absmax':>10}"
            f"{'alpha':>12}{'alpha/opt':>11}{'MSE/opt':>12}")
    print(head)
    print("-" * len(head))
    for name, t in times.items():
        row = f"{name:<28}{1e3 * t:9.2f}{t / ours:10.2f}{t / floor:10.2f}"
        al = maxabs_alpha(x, BITS, grid=GRID).alpha if name.startswith("np.abs") \
            else alphas[name]
        tr, rd = empirical_error_parts(x, al, BITS, grid=GRID)
        row += f"{al:12.6g}{al / opt.alpha:11.4f}{(tr + rd) / opt.mse:12.6f}"
        print(row)
    if torch_run is not None:
        ratio = ours / times["torch HistogramObserver"]
        print(f"\nqerror / HistogramObserver time: {ratio:.2f}"
              f"  (target <= 1, stretch <= 0.5)")
    print(f"qerror / 10 OCTAV iterations:    {ours / times['OCTAV, 10 iterations']:.2f}"
          "  (target <= 0.3)")

    if not args.no_channels:
        rng = np.random.default_rng(1)
        w = (rng.standard_t(4, size=(1024, 4096)) * 0.02).astype(np.float32)
        print("\nper channel, (1024, 4096) float32, axis=0, b = 4, midtread:")
        for b in (4,):
            t, r = timed(lambda b=b: optimal_alpha_data(w, b, grid=GRID, axis=0),
                         max(1, args.repeat // 3))
            to, o = timed(lambda b=b: octav_alpha(w, b, grid=GRID, axis=0),
                          max(1, args.repeat // 3))
            print(f"  exact optimum: {t:.3f} s  (mean MSE {np.mean(r.mse):.4g}); "
                  f"OCTAV-10 per channel: {to:.3f} s (mean MSE / opt "
                  f"{np.mean(o.mse) / np.mean(r.mse):.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
