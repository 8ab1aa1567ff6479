"""``.npy`` and ``.npz`` readers (numpy's own formats, no pickle ever).

A ``.npy`` file and every *stored* (uncompressed, ``np.savez``) member of a ``.npz``
archive are memory-mapped: reading them costs no memory until the data is touched.
Compressed members (``np.savez_compressed``) are inflated one at a time.
"""

from __future__ import annotations

import ast
import os
import struct
import zipfile
import zlib

import numpy as np

from ._base import Reader, TensorError, TensorFileError, TensorInfo, first_line

__all__ = ["NpyReader", "NpzReader", "parse_npy_header"]

MAGIC = b"\x93NUMPY"
_MAX_HEADER = 1 << 20


def parse_npy_header(head: bytes) -> tuple[int, np.dtype, tuple, bool]:
    """(header length, dtype, shape, fortran_order) from the first bytes of a .npy.

    `head` must hold the whole header (at most 1 MiB is read).  Raises ValueError with
    the reason; object dtypes are refused (they would need pickle).
    """
    if len(head) < 10 or not head.startswith(MAGIC):
        raise ValueError("not a .npy file (no \\x93NUMPY magic)")
    major = head[6]
    if major == 1:
        hlen, start = 10 + struct.unpack("<H", head[8:10])[0], 10
    elif major in (2, 3):
        if len(head) < 12:
            raise ValueError("truncated .npy header")
        hlen, start = 12 + struct.unpack("<I", head[8:12])[0], 12
    else:
        raise ValueError(f"unknown .npy format version {major}.{head[7]}")
    if hlen > len(head):
        raise ValueError(f"truncated .npy header (needs {hlen} bytes, has {len(head)})")
    text = head[start:hlen].decode("utf-8" if major == 3 else "latin1")
    try:
        d = ast.literal_eval(text)
        descr, fortran, shape = d["descr"], d["fortran_order"], d["shape"]
        dtype = np.lib.format.descr_to_dtype(descr)
    except Exception as exc:  # noqa: BLE001 - any malformed header is one reason
        raise ValueError(f"malformed .npy header: {first_line(exc)}") from None
    if not (isinstance(shape, tuple) and all(isinstance(n, int) and n >= 0
                                             for n in shape)):
        raise ValueError(f"malformed .npy header: bad shape {shape!r}")
    if dtype.hasobject:
        raise ValueError("object array (reading it would need pickle, which qerror "
                         "never does)")
    return hlen, dtype, shape, bool(fortran)


def _check_dtype(dtype: np.dtype) -> None:
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype:
        raise ValueError(f"unsupported dtype {dtype} (only bool, integer and real "
                         "floating point tensors are read)")


def _nbytes(dtype, shape) -> int:
    n = dtype.itemsize
    for s in shape:
        n *= s
    return n


def _memmap(path, dtype, shape, fortran, offset):
    if _nbytes(dtype, shape) == 0:
        return np.zeros(shape, dtype=dtype, order="F" if fortran else "C")
    return np.asarray(np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                                order="F" if fortran else "C"))


class NpyReader(Reader):
    """One tensor, named after the file's stem; memory-mapped."""

    format = "npy"

    def __init__(self, path):
        super().__init__(path)
        try:
            with open(self.path, "rb") as f:
                head = f.read(_MAX_HEADER)
                size = os.fstat(f.fileno()).st_size
            hlen, dtype, shape, fortran = parse_npy_header(head)
            _check_dtype(dtype)
        except (OSError, ValueError) as exc:
            raise TensorFileError(self.path, exc) from None
        need = _nbytes(dtype, shape)
        if size - hlen < need:
            raise TensorFileError(self.path, f"truncated: the header promises {need} "
                                  f"bytes of data, the file has {size - hlen}")
        self._spec = (dtype, shape, fortran, hlen)
        name = os.path.splitext(os.path.basename(self.path))[0]
        self.tensors = [TensorInfo(name, shape, str(dtype))]

    def read(self, name: str) -> np.ndarray:
        if name != self.tensors[0].name:
            raise KeyError(name)
        dtype, shape, fortran, hlen = self._spec
        try:
            return _memmap(self.path, dtype, shape, fortran, hlen)
        except (OSError, ValueError) as exc:
            raise TensorFileError(self.path, exc) from None


class NpzReader(Reader):
    """The ``.npy`` members of a zip archive (``np.savez``/``savez_compressed``)."""

    format = "npz"

    def __init__(self, path):
        super().__init__(path)
        try:
            self._zip = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile as exc:
            raise TensorFileError(self.path, f"not a valid .npz (zip) archive: {exc}") \
                from None
        except OSError as exc:
            raise TensorFileError(self.path, exc) from None
        self._members = {}
        self._specs = {}
        for zi in self._zip.infolist():
            if not zi.filename.endswith(".npy"):
                continue
            name = zi.filename[:-4]
            self._members[name] = zi
            try:
                with self._zip.open(zi) as fp:
                    head = fp.read(_MAX_HEADER)
                self._specs[name] = parse_npy_header(head)
                dtype, shape = self._specs[name][1:3]
                self.tensors.append(TensorInfo(name, shape, str(dtype)))
            except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error,
                    NotImplementedError, RuntimeError) as exc:
                self._specs[name] = exc
                self.tensors.append(TensorInfo(name, None, "?"))
        if not self._members and self._zip.namelist():
            raise TensorFileError(self.path, "zip archive without .npy members "
                                  "(not an .npz file)")

    def read(self, name: str) -> np.ndarray:
        zi = self._members[name]
        spec = self._specs[name]
        if isinstance(spec, Exception):
            raise TensorError(self.path, name, spec)
        hlen, dtype, shape, fortran = spec
        try:
            _check_dtype(dtype)
        except ValueError as exc:
            raise TensorError(self.path, name, exc) from None
        need = _nbytes(dtype, shape)
        if zi.file_size - hlen < need:
            raise TensorError(self.path, name, f"truncated: the header promises {need} "
                              f"bytes of data, the member has {zi.file_size - hlen}")
        try:
            if zi.compress_type == zipfile.ZIP_STORED and not zi.flag_bits & 1:
                start = self._data_start(zi)
                if start + zi.file_size > os.path.getsize(self.path):
                    raise ValueError("truncated: the member runs past the end of "
                                     "the file")
                return _memmap(self.path, dtype, shape, fortran, start + hlen)
            with self._zip.open(zi) as fp:
                fp.read(hlen)
                return self._inflate(fp, dtype, shape, fortran, need)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error,
                NotImplementedError, RuntimeError, struct.error) as exc:
            raise TensorError(self.path, name, exc) from None

    def _data_start(self, zi) -> int:
        """File offset of a stored member's bytes (after its local header)."""
        with open(self.path, "rb") as f:
            f.seek(zi.header_offset)
            local = f.read(30)
        if len(local) < 30 or local[:4] != b"PK\x03\x04":
            raise ValueError("corrupt zip: bad local file header")
        n, m = struct.unpack("<HH", local[26:30])
        return zi.header_offset + 30 + n + m

    @staticmethod
    def _inflate(fp, dtype, shape, fortran, need):
        out = np.empty(need, dtype=np.uint8)
        view = memoryview(out)
        done = 0
        while done < need:
            k = fp.readinto(view[done:done + (1 << 24)])
            if not k:
                raise ValueError(f"truncated: {need} bytes of data expected, "
                                 f"{done} found")
            done += k
        fp.read()  # to the end of the member: zipfile checks the CRC there
        order = "F" if fortran else "C"
        return out.view(dtype).reshape(shape, order=order)

    def close(self) -> None:
        self._zip.close()
