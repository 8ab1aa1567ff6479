"""``qerror table``: the optimal clipping boundary for several laws and bit-widths.

Runs :func:`qerror.optimal_alpha_table` and prints one row per (law, bits) with the
optimal alpha and its MSE in each model, and (with both models) what using the ACIQ
alpha costs in the exact model.  Rows are printed as each law finishes.

Laws are written as scipy.stats calls: ``norm``, ``laplace``, ``t(4)``,
``norm(scale=2)``, ``clamp(norm, 2.5)``.  A bare ``uniform`` means the uniform law on
``[-1, 1]`` (scipy's default ``[0, 1]`` is not centred on the grid).
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import sys

from . import _blocks
from ._grid import DEFAULT_GRID, GRID_CHOICES, GRID_HELP, get_format
from ._output import write_row

_CLOSED_FORM = ("norm", "laplace", "uniform")
_DEFAULT_DISTS = ("norm", "laplace", "uniform")


# ------------------------------------------------------------ shared with ``curve``
def _number(node, spec):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
            and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _number(node.operand, spec)
        return -v if isinstance(node.op, ast.USub) else v
    raise argparse.ArgumentTypeError(
        f"invalid distribution {spec!r}: arguments must be numbers")


def _build(node, spec):
    from scipy import stats

    if isinstance(node, ast.Name):
        name, args, kwargs = node.id, [], {}
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        name = node.func.id
        if name == "clamp":
            if len(node.args) != 2 or node.keywords:
                raise argparse.ArgumentTypeError(
                    f"invalid distribution {spec!r}: use clamp(LAW, D), e.g. "
                    "clamp(norm, 2.5)")
            import qerror

            return qerror.clamp(_build(node.args[0], spec), _number(node.args[1], spec))
        args = [_number(a, spec) for a in node.args]
        if any(k.arg is None for k in node.keywords):
            raise argparse.ArgumentTypeError(f"invalid distribution {spec!r}")
        kwargs = {k.arg: _number(k.value, spec) for k in node.keywords}
    else:
        raise argparse.ArgumentTypeError(
            f"invalid distribution {spec!r}: write a scipy.stats law such as norm, "
            "t(4), laplace(scale=2) or clamp(norm, 2.5)")
    if name == "uniform" and not args and not kwargs:
        return stats.uniform(-1.0, 2.0)
    fam = getattr(stats, name, None)
    if not isinstance(fam, stats.rv_continuous):
        raise argparse.ArgumentTypeError(
            f"invalid distribution {spec!r}: {name!r} is not a continuous "
            "scipy.stats family")
    try:
        law = fam(*args, **kwargs)
        shapes, loc, scale = fam._parse_args(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"invalid distribution {spec!r}: {exc}") \
            from None
    if not (scale > 0 and math.isfinite(loc) and math.isfinite(scale)) or (
            shapes and not fam._argcheck(*shapes)):
        raise argparse.ArgumentTypeError(
            f"invalid distribution {spec!r}: parameters out of range")
    return law


def parse_dist(spec: str):
    """A frozen scipy.stats law (or clamped law) from a string like ``t(4)``."""
    try:
        node = ast.parse(spec.strip(), mode="eval").body
    except SyntaxError:
        raise argparse.ArgumentTypeError(f"invalid distribution {spec!r}") from None
    return _build(node, spec)


def dist_arg(spec: str):
    """argparse ``type=``: keeps the spec as the law's name."""
    return spec.strip(), parse_dist(spec)


