"""Tests of the ``qerror table``, ``qerror curve`` and ``qerror analyze`` sub-commands
(the last: JSON/CSV output, unreadable files, ``python -m qerror``, closed pipes)."""

import csv
import io
import json
import shlex
import struct
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

import qerror
from qerror.cli import main


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def _csv_rows(text):
    lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


# -------------------------------------------------------------------------- table
def test_table_default_laws_and_bits(capsys):
    out = _run(capsys, "table", "--format", "csv")
    rows = _csv_rows(out)
    assert [r["law"] for r in rows] == ["norm"] * 8 + ["laplace"] * 8 + ["uniform"] * 8
    assert [int(r["bits"]) for r in rows[:8]] == list(range(1, 9))
    r = rows[3]  # norm, 4 bits
    assert float(r["alpha_aciq"]) == pytest.approx(
        qerror.optimal_alpha(stats.norm(), 4, model="aciq").alpha, rel=1e-6)
    assert float(r["alpha_exact"]) == pytest.approx(
        qerror.optimal_alpha(stats.norm(), 4).alpha, rel=1e-6)
    assert float(r["exact_mse_at_aciq_alpha/optimum"]) >= 1.0


def test_table_pins_aciq_constants(capsys):
    # ACIQ's published clipping constants (Banner et al.): Gaussian 2.55 sigma at
    # 4 bits; Laplace 2.83 b, 3.89 b, 5.03 b at 2, 3, 4 bits (scale units)
    out = _run(capsys, "table", "--dist", "norm", "laplace", "--bits", "2-4",
               "--models", "aciq", "--units", "scale", "--format", "json")
    rows = json.loads(out)["rows"]
    got = {(r["law"], r["bits"]): round(r["alpha_aciq"], 2) for r in rows}
    assert got[("norm", 4)] in (2.55, 2.56)
    assert [got[("laplace", b)] for b in (2, 3, 4)] == [2.83, 3.90, 5.03]


def test_table_units_sigma_vs_raw(capsys):
    raw = json.loads(_run(capsys, "table", "--dist", "norm(scale=3)", "--bits", "4",
                          "--units", "raw", "--format", "json"))["rows"][0]
    sig = json.loads(_run(capsys, "table", "--dist", "norm(scale=3)", "--bits", "4",
                          "--format", "json"))["rows"][0]
    assert raw["alpha_exact"] == pytest.approx(3 * sig["alpha_exact"], rel=1e-12)
    assert raw["mse_exact"] == pytest.approx(9 * sig["mse_exact"], rel=1e-12)


def test_table_text_and_markdown(capsys):
    out = _run(capsys, "table", "--dist", "clamp(laplace, 2)", "--bits", "2,4",
               "--grid", "midtread")
    lines = out.splitlines()
    assert lines[0].startswith("# optimal clipping") and "midtread" in lines[0]
    assert lines[1].split()[:2] == ["law", "bits"]
    assert len(lines) == 4 and lines[2].startswith("clamp(laplace, 2)")
    md = _run(capsys, "table", "--dist", "uniform", "--bits", "3", "--format", "markdown")
    assert md.splitlines()[1].startswith("|---|")
    cells = md.splitlines()[2].strip("|").split("|")
    # bare "uniform" is the law on [-1, 1]: exact optimum at the edge, sqrt(3) sigma
    assert float(cells[4]) == pytest.approx(np.sqrt(3), rel=1e-5)


def test_table_generic_family_aciq(capsys):
    rows = _csv_rows(_run(capsys, "table", "--dist", "t(5)", "--bits", "4",
                          "--models", "aciq", "--format", "csv"))
    a = qerror.optimal_alpha(stats.t(5), 4, model="aciq").alpha / stats.t(5).std()
    assert float(rows[0]["alpha_aciq"]) == pytest.approx(a, rel=1e-6)
    assert "mse_exact" not in rows[0]


@pytest.mark.parametrize("argv,msg", [
    (["--dist", "foo"], "not a continuous scipy.stats family"),
    (["--dist", "norm(scale=-1)"], "out of range"),
    (["--dist", "clamp(norm)"], "clamp(LAW, D)"),
    (["--dist", "norm(x)"], "must be numbers"),
    (["--dist", "1+"], "invalid distribution"),
    (["--bits", "8-2"], "invalid bits"),
    (["--bits", "0"], "bits must be in"),
    (["--bits", "1", "--grid", "midtread"], "midtread grid needs bits >= 2"),
    (["--dist", "t(2)"], "no finite standard deviation"),
])
def test_table_bad_input(capsys, argv, msg):
    with pytest.raises(SystemExit) as exc:
        main(["table", *argv])
    out, err = capsys.readouterr()
    assert exc.value.code != 0
    assert msg in err + str(exc.value.code)


