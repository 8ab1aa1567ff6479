"""Shared pieces of the tensor-file readers: errors, the tensor directory entry, the
reader base class and exact conversions of the narrow float types numpy lacks."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

__all__ = ["TensorFileError", "TensorError", "TensorInfo", "Reader", "bf16_to_f32",
           "fp8_to_f32", "check_real", "first_line"]


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


def _fp8_table(exp_bits: int, man_bits: int, bias: int, ieee: bool) -> np.ndarray:
    """Value of each of the 256 bit patterns of an 8-bit float, as float32."""
    table = np.empty(256, dtype=np.float32)
    top = (1 << exp_bits) - 1
    for b in range(256):
        sign = -1.0 if b & 0x80 else 1.0
        e = (b >> man_bits) & top
        m = b & ((1 << man_bits) - 1)
        if ieee and e == top:                       # E5M2: IEEE inf / NaN
            v = math.inf if m == 0 else math.nan
        elif not ieee and e == top and m == (1 << man_bits) - 1:
            v = math.nan                            # E4M3FN: only S.1111.111 is NaN
        elif e == 0:
            v = m / (1 << man_bits) * 2.0 ** (1 - bias)
        else:
            v = (1 + m / (1 << man_bits)) * 2.0 ** (e - bias)
        table[b] = sign * v
    return table


_FP8 = {}


def fp8_to_f32(bits8: np.ndarray, kind: str) -> np.ndarray:
    """8-bit float bit patterns (uint8) to float32, exactly, by table look-up.

    `kind` is ``"e4m3fn"`` (OCP E4M3, no infinities) or ``"e5m2"``.
    """
    if kind not in _FP8:
        _FP8[kind] = (_fp8_table(4, 3, 7, False) if kind == "e4m3fn"
                      else _fp8_table(5, 2, 15, True))
    return _FP8[kind][np.asarray(bits8, dtype=np.uint8)]
