"""qerror: the mathematics of uniform-quantization error.

Exact and ACIQ-model mean-square error of a b-bit uniform quantizer clipping at
[-alpha, alpha], for scipy.stats laws, clamped and saturated laws and data arrays, and
the clipping boundary that minimises it.  Conventions: ``docs/conventions.md``.

Public names are loaded on first use (PEP 562), so ``import qerror`` costs little and
loads neither scipy.stats, sympy nor matplotlib; :mod:`qerror.symbolic` and
:mod:`qerror.plotting` import sympy and matplotlib when they are used.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> submodule that defines it
_EXPORTS = {
    "ClampedDistribution": "distributions",
    "clamp": "distributions",
    "OptimalAlpha": "_result",
    "quantize": "quantizer",
    "mse": "error",
    "error_parts": "error",
    "truncation_error": "error",
    "rounding_error": "error",
    "clamping_gain": "error",
    "optimal_alpha": "optimal",
    "optimal_alpha_table": "optimal",
    "empirical_error_parts": "empirical",
    "optimal_alpha_data": "empirical",
    "bias": "symmetry",
    "bias_variance": "symmetry",
    "SaturatedDistribution": "saturation",
    "saturate": "saturation",
    "StepRobustness": "robustness",
    "StepSensitivity": "robustness",
    "kurtosis": "robustness",
    "LloydMaxResult": "nonuniform",
    "lloyd_max": "nonuniform",
    "MonteCarloMSE": "montecarlo",
    "simulate_mse": "montecarlo",
    "step_robustness": "robustness",
    "step_sensitivity": "robustness",
}

__all__ = sorted(_EXPORTS)

_LAZY_SUBMODULES = ("formats", "io", "routes", "symbolic", "plotting", "empirical",
                    "montecarlo", "proofs",
                    "robustness", "saturation", "symmetry", "optimal", "error",
                    "distributions", "quantizer", "nonuniform")


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"qerror.{_EXPORTS[name]}"), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"qerror.{name}")
    raise AttributeError(f"module 'qerror' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
