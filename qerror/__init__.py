"""qerror: the mathematics of uniform-quantization error.

Exact and ACIQ-model mean-square error of a b-bit uniform quantizer clipping at
[-alpha, alpha], for scipy.stats laws, clamped laws and data arrays, and the clipping
boundary that minimises it.  Conventions: ``docs/conventions.md``.

``import qerror`` loads neither sympy nor matplotlib; :mod:`qerror.symbolic` and
:mod:`qerror.plotting` import them on first use.
"""

from __future__ import annotations

import importlib

from ._result import OptimalAlpha
from .distributions import ClampedDistribution, clamp
from .empirical import empirical_error_parts, optimal_alpha_data
from .error import clamping_gain, error_parts, mse, rounding_error, truncation_error
from .optimal import optimal_alpha, optimal_alpha_table
from .quantizer import quantize

__version__ = "0.1.0"

__all__ = [
    "ClampedDistribution",
    "OptimalAlpha",
    "clamp",
    "clamping_gain",
    "empirical_error_parts",
    "error_parts",
    "mse",
    "optimal_alpha",
    "optimal_alpha_table",
    "optimal_alpha_data",
    "quantize",
    "rounding_error",
    "truncation_error",
]

_LAZY_SUBMODULES = ("symbolic", "plotting")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"qerror.{name}")
    raise AttributeError(f"module 'qerror' has no attribute {name!r}")
