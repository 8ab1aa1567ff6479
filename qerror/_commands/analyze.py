"""``qerror analyze FILE``: optimal clipping of the tensors stored in a file.

For every tensor of a ``.npy``, ``.npz`` or ``.safetensors`` file (the last needs the
``safetensors`` package) the command prints the certified optimal alpha for the chosen
bits and grid (per tensor, or per channel with ``--per-channel AXIS``), its MSE and
SQNR, and the MSE that the max-abs, ACIQ Gaussian / Laplace moment-fit and OCTAV
choices give on the same data.  Progress goes to stderr on large files.
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

from ._grid import DEFAULT_GRID, GRID_CHOICES, GRID_HELP, get_format

# files with more elements than this get a progress bar on stderr
_PROGRESS_ELEMENTS = 1 << 24


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="optimal clipping (alpha) of the tensors in a .npy/.npz/.safetensors file",
        description=(
            "For each tensor in FILE: the alpha that minimises the exact quantization "
            "MSE of the data (certified global optimum), its MSE and SQNR, and the MSE "
            "of the max-abs, ACIQ Gaussian/Laplace fit and OCTAV choices."
        ),
    )
    p.add_argument("file", metavar="FILE", help=".npy, .npz or .safetensors file")
    p.add_argument("--bits", type=int, default=4, help="bit-width (default 4)")
    p.add_argument("--grid", default=DEFAULT_GRID, choices=GRID_CHOICES,
                   help=GRID_HELP)
    p.add_argument("--per-channel", type=int, default=None, metavar="AXIS",
                   help="one alpha per index along AXIS (e.g. 0 for output channels)")
    p.add_argument("--tensor", action="append", default=None, metavar="NAME",
                   help="analyze only this tensor (repeatable)")
    p.add_argument("--min-size", type=int, default=1, metavar="N",
                   help="skip tensors with fewer than N elements (default 1)")
    p.add_argument("--no-peers", action="store_true",
                   help="only the optimal alpha, not the max-abs/ACIQ/OCTAV comparison")
    progress = p.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true",
                          default=None, help="always show progress on stderr")
    progress.add_argument("--quiet", dest="progress", action="store_false",
                          help="never show progress")
    p.set_defaults(func=run)


# ------------------------------------------------------------------------- loading
def _load(path: str) -> dict:
    """{name: array} for the supported formats (arrays may be memory-mapped)."""
    low = path.lower()
    if low.endswith(".npy"):
        name = os.path.splitext(os.path.basename(path))[0]
        return {name: np.load(path, mmap_mode="r", allow_pickle=False)}
    if low.endswith(".npz"):
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    if low.endswith(".safetensors"):
        try:
            from safetensors.numpy import load_file
        except ImportError:
            raise SystemExit(
                "qerror analyze: reading .safetensors needs the 'safetensors' package "
                "(pip install safetensors, or pip install qerror[safetensors])"
            ) from None
        try:
            return load_file(path)
        except (TypeError, ValueError) as exc:  # e.g. bfloat16, which numpy lacks
            raise SystemExit(f"qerror analyze: cannot read {path} with numpy: {exc}") \
                from None
    raise SystemExit(
        f"qerror analyze: unsupported file type {path!r} (use .npy, .npz or .safetensors)"
    )


class _Progress:
    """A one-line progress bar on stderr (elements done / total)."""

    def __init__(self, total: int, enabled: bool):
        self.total = max(total, 1)
        self.done = 0
        self.enabled = enabled
        self.start = time.perf_counter()

    def show(self, label: str) -> None:
        if not self.enabled:
            return
        frac = self.done / self.total
        bar = "#" * int(30 * frac)
        sys.stderr.write(f"\r[{bar:<30}] {100 * frac:5.1f}%  {label[:40]:<40}")
        sys.stderr.flush()

    def advance(self, n: int, label: str) -> None:
        self.done += n
        self.show(label)

    def close(self) -> None:
        if self.enabled:
            took = time.perf_counter() - self.start
            sys.stderr.write(f"\r[{'#' * 30}] 100.0%  done in {took:.1f} s{' ' * 30}\n")
            sys.stderr.flush()


# ------------------------------------------------------------------------- report
def _sqnr_db(signal: float, noise: float) -> float:
    if noise <= 0:
        return math.inf
    if signal <= 0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


def _fmt_alpha(alpha) -> str:
    a = np.asarray(alpha, dtype=np.float64)
    if a.ndim == 0:
        return f"{float(a):.6g}"
    return f"{np.median(a):.4g} [{a.min():.3g}..{a.max():.3g}]"


def _analyze(name: str, x: np.ndarray, args, out) -> bool:
    from qerror import empirical as em

    shape = "x".join(map(str, x.shape)) or "scalar"
    head = f"{name}  ({shape}, {x.dtype}"
    if x.dtype.kind not in "biuf":
        out.write(f"{head})  skipped: not a real numeric array\n\n")
        return True
    axis = args.per_channel
    try:
        xa = np.asarray(x)
        if axis is not None and xa.ndim == 0:
            axis = None
        results = {"optimal": em.optimal_alpha_data(xa, args.bits, grid=args.grid,
                                                    axis=axis)}
        if not args.no_peers:
            peers = em.compare_alphas(xa, args.bits, grid=args.grid, axis=axis)
            peers.pop("optimal")
            results.update(peers)
    except (ValueError, TypeError) as exc:
        out.write(f"{head})  error: {exc}\n\n")
        return False
    mode = "per tensor" if axis is None else f"per channel, axis {axis}"
    out.write(f"{head}, {mode})\n")
    xf = xa.astype(np.float64, copy=False)
    power = float(np.mean(xf * xf))
    opt = float(np.mean(results["optimal"].mse))
    out.write(f"  {'route':<14}{'alpha':>26}  {'MSE':>12}  {'SQNR dB':>8}"
              f"  {'MSE/opt':>8}\n")
    for route, r in results.items():
        mse = float(np.mean(r.mse))  # channels have equal sizes: mean = overall MSE
        ratio = mse / opt if opt > 0 else (1.0 if mse == 0 else math.inf)
        out.write(f"  {route:<14}{_fmt_alpha(r.alpha):>26}  {mse:12.5g}  "
                  f"{_sqnr_db(power, mse):8.2f}  {ratio:8.4f}\n")
    r = results["optimal"]
    if np.ndim(r.alpha) == 0 and r.alpha == 0:
        out.write(f"  note: {r.message}\n")
    elif np.ndim(r.alpha) and np.any(np.asarray(r.alpha) == 0):
        out.write(f"  note: {int(np.sum(np.asarray(r.alpha) == 0))} all-zero channel(s):"
                  " alpha = 0\n")
    out.write("\n")
    return True


def run(args) -> int:
    try:
        get_format(args.grid).check_bits(args.bits)
    except ValueError as exc:
        print(f"qerror analyze: {exc}", file=sys.stderr)
        return 2
    if not os.path.exists(args.file):
        print(f"qerror analyze: no such file: {args.file}", file=sys.stderr)
        return 2
    tensors = _load(args.file)
    if args.tensor:
        missing = [t for t in args.tensor if t not in tensors]
        if missing:
            print(f"qerror analyze: no tensor named {', '.join(missing)} in {args.file}"
                  f" (have: {', '.join(tensors)})", file=sys.stderr)
            return 2
        tensors = {k: tensors[k] for k in args.tensor}
    tensors = {k: v for k, v in tensors.items() if v.size >= args.min_size}
    total = sum(int(v.size) for v in tensors.values())
    enabled = args.progress if args.progress is not None else total > _PROGRESS_ELEMENTS
    out = sys.stdout
    out.write(f"{args.file}: {len(tensors)} tensor(s), {total} values; bits={args.bits},"
              f" grid={args.grid}; MSE is the exact empirical error, SQNR = "
              "10 log10(mean x^2 / MSE)\n\n")
    bar = _Progress(total, enabled)
    ok = True
    for name, x in tensors.items():
        bar.show(name)
        ok &= _analyze(name, x, args, out)
        out.flush()
        bar.advance(int(x.size), name)
    bar.close()
    return 0 if ok else 1
