"""The end-to-end example ``examples/digits_network.py`` and its committed cache.

The script trains a digits MLP in three variants, quantizes its weights with qerror
and writes a JSON cache.  These tests run its ``--quick`` mode once (module fixture,
~30 s), check properties of the numbers that follow from the mathematics (the exact
optimum beats every other clipping, Lloyd-Max beats the uniform grid, errors fall with
the bit-width, the level counts), check the same on the committed full-run cache, and
check that a re-run gives identical numbers.  No numbers are hard-coded.
"""

import importlib.util
import json
import math
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "digits_network.py"
CACHE = ROOT / "examples" / "results" / "digits_network.json"
REL = 1e-12

pytest.importorskip("sklearn")


def _load_script():
    spec = importlib.util.spec_from_file_location("digits_network", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def dn():
    return _load_script()


@pytest.fixture(scope="module")
def quick(dn, tmp_path_factory):
    out = tmp_path_factory.mktemp("digits") / "quick.json"
    res = dn.main(["--quick", "--out", str(out)])
    return res, json.loads(out.read_text(encoding="utf-8"))


def _le(a, b, rel=REL):
    """a <= b up to a relative tolerance."""
    return a <= b + rel * max(abs(a), abs(b))


def _check_results(res):
    """The properties every results dict (quick or full) must have."""
    meta = res["metadata"]
    bits = meta["bits"]
    methods = meta["methods"]
    nl = len(meta["layer_shapes"])
    assert set(methods) == {"maxabs", "aciq_gauss", "aciq_laplace", "exact", "lloyd_max"}
    assert set(meta["variants"]) == {"baseline", "satnl", "satnl_symreg"}
    assert meta["layer_shapes"] == [[64, 64], [64, 64], [64, 10]]
    assert bits == sorted(bits) and min(bits) >= 2 and max(bits) <= 8
    for variant in meta["variants"]:
        assert res["float"][variant]["test_accuracy"] > 0.9, variant
        hists = res["weights"][variant]
        assert len(hists) == nl
        for i, (layer, (m, n)) in enumerate(zip(hists, meta["layer_shapes"],
                                                strict=True)):
            assert sum(layer["W"]["counts"]) == m * n
            assert len(layer["W"]["edges"]) == len(layer["W"]["counts"]) + 1
            assert (layer["V"] is None) == (variant == "baseline")
            if variant != "baseline":  # SatNL: |W| < c
                c = meta["satnl_c"][i]
                assert max(abs(layer["W"]["edges"][0]), layer["W"]["edges"][-1]) <= c
        per = res["results"][variant]
        assert set(per) == set(methods)
        for b in bits:
            rows = {m: per[m][str(b)] for m in methods}
            for m, row in rows.items():
                assert 0.0 <= row["accuracy"] <= 1.0
                assert row["kl_output"] >= 0.0
                assert len(row["kl_layers"]) == nl
                assert all(k >= 0.0 for k in row["kl_layers"])
                assert len(row["layers"]) == nl
                for info in row["layers"]:
                    assert info["mse"] >= 0.0
                    cap = 2**b if m == "lloyd_max" else 2**b - 1
                    assert 1 <= info["n_distinct"] <= cap, (variant, m, b, info)
                    assert (info["alpha"] is None) == (m == "lloyd_max")
                    if info["qerror_mse"] is not None:  # our recomputation agrees
                        assert math.isclose(info["mse"], info["qerror_mse"],
                                            rel_tol=1e-8, abs_tol=1e-300)
            for i in range(nl):
                mse = {m: rows[m]["layers"][i]["mse"] for m in methods}
                where = (variant, b, i)
                # the exact optimum is the global minimiser over alpha for these data
                for m in ("maxabs", "aciq_gauss", "aciq_laplace"):
                    assert _le(mse["exact"], mse[m]), (where, m, mse)
                # 2^b optimal levels beat 2^b - 1 uniform ones
                assert _le(mse["lloyd_max"], mse["exact"]), (where, mse)
        for m in ("exact", "lloyd_max"):
            for i in range(nl):
                seq = [per[m][str(b)]["layers"][i]["mse"] for b in bits]
                assert all(_le(y, x) for x, y in pairwise(seq)), (variant, m, i, seq)


# ----------------------------------------------------------------------- quick mode
def test_quick_run_properties(quick):
    res, on_disk = quick
    assert on_disk == json.loads(json.dumps(res))
    assert res["metadata"]["quick"] is True
    assert res["metadata"]["bits"] == [2, 4, 8]
    _check_results(res)


def test_quick_run_is_reproducible(dn, quick, tmp_path):
    """A second run (same seed, bits 2 and 4 only to save time) gives the same
    numbers as the first: every entry it has is identical."""
    first = quick[0]
    out = tmp_path / "again.json"
    again = json.loads(json.dumps(dn.main(["--quick", "--bits", "2", "4",
                                           "--out", str(out)])))
    assert again["float"] == first["float"]
    assert again["weights"] == first["weights"]
    for variant, per in again["results"].items():
        for method, per_bits in per.items():
            for b, row in per_bits.items():
                assert row == first["results"][variant][method][b], (variant, method, b)


def test_quantize_weights_level_counts_and_optimality(dn):
    w = np.random.default_rng(7).standard_t(4, size=(64, 10)) * 0.1
    for b in (2, 3, 5):
        out = {m: dn.quantize_weights(w, b, m) for m in dn.METHODS}
        for m, (q, info) in out.items():
            assert q.shape == w.shape
            cap = 2**b if m == "lloyd_max" else 2**b - 1
            assert np.unique(q).size <= cap
            assert math.isclose(info["mse"], float(np.mean((w - q) ** 2)))
            if m != "lloyd_max":  # on the midtread grid: integer multiples of the step
                k = q / (info["alpha"] / (2 ** (b - 1) - 1))
                np.testing.assert_allclose(k, np.rint(k), atol=1e-9)
        assert all(_le(out["exact"][1]["mse"], out[m][1]["mse"]) for m in dn.METHODS
                   if m != "lloyd_max")


def test_symreg_penalty_gradient(dn):
    w = np.random.default_rng(3).standard_gamma(2.0, (6, 5))
    value, grad = dn.symreg_penalty(w)
    assert value > 0
    h = 1e-6
    num = np.zeros_like(w)
    for idx in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[idx] = h
        num[idx] = (dn.symreg_penalty(w + e)[0] - dn.symreg_penalty(w - e)[0]) / (2 * h)
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-8)
    sym = np.concatenate([w.ravel(), -w.ravel()])  # symmetric about 0: penalty 0
    assert dn.symreg_penalty(sym)[0] < 1e-20


