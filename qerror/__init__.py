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

#: the top-level names (the first tier): public name -> submodule that defines it.
#: Everything else lives in a submodule: qerror.formats (quantizer formats),
#: qerror.laws (clamped and saturated laws), qerror.data (data solver, peers'
#: clipping rules), qerror.nonuniform (Lloyd-Max, powers of two), qerror.robustness,
#: qerror.symmetry, qerror.montecarlo, qerror.proofs, qerror.symbolic, qerror.plotting,
#: qerror.io (tensor files).
_EXPORTS = {
    "quantize": "quantizer",
    "mse": "error",
    "error_parts": "error",
    "truncation_error": "error",
    "rounding_error": "error",
    "clamping_gain": "error",
    "optimal_alpha": "optimal",
    "optimal_alpha_table": "optimal",
    "OptimalAlpha": "_result",
    "clamp": "laws",
    "saturate": "laws",
    "bias": "symmetry",
    "simulate_mse": "montecarlo",
    "product_mse": "products",
    "output_mse": "data.output",
    "group_mse": "blocks",
}

__all__ = sorted(_EXPORTS)

_LAZY_SUBMODULES = ("formats", "affine", "laws", "data", "io", "symbolic", "plotting", "montecarlo",
                    "proofs", "robustness", "symmetry", "optimal", "error", "quantizer",
                    "nonuniform", "products", "blocks")


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
