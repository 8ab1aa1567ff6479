"""``qerror analyze`` on real trained models: wall time, peak memory, start-up breakdown.

Run:  python benchmarks/bench_real_models.py [--repeat 3] [--model ppocr-det]
      python benchmarks/bench_real_models.py --breakdown [--repeat 3]

Models: the two PyPI-wheel networks of ``examples/real_models.py`` (downloaded once
with ``pip download --no-deps``, cached, never committed): ``silero-vad`` 6.2.3
(``.safetensors``, 15 tensors, 0.31 M values) and ``ppocr-det`` (PP-OCRv4 text
detector from ``rapidocr-onnxruntime`` 1.4.4, ``.onnx``, 342 tensors stored as
``Constant`` nodes, 1.17 M values).

Each configuration runs the real command line in a fresh process
(``python -m qerror analyze FILE --bits 4 --json --quiet [--per-channel 0]``, default
grid, every route: optimum, max-abs, ACIQ fits, OCTAV), so the time includes the
interpreter start, imports (numpy, numba, scipy.special), loading the compiled
kernels from numba's cache, reading, solving, writing the JSON and the exit; the
median of --repeat runs is reported, with the child's peak resident memory
(``ru_maxrss``).  Two floors for comparison: a process that only imports numpy and
numba, and one that imports qerror.io and reads every tensor.

``--breakdown`` times the phases of the per-channel run on the OCR model inside one
fresh process (median over --repeat processes): imports of the command line, opening
the file, importing the data solver (numba), the first tensor (numba loads the
compiled kernels from its cache), the other tensors, JSON writing, and the exit.

The machine, its load average before and after, and the thread counts are printed
with the table.  A plain script, not a timed test.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
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


def _env():
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep +
                os.environ.get("PYTHONPATH", ""))


def _run(cmd):
    """(wall seconds, peak RSS MiB) of a child process."""
    t = time.perf_counter()
    pid = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=_env()).pid
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return wall, usage.ru_maxrss / 1024


def machine() -> str:
    code = ("import numpy, numba, scipy; from numba import config; "
            "print(numpy.__version__, scipy.__version__, numba.__version__, "
            "config.NUMBA_NUM_THREADS)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_env()).stdout.split()
    np_v, sp_v, nb_v, threads = out if len(out) == 4 else ("?",) * 4
    return (f"{platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, numpy {np_v}, scipy {sp_v}, numba {nb_v} "
            f"(NUMBA_NUM_THREADS {threads}: the size of qerror's solver thread pool)")


# ------------------------------------------------------------------ breakdown
_PHASES = r'''
import json, os, sys, time
t0 = time.perf_counter()
import qerror.cli
from qerror._commands import analyze
import qerror.io
t = {"imports of the command line (numpy, qerror)": time.perf_counter() - t0}
acc = {"analyze": [], "write": 0.0, "open": 0.0}
_open, _an, _tensor = qerror.io.open_tensors, analyze._analyze, analyze._Json.tensor
def open_tensors(*a):
    s = time.perf_counter(); r = _open(*a); acc["open"] += time.perf_counter() - s
    return r
def an(*a):
    if not acc["analyze"]:
        s = time.perf_counter(); import qerror.data.routes
        t["import the data solver (numba)"] = time.perf_counter() - s
    s = time.perf_counter(); r = _an(*a); acc["analyze"].append(time.perf_counter() - s)
    return r
def tensor(self, rec):
    s = time.perf_counter(); _tensor(self, rec); acc["write"] += time.perf_counter() - s
qerror.io.open_tensors, analyze._analyze, analyze._Json.tensor = open_tensors, an, tensor
devnull = open(os.devnull, "w"); out, sys.stdout = sys.stdout, devnull
code = qerror.cli.script(sys.argv[1:])
sys.stdout = out
t["open the file (directory of tensors)"] = acc["open"]
t["first tensor (numba loads the compiled kernels)"] = acc["analyze"][0]
t[f"the other {len(acc['analyze']) - 1} tensors (solve, routes)"] = sum(acc["analyze"][1:])
t["JSON output"] = acc["write"]
t["main, total"] = time.perf_counter() - t0
print(json.dumps(t)); sys.stdout.flush()
os.write(2, repr(time.time()).encode())
'''


def breakdown(path: str, repeat: int) -> None:
    runs, exits, walls = [], [], []
    py = sys.executable
    for _ in range(repeat):
        t = time.perf_counter()
        proc = subprocess.run([py, "-c", _PHASES, "analyze", path, "--bits", "4",
                               "--json", "--quiet", "--per-channel", "0"],
                              capture_output=True, text=True, env=_env())
        end = time.time()
        walls.append(time.perf_counter() - t)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        runs.append(json.loads(proc.stdout))
        exits.append(end - float(proc.stderr.strip().splitlines()[-1]))
    start = [_run([py, "-c", "pass"])[0] for _ in range(repeat)]
    print(f"\nstart-up breakdown, analyze --per-channel 0 on {Path(path).name} "
          f"(median of {repeat} processes)")
    print(f"  {'interpreter start and exit (python -c pass)':<52} "
          f"{statistics.median(start):6.3f} s")
    for key in runs[0]:
        print(f"  {key:<52} {statistics.median(r[key] for r in runs):6.3f} s")
    print(f"  {'exit after main':<52} {statistics.median(exits):6.3f} s")
    print(f"  {'wall, whole process':<52} {statistics.median(walls):6.3f} s")


# ------------------------------------------------------------------ main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--model", action="append", default=None,
                    choices=("silero-vad", "ppocr-det"))
    ap.add_argument("--breakdown", action="store_true",
                    help="only the phase breakdown of the OCR model per channel")
    args = ap.parse_args(argv)
    rm = _models()
    py = sys.executable
    print(machine())
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if args.breakdown:
        breakdown(str(rm.fetch("ppocr-det")), args.repeat)
        print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        return 0
    print(f"{'model':<11} {'configuration':<34} {'wall s':>7} {'peak MiB':>9}")
    floor = [_run([py, "-c", "import numpy, numba"]) for _ in range(args.repeat)]
    print(f"{'-':<11} {'import numpy, numba only':<34} "
          f"{statistics.median(r[0] for r in floor):7.2f} "
          f"{max(r[1] for r in floor):9.1f}", flush=True)
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
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
