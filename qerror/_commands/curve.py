"""``qerror curve``: plot the quantization error of a law to an image file.

``qerror curve --dist norm --bits 4 -o plot.png`` draws the MSE against the clipping
boundary with its truncation / rounding split and both optima
(:func:`qerror.plotting.plot_mse_curve`); ``--kind`` selects the other plots of
:mod:`qerror.plotting`.  Without ``-o`` the curve's numbers are printed as CSV
instead (no matplotlib needed).  A one-line summary of the optima goes to stdout.
"""

from __future__ import annotations

import sys

from . import _blocks
from ._grid import DEFAULT_GRID, GRID_CHOICES, GRID_HELP, get_format
from ._output import save_figure
from .table import bits_arg, dist_arg, flatten_bits, sigma_of

_KINDS = ("mse", "bits", "clamped", "levels", "step")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "curve",
        help="plot MSE vs alpha (or optimum vs bits, clamped, levels, step) to a file",
        description=(
            "Plot the quantization error of a law to an image (format from the file "
            "extension: png, pdf, svg, ...).  --kind mse (default): MSE vs the "
            "clipping boundary alpha with the truncation/rounding split and the "
            "optimum of each model, one panel per bit-width.  bits: optimal alpha and "
            "its MSE vs bits.  clamped: the law vs clamp(law, D) for each --clamp D "
            "(Lemmas 1-2).  levels: the density with the quantizer's levels at the "
            "exact optimum.  step: MSE when the step is scaled away from its optimum. "
            "Axes are in units of the law's standard deviation.  Without -o, the "
            "mse curve is printed as CSV."),
        epilog="example:  qerror curve --dist laplace --bits 4 -o laplace4.png",
    )
    p.add_argument("--dist", nargs="+", type=dist_arg, default=None, metavar="LAW",
                   help="law(s) as scipy.stats calls: norm, laplace, uniform (= on "
                        "[-1, 1]), t(4), clamp(norm, 2.5) (default norm); kinds mse, "
                        "clamped and levels use the first")
    p.add_argument("--bits", nargs="+", type=bits_arg, default=None, metavar="B",
                   help="bit-width(s): 4, 1-8 or 2,4,8 (default 4; 1-8 for --kind bits)")
    p.add_argument("--model", default="both", choices=("both", "exact", "aciq"),
                   help="error model(s) to draw (default both; clamped and step use "
                        "aciq / exact when both is given)")
    p.add_argument("--grid", default=DEFAULT_GRID, choices=GRID_CHOICES,
                   help=GRID_HELP)
    p.add_argument("--kind", default="mse", choices=_KINDS, help="what to plot")
    p.add_argument("--clamp", type=float, nargs="+", default=None, metavar="D",
                   help="clamp bound(s) in units of sigma, for --kind clamped "
                        "(default 1.5 2.5)")
    p.add_argument("--alpha-range", type=float, nargs=2, default=None,
                   metavar=("LO", "HI"), help="alpha range in units of sigma (kind mse)")
    p.add_argument("--num", type=int, default=300, help="points per curve (default 300)")
    p.add_argument("-o", "--output", default=None, metavar="FILE",
                   help="image file to write; without it, print the curve as CSV")
    p.add_argument("--dpi", type=int, default=120, help="resolution of raster images")
    _blocks.add_arguments(p)
    p.set_defaults(func=run)


def _models(model):
    return ("exact", "aciq") if model == "both" else (model,)


def _alpha_grid(args, sigma):
    import numpy as np

    if args.alpha_range is None:
        return None
    lo, hi = args.alpha_range
    if not (0 < lo < hi):
        raise SystemExit("qerror curve: --alpha-range needs 0 < LO < HI")
    return np.geomspace(lo, hi, args.num) * sigma


def _print_csv(args, name, dist, bits, sigma):
    import numpy as np

    import qerror
    from qerror.plotting import _alpha_range

    models = _models(args.model)
    out = sys.stdout
    out.write("# " + name + f", {args.grid} grid; alpha in units of sigma = "
              f"{sigma:.6g}, errors in sigma^2\n")
    head = ["bits", "alpha"]
    for m in models:
        head += [f"truncation_{m}", f"rounding_{m}", f"mse_{m}"]
    out.write(",".join(head) + "\n")
    for b in bits:
        a = _alpha_grid(args, sigma)
        if a is None:
            a = _alpha_range(dist, b, models, args.grid, args.num)
        cols = [np.full(a.shape, b), a / sigma]
        for m in models:
            t, r = qerror.error_parts(dist, a, b, model=m, grid=args.grid)
            cols += [np.asarray(t) / sigma**2, np.asarray(r) / sigma**2,
                     (np.asarray(t) + np.asarray(r)) / sigma**2]
        for row in zip(*cols, strict=True):
            out.write(f"{int(row[0])}," + ",".join(f"{v:.10g}" for v in row[1:]) + "\n")


