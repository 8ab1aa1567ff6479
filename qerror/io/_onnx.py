"""ONNX reader: the protobuf file read directly, without the ``onnx`` package.

Weights live in the graph's initializers *and* in ``Constant`` nodes (some exporters
store every weight as a ``Constant``); both are read, including those of sub-graphs
(``If``/``Loop`` bodies).  A ``Constant`` tensor is named by the node's output, the
name the consuming node (e.g. ``Conv``) refers to; its value is the ``value`` tensor
or a ``value_float(s)`` / ``value_int(s)`` list (float32 / int64).  External data
(models over 2 GB) is memory-mapped one tensor at a time from the files next to the
model (a location must be a relative path inside the model's directory).

Only the fields that locate tensors are parsed (``ModelProto.graph`` ->
``GraphProto.initializer`` and ``node`` -> ``NodeProto.attribute`` ->
``TensorProto``), from a read-only memory map of the file: raw data stays in the
file until a tensor is read, and an aligned little-endian ``raw_data`` tensor comes
back memory-mapped (an unaligned one is copied; every array returned is read-only).
Every ONNX element type of real numbers is read: float32/64, float16, bfloat16, the
8-bit floats (E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ, E8M0), FP6 and FP4 (converted to
float32 exactly), the integer types, 4- and 2-bit integers (to int8) and bool, from
``raw_data``, from the typed fields (``float_data``, ``int32_data``, ``int64_data``,
``double_data``, ``uint64_data``) or from external data, as
``onnx.numpy_helper.to_array`` defines them (the tests compare bit for bit).

Reading the file this way takes milliseconds, where ``import onnx`` alone takes
0.6-0.8 s (it loads ml_dtypes and protobuf), most of ``qerror analyze``'s start-up on
a small model.
"""

from __future__ import annotations

import math
import mmap
import os

import numpy as np

from ._base import (
    Reader,
    TensorError,
    TensorFileError,
    TensorInfo,
    bf16_to_f32,
    check_real,
    minifloat_to_f32,
)
from ._protobuf import (
    LEN,
    VARINT,
    WireError,
    fields,
    fixed,
    float32,
    signed64,
    text,
    varints,
)

__all__ = ["OnnxReader", "DATA_TYPES"]

# TensorProto fields (onnx.proto)
_DIMS, _TYPE, _SEGMENT, _FLOATS, _INT32S, _STRINGS, _INT64S, _NAME, _RAW, _DOUBLES, \
    _UINT64S, _EXTERNAL, _LOCATION = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14
_TYPED = (_FLOATS, _INT32S, _INT64S, _DOUBLES, _UINT64S)
_EXTERNAL_LOCATION = 1          # TensorProto.DataLocation.EXTERNAL
_GRAPH, _GRAPHS = 5, 10         # AttributeProto.AttributeType

#: ONNX data type -> (name, storage: raw dtype or packed bit width, typed field,
#: conversion).  Conversions: "bf16", a :data:`MINIFLOATS` name (to float32), "sint"
#: (sign-extend a packed signed integer to int8), "int8" (a packed unsigned one, as
#: before: 4- and 2-bit integers come back as int8), "bool", None.
DATA_TYPES = {
    1: ("float32", "<f4", _FLOATS, None),
    2: ("uint8", "u1", _INT32S, None),
    3: ("int8", "i1", _INT32S, None),
    4: ("uint16", "<u2", _INT32S, None),
    5: ("int16", "<i2", _INT32S, None),
    6: ("int32", "<i4", _INT32S, None),
    7: ("int64", "<i8", _INT64S, None),
    9: ("bool", "u1", _INT32S, "bool"),
    10: ("float16", "<f2", _INT32S, None),
    11: ("float64", "<f8", _DOUBLES, None),
    12: ("uint32", "<u4", _UINT64S, None),
    13: ("uint64", "<u8", _UINT64S, None),
    16: ("bfloat16", "<u2", _INT32S, "bf16"),
    17: ("float8_e4m3fn", "u1", _INT32S, "float8_e4m3fn"),
    18: ("float8_e4m3fnuz", "u1", _INT32S, "float8_e4m3fnuz"),
    19: ("float8_e5m2", "u1", _INT32S, "float8_e5m2"),
    20: ("float8_e5m2fnuz", "u1", _INT32S, "float8_e5m2fnuz"),
    21: ("uint4", 4, _INT32S, "int8"),
    22: ("int4", 4, _INT32S, "sint"),
    23: ("float4_e2m1fn", 4, _INT32S, "float4_e2m1fn"),
    24: ("float8_e8m0fnu", "u1", _INT32S, "float8_e8m0fnu"),
    25: ("uint2", 2, _INT32S, "int8"),
    26: ("int2", 2, _INT32S, "sint"),
    27: ("float6_e2m3fn", 6, _INT32S, "float6_e2m3fn"),
    28: ("float6_e3m2fn", 6, _INT32S, "float6_e3m2fn"),
}
_UNREAD = {0: "undefined", 8: "string", 14: "complex64", 15: "complex128"}


