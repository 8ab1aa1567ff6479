r"""Output-aware clipping on real trained models, without calibration data.

For every convolution of silero-vad (safetensors) and of the PP-OCRv4 text detector
(ONNX), both fetched by ``examples/real_models.py``, compares the weight-MSE-optimal
clipping boundary (:func:`qerror.data.optimal_alpha_data`) with the output-aware one
(``qerror.optimal_alpha(W, b, input_cov=C)``), per tensor on the ``"midtread"`` grid.

*What C is.*  Running these networks needs an inference engine (and input data) that
qerror does not depend on, so the input second moment is a model, stated here:
input channels uncorrelated with equal power, and the taps of a kernel correlated like
a smooth signal, :math:`\operatorname{corr}(x_p, x_q) = \rho^{|p-q|}` along time
(conv1d) or :math:`\rho^{|p_1-q_1| + |p_2-q_2|}` over the image (conv2d), with
:math:`\rho` = 0.9.  So :math:`C = I_{c_\text{in}} \otimes R_\rho` for the flattened
``(out, c_in * k...)`` weights.  With :math:`\rho = 0` (:math:`C = I`) the output error
is the weight MSE times the input dimension, and the two boundaries coincide; 1x1
convolutions and the LSTM matrices (one tap) are therefore listed with ratio 1
without a solve.  Transposed convolutions are left out (their weights are stored
``(in, out, ...)``, and their outputs mix taps differently).

    python examples/output_real_models.py          # writes results/output_real_models.json
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

import qerror
from qerror.io import open_tensors

HERE = Path(__file__).resolve().parent
RHO = 0.9
BITS = (4, 8)
GRID = "midtread"
MODELS = ("silero-vad", "ppocr-det")


def _fetch(key):
    spec = importlib.util.spec_from_file_location("real_models", HERE / "real_models.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.fetch(key)


def tap_correlation(kernel_shape, rho: float = RHO) -> np.ndarray:
    """R with R[p, q] = rho^(L1 distance of taps p, q), taps in C order."""
    r = np.ones((1, 1))
    for k in kernel_shape:
        i = np.arange(k)
        r = np.kron(r, rho ** np.abs(i[:, None] - i[None, :]))
    return r


def input_cov(shape, rho: float = RHO) -> np.ndarray:
    """C = I_cin (x) R for weights of shape (out, cin, *kernel)."""
    return np.kron(np.eye(shape[1]), tap_correlation(shape[2:], rho))


def layer(w: np.ndarray, bits: int, rho: float = RHO) -> dict:
    """The weight-MSE and output-aware boundaries of one conv weight and their errors."""
    w2 = w.reshape(w.shape[0], -1).astype(np.float64)
    a_mse = float(qerror.data.optimal_alpha_data(w2, bits, grid=GRID).alpha)
    taps = int(np.prod(w.shape[2:])) if w.ndim > 2 else 1
    if taps == 1:
        return {"alpha_mse": a_mse, "alpha_output": a_mse, "ratio": 1.0,
                "solved": False}
    C = input_cov(w.shape, rho)
    r = qerror.optimal_alpha(w2, bits, grid=GRID, input_cov=C)
    e_mse = qerror.output_mse(w2, a_mse, bits, grid=GRID, input_cov=C)
    return {"alpha_mse": a_mse, "alpha_output": float(r.alpha),
            "ratio": float(r.mse / e_mse), "output_mse_at_mse_alpha": float(e_mse),
            "output_mse_at_output_alpha": float(r.mse),
            "weight_mse_ratio": float(r.extra["weight_mse"]
                                      / qerror.mse(w2, a_mse, bits, grid=GRID)),
            "certified": bool(r.success), "solved": True}


def run(models=MODELS, bits=BITS):
    res = {"metadata": {"rho": RHO, "bits": list(bits), "grid": GRID,
                        "C": "I_cin kron R_rho (taps correlated rho^L1-distance)",
                        "qerror_version": qerror.__version__}, "models": {}}
    for key in models:
        path = _fetch(key)
        rows = []
        with open_tensors(path) as reader:
            for t in reader.tensors:
                # (transposed convolutions store (in, out, ...): the model does not apply)
                if len(t.shape) < 2 or t.name.endswith(".b_0") or "transpose" in t.name:
                    continue
                w = reader.read(t.name)
                if not np.issubdtype(w.dtype, np.floating) or w.size < 16:
                    continue
                rows.append({"name": t.name, "shape": list(w.shape),
                             **{str(b): layer(w, b) for b in bits}})
        res["models"][key] = rows
    return res


def main(argv=None):
    out = HERE / "results" / "output_real_models.json"
    t0 = time.perf_counter()
    res = run()
    out.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    for key, rows in res["models"].items():
        for b in res["metadata"]["bits"]:
            solved = [r[str(b)]["ratio"] for r in rows if r[str(b)]["solved"]]
            print(f"{key} {b} bits: {len(rows)} layers, {len(solved)} with taps; output "
                  f"error ratio (output-aware / MSE alpha) median "
                  f"{np.median(solved):.3f}, min {np.min(solved):.3f}")
    return res


if __name__ == "__main__":
    main()