def test_kl_helpers(dn):
    z = np.random.default_rng(1).normal(size=(200, 4))
    assert dn.histogram_kl(z, z) == 0.0
    assert dn.softmax_kl(z, z) == 0.0
    assert dn.histogram_kl(z, z + 0.5) > 0.0
    assert dn.softmax_kl(z, 2 * z) > 0.0


@pytest.mark.parametrize("argv, match", [
    (["--seed", "-1"], "seed"),
    (["--epochs", "0"], "epochs"),
    (["--bits", "1"], "bits"),
    (["--bits", "9"], "bits"),
    (["--out", "x.txt"], "json"),
])
def test_main_rejects_bad_input(dn, argv, match, tmp_path):
    if "--out" not in argv:
        argv = argv + ["--out", str(tmp_path / "r.json")]
    with pytest.raises(ValueError, match=match):
        dn.main(argv)


# ----------------------------------------------------------------- committed cache
def test_committed_cache():
    assert CACHE.is_file(), "run: python examples/digits_network.py"
    assert CACHE.stat().st_size < 1_000_000
    res = json.loads(CACHE.read_text(encoding="utf-8"))
    meta = res["metadata"]
    assert meta["quick"] is False
    assert meta["bits"] == [2, 3, 4, 5, 6, 7, 8]
    for key in ("seed", "epochs", "numpy_version", "qerror_version", "satnl_c",
                "symreg_lambda", "kl_bins", "kl_eps"):
        assert key in meta, key
    _check_results(res)
