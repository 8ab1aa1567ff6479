"""Tests of the ``qerror table`` and ``qerror curve`` sub-commands."""

import csv
import io
import json
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
