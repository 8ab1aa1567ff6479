"""``qerror analyze`` on real trained models: wall time and peak memory.

Run:  python benchmarks/bench_real_models.py [--repeat 3] [--model ppocr-det]

Models: the two PyPI-wheel networks of ``examples/real_models.py`` (downloaded once
with ``pip download --no-deps``, cached, never committed): ``silero-vad`` 6.2.3
(``.safetensors``, 15 tensors, 0.31 M values) and ``ppocr-det`` (PP-OCRv4 text
detector from ``rapidocr-onnxruntime`` 1.4.4, ``.onnx``, 342 tensors stored as
``Constant`` nodes, 1.17 M values).

Each configuration runs the real command line in a fresh process
(``python -m qerror analyze FILE --bits 4 --json --quiet [--per-channel 0]``,
midtread grid, every route: optimum, max-abs, ACIQ fits, OCTAV), so the time includes
the interpreter start, imports (numba, onnx) and reading; the median of --repeat
runs is reported, with the child's peak resident memory (``ru_maxrss``) and, for
comparison, the peak of a process that only imports and reads every tensor
(``qerror.io.read_tensors``).  A plain script, not a timed test.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _models():
    spec = importlib.util.spec_from_file_location("real_models",
                                                  ROOT / "examples" / "real_models.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(cmd):
    """(wall seconds, peak RSS MiB) of a child process."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep +
               os.environ.get("PYTHONPATH", ""))
    t = time.perf_counter()
    pid = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env).pid
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return wall, usage.ru_maxrss / 1024


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--model", action="append", default=None,
                    choices=("silero-vad", "ppocr-det"))
    args = ap.parse_args(argv)
    rm = _models()
    py = sys.executable
    print(f"{'model':<11} {'configuration':<34} {'wall s':>7} {'peak MiB':>9}")
    for key in args.model or ["silero-vad", "ppocr-det"]:
        try:
            path = str(rm.fetch(key))
        except rm.ModelUnavailable as exc:
            print(f"{key}: skipped ({exc})")
            continue
        size = os.path.getsize(path) / 2**20
        configs = {
            "read only (qerror.io)": [py, "-c", "import sys; from qerror.io import "
                                      "read_tensors\nfor _ in read_tensors(sys.argv[1]):"
                                      " pass", path],
            "analyze, per tensor": [py, "-m", "qerror", "analyze", path, "--json",
                                    "--quiet"],
            "analyze, per channel (axis 0)": [py, "-m", "qerror", "analyze", path,
                                              "--json", "--quiet", "--per-channel",
                                              "0"],
            "analyze, per tensor, --no-peers": [py, "-m", "qerror", "analyze", path,
                                                "--json", "--quiet", "--no-peers"],
        }
        for name, cmd in configs.items():
            runs = [_run(cmd) for _ in range(args.repeat)]
            wall = statistics.median(r[0] for r in runs)
            peak = max(r[1] for r in runs)
            print(f"{key:<11} {name:<34} {wall:7.2f} {peak:9.1f}", flush=True)
        print(f"{key:<11} (file {size:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
