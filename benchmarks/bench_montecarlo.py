"""Speed of qerror.simulate_mse against the cost of drawing its samples alone.

Run:  python benchmarks/bench_montecarlo.py  [--n N] [--big]

For a few laws it prints, in samples per second (median of repeated runs):

* draw:      ``dist.rvs(size=chunk, random_state=rng)`` in the same chunks, nothing else
  (the floor: simulate_mse cannot be cheaper than drawing its samples);
* exact:     ``simulate_mse(..., model="exact")`` (draw + ``qerror.quantize`` + the
  three chunk-merged moment sums);
* aciq:      ``simulate_mse(..., model="aciq")`` (draw + clipping distance);
* 4 alphas:  one call with 4 boundaries on the same draws (common random numbers),
  per sample and boundary;

and the ratios exact/draw and aciq/draw.  ``--big`` also runs 10^8 draws of N(0, 1)
once and reports the time and the peak memory traced by ``tracemalloc`` (bounded by
the chunk size, not by n).

This machine is shared; read the ratios, not the absolute rates.  Nothing here is a
test.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
from scipy import stats

import qerror
from qerror.montecarlo import DEFAULT_CHUNK, simulate_mse


def median_time(fn, repeat=5):
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def draw_only(dist, n, chunk, seed=0):
    rng = np.random.default_rng(seed)
    done = 0
    while done < n:
        m = min(chunk, n - done)
        dist.rvs(size=m, random_state=rng)
        done += m


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2_000_000, help="draws per timed run")
    ap.add_argument("--chunk", type=int, default=DEFAULT_CHUNK)
    ap.add_argument("--big", action="store_true", help="also 10^8 draws once")
    args = ap.parse_args()
    n, chunk = args.n, args.chunk

    laws = {
        "norm": stats.norm(),
        "laplace": stats.laplace(),
        "clamp(norm, 2)": qerror.clamp(stats.norm(), 2.0),
        "t(5)": stats.t(5),
        "gennorm(1.5)": stats.gennorm(1.5),
    }
    print(f"n = {n:.0e} draws per run, chunk = {chunk}, 4 bits midrise, alpha = 2.5")
    print(f"{'law':<16}{'draw M/s':>10}{'exact M/s':>11}{'aciq M/s':>10}"
          f"{'4 alphas':>10}{'exact/draw':>12}{'aciq/draw':>11}")
    for name, dist in laws.items():
        t_draw = median_time(lambda dist=dist: draw_only(dist, n, chunk))
        t_exact = median_time(lambda dist=dist: simulate_mse(dist, 2.5, 4, n=n, seed=0,
                                                             chunk_size=chunk))
        t_aciq = median_time(lambda dist=dist: simulate_mse(dist, 2.5, 4, n=n, seed=0,
                                                            model="aciq",
                                                            chunk_size=chunk))
        t_four = median_time(lambda dist=dist: simulate_mse(
            dist, [1.5, 2.0, 2.5, 3.0], 4, n=n, seed=0, chunk_size=chunk), repeat=3)
        print(f"{name:<16}{n / t_draw / 1e6:>10.1f}{n / t_exact / 1e6:>11.1f}"
              f"{n / t_aciq / 1e6:>10.1f}{4 * n / t_four / 1e6:>10.1f}"
              f"{t_exact / t_draw:>12.2f}{t_aciq / t_draw:>11.2f}")

    if args.big:
        big = 100_000_000
        tracemalloc.start()
        t0 = time.perf_counter()
        r = simulate_mse(stats.norm(), 2.5, 4, n=big, seed=0, chunk_size=chunk)
        dt = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        exact = qerror.mse(stats.norm(), 2.5, 4)
        print(f"\n10^8 draws of N(0,1): {dt:.1f} s ({big / dt / 1e6:.1f} M/s), peak traced "
              f"memory {peak / 2**20:.1f} MiB (one float64 array of 10^8 values: "
              f"{8 * big / 2**20:.0f} MiB)")
        print(f"mse {r.mse:.8g} +- {r.stderr:.2g}; engine {exact:.8g}; "
              f"z = {r.zscore(exact):.2f}")


if __name__ == "__main__":
    main()
