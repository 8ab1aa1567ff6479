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
from .quantizer import quantize

__version__ = "0.1.0"

__all__ = [
    "OptimalAlpha",
    "quantize",
]

_LAZY_SUBMODULES = ("symbolic", "plotting")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"qerror.{name}")
    raise AttributeError(f"module 'qerror' has no attribute {name!r}")
