"""``qerror analyze FILE``: optimal clipping of the tensors stored in a file.

For every tensor of a ``.npy``, ``.npz``, ``.safetensors``, ``.onnx`` or ``.pt``/``.pth``
file (read one at a time by :mod:`qerror.io`) the command prints the certified optimal
alpha for the chosen bits and grid (per tensor, or per channel with ``--per-channel
AXIS``), its MSE and SQNR, and the MSE that the max-abs, ACIQ Gaussian / Laplace
moment-fit and OCTAV choices give on the same data; as text, JSON or CSV (schema in
``docs/cli.md``).  Progress goes to stderr on large files.

Exit status: 0; 1 if the file cannot be read (one line on stderr: the file and the
reason) or if any tensor could not be read or analysed (the others still are);
2 for bad arguments.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys

import numpy as np

from ._grid import DEFAULT_GRID, GRID_CHOICES, GRID_HELP, get_format

# files with more elements than this get a progress bar on stderr
_PROGRESS_ELEMENTS = 1 << 24
_EXTS = ".npy, .npz, .safetensors, .onnx or .pt/.pth"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "analyze",
        help=f"optimal clipping (alpha) of the tensors in a {_EXTS} file",
        description=(
            "For each tensor in FILE: the alpha that minimises the exact quantization "
            "MSE of the data (certified global optimum), its MSE and SQNR, and the MSE "
            "of the max-abs, ACIQ Gaussian/Laplace fit and OCTAV choices.  Tensors "
            "are read one at a time (memory-mapped where the format allows)."
        ),
        epilog=("bfloat16/float8 tensors are converted to float32 exactly; .pt/.pth "
                "needs torch (loaded with weights_only=True).  Exit status 1 if the "
                "file or any tensor cannot be read or analysed, 2 for bad arguments."),
    )
    p.add_argument("file", metavar="FILE", help=f"{_EXTS} file")
    p.add_argument("--bits", type=int, default=4, help="bit-width (default 4)")
    p.add_argument("--grid", default=DEFAULT_GRID, choices=GRID_CHOICES,
                   help=GRID_HELP)
    p.add_argument("--per-channel", type=int, default=None, metavar="AXIS",
                   help="one alpha per index along AXIS (e.g. 0 for output channels)")
    p.add_argument("--group-size", type=int, default=None, metavar="G",
                   help="one alpha per group of G consecutive elements along the last "
                        "axis (e.g. 32, 64, 128 as in LLM and MX quantization); a "
                        "tensor whose last axis G does not divide is analysed per "
                        "tensor, with a note")
    p.add_argument("--tensor", action="append", default=None, metavar="NAME",
                   help="analyze only this tensor (repeatable)")
    p.add_argument("--min-size", type=int, default=1, metavar="N",
                   help="skip tensors with fewer than N elements (default 1)")
    p.add_argument("--no-peers", action="store_true",
                   help="only the optimal alpha, not the max-abs/ACIQ/OCTAV comparison")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--format", choices=("text", "json", "csv"), default="text",
                     help="output format (default text; JSON/CSV schema: docs/cli.md)")
    fmt.add_argument("--json", dest="format", action="store_const", const="json",
                     help="same as --format json")
    fmt.add_argument("--csv", dest="format", action="store_const", const="csv",
                     help="same as --format csv")
    progress = p.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true",
                          default=None, help="always show progress on stderr")
    progress.add_argument("--quiet", dest="progress", action="store_false",
                          help="never show progress")
    p.set_defaults(func=run)


# ------------------------------------------------------------------------- analysis
def _sqnr_db(signal: float, noise: float) -> float:
    if noise <= 0:
        return math.inf
    if signal <= 0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


def _num(v):
    """JSON-safe number: float, or None for inf/NaN; arrays become lists."""
    if isinstance(v, np.ndarray):
        f = v.astype(np.float64).ravel()
        out = f.tolist()
        if not np.isfinite(f).all():
            out = [e if math.isfinite(e) else None for e in out]
        return out
    v = float(v)
    return v if math.isfinite(v) else None


def _analyze(info, x: np.ndarray, args) -> dict:
    """The record of one tensor (the JSON schema's ``tensors`` item)."""
    import qerror

    axis = args.per_channel
    if axis is not None and x.ndim == 0:
        axis = None
    group = args.group_size
    ungrouped = group is not None and (x.ndim == 0 or x.shape[-1] % group != 0)
    if ungrouped:  # e.g. a bias of odd length: analysed per tensor, with a note
        group = None
    rec = {"name": info.name, "shape": list(x.shape), "dtype": info.dtype,
           "size": int(x.size), "axis": axis, "group_size": group}
    kw = {"grid": args.grid, "axis": axis, "group_size": group}
    if args.no_peers:
        results = {"optimal": qerror.data.optimal_alpha_data(x, args.bits, **kw)}
    else:  # compare_alphas solves the optimum too: one solve, not two
        results = qerror.data.routes.compare_alphas(x, args.bits, **kw)
    xf = np.asarray(x, dtype=np.float64).ravel()
    power = float(xf @ xf) / xf.size if xf.size else 0.0
    del xf
    opt = float(np.mean(results["optimal"].mse))
    routes = {}
    for route, r in results.items():
        mse = float(np.mean(r.mse))  # channels have equal sizes: mean = overall MSE
        ratio = mse / opt if opt > 0 else (1.0 if mse == 0 else math.inf)
        alpha = np.asarray(r.alpha, dtype=np.float64)
        routes[route] = {"alpha": alpha if alpha.ndim else float(alpha), "mse": mse,
                         "sqnr_db": _sqnr_db(power, mse), "mse_ratio": ratio}
        if axis is not None or group is not None:
            routes[route]["channel_mse"] = np.asarray(r.mse, dtype=np.float64)
    best = routes["optimal"]
    rec.update(power=power, alpha=best["alpha"], mse=best["mse"],
               sqnr_db=best["sqnr_db"], routes=routes, note=None, error=None)
    r = results["optimal"]
    if ungrouped:
        rec["note"] = (f"last axis ({x.shape[-1] if x.ndim else 'scalar'}) not a "
                       f"multiple of --group-size {args.group_size}: per tensor")
    elif np.ndim(r.alpha) == 0 and r.alpha == 0:
        rec["note"] = str(r.message)
    elif np.ndim(r.alpha) and np.any(np.asarray(r.alpha) == 0):
        rec["note"] = (f"{int(np.sum(np.asarray(r.alpha) == 0))} all-zero channel(s):"
                       " alpha = 0")
    return rec


def _error_record(info, reason: str) -> dict:
    return {"name": info.name, "shape": None if info.shape is None else list(info.shape),
            "dtype": info.dtype, "size": info.size, "axis": None, "group_size": None,
            "power": None,
            "alpha": None, "mse": None, "sqnr_db": None, "routes": {}, "note": None,
            "error": reason}


# ------------------------------------------------------------------------- writers
def _fmt_alpha(alpha) -> str:
    a = np.asarray(alpha, dtype=np.float64)
    if a.ndim == 0:
        return f"{float(a):.6g}"
    return f"{np.median(a):.4g} [{a.min():.3g}..{a.max():.3g}]"


class _Text:
    def __init__(self, out, head):
        self.out = out
        out.write(f"{head['file']}: {head['count']} tensor(s), {head['values']} values;"
                  f" bits={head['bits']}, grid={head['grid']}; MSE is the exact "
                  "empirical error, SQNR = 10 log10(mean x^2 / MSE)\n\n")

    def tensor(self, rec) -> None:
        w = self.out.write
        shape = "?" if rec["shape"] is None else "x".join(map(str, rec["shape"]))
        head = f"{rec['name']}  ({shape or 'scalar'}, {rec['dtype']}"
        if rec["error"] is not None:
            w(f"{head})  error: {rec['error']}\n\n")
            return
        mode = "per tensor" if rec["axis"] is None else f"per channel, axis {rec['axis']}"
        if rec.get("group_size") is not None:
            mode = f"per group of {rec['group_size']}"
        w(f"{head}, {mode})\n")
        w(f"  {'route':<14}{'alpha':>26}  {'MSE':>12}  {'SQNR dB':>8}  {'MSE/opt':>8}\n")
        for route, r in rec["routes"].items():
            w(f"  {route:<14}{_fmt_alpha(r['alpha']):>26}  {r['mse']:12.5g}  "
              f"{r['sqnr_db']:8.2f}  {r['mse_ratio']:8.4f}\n")
        if rec["note"]:
            w(f"  note: {rec['note']}\n")
        w("\n")

    def close(self) -> None:
        pass


class _Json:
    """One JSON document, streamed: the header fields, then one tensor per line."""

    def __init__(self, out, head):
        self.out, self.first = out, True
        out.write(json.dumps(head)[:-1] + ', "tensors": [\n')

    def tensor(self, rec) -> None:
        item = {}
        for k, v in rec.items():
            if k == "routes":
                v = {route: {f: _num(x) for f, x in r.items()} for route, r in v.items()}
            elif isinstance(v, (float, np.ndarray)):
                v = _num(v)
            item[k] = v
        self.out.write(("" if self.first else ",\n") + json.dumps(item, allow_nan=False))
        self.first = False

    def close(self) -> None:
        self.out.write("\n]}\n")


CSV_COLUMNS = ("file", "name", "shape", "dtype", "size", "axis", "route", "alpha",
               "alpha_min", "alpha_max", "mse", "sqnr_db", "mse_ratio", "error")


class _Csv:
    def __init__(self, out, head):
        self.file = head["file"]
        self.w = csv.writer(out, lineterminator="\n")
        self.w.writerow(CSV_COLUMNS)

    def tensor(self, rec) -> None:
        shape = "" if rec["shape"] is None else "x".join(map(str, rec["shape"]))
        base = [self.file, rec["name"], shape, rec["dtype"], rec["size"],
                "" if rec["axis"] is None else rec["axis"]]
        if rec["error"] is not None:
            self.w.writerow(base + [""] * 7 + [rec["error"]])
            return
        for route, r in rec["routes"].items():
            a = np.asarray(r["alpha"], dtype=np.float64)
            self.w.writerow(base + [route] + [repr(float(v)) for v in (
                np.median(a), a.min(), a.max(), r["mse"], r["sqnr_db"],
                r["mse_ratio"])] + [""])

    def close(self) -> None:
        pass


# ------------------------------------------------------------------------- command
class _NoBar:
    """What the loop asks of a progress bar, doing nothing (tqdm is not imported)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def set_description_str(self, *args, **kwargs) -> None:
        pass

    def update(self, n) -> None:
        pass


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, file=sys.stderr, unit="value",
                unit_scale=True, dynamic_ncols=True,
                bar_format="{percentage:5.1f}%|{bar}| {n_fmt}/{total_fmt} values "
                           "[{elapsed}<{remaining}] {desc}")


def run(args) -> int:
    import qerror
    from qerror.io import TensorError, TensorFileError, open_tensors

    try:
        get_format(args.grid).check_bits(args.bits)
    except ValueError as exc:
        print(f"qerror analyze: {exc}", file=sys.stderr)
        return 2
    if args.group_size is not None and (args.group_size < 1
                                        or args.per_channel is not None):
        print("qerror analyze: --group-size must be a positive integer and cannot be "
              "combined with --per-channel", file=sys.stderr)
        return 2
    if not os.path.exists(args.file):
        print(f"qerror analyze: no such file: {args.file}", file=sys.stderr)
        return 2
    try:
        reader = open_tensors(args.file)
    except TensorFileError as exc:
        raise SystemExit(f"qerror analyze: {exc}") from None
    with reader:
        infos = {t.name: t for t in reader.tensors}
        if args.tensor:
            missing = [t for t in args.tensor if t not in infos]
            if missing:
                print(f"qerror analyze: no tensor named {', '.join(missing)} in "
                      f"{args.file} (have: {', '.join(infos)})", file=sys.stderr)
                return 2
            infos = {k: infos[k] for k in args.tensor}
        todo = [t for t in infos.values() if t.shape is None or t.size >= args.min_size]
        total = sum(t.size for t in todo)
        head = {"qerror": qerror.__version__, "file": args.file,
                "format": reader.format, "bits": args.bits,
                "grid": args.grid, "model": "exact", "per_channel": args.per_channel,
                "group_size": args.group_size,
                "count": len(todo), "values": total}
        writer = {"text": _Text, "json": _Json, "csv": _Csv}[args.format](
            sys.stdout, head)
        enabled = args.progress if args.progress is not None \
            else total > _PROGRESS_ELEMENTS
        ok = True
        with _progress_bar(total, enabled) as bar:
            for info in todo:
                bar.set_description_str(info.name[:40], refresh=False)
                try:
                    rec = _analyze(info, reader.read(info.name), args)
                except TensorError as exc:
                    rec = _error_record(info, exc.reason)
                except (ValueError, TypeError) as exc:
                    rec = _error_record(info, (str(exc).strip() or repr(exc))
                                        .splitlines()[0])
                if rec["error"] is not None:
                    ok = False
                    print(f"qerror analyze: {args.file}: tensor {info.name!r}: "
                          f"{rec['error']}", file=sys.stderr)
                writer.tensor(rec)
                sys.stdout.flush()
                bar.update(info.size)
        writer.close()
    return 0 if ok else 1