# -------------------------------------------------------------------------- curve
def test_curve_csv_without_output(capsys):
    out = _run(capsys, "curve", "--dist", "laplace", "--bits", "3", "--num", "7")
    rows = _csv_rows(out)
    assert len(rows) == 7
    s = stats.laplace().std()
    a = float(rows[2]["alpha"]) * s
    t, r = qerror.error_parts(stats.laplace(), a, 3)
    assert float(rows[2]["truncation_exact"]) == pytest.approx(t / s**2, rel=1e-8)
    assert float(rows[2]["mse_aciq"]) == pytest.approx(
        qerror.mse(stats.laplace(), a, 3, model="aciq") / s**2, rel=1e-8)


def test_curve_alpha_range(capsys):
    rows = _csv_rows(_run(capsys, "curve", "--alpha-range", "1", "4", "--num", "3",
                          "--model", "aciq"))
    assert [float(r["alpha"]) for r in rows] == pytest.approx([1.0, 2.0, 4.0])
    assert "mse_exact" not in rows[0]


@pytest.mark.parametrize("kind,extra", [
    ("mse", ["--bits", "3", "4"]),
    ("bits", ["--dist", "norm", "laplace", "--bits", "2-4"]),
    ("clamped", ["--clamp", "2", "--model", "exact", "--num", "60"]),
    ("levels", ["--dist", "clamp(norm, 2)", "--bits", "3"]),
    ("step", ["--dist", "norm", "uniform", "--bits", "3"]),
])
def test_curve_writes_image(tmp_path, capsys, kind, extra):
    pytest.importorskip("matplotlib")
    out_file = tmp_path / f"{kind}.png"
    out = _run(capsys, "curve", "--kind", kind, *extra, "-o", str(out_file))
    assert out_file.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {out_file}" in out


def test_curve_summary_gives_optima(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = _run(capsys, "curve", "--dist", "norm", "--bits", "4", "-o",
               str(tmp_path / "n.svg"))
    assert "b=4 exact: alpha*=2.682 sigma" in out
    assert "b=4 aciq: alpha*=2.559 sigma" in out
    assert (tmp_path / "n.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize("argv,msg", [
    (["--kind", "step"], "needs -o FILE"),
    (["--alpha-range", "3", "1"], "0 < LO < HI"),
    (["--num", "1"], "--num must be at least 2"),
    (["--kind", "clamped", "--dist", "clamp(norm, 2)", "-o", "x.png"],
     "takes the unbounded law"),
    (["-o", "/nonexistent-dir/x.png"], "cannot write"),
])
def test_curve_bad_input(capsys, argv, msg):
    with pytest.raises(SystemExit) as exc:
        main(["curve", *argv])
    assert msg in str(exc.value.code)


def test_entry_point_help():
    for cmd in ("table", "curve"):
        out = subprocess.run([sys.executable, "-m", "qerror.cli", cmd, "--help"],
                             check=True, capture_output=True, text=True).stdout
        assert f"usage: qerror {cmd}" in out


# -------------------------------------------------------------------------- analyze
def _analyze(capsys, *argv):
    code = main(["analyze", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def _cli(*argv, **kw):
    return subprocess.run([sys.executable, "-m", "qerror", *map(str, argv)],
                          capture_output=True, text=True, **kw)


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    return {"conv.weight": (rng.standard_t(4, size=(6, 3, 3, 3)) * 0.1)
            .astype(np.float32),
            "fc.weight": rng.laplace(size=(5, 40)).astype(np.float32),
            "fc.bias": rng.normal(size=5).astype(np.float32)}


def _bf16_safetensors(path, arrays, extra=None):
    """bf16 safetensors by hand (numpy has no bfloat16): {name: float32 array}."""
    header, blobs, off = {}, [], 0
    for name, a in arrays.items():
        raw = (np.ascontiguousarray(a, "<f4").view("<u4") >> 16).astype("<u2")
        header[name] = {"dtype": "BF16", "shape": list(a.shape),
                        "data_offsets": [off, off + raw.nbytes]}
        blobs.append(raw.tobytes())
        off += raw.nbytes
    header.update(extra or {})
    head = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(head)) + head + b"".join(blobs))
    return path