def _summary(name, dist, bits, models, grid, sigma):
    import qerror

    parts = []
    for b in bits:
        for m in models:
            r = qerror.optimal_alpha(dist, b, model=m, grid=grid)
            parts.append(f"b={b} {m}: alpha*={r.alpha / sigma:.4g} sigma "
                         f"(MSE {r.mse / sigma**2:.4g} sigma^2)")
    return f"{name}: " + "; ".join(parts)


def run(args) -> int:
    import math

    import qerror  # noqa: F401  (fail early if the package is broken)

    dists = args.dist or [dist_arg("norm")]
    name, dist = dists[0]
    sigma = sigma_of(dist)
    if not math.isfinite(sigma):
        sigma = 1.0
    fmt = get_format(args.grid)
    default_bits = (range(max(fmt.min_bits, 1), min(fmt.max_bits, 8) + 1)
                    if args.kind == "bits" else (fmt.fixed_bits or 4,))
    bits = flatten_bits(args.bits, default_bits)
    models = _models(args.model)
    if not get_format(args.grid).uniform:  # the ACIQ model needs one step
        models = tuple(m for m in models if m != "aciq")
        if not models:
            raise SystemExit(f"qerror curve: model aciq needs a uniform grid; "
                             f"{args.grid} has unequal steps (use --model exact)")

    try:
        fmt.check_bits(bits)
    except ValueError as exc:
        raise SystemExit(f"qerror curve: {exc}") from None
    if args.num < 2:
        raise SystemExit("qerror curve: --num must be at least 2")
    if args.group_size:
        if args.kind != "mse":
            raise SystemExit("qerror curve: --group-size draws its own plot (MSE vs "
                             "group size and bits per element); drop --kind")
        return _blocks.run_curve(args, name, dist, bits, fmt, sigma)

    if args.output is None:
        if args.kind != "mse":
            raise SystemExit(f"qerror curve: --kind {args.kind} needs -o FILE")
        _print_csv(args, name, dist, bits, sigma)
        return 0

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from qerror import plotting

    single = models[0] if len(models) == 1 else None
    if args.kind == "mse":
        n = len(bits)
        fig, axs = plt.subplots(1, n, figsize=(6.0 * n, 4.2), layout="constrained",
                                squeeze=False)
        for ax, b in zip(axs[0], bits, strict=True):
            plotting.plot_mse_curve(dist, b, model=models, grid=args.grid,
                                    alpha=_alpha_grid(args, sigma), num=args.num, ax=ax)
        summary = _summary(name, dist, bits, models, args.grid, sigma)
    elif args.kind == "bits":
        fig, axs = plt.subplots(1, 2, figsize=(10.0, 4.2), layout="constrained")
        plotting.plot_optimal_vs_bits(dict(dists), bits, model=models, grid=args.grid,
                                      ax=axs)
        summary = f"optimal alpha vs bits {bits[0]}-{bits[-1]} for " + ", ".join(
            n for n, _ in dists)
    elif args.kind == "clamped":
        from qerror.laws import ClampedDistribution

        if isinstance(dist, ClampedDistribution):
            raise SystemExit("qerror curve: --kind clamped takes the unbounded law; "
                             "give the bounds with --clamp")
        ds = [d * sigma for d in (args.clamp or (1.5, 2.5))]
        if any(d <= 0 for d in ds):
            raise SystemExit("qerror curve: --clamp bounds must be > 0")
        fig, axs = plt.subplots(1, len(bits), figsize=(6.0 * len(bits), 4.2),
                                layout="constrained", squeeze=False)
        for ax, b in zip(axs[0], bits, strict=True):
            plotting.plot_clamped(dist, ds, b, model=single or "aciq", grid=args.grid,
                                  num=args.num, ax=ax)
        summary = f"{name} vs clamp at d = " + ", ".join(
            f"{d / sigma:g}" for d in ds) + " sigma"
    elif args.kind == "levels":
        fig, axs = plt.subplots(1, len(bits), figsize=(6.0 * len(bits), 4.2),
                                layout="constrained", squeeze=False)
        m = single or "exact"
        for ax, b in zip(axs[0], bits, strict=True):
            r = qerror.optimal_alpha(dist, b, model=m, grid=args.grid)
            plotting.plot_levels(dist, r.alpha, b, grid=args.grid, ax=ax)
        summary = _summary(name, dist, bits, (m,), args.grid, sigma)
    else:  # step
        fig, axs = plt.subplots(1, len(bits), figsize=(6.0 * len(bits), 4.2),
                                layout="constrained", squeeze=False)
        for ax, b in zip(axs[0], bits, strict=True):
            plotting.plot_step_sensitivity(dict(dists), b, model=single or "exact",
                                           grid=args.grid, ax=ax)
        summary = "step-size sensitivity for " + ", ".join(n for n, _ in dists)
    save_figure(fig, args)
    print(summary)
    return 0
