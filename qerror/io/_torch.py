"""PyTorch ``.pt``/``.pth`` reader (needs torch; never unpickles arbitrary objects).

``torch.load(..., weights_only=True)`` accepts only tensors, containers and plain
values, and refuses anything else; files in the zip format (torch >= 1.6) are
memory-mapped.  Nested dicts and lists (``{"state_dict": {...}, "epoch": 3}``) are
flattened with ``.``-joined names; values that are not tensors are ignored.
"""

from __future__ import annotations

import numpy as np

from ._base import Reader, TensorError, TensorFileError, TensorInfo, check_real

__all__ = ["TorchReader"]


def _flatten(obj, prefix, out, torch, depth=0):
    if depth > 32:
        return
    if isinstance(obj, torch.Tensor):
        out[prefix or "tensor"] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out, torch, depth + 1)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _flatten(v, f"{prefix}.{i}" if prefix else str(i), out, torch, depth + 1)


class TorchReader(Reader):
    format = "torch"

    def __init__(self, path):
        super().__init__(path)
        try:
            import torch
        except ImportError:
            raise TensorFileError(self.path, "reading .pt/.pth needs PyTorch "
                                  "(pip install torch)") from None
        self._torch = torch
        try:
            try:
                obj = torch.load(self.path, map_location="cpu", weights_only=True,
                                 mmap=True)
            except RuntimeError as exc:
                if "mmap" not in str(exc):       # legacy (non-zip) format: no mmap
                    raise
                obj = torch.load(self.path, map_location="cpu", weights_only=True)
        except OSError as exc:
            raise TensorFileError(self.path, exc) from None
        except Exception as exc:  # noqa: BLE001 - UnpicklingError, RuntimeError, ...
            raise TensorFileError(self.path, "cannot be loaded with weights_only=True "
                                  f"({type(exc).__name__}: {exc})") from None
        self._tensors = {}
        _flatten(obj, "", self._tensors, torch)
        for name, t in self._tensors.items():
            dtype = str(t.dtype).removeprefix("torch.")
            self.tensors.append(TensorInfo(name, tuple(t.shape), dtype))

    def read(self, name: str) -> np.ndarray:
        torch = self._torch
        t = self._tensors[name].detach()
        try:
            if t.is_quantized:
                t = t.dequantize()
            if t.layout != torch.strided:
                t = t.to_dense()
            if t.is_floating_point() and t.dtype not in (torch.float16, torch.float32,
                                                         torch.float64):
                t = t.float()                    # bfloat16 / float8: exact in float32
            arr = t.cpu().numpy()
        except (RuntimeError, TypeError) as exc:
            raise TensorError(self.path, name, f"{type(exc).__name__}: {exc}") \
                from None
        return check_real(arr, self.path, name)
