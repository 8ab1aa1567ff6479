"""Per-layer clipping report of a real trained network: PP-OCRv4's text detector.

The model (``ch_PP-OCRv4_det_infer.onnx`` from the ``rapidocr-onnxruntime`` 1.4.4
wheel, a MobileNetV3-style detector with depthwise convolutions, 1.2 M parameters,
every weight stored as an ONNX ``Constant`` node) is fetched with ``pip download`` into
the cache of ``examples/real_models.py`` (never committed).  For the weight of every
``Conv``/``ConvTranspose`` node the script records, at the chosen bit-width on the
midtread grid, per tensor and per output channel: the certified optimal alpha and the
alpha of max-abs, the ACIQ Gaussian/Laplace fits and OCTAV, with each one's exact MSE
and SQNR; plus the layer's shape, group count (depthwise: one input channel per
group) and moments.  The result is a small JSON file that ``docs/real_model.md``
plots; the model itself is not stored.

    python examples/ocr_report.py                       # writes the committed cache
    python examples/ocr_report.py --out /tmp/r.json --figure /tmp/r.png
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

import qerror
from qerror.io import open_tensors

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "ocr_report.json"
MODEL = "ppocr-det"


def _real_models():
    spec = importlib.util.spec_from_file_location("real_models", HERE / "real_models.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def conv_layers(path) -> list[dict]:
    """The Conv/ConvTranspose nodes in graph order: weight name, op, group."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    layers = []
    for node in graph.node:
        if node.op_type in ("Conv", "ConvTranspose") and len(node.input) > 1:
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            layers.append({"node": node.name, "op": node.op_type,
                           "weight": node.input[1], "group": int(attrs.get("group", 1)),
                           "stride": list(attrs.get("strides", [1]))})
    return layers


def _sqnr(power, mse):
    return float("inf") if mse <= 0 else 10 * np.log10(power / mse)


def _routes(res: dict, power: float) -> dict:
    out = {}
    for name, r in res.items():
        alpha = np.asarray(r.alpha, dtype=np.float64)
        mse = float(np.mean(r.mse))
        out[name] = {"alpha": float(alpha) if alpha.ndim == 0 else
                     {"median": float(np.median(alpha)), "min": float(alpha.min()),
                      "max": float(alpha.max())},
                     "mse": mse, "sqnr_db": _sqnr(power, mse)}
    return out


