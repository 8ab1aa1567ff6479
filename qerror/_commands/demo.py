"""``qerror demo``: the README's main job.

Prints (1) the MSE of N(0, 1) and Laplace(0, 1) at a few clipping boundaries and
bit-widths, in both models and both signed grids; (2) the optimal clipping boundary
for bits 1-8 in both models, and what using the ACIQ boundary costs under the real
quantizer.
"""

from __future__ import annotations

import time

from ._grid import DEFAULT_GRID, GRID_CHOICES, GRID_HELP


def register(sub):
    p = sub.add_parser("demo",
                       help="MSE and optimal-alpha tables for N(0,1) and Laplace(0,1)",
                       description=__doc__)
    p.add_argument("--bits", type=int, nargs="+", default=list(range(1, 9)),
                   help="bit-widths for the optimal-alpha table (default 1..8)")
    p.add_argument("--grid", default=DEFAULT_GRID, choices=GRID_CHOICES,
                   help=GRID_HELP)
    p.set_defaults(func=run)


def run(args) -> int:
    from scipy import stats

    import qerror

    laws = {"N(0,1)": stats.norm(), "Laplace(0,1)": stats.laplace()}
    print("qerror", qerror.__version__, "- mean-square error of a b-bit uniform quantizer "
          "clipping at [-alpha, alpha]")
    print("(exact = the real quantizer; aciq = the supplement's Eq. 3, rounding "
          "alpha^2/(3*4^b) on the midrise grid)\n")
    print("1. MSE at a few boundaries")
    print(f"{'law':13s} {'alpha':>6s} {'bits':>4s} {'grid':8s} {'exact':>12s} "
          f"{'aciq':>12s} {'trunc(exact)':>13s} {'round(exact)':>13s}")
    for name, dist in laws.items():
        for alpha in (2.0, 4.0):
            for bits in (2, 4, 8):
                for grid in ("midrise", "midtread"):
                    t, r = qerror.error_parts(dist, alpha, bits, grid=grid)
                    a = qerror.mse(dist, alpha, bits, model="aciq", grid=grid)
                    print(f"{name:13s} {alpha:6.2f} {bits:4d} {grid:8s} {t + r:12.5e} "
                          f"{a:12.5e} {t:13.5e} {r:13.5e}")
    print(f"\n2. Optimal alpha (units of scale), {args.grid} grid; "
          "'penalty' = exact MSE at "
          "the ACIQ alpha / exact optimum")
    print(f"{'law':13s} {'bits':>4s} {'alpha*_aciq':>12s} {'alpha*_exact':>13s} "
          f"{'mse*_exact':>12s} {'penalty':>9s}")
    t0 = time.perf_counter()
    rows = qerror.optimal_alpha_table(laws, args.bits, grid=args.grid)
    for row in rows:
        print(f"{row['law']:13s} {row['bits']:4d} {row['alpha_aciq']:12.6f} "
              f"{row['alpha_exact']:13.6f} {row['mse_exact']:12.5e} "
              f"{row['penalty_aciq_in_exact']:9.4f}")
    print(f"\n({len(rows)} exact global solves and {len(rows)} ACIQ solves in "
          f"{time.perf_counter() - t0:.2f} s)")
    return 0
