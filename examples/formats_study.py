"""FP8 exponent/mantissa splits vs INT8 at the optimal scale (Kuzmin et al. 2022).

For N(0,1), Laplace and Student-t laws (nu = 3 ... 30), the exact MSE of each 8-bit
format at its optimal scale alpha (qerror.optimal_alpha: a global scan of the bracketed
range plus Newton on every local minimum).  FP formats: E1M6 ... E5M2 with subnormals
and every bit pattern a number (the bias is absorbed by the scale, so only the split
matters); INT8: the full-range "int" grid.  Writes examples/results/formats_study.json
(the t laws take the quadrature path: about 15 minutes on one core), which
notebooks/07_formats.ipynb reads; the normal and Laplace rows are recomputed there.

Run: ``python examples/formats_study.py``
"""

import json
import pathlib
import time

from scipy import stats

import qerror
from qerror.formats import FloatFormat

FORMATS = {f"E{e}M{7 - e}": FloatFormat(e, 7 - e, specials="none") for e in range(1, 6)}
FORMATS["INT8"] = "int"
NUS = (3, 4, 6, 10, 30)


def laws():
    yield "norm", stats.norm()
    yield "laplace", stats.laplace(scale=2**-0.5)  # unit variance
    for nu in NUS:
        yield f"t{nu}", stats.t(nu, scale=((nu - 2) / nu) ** 0.5)  # unit variance


def main():
    rows = []
    for law_name, law in laws():
        for fmt_name, fmt in FORMATS.items():
            t0 = time.time()
            bits = 8 if fmt == "int" else None
            r = qerror.optimal_alpha(law, bits, grid=fmt)
            rows.append({"law": law_name, "format": fmt_name, "alpha": r.alpha,
                         "mse": r.mse, "success": bool(r.success)})
            print(f"{law_name:8s} {fmt_name:5s} alpha={r.alpha:.6g} mse={r.mse:.6e} "
                  f"({time.time() - t0:.1f} s)", flush=True)
    out = pathlib.Path(__file__).with_name("results") / "formats_study.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"generator": "examples/formats_study.py",
                               "rows": rows}, indent=1) + "\n")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
