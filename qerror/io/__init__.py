"""Tensors from model files, one at a time: ``.npy``, ``.npz``, ``.safetensors``,
ONNX and PyTorch state dicts.

>>> from qerror.io import read_tensors                       # doctest: +SKIP
>>> for name, w in read_tensors("model.safetensors"):        # doctest: +SKIP
...     print(name, w.shape, w.dtype)

Every reader streams: the file's directory (names, shapes, dtypes) is read first and
each tensor's data only when it is asked for, memory-mapped where the format allows
(``.npy``, stored ``.npz`` members, ``.safetensors``, ONNX, zip-format ``.pt``), so the
peak memory is about the largest tensor, not the file.  ONNX files are read by
qerror's own protobuf reader (:mod:`qerror.io._onnx`), without the ``onnx`` package.

Tensors come back as numpy arrays of a bool, integer or real floating dtype;
bfloat16 and float8 tensors are converted to float32 exactly.  Nothing is ever
unpickled: ``.npy``/``.npz`` object arrays are refused and PyTorch files are loaded
with ``weights_only=True``.  A file that cannot be read raises
:class:`TensorFileError`, one tensor that cannot be read :class:`TensorError` (a
subclass), both with a one-line message naming the file (and tensor) and the reason.

Optional package: ``torch`` for ``.pt``/``.pth``; every other format needs numpy
alone.
"""

from __future__ import annotations

import importlib
import os
import struct
import zipfile

from ._base import Reader, TensorError, TensorFileError, TensorInfo

__all__ = ["FORMATS", "Reader", "TensorError", "TensorFileError", "TensorInfo",
           "detect_format", "list_tensors", "open_tensors", "read_tensors"]

#: format name -> (reader module, class, file extensions)
FORMATS = {
    "npy": ("_npy", "NpyReader", (".npy",)),
    "npz": ("_npy", "NpzReader", (".npz",)),
    "safetensors": ("_safetensors", "SafetensorsReader", (".safetensors",)),
    "onnx": ("_onnx", "OnnxReader", (".onnx",)),
    "torch": ("_torch", "TorchReader", (".pt", ".pth")),
}


def detect_format(path) -> str:
    """Format name of `path`: by extension, else by the first bytes of the file.

    Raises :class:`TensorFileError` if the file is missing or of no known format.
    """
    path = os.fspath(path)
    low = path.lower()
    for fmt, (_, _, exts) in FORMATS.items():
        if low.endswith(exts):
            return fmt
    try:
        with open(path, "rb") as f:
            head = f.read(9)
            size = os.fstat(f.fileno()).st_size
    except OSError as exc:
        raise TensorFileError(path, exc.strerror or exc) from None
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except zipfile.BadZipFile:
            names = []
        if any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
            return "torch"
        if any(n.endswith(".npy") for n in names):
            return "npz"
    if len(head) == 9 and head[8:9] == b"{" and \
            struct.unpack("<Q", head[:8])[0] <= size - 8:
        return "safetensors"
    raise TensorFileError(path, "unsupported file type (read: .npy, .npz, "
                          ".safetensors, .onnx, .pt/.pth)")


def open_tensors(path, format: str | None = None) -> Reader:  # noqa: A002
    """Open a tensor file: a :class:`Reader` with the directory and lazy reads.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    format : {"npy", "npz", "safetensors", "onnx", "torch"}, optional
        Overrides detection (:func:`detect_format`).

    Returns
    -------
    Reader
        ``reader.tensors`` is the list of :class:`TensorInfo` (name, shape, dtype) in
        file order; ``reader.read(name)`` returns one tensor as a numpy array (raising
        :class:`TensorError` if that tensor is unreadable); iterating gives
        ``(name, array)`` pairs.  Use it as a context manager to close the file.

    Raises
    ------
    TensorFileError
        The file is missing, of an unknown format, corrupt, or needs a package that
        is not installed.
    """
    path = os.fspath(path)
    fmt = detect_format(path) if format is None else format
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if not os.path.isfile(path):
        raise TensorFileError(path, "no such file" if not os.path.exists(path)
                              else "not a regular file")
    mod_name, cls_name, _ = FORMATS[fmt]
    module = importlib.import_module(f"{__name__}.{mod_name}")
    return getattr(module, cls_name)(path)


def list_tensors(path, format: str | None = None) -> list[TensorInfo]:  # noqa: A002
    """Name, shape and dtype of every tensor in `path`, without reading the data."""
    with open_tensors(path, format) as reader:
        return list(reader.tensors)


def read_tensors(path, names=None, *, format: str | None = None,  # noqa: A002
                 errors: str = "raise"):
    """Iterate over ``(name, ndarray)`` for the tensors of `path`, one at a time.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npy``, ``.npz``, ``.safetensors``, ``.onnx`` or ``.pt``/``.pth`` file.
    names : iterable of str, optional
        Only these tensors, in this order (a missing name raises ``KeyError``).
    format : str, optional
        Overrides detection by extension / content (:data:`FORMATS`).
    errors : {"raise", "skip"}
        What a tensor that cannot be read does: raise :class:`TensorError`, or be
        left out (the other tensors are still read).

    Yields
    ------
    name : str
    array : numpy.ndarray
        Memory-mapped (read-only) where the format allows; copy it to modify it.
    """
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
    with open_tensors(path, format) as reader:
        have = [t.name for t in reader.tensors]
        wanted = have if names is None else list(names)
        missing = [n for n in wanted if n not in set(have)]
        if missing:
            raise KeyError(f"no tensor named {', '.join(map(repr, missing))} in {path}")
        for name in wanted:
            try:
                arr = reader.read(name)
            except TensorError:
                if errors == "raise":
                    raise
                continue
            yield name, arr
