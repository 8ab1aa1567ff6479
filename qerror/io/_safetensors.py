"""``.safetensors`` reader, in numpy alone (the ``safetensors`` package is not needed).

The format is an 8-byte little-endian header length N, N bytes of JSON mapping each
tensor name to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets into the
data that follows the header), and the raw little-endian data.  Every tensor is
memory-mapped; bfloat16 and the two float8 types, which numpy lacks, come back as
float32, converted exactly (bf16 by a 16-bit shift, float8 by a 256-entry table), so
only the tensor being converted occupies memory.
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np

from ._base import (
    Reader,
    TensorError,
    TensorFileError,
    TensorInfo,
    bf16_to_f32,
    fp8_to_f32,
)

__all__ = ["SafetensorsReader", "DTYPES"]

#: safetensors dtype code -> (numpy storage dtype, name reported in TensorInfo)
DTYPES = {
    "BOOL": ("|b1", "bool"), "U8": ("|u1", "uint8"), "I8": ("|i1", "int8"),
    "U16": ("<u2", "uint16"), "I16": ("<i2", "int16"), "U32": ("<u4", "uint32"),
    "I32": ("<i4", "int32"), "U64": ("<u8", "uint64"), "I64": ("<i8", "int64"),
    "F16": ("<f2", "float16"), "F32": ("<f4", "float32"), "F64": ("<f8", "float64"),
    "BF16": ("<u2", "bfloat16"), "F8_E4M3": ("|u1", "float8_e4m3fn"),
    "F8_E5M2": ("|u1", "float8_e5m2"),
}
_MAX_HEADER = 100_000_000  # the reference implementation's limit


class SafetensorsReader(Reader):
    format = "safetensors"

    def __init__(self, path):
        super().__init__(path)
        try:
            with open(self.path, "rb") as f:
                self._size = os.fstat(f.fileno()).st_size
                if self._size < 8:
                    raise TensorFileError(self.path, f"too short for a .safetensors "
                                          f"file ({self._size} bytes)")
                n = struct.unpack("<Q", f.read(8))[0]
                if n > min(self._size - 8, _MAX_HEADER):
                    raise TensorFileError(self.path, f"header length {n} exceeds the "
                                          "file (truncated, or not .safetensors)")
                raw = f.read(n)
        except OSError as exc:
            raise TensorFileError(self.path, exc) from None
        try:
            header = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            raise TensorFileError(self.path, f"header is not valid JSON ({exc}); "
                                  "not a .safetensors file?") from None
        if not isinstance(header, dict):
            raise TensorFileError(self.path, "header is not a JSON object")
        meta = header.pop("__metadata__", None)
        self.metadata = meta if isinstance(meta, dict) else {}
        self._start = 8 + n
        self._entries = {}
        order = []
        for name, e in header.items():
            info, spec = self._parse_entry(name, e)
            self._entries[name] = spec
            offs = e.get("data_offsets") if isinstance(e, dict) else None
            begin = offs[0] if isinstance(offs, list) and offs and \
                isinstance(offs[0], int) else -1
            order.append((begin, len(order), info))
        # data order: sequential reads of the file
        self.tensors = [info for _, _, info in sorted(order, key=lambda t: t[:2])]

    def _parse_entry(self, name, e):
        if not isinstance(e, dict):
            return TensorInfo(name, None, "?"), "header entry is not a JSON object"
        code, shape, offs = e.get("dtype"), e.get("shape"), e.get("data_offsets")
        if not (isinstance(shape, list) and all(isinstance(s, int) and s >= 0
                                                for s in shape)):
            return TensorInfo(name, None, str(code)), f"bad shape {shape!r} in header"
        shape = tuple(shape)
        if code not in DTYPES:
            return TensorInfo(name, shape, str(code)), (
                f"unsupported dtype {code!r} (read: {', '.join(DTYPES)})")
        if not (isinstance(offs, list) and len(offs) == 2
                and all(isinstance(o, int) for o in offs) and 0 <= offs[0] <= offs[1]):
            return TensorInfo(name, shape, DTYPES[code][1]), \
                f"bad data_offsets {offs!r} in header"
        return TensorInfo(name, shape, DTYPES[code][1]), (code, shape, tuple(offs))

    def read(self, name: str) -> np.ndarray:
        spec = self._entries[name]
        if isinstance(spec, str):
            raise TensorError(self.path, name, spec)
        code, shape, (begin, end) = spec
        storage = np.dtype(DTYPES[code][0])
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        need = count * storage.itemsize
        if end - begin != need:
            raise TensorError(self.path, name, f"data_offsets span {end - begin} bytes "
                              f"but {code} x {list(shape)} needs {need}")
        if self._start + end > self._size:
            raise TensorError(self.path, name, f"truncated: data ends at byte "
                              f"{self._start + end}, the file has {self._size}")
        if need == 0:
            raw = np.zeros(shape, dtype=storage)
        else:
            try:
                raw = np.memmap(self.path, dtype=storage, mode="r",
                                offset=self._start + begin, shape=shape)
            except (OSError, ValueError) as exc:
                raise TensorError(self.path, name, exc) from None
            raw = np.asarray(raw)
        if code == "BF16":
            return bf16_to_f32(raw)
        if code == "F8_E4M3":
            return fp8_to_f32(raw, "e4m3fn")
        if code == "F8_E5M2":
            return fp8_to_f32(raw, "e5m2")
        return raw
