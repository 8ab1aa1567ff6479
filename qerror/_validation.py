"""Argument checking shared by the public functions.

Public functions check and broadcast; private ones compute.  Every check raises a
``ValueError`` or ``TypeError`` whose message names the argument and the allowed
range, so that no bad input can turn into a silent NaN further down.
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np

MODELS = ("exact", "aciq")
MAX_BITS = 64
#: largest bit-width of the power-of-two grid (qerror.nonuniform.pow2_*, simulate_mse)
POW2_MAX_BITS = 10


def check_model(model) -> str:
    if not isinstance(model, str) or model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    return model


def check_bits_range(bits, lo: int = 1, hi: int = MAX_BITS, where: str = "") -> np.ndarray:
    """Return `bits` as an int64 array of whole numbers in ``[lo, hi]``."""
    if isinstance(bits, (bool, np.bool_)):
        raise TypeError("bits must be an integer (or array of integers), got a bool")
    try:
        arr = np.asarray(bits)
    except Exception as exc:  # pragma: no cover - exotic objects
        raise TypeError(f"bits must be an integer or array of integers: {exc}") from None
    if arr.dtype == object or arr.dtype.kind not in "iuf":
        raise TypeError(f"bits must be an integer or array of integers, got {bits!r}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"bits must be whole numbers, got {bits!r}")
    if arr.size and (np.any(arr < lo) or np.any(arr > hi)):
        raise ValueError(f"bits must be in [{lo}, {hi}]{where}, got {bits!r}")
    return arr.astype(np.int64)


def check_alpha(alpha, name: str = "alpha") -> np.ndarray:
    """Return `alpha` as a float64 array of finite positive values."""
    if isinstance(alpha, (bool, np.bool_)):
        raise TypeError(f"{name} must be a positive real number, got a bool")
    try:
        raw = np.asarray(alpha)
        if raw.dtype.kind not in "iuf":  # strings, bytes, None, objects, complex, bool
            raise TypeError
        arr = raw.astype(np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a positive real number or array, got {alpha!r}") from None
    if arr.size and not (arr.min() > 0 and arr.max() < np.inf):  # NaN fails too
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite, got {alpha!r}")
        raise ValueError(f"{name} must be > 0, got {alpha!r}")
    return arr


def broadcast_alpha_bits(alpha: np.ndarray, bits: np.ndarray):
    """``np.broadcast_arrays(alpha, bits)`` with an error message that names them."""
    try:
        return np.broadcast_arrays(alpha, bits)
    except ValueError:
        raise ValueError(f"alpha and bits must broadcast to one shape, got shapes "
                         f"{np.shape(alpha)} and {np.shape(bits)}") from None


def check_positive_scalar(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        try:
            value = operator.index(value)
        except TypeError:
            arr = np.asarray(value)
            if arr.ndim != 0 or arr.dtype.kind not in "iuf":
                raise TypeError(f"{name} must be a positive real number, got {value!r}") from None
            value = arr.item()
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def scalar_or_array(out: np.ndarray):
    """A 0-d result becomes a Python float (scipy's ``out[()]`` habit)."""
    out = np.asarray(out)
    if out.ndim == 0:
        return float(out)
    return out


def check_count(value, name: str, lo: int, hi: int) -> int:
    """A whole number in [lo, hi]; whole floats such as 1e6 are accepted."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got a bool")
    if isinstance(value, numbers.Integral):
        v = operator.index(value)
    elif isinstance(value, numbers.Real):
        f = float(value)
        if not math.isfinite(f) or f != math.floor(f):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        v = int(f)
    else:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value!r}")
    return v