def test_analyze_json_schema(tmp_path, capsys):
    w = _weights()
    path = tmp_path / "m.npz"
    np.savez(path, **w)
    code, out, _ = _analyze(capsys, path, "--json")
    assert code == 0
    doc = json.loads(out)
    assert {k: doc[k] for k in ("format", "bits", "grid", "model", "per_channel",
                                "count")} == {"format": "npz", "bits": 4,
                                              "grid": qerror.formats.DEFAULT.name, "model": "exact",
                                              "per_channel": None, "count": 3}
    assert doc["file"] == str(path) and doc["values"] == sum(a.size for a in w.values())
    assert [t["name"] for t in doc["tensors"]] == list(w)
    for t in doc["tensors"]:
        x = w[t["name"]]
        assert t["shape"] == list(x.shape) and t["dtype"] == "float32"
        assert t["size"] == x.size and t["axis"] is None and t["error"] is None
        best = qerror.data.optimal_alpha_data(x, 4)
        assert t["alpha"] == pytest.approx(best.alpha, rel=1e-12)
        assert t["mse"] == pytest.approx(best.mse, rel=1e-12)
        power = float(np.mean(x.astype(np.float64) ** 2))
        assert t["power"] == pytest.approx(power, rel=1e-12)
        assert t["sqnr_db"] == pytest.approx(10 * np.log10(power / best.mse))
        assert set(t["routes"]) == {"optimal", "max-abs", "aciq-norm", "aciq-laplace",
                                    "octav"}
        assert t["routes"]["max-abs"]["alpha"] == pytest.approx(np.abs(x).max())
        for r in t["routes"].values():
            assert set(r) == {"alpha", "mse", "sqnr_db", "mse_ratio"}
            assert r["mse"] >= t["mse"] * (1 - 1e-12)
            assert r["mse_ratio"] == pytest.approx(r["mse"] / t["mse"])


def test_analyze_json_per_channel(tmp_path, capsys):
    w = _weights()["conv.weight"]
    path = tmp_path / "w.npy"
    np.save(path, w)
    code, out, _ = _analyze(capsys, path, "--json", "--per-channel", "0",
                            "--no-peers")
    doc = json.loads(out)
    assert code == 0 and doc["per_channel"] == 0
    t, = doc["tensors"]
    best = qerror.data.optimal_alpha_data(w, 4, axis=0)
    assert t["axis"] == 0 and list(t["routes"]) == ["optimal"]
    np.testing.assert_allclose(t["alpha"], best.alpha, rtol=1e-12)
    np.testing.assert_allclose(t["routes"]["optimal"]["channel_mse"], best.mse,
                               rtol=1e-12)
    assert t["mse"] == pytest.approx(np.mean(best.mse), rel=1e-12)


def test_analyze_json_zero_tensor_uses_null_for_infinite_sqnr(tmp_path, capsys):
    path = tmp_path / "z.npz"
    np.savez(path, z=np.zeros(8, np.float32))
    code, out, _ = _analyze(capsys, path, "--json")
    t, = json.loads(out)["tensors"]
    assert code == 0 and t["mse"] == 0.0 and t["sqnr_db"] is None and t["note"]


def test_analyze_csv(tmp_path, capsys):
    w = _weights()
    path = tmp_path / "m.npz"
    np.savez(path, **w)
    code, out, _ = _analyze(capsys, path, "--csv", "--per-channel", "0")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 3 * 5
    assert list(rows[0]) == ["file", "name", "shape", "dtype", "size", "axis", "route",
                             "alpha", "alpha_min", "alpha_max", "mse", "sqnr_db",
                             "mse_ratio", "error"]
    r = next(r for r in rows if r["name"] == "fc.weight" and r["route"] == "optimal")
    best = qerror.data.optimal_alpha_data(w["fc.weight"], 4, axis=0)
    assert r["shape"] == "5x40" and r["axis"] == "0" and r["error"] == ""
    assert float(r["alpha"]) == pytest.approx(np.median(best.alpha), rel=1e-12)
    assert float(r["alpha_min"]) == pytest.approx(best.alpha.min(), rel=1e-12)
    assert float(r["mse"]) == pytest.approx(np.mean(best.mse), rel=1e-12)


def test_analyze_bf16_safetensors(tmp_path, capsys):
    w = _weights()["fc.weight"]
    path = _bf16_safetensors(tmp_path / "m.safetensors", {"fc.weight": w})
    exact = ((w.view(np.uint32) >> 16) << 16).view(np.float32)  # bf16-truncated
    code, out, _ = _analyze(capsys, path, "--json", "--no-peers")
    t, = json.loads(out)["tensors"]
    assert code == 0 and t["dtype"] == "bfloat16"
    assert t["alpha"] == qerror.data.optimal_alpha_data(exact, 4).alpha