def bits_arg(spec: str) -> list:
    """argparse ``type=``: ``4``, ``1-8`` or ``2,4,8`` (ranges inclusive)."""
    out = []
    for part in spec.split(","):
        part = part.strip()
        try:
            if "-" in part[1:]:
                lo, hi = part.split("-", 1)
                lo, hi = int(lo), int(hi)
                if hi < lo:
                    raise ValueError
                out.extend(range(lo, hi + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"invalid bits {spec!r}: use 4, 1-8 or 2,4,8") from None
    return out


def flatten_bits(values, default) -> list:
    if not values:
        return list(default)
    bits = sorted({b for group in values for b in group})
    return bits


def sigma_of(dist) -> float:
    """Standard deviation of the (unclamped) law, or nan if not finite."""
    from qerror.laws import ClampedDistribution

    base = dist.base if isinstance(dist, ClampedDistribution) else dist
    s = float(base.std())
    return s if math.isfinite(s) and s > 0 else math.nan


def scale_of(dist) -> float:
    from qerror.laws import ClampedDistribution

    base = dist.base if isinstance(dist, ClampedDistribution) else dist
    return float(base.dist._parse_args(*base.args, **base.kwds)[2])


# ----------------------------------------------------------------------- command
def register(subparsers) -> None:
    p = subparsers.add_parser(
        "table",
        help="optimal clipping alpha* for several laws and bit-widths, both models",
        description=(
            "Optimal clipping boundary alpha* and its MSE for each law and bit-width, "
            "in the exact model (the real quantizer) and the ACIQ model (the "
            "supplement's Eq. 3-4), and the exact-model cost of using the ACIQ alpha. "
            "norm, laplace and uniform (and their clamped laws) have closed forms and "
            "take well under a second; other scipy families are integrated "
            "numerically and take seconds (ACIQ) to minutes (exact) per row."),
        epilog=("examples:  qerror table;  qerror table --dist norm 't(4)' --bits 2-4 "
                "--models aciq;  qerror table --dist 'clamp(norm, 2)' --format csv"),
    )
    p.add_argument("--dist", nargs="+", type=dist_arg, default=None, metavar="LAW",
                   help="laws as scipy.stats calls: norm, laplace, uniform (= on [-1, 1]),"
                        " t(4), norm(scale=2), clamp(norm, 2.5) "
                        "(default: norm laplace uniform)")
    p.add_argument("--bits", nargs="+", type=bits_arg, default=None, metavar="B",
                   help="bit-widths: 4, 1-8 or 2,4,8 (default: the grid's widths up to 8, "
                        "2-8 on midtread)")
    p.add_argument("--models", nargs="+", choices=("aciq", "exact"),
                   default=["aciq", "exact"], help="error models (default both)")
    p.add_argument("--grid", default=DEFAULT_GRID, choices=GRID_CHOICES,
                   help=GRID_HELP)
    p.add_argument("--units", default="sigma", choices=("sigma", "scale", "raw"),
                   help="alpha in units of the law's standard deviation (default; MSE "
                        "in sigma^2), of its scipy scale parameter (ACIQ's tables use "
                        "the Laplace scale b), or raw")
    p.add_argument("--format", default="text", choices=("text", "csv", "json", "markdown"),
                   help="output format (default text)")
    _blocks.add_arguments(p)
    p.set_defaults(func=run)


def _columns(models):
    cols = [("law", "law"), ("bits", "bits")]
    for m in models:
        cols += [(f"alpha_{m}", f"alpha_{m}"), (f"mse_{m}", f"mse_{m}")]
    if "aciq" in models and "exact" in models:
        cols.append(("penalty_aciq_in_exact", "exact_mse_at_aciq_alpha/optimum"))
    return cols


def _unit(dist, units):
    if units == "raw":
        return 1.0
    if units == "scale":
        return scale_of(dist)
    s = sigma_of(dist)
    return s if math.isfinite(s) else math.nan


def _fmt(key, val):
    if key == "law":
        return str(val)
    if key == "bits":
        return str(val)
    if isinstance(val, float) and not math.isfinite(val):
        return str(val)
    if key.startswith("penalty"):
        return f"{val:.6f}"
    if key.startswith("mse"):
        return f"{val:.6e}"
    return f"{val:.6f}"


def run(args) -> int:
    import qerror

    fmt = get_format(args.grid)
    bits = flatten_bits(args.bits, range(max(fmt.min_bits, 1), min(fmt.max_bits, 8) + 1))
    dists = args.dist or [dist_arg(name) for name in _DEFAULT_DISTS]
    models = list(dict.fromkeys(args.models))
    if not fmt.uniform:  # no single step: the ACIQ model is undefined (docs/formats.md)
        models = [m for m in models if m != "aciq"]
        if not models:
            raise SystemExit(f"qerror table: model aciq needs a uniform grid; "
                             f"{fmt.name} has unequal steps (use --models exact)")
    cols = _columns(models)
    out = sys.stdout
    unit_word = {"sigma": "standard deviations (MSE in variances)",
                 "scale": "scale parameters (MSE in squared scales)",
                 "raw": "raw units"}[args.units]

    # validate before the (possibly long) solve
    for name, dist in dists:
        if args.units == "sigma" and not math.isfinite(_unit(dist, "sigma")):
            raise SystemExit(f"qerror table: {name} has no finite standard deviation; "
                             "use --units scale or --units raw")
    try:
        fmt.check_bits(bits)
    except ValueError as exc:
        raise SystemExit(f"qerror table: {exc}") from None
    if args.group_size:
        return _blocks.run_table(args, dists, bits, fmt, lambda d: _unit(d, args.units),
                                 {"sigma": "variances", "scale": "squared scale parameters",
                                  "raw": "raw units"}[args.units])

    if args.format in ("text", "markdown") and args.units != "raw":
        # the unit in every alpha / MSE header: `qerror demo` prints alpha in units of
        # the scale parameter, this table by default in standard deviations
        u = {"sigma": "sigma", "scale": "scale"}[args.units]
        cols = [(k, f"{h}/{u}" if k.startswith("alpha_") else
                 f"{h}/{u}^2" if k.startswith("mse_") else h) for k, h in cols]
    widths = [max(len(h), 14) for _, h in cols]
    widths[0] = max(8, *(len(n) for n, _ in dists))
    widths[1] = 4
    if args.format == "text":
        note = ("; qerror demo uses scale units (laplace: b = sigma/sqrt(2)), as does "
                "--units scale" if args.units == "sigma" else "")
        out.write(f"# optimal clipping alpha* on the {args.grid} grid; alpha in "
                  f"{unit_word}{note}\n")
        out.write("  ".join(h.rjust(w) if i else h.ljust(w)
                            for i, ((_, h), w) in enumerate(zip(cols, widths, strict=True)))
                  + "\n")
    elif args.format == "csv":
        out.write(",".join(h for _, h in cols) + "\n")
    elif args.format == "markdown":
        out.write("| " + " | ".join(h for _, h in cols) + " |\n")
        out.write("|" + "|".join("---" if i == 0 else "---:" for i in range(len(cols)))
                  + "|\n")
    all_rows = []
    for name, dist in dists:
        u = _unit(dist, args.units)
        rows = qerror.optimal_alpha_table({name: dist}, bits, models=models,
                                          grid=args.grid)
        for row in rows:
            for m in models:
                row[f"alpha_{m}"] = float(row[f"alpha_{m}"]) / u
                row[f"mse_{m}"] = float(row[f"mse_{m}"]) / u**2
            if "penalty_aciq_in_exact" in row:
                row["penalty_aciq_in_exact"] = float(row["penalty_aciq_in_exact"])
            cells = [_fmt(k, row[k]) for k, _ in cols]
            if not write_row(out, args.format, cells, widths):
                all_rows.append({k: row[k] for k, _ in cols})
        out.flush()
    if args.format == "json":
        json.dump({"grid": args.grid, "units": args.units, "rows": all_rows}, out,
                  indent=1)
        out.write("\n")
    return 0
