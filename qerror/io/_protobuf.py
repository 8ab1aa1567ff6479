"""The protocol-buffers wire format, read only: what the ONNX reader needs.

A message is a sequence of fields, each a *key* varint ``number << 3 | wire type``
followed by its value: a varint (wire type 0), 8 bytes (1), a length varint and that
many bytes (2: strings, bytes, sub-messages, packed repeated scalars) or 4 bytes (5);
wire types 3 and 4 open and close a (deprecated) group.  A message here is a list of
byte spans ``(start, end)`` of one buffer (``bytes`` or a read-only ``mmap``): one span
normally, several when a singular sub-message occurs more than once, which protobuf
defines as merging them, the same as reading their concatenation.  Nothing is copied
until a value is decoded; large fields (``raw_data``) stay spans.

Reference: https://protobuf.dev/programming-guides/encoding/
"""

from __future__ import annotations

import struct

import numpy as np

__all__ = ["WireError", "fields", "varint", "varints", "fixed", "float32", "text",
           "signed64"]

VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5
_MASK64 = (1 << 64) - 1


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message; `pos` is the offset."""

    def __init__(self, pos: int, what: str):
        self.pos = pos
        super().__init__(f"{what} at byte {pos}")


def varint(buf, pos: int, end: int) -> tuple[int, int]:
    """(value, next position) of the varint at `pos` (at most 10 bytes, mod 2**64)."""
    if pos >= end:
        raise WireError(pos, "truncated varint")
    b = buf[pos]
    if b < 0x80:
        return b, pos + 1
    value, shift, start = b & 0x7F, 7, pos
    pos += 1
    while True:
        if pos >= end:
            raise WireError(start, "truncated varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value & _MASK64, pos
        shift += 7
        if shift >= 70:
            raise WireError(start, "varint longer than 10 bytes")


def signed64(v: int) -> int:
    """A varint's value read as a two's-complement int64 (protobuf's int64)."""
    return v - (1 << 64) if v >> 63 else v


def fields(buf, spans):
    """Yield ``(number, wire type, value)`` for every field of a message.

    `value` is the integer of a varint, and the ``(start, end)`` span of the bytes of
    every other wire type (the payload of a length-delimited field, the 4 or 8 bytes
    of a fixed one).  Groups are skipped.  Raises :class:`WireError` on malformed or
    truncated input.
    """
    for start, end in spans:
        pos = start
        while pos < end:
            key, pos = varint(buf, pos, end)
            number, wt = key >> 3, key & 7
            if number == 0:
                raise WireError(pos, "field number 0")
            if wt == VARINT:
                value, pos = varint(buf, pos, end)
                yield number, wt, value
                continue
            if wt == LEN:
                n, at = varint(buf, pos, end)
                pos = at + n
            elif wt == I64:
                at, pos = pos, pos + 8
            elif wt == I32:
                at, pos = pos, pos + 4
            elif wt == SGROUP:
                pos = _skip_group(buf, pos, end, number)
                continue
            else:
                raise WireError(pos, f"wire type {wt}")
            if pos > end:
                raise WireError(at, "field runs past the end of its message")
            yield number, wt, (at, pos)


def _skip_group(buf, pos: int, end: int, number: int) -> int:
    depth = [number]
    while depth:
        key, pos = varint(buf, pos, end)
        wt = key & 7
        if wt == VARINT:
            _, pos = varint(buf, pos, end)
        elif wt == LEN:
            n, pos = varint(buf, pos, end)
            pos += n
        elif wt in (I64, I32):
            pos += 8 if wt == I64 else 4
        elif wt == SGROUP:
            depth.append(key >> 3)
        elif wt == EGROUP and depth[-1] == key >> 3:
            depth.pop()
        else:
            raise WireError(pos, "malformed group")
        if pos > end:
            raise WireError(pos, "group runs past the end of its message")
    return pos


def text(buf, span) -> str:
    """A string field (UTF-8; undecodable bytes replaced)."""
    return bytes(buf[span[0]:span[1]]).decode("utf-8", "replace")


def varints(buf, pieces) -> np.ndarray:
    """The values (uint64, mod 2**64) of a repeated varint field.

    `pieces` are the field's occurrences in order, ``(wire type, value)``: an integer
    (unpacked, wire type 0) or the span of a packed run (wire type 2).  Decoded with
    numpy: a varint ends at each byte below 0x80.
    """
    parts = []
    for wt, value in pieces:
        if wt == VARINT:
            parts.append(np.array([value], dtype=np.uint64))
            continue
        b = np.frombuffer(buf, dtype=np.uint8, count=value[1] - value[0],
                          offset=value[0])
        if b.size == 0:
            continue
        if b[-1] & 0x80:
            raise WireError(value[1], "truncated packed varint")
        last = np.flatnonzero(b < 0x80)
        first = np.empty_like(last)
        first[0] = 0
        first[1:] = last[:-1] + 1
        length = last - first + 1
        if length.max() > 10:
            raise WireError(value[0], "varint longer than 10 bytes")
        pos = np.arange(b.size) - np.repeat(first, length)
        v = (b & 0x7F).astype(np.uint64) << (7 * pos).astype(np.uint64)
        parts.append(np.bitwise_or.reduceat(v, first))
    if not parts:
        return np.zeros(0, dtype=np.uint64)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def fixed(buf, pieces, dtype) -> np.ndarray:
    """The values of a repeated fixed-width field (``float``, ``double``) as `dtype`
    (little endian, e.g. ``"<f4"``): packed runs and single values, in order."""
    dtype = np.dtype(dtype)
    parts = []
    for _, (s, e) in pieces:
        if (e - s) % dtype.itemsize:
            raise WireError(s, f"packed run of {e - s} bytes is not a whole number "
                            f"of {dtype.itemsize}-byte values")
        parts.append(np.frombuffer(buf, dtype=dtype, count=(e - s) // dtype.itemsize,
                                   offset=s))
    if not parts:
        return np.zeros(0, dtype=dtype)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def float32(buf, span) -> float:
    """The single float of a fixed32 field."""
    return struct.unpack_from("<f", buf, span[0])[0]
