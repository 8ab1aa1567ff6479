r"""The supplement's Table 2A on the digits MLP: weights *and* activations quantized.

Trains the 64-64-64-10 MLP of ``examples/digits_network.py`` in the four variants of
Table 2A's rows (:data:`digits_network.TABLE2A_VARIANTS`: ``baseline``,
``satnl_symreg`` ("ours": SatNL + the symmetry stand-in), ``kure`` (Shkolnik et al.
2020, target kurtosis 1.8) and ``satnl_symreg_kure``), each from several seeds, and
evaluates the test accuracy with every layer's weights quantized per tensor on the
signed ``"midtread"`` grid and every layer's input quantized per tensor to unsigned
integers with a zero level (:data:`uint_format`: levels :math:`k\alpha/(2^b-1)`,
:math:`k = 0 \dots 2^b-1`, what uint8 kernels run; the ReLU zeros stay zero), at the
columns of Table 2A: W/A = 8/8, 6/6, 5/5, 4/4, 3/3 and 4/FP, 3/FP, 2/FP (FP:
activations in float).  Four clipping methods, each for weights and activations:

``maxabs``
    :math:`\alpha_W = \max|W|`, :math:`\alpha_x = \max x` over the calibration set;
``aciq``
    ACIQ's Laplace fit (:func:`qerror.data.routes.fit_alpha`, ``law="laplace"``;
    activations on the ``"unsigned"`` grid, whose range matches);
``mse``
    the certified minimisers of the weight MSE and of the activation MSE
    (:func:`qerror.data.optimal_alpha_data`);
``output``
    the output-aware weight clipping: the certified minimiser of the layer's output
    error on the calibration inputs *with the activations quantized* at the ``mse``
    activation boundary (``qerror.optimal_alpha(W, b, inputs=X, bits_x=..,
    alpha_x=..)``); with float activations, of :math:`\operatorname{tr}(\Delta W C
    \Delta W^T)`.

The calibration set is 512 training images (seeded); the layers' inputs come from the
float network.  Also recorded, per layer, the output error at the ``mse`` and at the
``output`` weight boundary (same activation quantizer).  All randomness comes from
``numpy.random.default_rng(seed)``.  The full run (about 3 minutes on one core)::

    python examples/digits_table2a.py --out examples/results/digits_table2a.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import re
import sys
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

import qerror
from qerror.formats import LevelSet

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("digits_network", HERE / "digits_network.py")
dn = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dn)

__all__ = ["CONFIGS", "METHODS", "uint_format", "choose_alphas", "run", "main"]

#: Table 2A's columns: (weight bits, activation bits or None for float)
CONFIGS = ((8, 8), (6, 6), (5, 5), (4, 4), (3, 3), (4, None), (3, None), (2, None))
#: clipping methods, in table order
METHODS = ("maxabs", "aciq", "mse", "output")
#: seeds of the full run, and of the quick run the tests use
SEEDS_FULL, SEEDS_QUICK = (0, 1, 2, 3, 4), (0,)
EPOCHS_FULL, EPOCHS_QUICK = dn.EPOCHS_FULL, 60
CONFIGS_QUICK = ((4, 4), (3, None))
#: the per-layer record of ``layers``
LAYER_FIELDS = ("output_mse_at_mse_alpha", "output_mse_at_output_alpha", "alpha_w_mse",
                "alpha_w_output")
#: calibration images (from the training split)
N_CALIB = 512
W_GRID = "midtread"


@lru_cache(maxsize=None)
def uint_format(bits: int) -> LevelSet:
    """Unsigned integers with a zero level: ``k / (2^b - 1)``, ``k = 0 .. 2^b - 1``."""
    return LevelSet(np.arange(2**bits) / (2**bits - 1.0), name=f"uint{bits}", bits=bits)


def layer_inputs(weights, biases, x):
    """The float network's input to every layer (x, then the ReLU outputs)."""
    zs = dn.forward(weights, biases, x)
    return [x] + [np.maximum(z, 0.0) for z in zs[:-1]]


