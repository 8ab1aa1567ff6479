"""Shared pieces of the tensor-file readers: errors, the tensor directory entry, the
reader base class and exact conversions of the narrow float types numpy lacks."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

__all__ = ["TensorFileError", "TensorError", "TensorInfo", "Reader", "bf16_to_f32",
           "fp8_to_f32", "minifloat_to_f32", "MINIFLOATS", "check_real",
           "first_line"]


class TensorFileError(ValueError):
    """A tensor file (or one tensor in it) cannot be read.

    ``str(exc)`` is one line, ``"PATH: REASON"`` (``"PATH: tensor 'NAME': REASON"``
    for one tensor); the attributes `path`, `reason` and `name` (``None`` for the
    whole file) hold the parts.
    """

    def __init__(self, path, reason, name: str | None = None):
        self.path = os.fspath(path)
        self.reason = first_line(reason)
        self.name = name
        where = self.path if name is None else f"{self.path}: tensor {name!r}"
        super().__init__(f"{where}: {self.reason}")


class TensorError(TensorFileError):
    """One tensor of a file cannot be read; the file's other tensors may be fine."""

    def __init__(self, path, name: str, reason):
        super().__init__(path, reason, name=name)


@dataclass(frozen=True)
class TensorInfo:
    """Directory entry of one tensor, known without reading its data.

    `dtype` is the stored element type's name (``"float32"``, ``"bfloat16"``,
    ``"float8_e4m3fn"``, ...); `shape` is ``None`` when the entry itself is unreadable
    (reading the tensor then raises :class:`TensorError` with the reason).
    """

    name: str
    shape: tuple | None
    dtype: str

    @property
    def size(self) -> int:
        """Number of elements (0 when the shape is unknown)."""
        return 0 if self.shape is None else math.prod(self.shape)


class Reader:
    """Base class: a file's tensor directory (`tensors`) and one-tensor reads."""

    format = ""

    def __init__(self, path):
        self.path = os.fspath(path)
        self.tensors: list[TensorInfo] = []

    def read(self, name: str) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Release the file (memory-mapped arrays already returned stay valid)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self):
        for info in self.tensors:
            yield info.name, self.read(info.name)

    def __len__(self) -> int:
        return len(self.tensors)

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.path!r}: {len(self.tensors)} "
                f"{self.format} tensor(s)>")

    # helpers for subclasses
    def _error(self, name: str, reason: str) -> TensorError:
        return TensorError(self.path, name, reason)


def first_line(text) -> str:
    """The first non-empty line of `text` (error messages stay one line)."""
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return str(text).strip() or "unknown error"


def check_real(arr: np.ndarray, path: str, name: str) -> np.ndarray:
    """`arr` if its dtype is bool, integer or real floating point, else TensorError."""
    if arr.dtype.kind in "biuf":
        return arr
    kind = {"O": "object array", "c": "complex", "U": "string", "S": "bytes",
            "V": "structured/void", "M": "datetime", "m": "timedelta"}
    what = kind.get(arr.dtype.kind, "non-numeric")
    raise TensorError(path, name, f"unsupported dtype {arr.dtype} ({what}; "
                      "only bool, integer and real floating point tensors are read)")


def bf16_to_f32(bits16: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns (uint16) to float32, exactly: bf16 is the top half of f32."""
    out = np.asarray(bits16, dtype="<u2").astype(np.uint32)
    out <<= 16
    return out.view(np.float32)


#: narrow float formats numpy lacks: name -> (exponent bits, mantissa bits, bias,
#: special values).  Specials: "ieee" (top exponent: inf and NaN), "fn" (no inf; only
#: S.1111.111 is NaN), "fnuz" (no inf, no -0: the pattern of -0 is the one NaN),
#: "e8m0" (no sign, no mantissa: 2**(e - 127), all ones NaN), None (every pattern a
#: finite number).  The names are ml_dtypes'; the OCP and ONNX specifications define
#: the formats.
MINIFLOATS = {
    "float8_e4m3fn": (4, 3, 7, "fn"),
    "float8_e4m3fnuz": (4, 3, 8, "fnuz"),
    "float8_e5m2": (5, 2, 15, "ieee"),
    "float8_e5m2fnuz": (5, 2, 16, "fnuz"),
    "float8_e8m0fnu": (8, 0, 127, "e8m0"),
    "float6_e2m3fn": (2, 3, 1, None),
    "float6_e3m2fn": (3, 2, 3, None),
    "float4_e2m1fn": (2, 1, 1, None),
}


def _minifloat_table(exp_bits: int, man_bits: int, bias: int, special) -> np.ndarray:
    """Value of each bit pattern of a narrow float, as float32 (exact)."""
    if special == "e8m0":
        table = np.full(256, np.nan, dtype=np.float32)
        table[:255] = np.ldexp(1.0, np.arange(255) - bias)   # 2**-127 .. 2**127
        return table
    width = 1 + exp_bits + man_bits
    table = np.empty(1 << width, dtype=np.float32)
    top, mtop = (1 << exp_bits) - 1, (1 << man_bits) - 1
    for b in range(1 << width):
        negative = bool(b >> (width - 1))
        e, m = (b >> man_bits) & top, b & mtop
        if special == "ieee" and e == top:
            v = math.inf if m == 0 else math.nan
        elif special == "fn" and e == top and m == mtop:
            v = math.nan
        elif special == "fnuz" and negative and e == 0 and m == 0:
            v = math.nan
        elif e == 0:
            v = m / (1 << man_bits) * 2.0 ** (1 - bias)
        else:
            v = (1 + m / (1 << man_bits)) * 2.0 ** (e - bias)
        table[b] = -v if negative else v
    return table


_TABLES: dict = {}


def minifloat_to_f32(bits: np.ndarray, name: str) -> np.ndarray:
    """Bit patterns (unsigned integers) of the narrow float `name` (a key of
    :data:`MINIFLOATS`) to float32, exactly, by table look-up."""
    if name not in _TABLES:
        _TABLES[name] = _minifloat_table(*MINIFLOATS[name])
    return _TABLES[name][np.asarray(bits, dtype=np.uint8)]


def fp8_to_f32(bits8: np.ndarray, kind: str) -> np.ndarray:
    """8-bit float bit patterns (uint8) to float32, exactly, by table look-up.

    `kind` is ``"e4m3fn"`` (OCP E4M3, no infinities) or ``"e5m2"``.
    """
    return minifloat_to_f32(bits8, "float8_" + kind)