def analyse(path, bits: int, grid: str, per_channel: bool = True) -> dict:
    layers = conv_layers(path)
    timing = {"per_tensor_s": 0.0, "per_channel_s": 0.0}
    rows = []
    with open_tensors(path) as reader:
        sources = reader.sources
        for i, lay in enumerate(layers):
            w = reader.read(lay["weight"])
            x = w.astype(np.float64)
            power = float(np.mean(x * x))
            m2 = float(np.mean((x - x.mean()) ** 2))
            # ConvTranspose stores (C_in, C_out/group, kh, kw): output channels on axis 1
            axis = 1 if lay["op"] == "ConvTranspose" else 0
            row = dict(lay, index=i, shape=list(w.shape), params=int(w.size),
                       source=sources[lay["weight"]],
                       # one input channel per group (Conv: (C_out, C_in/group, k, k))
                       depthwise=lay["group"] > 1 and w.shape[1] == 1,
                       kernel=list(w.shape[2:]), channel_axis=axis,
                       max_abs=float(np.abs(x).max()), std=float(np.sqrt(m2)),
                       kurtosis=float(np.mean((x - x.mean()) ** 4) / m2 ** 2))
            t = time.perf_counter()
            row["per_tensor"] = _routes(qerror.data.routes.compare_alphas(
                w, bits, grid=grid), power)
            timing["per_tensor_s"] += time.perf_counter() - t
            if per_channel:
                t = time.perf_counter()
                row["per_channel"] = _routes(qerror.data.routes.compare_alphas(
                    w, bits, grid=grid, axis=axis), power)
                timing["per_channel_s"] += time.perf_counter() - t
            rows.append(row)
            print(f"{i:3d} {lay['weight'][:34]:<34} {str(w.shape):<18} "
                  f"{'dw' if row['depthwise'] else '  '} "
                  f"alpha*/max {row['per_tensor']['optimal']['alpha'] / row['max_abs']:.3f}"
                  f"  SQNR {row['per_tensor']['optimal']['sqnr_db']:6.2f} dB",
                  file=sys.stderr)
    return {"layers": rows, "timing": timing}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--bits", type=int, default=4)
    ap.add_argument("--grid", default="midtread")
    ap.add_argument("--model-path", type=Path, default=None,
                    help="use this .onnx instead of downloading")
    ap.add_argument("--figure", type=Path, default=None, help="also write a PNG")
    args = ap.parse_args(argv)
    rm = _real_models()
    path = args.model_path or rm.fetch(MODEL)
    project, version, member, sha = rm.MODELS[MODEL]
    t0 = time.perf_counter()
    res = analyse(path, args.bits, args.grid)
    res["metadata"] = {
        "model": {"key": MODEL, "project": project, "version": version,
                  "file": member, "sha256": hashlib.sha256(
                      Path(path).read_bytes()).hexdigest()},
        "bits": args.bits, "grid": args.grid, "qerror_version": qerror.__version__,
        "numpy_version": np.__version__, "python": platform.python_version(),
        "wall_s": time.perf_counter() - t0,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps(res), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    if args.figure:
        plot(res).savefig(args.figure, dpi=120)
        print(f"wrote {args.figure}", file=sys.stderr)
    return 0


def dumps(res: dict) -> str:
    """JSON with one layer per line (small, and diffs stay readable)."""
    head = {k: v for k, v in res.items() if k != "layers"}
    lines = ",\n".join(json.dumps(r, allow_nan=False) for r in res["layers"])
    return json.dumps(head, indent=1)[:-2] + ',\n "layers": [\n' + lines + "\n]}\n"


def plot(res):
    """Two panels: optimal alpha vs max-abs; SQNR per layer; depthwise marked."""
    import matplotlib.pyplot as plt

    rows = res["layers"]
    dw = np.array([r["depthwise"] for r in rows])
    idx = np.arange(len(rows))
    mx = np.array([r["max_abs"] for r in rows])
    opt = np.array([r["per_tensor"]["optimal"]["alpha"] for r in rows])
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2),
                                 gridspec_kw={"width_ratios": [1, 1.6]})
    a1.loglog(mx[~dw], opt[~dw], "o", ms=4, label="regular / pointwise conv")
    a1.loglog(mx[dw], opt[dw], "^", ms=6, color="C3", label="depthwise conv")
    lim = [min(mx.min(), opt.min()) / 1.5, mx.max() * 1.5]
    a1.plot(lim, lim, "k:", lw=1, label=r"$\alpha^* = \max|w|$")
    a1.set_xlabel(r"max-abs $\max|w|$ of the layer")
    a1.set_ylabel(r"optimal $\alpha^*$ (per tensor)")
    a1.set_title(f"{res['metadata']['bits']}-bit, {res['metadata']['grid']}: "
                 "optimal clip vs max-abs", fontsize=10)
    a1.legend(fontsize=8)
    for key, route, style in (("per_tensor", "optimal", dict(marker="o", ls="-")),
                              ("per_tensor", "max-abs", dict(marker="x", ls="--")),
                              ("per_channel", "optimal", dict(marker=".", ls="-"))):
        s = [r[key][route]["sqnr_db"] for r in rows]
        a2.plot(idx, s, ms=4, lw=1, label=f"{route}, {key.replace('_', ' ')}", **style)
    for i in idx[dw]:
        a2.axvspan(i - 0.5, i + 0.5, color="C3", alpha=0.15, lw=0)
    a2.set_xlabel("layer (Conv nodes in graph order; shaded: depthwise)")
    a2.set_ylabel("weight SQNR (dB)")
    a2.set_title("SQNR per layer", fontsize=10)
    a2.set_xlim(-1, len(rows))
    a2.legend(fontsize=8)
    a2.grid(alpha=0.3)
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    sys.exit(main())