def test_analyze_one_bad_tensor_others_still_analysed(tmp_path, capsys):
    w = _weights()
    path = _bf16_safetensors(tmp_path / "m.safetensors", w, extra={
        "weird": {"dtype": "C64", "shape": [2], "data_offsets": [0, 16]}})
    code, out, err = _analyze(capsys, path)
    assert code == 1
    for name in w:
        assert f"{name}  (" in out
    assert "weird  (2, C64)  error: unsupported dtype 'C64'" in out
    assert err.strip() == (f"qerror analyze: {path}: tensor 'weird': unsupported "
                           "dtype 'C64' (read: BOOL, U8, I8, U16, I16, U32, I32, U64, "
                           "I64, F16, F32, F64, BF16, F8_E4M3, F8_E5M2)")
    code, out, _ = _analyze(capsys, path, "--json")
    doc = json.loads(out)
    bad = [t for t in doc["tensors"] if t["error"]]
    assert code == 1 and [t["name"] for t in bad] == ["weird"]
    assert bad[0]["alpha"] is None and bad[0]["routes"] == {}
    assert sum(t["error"] is None for t in doc["tensors"]) == 3


def _corrupt_files(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([None, 1], dtype=object))
    np.save(tmp_path / "trunc.npy", np.arange(100.0))
    (tmp_path / "trunc.npy").write_bytes((tmp_path / "trunc.npy").read_bytes()[:-3])
    (tmp_path / "garbage.safetensors").write_bytes(b"\x05" * 40)
    np.save(tmp_path / "cplx.npy", np.ones(3, complex))
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not a zip")
    (tmp_path / "notes.txt").write_text("1 2 3")
    return {"obj.npy": "object array", "trunc.npy": "truncated",
            "garbage.safetensors": "header length", "cplx.npy": "unsupported dtype",
            "bad.npz": "not a valid .npz", "notes.txt": "unsupported file type"}


def test_analyze_unreadable_file_in_process(tmp_path, capsys):
    for name, why in _corrupt_files(tmp_path).items():
        with pytest.raises(SystemExit) as exc:
            main(["analyze", str(tmp_path / name)])
        msg = str(exc.value.code)
        assert msg.startswith(f"qerror analyze: {tmp_path / name}: ") and why in msg
        assert "\n" not in msg


def test_analyze_unreadable_file_exit_status(tmp_path):
    files = _corrupt_files(tmp_path)
    for name in ("obj.npy", "trunc.npy", "garbage.safetensors"):
        proc = _cli("analyze", tmp_path / name)
        assert proc.returncode == 1 and proc.stdout == ""
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
        assert str(tmp_path / name) in proc.stderr and files[name] in proc.stderr


def test_analyze_onnx_constant_nodes(tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = _weights()["conv.weight"]
    graph = helper.make_graph(
        [helper.make_node("Constant", [], ["conv.weight"],
                          value=numpy_helper.from_array(w, "v")),
         helper.make_node("Conv", ["x", "conv.weight"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph), str(path))
    code, out, _ = _analyze(capsys, path, "--json", "--no-peers")
    doc = json.loads(out)
    assert code == 0 and doc["format"] == "onnx"
    assert doc["tensors"][0]["alpha"] == qerror.data.optimal_alpha_data(w, 4).alpha


def test_python_dash_m_qerror():
    proc = _cli("--help", check=True)
    assert proc.stdout.startswith("usage: qerror") and "analyze" in proc.stdout
    proc = _cli("analyze", "--help", check=True)
    assert "--json" in proc.stdout and "--csv" in proc.stdout


def test_analyze_closed_pipe_ends_quietly(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "many.npz"
    np.savez(path, **{f"t{i:03d}": rng.normal(size=64) for i in range(300)})
    cmd = (f"{shlex.quote(sys.executable)} -m qerror analyze {shlex.quote(str(path))}"
           " --no-peers | head -1")
    proc = subprocess.run(["bash", "-c", "set -o pipefail; " + cmd],
                          capture_output=True, text=True)
    assert proc.stdout.startswith(f"{path}: 300 tensor(s)")
    assert proc.stderr == ""
    assert proc.returncode in (0, 141)  # 141 = 128 + SIGPIPE, when the pipe closed
