"""Start-up of the command line: what ``qerror analyze`` imports, which compiled
kernels it asks numba for, and the exit of the script.  (Wall times are measured in
``benchmarks/bench_real_models.py``, never in a test.)"""

import subprocess
import sys

import numpy as np
import pytest

HEAVY = ("onnx", "google.protobuf", "ml_dtypes", "scipy.stats", "sympy", "matplotlib",
         "tqdm", "torch", "safetensors")


def _imported(code):
    """The HEAVY modules in sys.modules after running `code` in a fresh interpreter."""
    probe = f"{code}\nimport sys; print([m for m in {HEAVY!r} if m in sys.modules])"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def test_cli_import_is_light():
    assert _imported("import qerror.cli, qerror._commands.analyze") == "[]"
    code = "import sys, qerror.cli; print('numba' in sys.modules, 'scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False False"


@pytest.fixture
def model_files(tmp_path):
    w = np.random.default_rng(5).standard_normal((8, 3, 3, 3)).astype(np.float32)
    b = np.linspace(-1, 1, 8, dtype=np.float32)
    np.save(tmp_path / "w.npy", w)
    hdr = ('{"w":{"dtype":"F32","shape":[8,3,3,3],"data_offsets":[0,%d]},'
           '"b":{"dtype":"F32","shape":[8],"data_offsets":[%d,%d]}}'
           % (w.nbytes, w.nbytes, w.nbytes + b.nbytes)).encode()
    hdr += b" " * (-len(hdr) % 8)
    (tmp_path / "m.safetensors").write_bytes(
        len(hdr).to_bytes(8, "little") + hdr + w.tobytes() + b.tobytes())
    files = [tmp_path / "w.npy", tmp_path / "m.safetensors"]
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        return files
    graph = helper.make_graph(
        [helper.make_node("Constant", [], ["w"], value=numpy_helper.from_array(w))],
        "g", [], [], [numpy_helper.from_array(b, "b")])
    onnx.save(helper.make_model(graph), str(tmp_path / "m.onnx"))
    return files + [tmp_path / "m.onnx"]


def test_analyze_imports_no_heavy_module(model_files):
    """Neither onnx (its import took 0.6-0.8 s), ml_dtypes, scipy.stats, sympy,
    matplotlib nor tqdm (no progress bar on small files) for any file type."""
    for path in model_files:
        for extra in ("", ', "--per-channel", "0"', ', "--no-peers"'):
            code = ("import io, contextlib; from qerror.cli import main\n"
                    "with contextlib.redirect_stdout(io.StringIO()):\n"
                    f"    assert main(['analyze', {str(path)!r}, '--json'{extra}]) == 0")
            assert _imported(code) == "[]", (path, extra)


def test_script_freezes_the_collector_after_main(model_files):
    code = ("import gc, sys; from qerror.cli import script\n"
            f"code = script(['analyze', {str(model_files[0])!r}, '--csv'])\n"
            "print('frozen', gc.get_freeze_count() > 0, code, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr.strip() == "frozen True 0"
    assert proc.stdout.startswith("file,name,shape")
    proc = subprocess.run([sys.executable, "-m", "qerror", "analyze",
                           str(model_files[0]) + ".missing"], capture_output=True,
                          text=True)
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_kernels_see_one_array_type():
    """Writeable and read-only (memory-mapped) inputs reach the compiled passes as the
    same numba type: one compiled version to load, not two."""
    kernels = pytest.importorskip("qerror.data._kernels")
    if not kernels.HAVE_NUMBA:
        pytest.skip("numba not installed")
    x = np.random.default_rng(1).standard_normal(1000).astype(np.float32)
    ro = x.copy()
    ro.flags.writeable = False
    m, base, nbins = 4, 0, 1 << 12
    base = int(kernels.keys(np.array([1e-30]), 52 - m)[0])
    h1 = kernels.histogram(x, m, base, nbins, True)
    h2 = kernels.histogram(ro, m, base, nbins, True)
    for a, b in zip(h1, h2, strict=True):
        np.testing.assert_array_equal(a, b)
    assert x.flags.writeable                       # the caller's array is untouched
    sigs = kernels._hist_signed32_nb.signatures
    assert len({s[0] for s in sigs}) == 1 and not sigs[0][0].mutable
