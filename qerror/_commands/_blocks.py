"""``--group-size`` for ``qerror table`` and ``qerror curve``: block scaling of laws.

With ``--group-size N ...`` both commands report the expected MSE of i.i.d. blocks of
N draws, each block with its own scale by the rules of ``--scale`` (absmax, OCP MX
pow2, NVFP4 e4m3; :func:`qerror.group_mse`), the storage per element including the
scales (:func:`qerror.blocks.bits_per_element`), and for reference the MSE of one
optimal per-tensor alpha.
"""

from __future__ import annotations

import json
import math
import sys

from ._output import save_figure, write_row

RULES = ("absmax", "pow2", "e4m3")


def group_size_arg(spec: str) -> int:
    import argparse

    try:
        n = int(spec)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid group size {spec!r}: a positive "
                                         "integer") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"invalid group size {spec!r}: must be >= 1")
    return n


def add_arguments(p) -> None:
    p.add_argument("--group-size", nargs="+", type=group_size_arg, default=None,
                   metavar="N", help="block scaling: expected MSE of i.i.d. blocks of N "
                   "draws, one scale per block (e.g. 16 32 128); see --scale")
    p.add_argument("--scale", nargs="+", choices=RULES, default=None, metavar="RULE",
                   help="block scale rules with --group-size: absmax (max on the top "
                   "level), pow2 (OCP MX E8M0), e4m3 (NVFP4) (default all three)")


def _rows(cmd, dists, bits, fmt, sizes, rules, unit_of):
    import qerror
    from qerror.blocks import bits_per_element

    for name, dist in dists:
        u = unit_of(dist)
        for b in bits:
            bb = None if fmt.fixed_bits else b
            try:
                tensor = qerror.optimal_alpha(dist, bb, grid=fmt).mse / u**2
                for n in sizes:
                    row = {"law": name, "bits": b, "group_size": n}
                    for r in rules:
                        row[f"mse_{r}"] = qerror.group_mse(dist, n, bb, grid=fmt,
                                                           scale=r) / u**2
                        row[f"bpe_{r}"] = bits_per_element(n, bb, grid=fmt, scale=r)
                    row["mse_tensor_opt"] = tensor
                    yield row
            except ValueError as exc:
                raise SystemExit(f"qerror {cmd}: {name}: {exc}") from None


def _cell(key, val):
    if key in ("law", "bits", "group_size"):
        return str(val)
    if key.startswith("bpe"):
        return f"{val:.4f}"
    return f"{val:.6e}" if math.isfinite(val) else str(val)


def run_table(args, dists, bits, fmt, unit_of, unit_name) -> int:
    """``qerror table --group-size``: one row per (law, bits, group size)."""
    rules = list(dict.fromkeys(args.scale or RULES))
    keys = ["law", "bits", "group_size"]
    for r in rules:
        keys += [f"mse_{r}", f"bpe_{r}"]
    keys.append("mse_tensor_opt")
    out = sys.stdout
    if args.format == "text":
        out.write(f"# block scaling on the {fmt.name} grid: expected MSE per element of "
                  f"i.i.d. blocks, in {unit_name}; bpe = bits per element with the "
                  "scales; mse_tensor_opt: one optimal alpha per tensor\n")
        widths = [max(8, *(len(n) for n, _ in dists)), 4, 10] + [
            max(len(k), 12) for k in keys[3:]]
        out.write("  ".join(k.rjust(w) if i else k.ljust(w)
                            for i, (k, w) in enumerate(zip(keys, widths, strict=True))) + "\n")
    elif args.format == "csv":
        out.write(",".join(keys) + "\n")
    elif args.format == "markdown":
        out.write("| " + " | ".join(keys) + " |\n|" + "|".join(
            "---" if i == 0 else "---:" for i in range(len(keys))) + "|\n")
    rows = []
    for row in _rows("table", dists, bits, fmt, args.group_size, rules, unit_of):
        cells = [_cell(k, row[k]) for k in keys]
        if not write_row(out, args.format, cells,
                         widths if args.format == "text" else None):
            rows.append(row)
        out.flush()
    if args.format == "json":
        json.dump({"grid": fmt.name, "units": args.units, "rows": rows}, out, indent=1)
        out.write("\n")
    return 0


def run_curve(args, name, dist, bits, fmt, sigma) -> int:
    """``qerror curve --group-size``: MSE vs group size and vs bits per element."""
    rules = list(dict.fromkeys(args.scale or RULES))
    sizes = sorted(set(args.group_size))
    rows = list(_rows("curve", [(name, dist)], bits, fmt, sizes, rules,
                      lambda d: sigma))
    if args.output is None:
        out = sys.stdout
        out.write(f"# {name}, {fmt.name} grid, block scaling; MSE in sigma^2 "
                  f"(sigma = {sigma:.6g}); bpe = bits per element with the scales\n")
        out.write("bits,group_size,scale,mse,bits_per_element,mse_tensor_opt\n")
        for row in rows:
            for r in rules:
                out.write(f"{row['bits']},{row['group_size']},{r},"
                          f"{row[f'mse_{r}']:.10g},{row[f'bpe_{r}']:.6g},"
                          f"{row['mse_tensor_opt']:.10g}\n")
        return 0
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axs = plt.subplots(1, 2, figsize=(11.0, 4.2), layout="constrained")
    for b in bits:
        sel = [r for r in rows if r["bits"] == b]
        tag = f"{b}-bit " if len(bits) > 1 else ""
        for r in rules:
            mse = [s[f"mse_{r}"] for s in sel]
            line, = axs[0].plot(sizes, mse, "o-", label=f"{tag}{r}")
            axs[1].plot([s[f"bpe_{r}"] for s in sel], mse, "o-", color=line.get_color(),
                        label=f"{tag}{r}")
        for ax in axs:
            ax.axhline(sel[0]["mse_tensor_opt"], color="0.4", ls="--", lw=1,
                       label=f"{tag}one optimal alpha per tensor")
    axs[0].set_xscale("log", base=2)
    axs[0].set_xlabel("group size (elements per scale)")
    axs[1].set_xlabel("bits per element, scales included")
    for ax in axs:
        ax.set_ylabel("expected MSE per element / sigma^2")
        ax.grid(True, which="both", alpha=0.3)
    axs[0].legend(fontsize=8)
    fig.suptitle(f"{name}: block scaling on the {fmt.name} grid")
    save_figure(fig, args)
    return 0
