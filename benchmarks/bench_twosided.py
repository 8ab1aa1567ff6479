"""Speed of the certified optimum for formats whose levels are not symmetric about zero.

Run:  python benchmarks/bench_twosided.py [--repeat 3] [--rows 1024]

One (rows, 4096) float32 matrix, t(4) * 0.02 (seeded default_rng), solved per channel
(``axis=0``) with ``grid="int"`` at 8 and 4 bits (PyTorch-style signed integers,
levels -2^(b-1) .. 2^(b-1)-1) and per group of 32 and 64 (``group_size=``) with
``grid="nf4"``.  Methods, interleaved in ONE process (median of --repeat runs, each
timed call right after an untimed call of the same method: ``timed_rounds`` of
``bench_empirical``):

* qerror, compiled (``qerror.data._rows2``, as ``pip install qerror`` gives it: numba,
  one span of rows per thread on all cores);
* qerror, numpy path (``use_numba=False``: one Python loop iteration per row), timed
  on the first --numpy-rows rows / groups and scaled to the whole matrix (it is linear
  in the rows);
* PyTorch ``PerChannelMinMaxObserver`` (per_channel_symmetric, qint8 with
  quant_min = -2^(b-1), quant_max = 2^(b-1)-1: the "int" grid at alpha = max|x|; no
  clipping search) for the int rows;
* a 100-point grid search over alpha per row in PyTorch (alpha = k/100 * max|x|,
  nearest level by ``torch.bucketize`` on the format's thresholds, MSE per row),
  vectorised over the rows, at torch's default thread count.

Every MSE in the table is the exact empirical MSE at the method's alpha, divided by
qerror's certified optimum.  Torch is a benchmark-only peer (``pip install
torch==2.13.0``), never needed by qerror; its rows are skipped without it.  This is a
plain script, not a timed test.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from qerror import quantize
from qerror.data.solver import optimal_alpha_data
from qerror.formats import get_format

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from bench_empirical import machine, timed_rounds  # noqa: E402


def torch_minmax(w: np.ndarray, bits: int):
    """alpha of PyTorch's PerChannelMinMaxObserver on the "int" grid, or None."""
    try:
        import torch
        from torch.ao.quantization.observer import PerChannelMinMaxObserver
    except ImportError:
        return None
    t = torch.from_numpy(w)
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def run():
        obs = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.qint8,
                                       qscheme=torch.per_channel_symmetric,
                                       quant_min=qmin, quant_max=qmax)
        obs(t)
        scale, _ = obs.calculate_qparams()
        return scale.numpy().astype(np.float64) * (qmax - qmin) / 2.0

    return run


def torch_grid(rows: np.ndarray, fmt, bits: int, points: int = 100):
    """A `points`-point grid search over alpha per row in PyTorch, or None."""
    try:
        import torch
    except ImportError:
        return None
    lev = torch.from_numpy(fmt.levels(1.0, bits).astype(np.float32))
    th = 0.5 * (lev[1:] + lev[:-1])
    t = torch.from_numpy(rows)

    def run():
        amax = t.abs().amax(dim=1, keepdim=True).clamp_min(1e-30)
        best = torch.full((t.shape[0], 1), float("inf"))
        best_a = amax.clone()
        for k in range(1, points + 1):
            a = amax * (k / points)
            u = t / a
            q = lev[torch.bucketize(u, th)] * a
            e = ((t - q) ** 2).mean(dim=1, keepdim=True)
            better = e < best
            best = torch.where(better, e, best)
            best_a = torch.where(better, a, best_a)
        return best_a.numpy().ravel().astype(np.float64)

    return run


def rows_mse(rows: np.ndarray, alpha: np.ndarray, bits: int, fmt) -> np.ndarray:
    out = np.empty(rows.shape[0])
    per = max(1, (1 << 20) // rows.shape[1])
    for i in range(0, rows.shape[0], per):
        r = rows[i:i + per].astype(np.float64)
        q = quantize(r, alpha[i:i + per, None], bits, grid=fmt)
        out[i:i + per] = np.mean((r - q) ** 2, axis=1)
    return out


def case(w: np.ndarray, grid: str, bits: int, group: int | None, repeat: int,
         numpy_rows: int) -> None:
    fmt = get_format(grid)
    kw = {"axis": 0} if group is None else {"group_size": group}
    rows = w if group is None else w.reshape(-1, group)
    R = rows.shape[0]
    sub = w[:numpy_rows] if group is None else w[:max(1, numpy_rows * group // 4096)]
    nsub = sub.shape[0] if group is None else sub.size // group
    methods = {
        "qerror compiled": lambda: optimal_alpha_data(w, bits, grid=fmt, **kw).alpha,
        "qerror numpy path": lambda: optimal_alpha_data(sub, bits, grid=fmt,
                                                        use_numba=False, **kw).alpha,
    }
    if grid == "int" and group is None:
        run = torch_minmax(w, bits)
        if run is not None:
            methods["torch PerChannelMinMaxObserver"] = run
    run = torch_grid(rows, fmt, bits)
    if run is not None:
        methods["torch 100-point grid search"] = run
    times, out = timed_rounds(methods, repeat)  # each timed call after one of its own
    alphas = {k: np.asarray(v, dtype=np.float64).reshape(-1) for k, v in out.items()}
    times["qerror numpy path"] *= R / nsub  # scaled to every row
    where = "per channel" if group is None else f"per group of {group}"
    print(f"\n{grid} {bits} bits, {where}: {R} rows of {rows.shape[1]}; median of "
          f"{repeat} interleaved runs (numpy path: {nsub} rows, scaled)")
    head = (f"{'method':<32}{'time s':>9}{'us/row':>9}{'/ compiled':>12}"
            f"{'mean MSE / opt':>16}")
    print(head)
    print("-" * len(head))
    opt = None
    for name, t in times.items():
        al = alphas[name]
        r = rows if al.size == R else sub.reshape(-1, rows.shape[1])
        mse = float(np.mean(rows_mse(r, al, bits, fmt)))
        if name == "qerror compiled":
            opt = mse
            opt_sub = float(np.mean(rows_mse(r[:al.size][:nsub], al[:nsub], bits, fmt)))
        ref = opt if al.size == R else opt_sub
        print(f"{name:<32}{t:9.3f}{1e6 * t / R:9.1f}"
              f"{t / times['qerror compiled']:12.2f}{mse / ref:16.6f}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--rows", type=int, default=1024)
    p.add_argument("--numpy-rows", type=int, default=32)
    args = p.parse_args(argv)
    print(machine())
    rng = np.random.default_rng(1)
    w = (rng.standard_t(4, size=(args.rows, 4096)) * 0.02).astype(np.float32)
    for grid, bits, group in (("int", 8, None), ("int", 4, None), ("nf4", 4, 32),
                              ("nf4", 4, 64)):
        case(w, grid, bits, group, args.repeat, args.numpy_rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
