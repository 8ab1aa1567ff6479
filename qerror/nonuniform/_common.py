"""Argument checks shared by :mod:`qerror.nonuniform.lloyd` and
:mod:`qerror.nonuniform.pow2`."""

from __future__ import annotations

import numbers

import numpy as np

from .._dispatch import law_or_data
from ..laws.clamped import ClampedDistribution

_MAX_BITS = 12


def _check_bits(bits, max_bits=_MAX_BITS) -> int:
    if isinstance(bits, (bool, np.bool_)) or not isinstance(bits, numbers.Integral):
        if isinstance(bits, (float, np.floating)) and float(bits).is_integer():
            bits = int(bits)
        else:
            raise TypeError(f"bits must be an integer, got {bits!r}")
    bits = int(bits)
    if not 1 <= bits <= max_bits:
        raise ValueError(f"bits must be in [1, {max_bits}], got {bits}")
    return bits


def _check_data(data) -> np.ndarray:
    try:
        x = np.asarray(data, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise TypeError("dist_or_data must be a scipy.stats frozen law, a clamped law or "
                        f"an array of real numbers, got {type(data).__name__}") from None
    if x.size == 0:
        raise ValueError("dist_or_data is an empty array")
    if not np.all(np.isfinite(x)):
        raise ValueError("dist_or_data contains NaN or infinite values")
    return x


def _base(dist):
    return dist.base if isinstance(dist, ClampedDistribution) else dist


def _resolve_any(dist):
    law, _ = law_or_data(dist)
    if law is not None:
        return law
    if isinstance(dist, (str, bytes, dict)):
        raise TypeError("dist must be a scipy.stats frozen law, a clamped law or an array "
                        f"of real numbers, got {type(dist).__name__}")
    return _check_data(dist)
