"""ONNX reader (needs the ``onnx`` package: ``pip install qerror[onnx]``).

Weights live in the graph's initializers *and* in ``Constant`` nodes (some exporters
store every weight as a ``Constant``); both are read, including those of sub-graphs
(``If``/``Loop`` bodies).  A ``Constant`` tensor is named by the node's output, the
name the consuming node (e.g. ``Conv``) refers to.  External data (models over 2 GB)
is read one tensor at a time from the files next to the model.

Memory: protobuf parses the whole model file, so a model with embedded weights costs
its file size plus one tensor (embedded models are under 2 GB by protobuf's limit).
"""

from __future__ import annotations

import os

import numpy as np

from ._base import Reader, TensorError, TensorFileError, TensorInfo, check_real

__all__ = ["OnnxReader"]

_NAMES = {"FLOAT": "float32", "DOUBLE": "float64", "FLOAT16": "float16",
          "BFLOAT16": "bfloat16", "FLOAT8E4M3FN": "float8_e4m3fn",
          "FLOAT8E5M2": "float8_e5m2", "BOOL": "bool"}


def _import_onnx(path):
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise TensorFileError(path, "reading .onnx needs the 'onnx' package (pip "
                              "install onnx, or pip install qerror[onnx])") from None
    return onnx, numpy_helper


class OnnxReader(Reader):
    format = "onnx"

    def __init__(self, path):
        super().__init__(path)
        onnx, self._nh = _import_onnx(self.path)
        try:
            model = onnx.load(self.path, load_external_data=False)
        except OSError as exc:
            raise TensorFileError(self.path, exc) from None
        except Exception as exc:  # noqa: BLE001 - protobuf DecodeError and kin
            raise TensorFileError(self.path, f"not a valid ONNX model "
                                  f"({type(exc).__name__}: {exc})") from None
        if not model.HasField("graph"):
            raise TensorFileError(self.path, "not a valid ONNX model (no graph)")
        self._onnx = onnx
        self._protos = {}
        #: tensor name -> "initializer" or "constant" (where it was found)
        self.sources = {}
        self._walk(model.graph)

    def _add(self, name: str, proto, source: str) -> None:
        base, k = name or "<unnamed>", 1
        while name in self._protos or not name:
            k += 1
            name = f"{base}#{k}"
        type_name = self._onnx.TensorProto.DataType.Name(proto.data_type)
        dtype = _NAMES.get(type_name, type_name.lower())
        self._protos[name] = proto
        self.sources[name] = source
        self.tensors.append(TensorInfo(name, tuple(int(d) for d in proto.dims), dtype))

    def _walk(self, graph) -> None:
        for t in graph.initializer:
            self._add(t.name, t, "initializer")
        graph_attr = self._onnx.AttributeProto.GRAPH
        graphs_attr = self._onnx.AttributeProto.GRAPHS
        for node in graph.node:
            for a in node.attribute:
                if node.op_type == "Constant" and a.name == "value" and node.output:
                    self._add(node.output[0], a.t, "constant")
                elif a.type == graph_attr:
                    self._walk(a.g)
                elif a.type == graphs_attr:
                    for g in a.graphs:
                        self._walk(g)

    def read(self, name: str) -> np.ndarray:
        proto = self._protos[name]
        try:
            if proto.data_location == self._onnx.TensorProto.EXTERNAL:
                copy = self._onnx.TensorProto()
                copy.CopyFrom(proto)          # load into a copy: memory is freed after
                arr = self._nh.to_array(copy, base_dir=os.path.dirname(self.path))
                del copy
            else:
                arr = self._nh.to_array(proto)
        except Exception as exc:  # noqa: BLE001 - onnx raises many kinds
            raise TensorError(self.path, name, f"{type(exc).__name__}: {exc}") \
                from None
        arr = np.asarray(arr)
        if type(arr.dtype).__module__.startswith("ml_dtypes") or \
                arr.dtype.type.__module__.startswith("ml_dtypes"):
            # bfloat16, float8, int4 ...: exact in float32 / int8
            target = np.int8 if "int" in arr.dtype.name else np.float32
            arr = arr.astype(target)
        return check_real(arr, self.path, name)