class _Bad(ValueError):
    """One tensor cannot be decoded (the reason)."""


class _Tensor:
    """What a TensorProto says, as spans of the file; decoded by :meth:`decode`."""

    __slots__ = ("name", "dims", "code", "raw", "typed", "external", "location",
                 "segment", "array")

    def __init__(self, buf, spans):
        self.name, self.code, self.raw, self.location, self.segment = "", 0, None, 0, False
        self.typed: dict = {}
        self.external: list = []
        self.array = None
        dims = []
        for num, wt, v in fields(buf, spans):
            if num == _DIMS and wt in (VARINT, LEN):
                dims.append((wt, v))
            elif num == _TYPE and wt == VARINT:
                self.code = v & 0xFFFFFFFF
            elif num == _NAME and wt == LEN:
                self.name = text(buf, v)
            elif num == _RAW and wt == LEN:
                self.raw = v
            elif num in _TYPED:
                self.typed.setdefault(num, []).append((wt, v))
            elif num == _EXTERNAL and wt == LEN:
                self.external.append(_key_value(buf, v))
            elif num == _LOCATION and wt == VARINT:
                self.location = v & 0xFFFFFFFF
            elif num == _SEGMENT and wt == LEN:
                self.segment = True
        self.dims = tuple(int(d) for d in varints(buf, dims).view(np.int64))

    @classmethod
    def of(cls, array: np.ndarray, name: str = "") -> _Tensor:
        """A tensor given by value (a Constant's value_float(s) / value_int(s))."""
        t = cls.__new__(cls)
        t.name, t.dims, t.array = name, array.shape, array
        t.code = 1 if array.dtype == np.float32 else 7
        return t

    @property
    def dtype(self) -> str:
        if self.code in DATA_TYPES:
            return DATA_TYPES[self.code][0]
        return _UNREAD.get(self.code, f"onnx data type {self.code}")

    def decode(self, buf, base_dir: str) -> np.ndarray:
        if self.array is not None:
            return self.array
        if self.segment:
            raise _Bad("segmented tensors are not supported")
        if self.code not in DATA_TYPES:
            raise _Bad(f"unsupported data type {self.dtype} (only real numbers and "
                       "bool are read)")
        if any(d < 0 for d in self.dims):
            raise _Bad(f"negative dimension in shape {list(self.dims)}")
        n = math.prod(self.dims)
        _, storage, field, _ = DATA_TYPES[self.code]
        if self.location == _EXTERNAL_LOCATION:
            arr = self._stored(_external(self.external, base_dir), storage, n)
        elif self.raw is not None:
            s, e = self.raw
            arr = self._stored(np.frombuffer(buf, np.uint8, e - s, s) if e > s
                               else np.zeros(0, np.uint8), storage, n)
        else:
            arr = self._typed(buf, storage, field, n)
        return self._convert(arr.reshape(self.dims))

    def _stored(self, b: np.ndarray, storage, n: int) -> np.ndarray:
        """Elements from the little-endian bytes `b` (raw or external data)."""
        if isinstance(storage, int):                     # packed 2, 4 or 6 bits
            need = -(-n * storage // 8)
            if b.size != need:
                raise _Bad(f"holds {b.size} bytes, {self.dtype} of shape "
                           f"{list(self.dims)} needs {need}")
            return _unpack(b, storage, n)
        dtype = np.dtype(storage)
        if b.size != n * dtype.itemsize:
            raise _Bad(f"holds {b.size} bytes, {self.dtype} of shape "
                       f"{list(self.dims)} needs {n * dtype.itemsize}")
        arr = b.view(dtype)
        if not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        return np.require(arr, requirements="A")    # unaligned: copied

    def _typed(self, buf, storage, field, n: int) -> np.ndarray:
        pieces = self.typed.get(field, [])
        if field in (_FLOATS, _DOUBLES):
            vals = fixed(buf, pieces, "<f4" if field == _FLOATS else "<f8")
        else:
            vals = varints(buf, pieces)        # uint64, two's complement
            if field == _INT32S:               # protobuf int32: the low 32 bits
                vals = vals.astype(np.uint32)
        if isinstance(storage, int) and storage != 6:  # packed bytes, one per entry
            need = -(-n * storage // 8)
            if vals.size != need:
                raise _Bad(f"holds {vals.size} packed bytes, {self.dtype} of shape "
                           f"{list(self.dims)} needs {need}")
            return _unpack(vals.astype(np.uint8), storage, n)
        if vals.size != n:
            raise _Bad(f"holds {vals.size} values, shape {list(self.dims)} needs {n}")
        if storage == 6:                       # one 6-bit value per entry
            return vals.astype(np.uint8) & np.uint8(0x3F)
        dtype = np.dtype(storage).newbyteorder("=")
        if vals.dtype.kind == "f":
            return vals.astype(dtype)
        # integers: the low bits, reinterpreted (as onnx.numpy_helper does)
        return vals.astype(np.dtype(f"u{dtype.itemsize}")).view(dtype)

    def _convert(self, arr: np.ndarray) -> np.ndarray:
        how = DATA_TYPES[self.code][3]
        if how is None:
            return arr
        if how == "bool":
            return arr != 0
        if how == "bf16":
            return bf16_to_f32(arr)
        if how == "int8":
            return arr.astype(np.int8)
        if how == "sint":
            bits = 4 if self.code == 22 else 2
            half = np.int8(1 << (bits - 1))
            return (arr.astype(np.int8) ^ half) - half
        return minifloat_to_f32(arr, how)


def _unpack(b: np.ndarray, bits: int, n: int) -> np.ndarray:
    """`n` unsigned `bits`-bit values packed little-endian (first value in the lowest
    bits of the first byte), as uint8."""
    stream = np.unpackbits(np.asarray(b, dtype=np.uint8), bitorder="little")
    groups = stream[:n * bits].reshape(n, bits)
    return (groups << np.arange(bits, dtype=np.uint8)).sum(axis=1, dtype=np.uint8)


def _key_value(buf, span) -> tuple[str, str]:
    key = value = ""
    for num, wt, v in fields(buf, [span]):
        if wt == LEN and num == 1:
            key = text(buf, v)
        elif wt == LEN and num == 2:
            value = text(buf, v)
    return key, value


def _external(entries, base_dir: str) -> np.ndarray:
    """The bytes of an external tensor, memory-mapped ('location', 'offset', 'length'
    as the ONNX external-data specification defines them)."""
    info = dict(entries)
    location = info.get("location", "")
    if not location:
        raise _Bad("external data without a location")
    parts = location.replace("\\", "/").split("/")
    if os.path.isabs(location) or os.path.splitdrive(location)[0] or ".." in parts:
        raise _Bad(f"external data location {location!r} is not a relative path "
                   "inside the model's directory")
    base = os.path.realpath(base_dir)
    path = os.path.realpath(os.path.join(base, location))
    if os.path.commonpath([base, path]) != base:
        raise _Bad(f"external data location {location!r} leads outside the model's "
                   "directory")
    try:
        offset = int(info.get("offset", 0) or 0)
        length = info.get("length")
        length = None if length in (None, "") else int(length)
    except ValueError:
        raise _Bad("external data offset/length is not an integer") from None
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise _Bad(f"external data file {location!r}: {exc.strerror or exc}") from None
    if offset < 0 or offset > size or (length is not None and length < 0):
        raise _Bad(f"external data offset {offset} / length {length} outside "
                   f"{location!r} ({size} bytes)")
    if length is None:
        length = size - offset
    if length > size - offset:
        raise _Bad(f"external data of {length} bytes from offset {offset} runs past "
                   f"the end of {location!r} ({size} bytes)")
    if length == 0:
        return np.zeros(0, dtype=np.uint8)
    return np.memmap(path, dtype=np.uint8, mode="r", offset=offset, shape=(length,))


_CONSTANT_LISTS = {"value_float": (np.float32, True), "value_floats": (np.float32, False),
                   "value_int": (np.int64, True), "value_ints": (np.int64, False)}


class OnnxReader(Reader):
    format = "onnx"

    def __init__(self, path):
        super().__init__(path)
        try:
            with open(self.path, "rb") as f:
                self._buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as exc:
            raise TensorFileError(self.path, exc.strerror or exc) from None
        except ValueError:                             # an empty file
            raise TensorFileError(self.path, "not a valid ONNX model (empty file)") \
                from None
        self._dir = os.path.dirname(os.path.abspath(self.path))
        self._tensors: dict[str, _Tensor] = {}
        #: tensor name -> "initializer" or "constant" (where it was found)
        self.sources: dict[str, str] = {}
        try:
            graph = [v for num, wt, v in fields(self._buf, [(0, len(self._buf))])
                     if num == 7 and wt == LEN]           # ModelProto.graph
            if not graph:
                raise TensorFileError(self.path, "not a valid ONNX model (no graph)")
            self._walk(graph)
        except WireError as exc:
            self.close()
            raise TensorFileError(self.path, f"not a valid ONNX model (corrupt or "
                                  f"truncated protobuf: {exc})") from None

    def _add(self, name: str, tensor: _Tensor, source: str) -> None:
        base, k = name or "<unnamed>", 1
        while name in self._tensors or not name:
            k += 1
            name = f"{base}#{k}"
        self._tensors[name] = tensor
        self.sources[name] = source
        shape = None if any(d < 0 for d in tensor.dims) else tensor.dims
        self.tensors.append(TensorInfo(name, shape, tensor.dtype))

    def _walk(self, spans) -> None:
        buf, inits, nodes = self._buf, [], []
        for num, wt, v in fields(buf, spans):
            if wt == LEN and num == 5:                    # GraphProto.initializer
                inits.append(v)
            elif wt == LEN and num == 1:                  # GraphProto.node
                nodes.append(v)
        for span in inits:
            t = _Tensor(buf, [span])
            self._add(t.name, t, "initializer")
        for span in nodes:
            self._node(span)

    def _node(self, span) -> None:
        buf, op, out, attrs = self._buf, "", None, []
        for num, wt, v in fields(buf, [span]):
            if wt != LEN:
                continue
            if num == 4:                                  # op_type
                op = text(buf, v)
            elif num == 2 and out is None:                # output[0]
                out = text(buf, v)
            elif num == 5:                                # attribute
                attrs.append(v)
        for a in attrs:
            name, kind, t, g, graphs, f, i, floats, ints = "", 0, [], [], [], 0.0, 0, \
                [], []
            for num, wt, v in fields(buf, [a]):
                if num == 1 and wt == LEN:
                    name = text(buf, v)
                elif num == 20 and wt == VARINT:
                    kind = v
                elif num == 5 and wt == LEN:
                    t.append(v)
                elif num == 6 and wt == LEN:
                    g.append(v)
                elif num == 11 and wt == LEN:
                    graphs.append(v)
                elif num == 2 and wt == 5:
                    f = float32(buf, v)
                elif num == 3 and wt == VARINT:
                    i = signed64(v)
                elif num == 7 and wt in (5, LEN):
                    floats.append((wt, v))
                elif num == 8 and wt in (VARINT, LEN):
                    ints.append((wt, v))
            if op == "Constant" and out is not None and name == "value":
                self._add(out, _Tensor(buf, t), "constant")
            elif op == "Constant" and out is not None and name in _CONSTANT_LISTS:
                dtype, scalar = _CONSTANT_LISTS[name]
                if scalar:
                    arr = np.array(f if dtype is np.float32 else i, dtype=dtype)
                elif dtype is np.float32:
                    arr = fixed(buf, floats, "<f4").astype(np.float32)
                else:
                    arr = varints(buf, ints).view(np.int64)
                self._add(out, _Tensor.of(arr), "constant")
            elif kind == _GRAPH and g:
                self._walk(g)
            elif kind == _GRAPHS:
                for sub in graphs:
                    self._walk([sub])

    def read(self, name: str) -> np.ndarray:
        tensor = self._tensors[name]
        try:
            arr = tensor.decode(self._buf, self._dir)
        except (_Bad, WireError) as exc:
            raise TensorError(self.path, name, str(exc)) from None
        if arr.flags.writeable:       # read-only, mapped or not: one kind of array
            arr = arr.view()
            arr.flags.writeable = False
        return check_real(arr, self.path, name)

    def close(self) -> None:
        buf = getattr(self, "_buf", None)
        if buf is not None:
            try:
                buf.close()
            except BufferError:    # arrays still map it: it closes when they go
                pass