def choose_alphas(method: str, w, x, bw: int, bx):
    """(alpha_w, alpha_x) of one layer; ``w`` is (in, out) as the network stores it,
    ``x`` the calibration inputs (N, in); ``alpha_x`` is None for float activations."""
    from qerror.data import optimal_alpha_data
    from qerror.data.routes import fit_alpha

    ax = None
    if method == "maxabs":
        aw = float(np.abs(w).max())
        if bx is not None:
            ax = float(x.max())
    elif method == "aciq":
        aw = float(fit_alpha(w, bw, law="laplace", grid=W_GRID).alpha)
        if bx is not None:
            ax = float(fit_alpha(x, bx, law="laplace", grid="unsigned").alpha)
    elif method in ("mse", "output"):
        aw = float(optimal_alpha_data(w, bw, grid=W_GRID).alpha)
        if bx is not None:
            ax = float(optimal_alpha_data(x, bx, grid=uint_format(bx)).alpha)
        if method == "output":
            extra = ({} if bx is None else
                     {"bits_x": bx, "alpha_x": ax, "grid_x": uint_format(bx)})
            aw = float(qerror.optimal_alpha(w.T, bw, grid=W_GRID, inputs=x,
                                            **extra).alpha)
    else:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return aw, ax


def forward_quantized(weights, biases, x, bw, bx, alphas):
    """Logits of the network with quantized weights and (unless bx is None) inputs."""
    h = x
    nl = len(weights)
    for i, (w, b, (aw, ax)) in enumerate(zip(weights, biases, alphas, strict=True)):
        hq = h if bx is None else qerror.quantize(h, ax, bx, grid=uint_format(bx))
        z = hq @ qerror.quantize(w, aw, bw, grid=W_GRID) + b
        h = z if i == nl - 1 else np.maximum(z, 0.0)
    return h


def _output_errors(w, x, bw, bx, aw_mse, aw_out, ax):
    extra = {} if bx is None else {"bits_x": bx, "alpha_x": ax, "grid_x": uint_format(bx)}
    e = [qerror.output_mse(w.T, a, bw, grid=W_GRID, inputs=x, **extra)
         for a in (aw_mse, aw_out)]
    return [e[0], e[1], aw_mse, aw_out]  # LAYER_FIELDS


def run(*, seeds=SEEDS_FULL, epochs: int = EPOCHS_FULL, configs=CONFIGS,
        variants=dn.TABLE2A_VARIANTS, methods=METHODS):
    """Train, quantize, evaluate; the JSON-ready results.

    Returns
    -------
    dict
        ``metadata``; ``float[variant][seed]`` (test accuracy, kurtosis of each
        layer); ``accuracy[variant][method][config][seed]``; ``layers[variant][config]
        [seed]``: per layer a list of :data:`LAYER_FIELDS` (the output error on the
        calibration set at the ``mse`` and at the ``output`` weight boundary, and the
        two boundaries).
    """
    with dn._one_blas_thread():
        return _run(seeds, epochs, configs, variants, methods)


def _key(bw, bx):
    return f"{bw}/{'FP' if bx is None else bx}"


def _run(seeds, epochs, configs, variants, methods):
    res = {"metadata": {"seeds": list(seeds), "epochs": epochs,
                        "configs": [_key(*c) for c in configs],
                        "variants": list(variants), "methods": list(methods),
                        "n_calib": N_CALIB, "weight_grid": W_GRID,
                        "layer_fields": list(LAYER_FIELDS),
                        "activation_format": "uint with zero level, k/(2^b-1)",
                        "kure_target": dn.KURE_TARGET, "kure_lambda": dn.KURE_LAMBDA,
                        "symreg_lambda": dn.SYMREG_LAMBDA, "satnl_c": dn.satnl_bounds(),
                        "qerror_version": qerror.__version__,
                        "numpy_version": np.__version__},
           "float": {}, "accuracy": {}, "layers": {}}
    for v in variants:
        res["float"][v] = {}
        res["accuracy"][v] = {m: {_key(*c): {} for c in configs} for m in methods}
        res["layers"][v] = {_key(*c): {} for c in configs}
    for seed in seeds:
        data = dn.load_data(seed)
        rng = np.random.default_rng([seed, 2])
        calib = data["x_train"][rng.choice(len(data["x_train"]), N_CALIB, replace=False)]
        xt, yt = data["x_test"], data["y_test"]
        for v in variants:
            net = dn.train(data, v, epochs=epochs, seed=seed)
            ws, bs = net["weights"], net["biases"]
            res["float"][v][str(seed)] = {
                "accuracy": dn.evaluate(ws, bs, xt, yt)["accuracy"],
                "kurtosis": [float(np.mean((w - w.mean()) ** 4) / np.var(w) ** 2)
                             for w in ws]}
            xs = layer_inputs(ws, bs, calib)
            for bw, bx in configs:
                k = _key(bw, bx)
                chosen = {m: [choose_alphas(m, w, x, bw, bx) for w, x in
                              zip(ws, xs, strict=True)] for m in methods}
                for m in methods:
                    logits = forward_quantized(ws, bs, xt, bw, bx, chosen[m])
                    res["accuracy"][v][m][k][str(seed)] = float(
                        np.mean(logits.argmax(axis=1) == yt))
                if "mse" in methods and "output" in methods:
                    res["layers"][v][k][str(seed)] = [
                        _output_errors(w, x, bw, bx, a_m[0], a_o[0], a_m[1])
                        for w, x, a_m, a_o in zip(ws, xs, chosen["mse"], chosen["output"],
                                                  strict=True)]
    return _round(res)


def _round(obj, digits: int = 6):
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}") if math.isfinite(obj) else obj
    if isinstance(obj, dict):
        return {k: _round(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_round(v, digits) for v in obj]
    return obj


def dumps(res) -> str:
    """JSON with one line per innermost list of numbers (a small, diffable cache)."""
    text = json.dumps(res, indent=1)
    return re.sub(r"\[\s+([-0-9.e+,\s]+?)\s+\]",
                  lambda m: "[" + " ".join(m.group(1).split()) + "]", text) + "\n"


def table(res) -> str:
    """Table 2A as text: mean test accuracy (%) +- standard deviation over seeds."""
    meta = res["metadata"]
    head = ["variant", "method", "float"] + meta["configs"]
    rows = [head]
    for v in meta["variants"]:
        fl = [f["accuracy"] for f in res["float"][v].values()]
        for m in meta["methods"]:
            cells = [v, m, _pm(fl)]
            for k in meta["configs"]:
                cells.append(_pm(list(res["accuracy"][v][m][k].values())))
            rows.append(cells)
    w = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(wi) for c, wi in zip(r, w, strict=True))
                     for r in rows)


def _pm(vals):
    a = 100.0 * np.asarray(vals, dtype=np.float64)
    return f"{a.mean():.1f}" + (f"±{a.std(ddof=1):.1f}" if a.size > 1 else "")


def main(argv=None):
    """Command line: run, write the JSON cache, print Table 2A."""
    p = argparse.ArgumentParser(description="Table 2A on the digits MLP: four training "
                                "variants, W/A bit-widths, four clipping methods.")
    p.add_argument("--out", default=str(HERE / "results" / "digits_table2a.json"))
    p.add_argument("--quick", action="store_true",
                   help=f"one seed, {EPOCHS_QUICK} epochs, configs 4/4 and 3/FP")
    args = p.parse_args(argv)
    out = Path(args.out)
    if out.suffix != ".json":
        raise ValueError(f"--out must be a .json file, got {str(out)!r}")
    t0 = time.perf_counter()
    if args.quick:
        res = run(seeds=SEEDS_QUICK, epochs=EPOCHS_QUICK, configs=CONFIGS_QUICK)
    else:
        res = run()
    res["metadata"]["quick"] = bool(args.quick)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dumps(res), encoding="utf-8")
    print(f"wrote {out} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    print(table(res))
    return res


if __name__ == "__main__":
    main()
