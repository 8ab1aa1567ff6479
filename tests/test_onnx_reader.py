"""The ONNX reader (qerror/io/_onnx.py, _protobuf.py) reads the protobuf wire format
itself.  The ``onnx`` package is the oracle: every tensor of the real PP-OCRv4 model
and of synthetic models covering each storage variant (raw_data, the typed fields,
external data, Constant attributes, sub-graphs, hand-made wire encodings) must come
back bit for bit as ``onnx.numpy_helper.to_array`` gives it; corrupt files give one
line naming the file."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qerror.io import TensorError, TensorFileError, open_tensors
from qerror.io._protobuf import WireError, varint, varints

onnx = pytest.importorskip("onnx")
ml_dtypes = pytest.importorskip("ml_dtypes")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

TP = TensorProto


def _oracle_array(proto, base_dir=""):
    """What qerror returns, computed with the onnx package: to_array, then the narrow
    types of ml_dtypes to float32 (floats) or int8 (4- and 2-bit integers)."""
    arr = np.asarray(numpy_helper.to_array(proto, base_dir=base_dir))
    if arr.dtype.type.__module__.startswith("ml_dtypes") or \
            type(arr.dtype).__module__.startswith("ml_dtypes"):
        arr = arr.astype(np.int8 if "int" in arr.dtype.name else np.float32)
    return arr


def _oracle(path):
    """{name: array} of the initializers and Constant 'value' tensors, in the reader's
    order and with its renaming of repeated names."""
    model = onnx.load(str(path), load_external_data=False)
    out = {}

    def add(name, proto):
        base, k = name or "<unnamed>", 1
        while name in out or not name:
            k += 1
            name = f"{base}#{k}"
        out[name] = _oracle_array(proto, os.path.dirname(str(path)))

    def walk(graph):
        for t in graph.initializer:
            add(t.name, t)
        for node in graph.node:
            for a in node.attribute:
                if node.op_type == "Constant" and node.output and a.name == "value":
                    add(node.output[0], a.t)
                elif a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                elif a.type == onnx.AttributeProto.GRAPHS:
                    for g in a.graphs:
                        walk(g)

    walk(model.graph)
    return out


def _same(a, b):
    """Bit for bit: dtype, shape and bytes (NaN payloads included)."""
    return a.dtype == b.dtype and a.shape == b.shape and \
        np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


def _check_against_oracle(path):
    want = _oracle(path)
    with open_tensors(path) as r:
        assert [t.name for t in r.tensors] == list(want)
        for info in r.tensors:
            got = r.read(info.name)
            assert _same(got, want[info.name]), info.name
            assert info.shape == want[info.name].shape
    return want


def _save(tmp_path, tensors, nodes=(), name="m.onnx", **save):
    graph = helper.make_graph(list(nodes), "g", [], [], list(tensors))
    path = tmp_path / name
    onnx.save(helper.make_model(graph), str(path), **save)
    return path


# ------------------------------------------------------------------ the real model
def test_ppocr_every_tensor_bit_identical(real_model):
    path = real_model("ppocr-det")
    want = _check_against_oracle(path)
    assert len(want) == 342
    with open_tensors(path) as r:
        assert {t.dtype for t in r.tensors} == {"float32"}
        assert set(r.sources.values()) == {"constant"}


# ------------------------------------------------------------------ storage variants
_KINDS = [  # (ONNX type name, ml_dtypes / numpy dtype of the values)
    ("FLOAT", np.float32), ("DOUBLE", np.float64), ("FLOAT16", np.float16),
    ("BFLOAT16", "bfloat16"), ("INT8", np.int8), ("UINT8", np.uint8),
    ("INT16", np.int16), ("UINT16", np.uint16), ("INT32", np.int32),
    ("INT64", np.int64), ("UINT32", np.uint32), ("UINT64", np.uint64),
    ("BOOL", np.bool_), ("FLOAT8E4M3FN", "float8_e4m3fn"),
    ("FLOAT8E4M3FNUZ", "float8_e4m3fnuz"), ("FLOAT8E5M2", "float8_e5m2"),
    ("FLOAT8E5M2FNUZ", "float8_e5m2fnuz"), ("FLOAT8E8M0", "float8_e8m0fnu"),
    ("INT4", "int4"), ("UINT4", "uint4"), ("FLOAT4E2M1", "float4_e2m1fn"),
    ("INT2", "int2"), ("UINT2", "uint2"), ("FLOAT6E2M3", "float6_e2m3fn"),
    ("FLOAT6E3M2", "float6_e3m2fn"),
]
_WIDTH = {"INT4": 4, "UINT4": 4, "FLOAT4E2M1": 4, "INT2": 2, "UINT2": 2,
          "FLOAT6E2M3": 6, "FLOAT6E3M2": 6}


def _kinds():
    return [(k, d) for k, d in _KINDS if hasattr(TP, k)
            and (not isinstance(d, str) or hasattr(ml_dtypes, d))]


def _pack(bits_u8, width):
    """Little-endian bit stream of `width`-bit values (first value lowest)."""
    stream = ((bits_u8[:, None] >> np.arange(width)) & 1).astype(np.uint8).ravel()
    return np.packbits(stream, bitorder="little")


def _tensor(kind, vals, shape, storage, name):
    """A TensorProto of `vals` (flat) stored as `storage` ("raw" or "typed")."""
    t = TP()
    t.name, t.data_type = name, getattr(TP, kind)
    t.dims.extend(shape)
    u = vals.view(np.uint8) if vals.dtype.itemsize == 1 and kind != "BOOL" else vals
    if kind in _WIDTH:
        u8 = vals.view(np.uint8) & np.uint8((1 << _WIDTH[kind]) - 1)
        packed = _pack(u8, _WIDTH[kind])
        if storage == "raw":
            t.raw_data = packed.tobytes()
        else:
            t.int32_data.extend((u8 if _WIDTH[kind] == 6 else packed).tolist())
        return t
    if storage == "raw":
        t.raw_data = vals.astype(vals.dtype.newbyteorder("<")).tobytes()
    elif kind == "FLOAT":
        t.float_data.extend(vals.tolist())
    elif kind == "DOUBLE":
        t.double_data.extend(vals.tolist())
    elif kind == "INT64":
        t.int64_data.extend(vals.tolist())
    elif kind in ("UINT32", "UINT64"):
        t.uint64_data.extend(vals.tolist())
    elif vals.dtype.itemsize == 2:
        t.int32_data.extend(vals.view(np.uint16).tolist())
    elif kind == "BOOL":
        t.int32_data.extend(vals.astype(int).tolist())
    elif vals.dtype.itemsize == 1:
        t.int32_data.extend((u.view(np.int8) if kind == "INT8" else u).tolist())
    else:
        t.int32_data.extend(vals.tolist())
    return t


@pytest.mark.parametrize("storage", ["raw", "typed"])
def test_every_type_and_storage_matches_onnx(tmp_path, storage):
    rng = np.random.default_rng(7)
    tensors = []
    for kind, dtype in _kinds():
        for shape in [(3, 5), (7,), ()]:
            n = int(np.prod(shape))
            vals = _narrow(kind, dtype, n, rng)
            tensors.append(_tensor(kind, vals, shape, storage, f"{kind}{len(shape)}"))
    path = _save(tmp_path, tensors)
    want = _check_against_oracle(path)
    assert len(want) == 3 * len(_kinds())
    with open_tensors(path) as r:
        dtypes = {t.name: t.dtype for t in r.tensors}
    assert dtypes["FLOAT2"] == "float32" and dtypes["BFLOAT162"] == "bfloat16"
    assert dtypes["FLOAT8E4M3FN2"] == "float8_e4m3fn"


def _narrow(kind, dtype, n, rng):
    """n values of the type: random bit patterns for narrow floats (NaNs included),
    random integers over the whole range, Gaussian floats."""
    dt = np.dtype(getattr(ml_dtypes, dtype) if isinstance(dtype, str) else dtype)
    if kind in _WIDTH:
        return (rng.integers(0, 1 << _WIDTH[kind], n).astype(np.uint8)).view(dt) \
            if kind.startswith("FLOAT") else \
            rng.integers(int(ml_dtypes.iinfo(dt).min), int(ml_dtypes.iinfo(dt).max) + 1,
                         n).astype(dt)
    if kind == "BOOL":
        return rng.integers(0, 2, n).astype(bool)
    if kind.startswith("FLOAT8") or kind == "BFLOAT16" or kind == "FLOAT16":
        width = 8 * dt.itemsize
        return rng.integers(0, 1 << width, n).astype(f"u{dt.itemsize}").view(dt)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
    return (rng.standard_normal(n) * 10).astype(dt)


def test_initializers_constants_subgraphs_and_names(tmp_path):
    w = np.arange(8, dtype=np.float32).reshape(2, 1, 2, 2) / 8 - 0.3
    k = np.array([[1.5, -2.5]], dtype=np.float32)
    then = helper.make_graph(
        [helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(k))],
        "then", [], [helper.make_tensor_value_info("k", TP.FLOAT, [1, 2])])
    body = helper.make_graph(
        [helper.make_node("Constant", [], [""], value=numpy_helper.from_array(w))],
        "body", [], [])
    nodes = [
        helper.make_node("Constant", [], ["w"], value=numpy_helper.from_array(w, "x")),
        helper.make_node("If", ["c"], ["z"], then_branch=then, else_branch=then),
        helper.make_node("Loop", ["n", "c"], ["o"], body=body),
        helper.make_node("Constant", [], ["w"], value=helper.make_tensor(
            "h", TP.BFLOAT16, [3], [1.0, -0.5, 3.0])),
    ]
    path = _save(tmp_path, [numpy_helper.from_array(k, "init")], nodes)
    want = _check_against_oracle(path)
    assert list(want) == ["init", "w", "k", "k#2", "<unnamed>#2", "w#2"]
    with open_tensors(path) as r:
        assert r.sources == {"init": "initializer", "w": "constant", "k": "constant",
                             "k#2": "constant", "<unnamed>#2": "constant",
                             "w#2": "constant"}


def test_constant_value_lists(tmp_path):
    nodes = [helper.make_node("Constant", [], ["f"], value_float=2.5),
             helper.make_node("Constant", [], ["fs"], value_floats=[1.0, -0.25, 3e38]),
             helper.make_node("Constant", [], ["i"], value_int=-7),
             helper.make_node("Constant", [], ["is"], value_ints=[1, -2, 2**62]),
             helper.make_node("Constant", [], ["e"])]
    empty = nodes[-1].attribute.add()          # an empty list: helper cannot make it
    empty.name, empty.type = "value_ints", onnx.AttributeProto.INTS
    path = _save(tmp_path, [], nodes)
    with open_tensors(path) as r:
        got = dict(r)
        info = {t.name: t for t in r.tensors}
    model = onnx.load(str(path))
    for node in model.graph.node:
        a = node.attribute[0]
        want = np.asarray(helper.get_attribute_value(a),
                          dtype=np.float32 if a.name.startswith("value_float")
                          else np.int64)
        assert _same(got[node.output[0]], want), a.name
    assert info["f"].shape == () and info["fs"].dtype == "float32"
    assert info["is"].dtype == "int64" and info["e"].shape == (0,)


@pytest.mark.parametrize("threshold", [0, 100])
def test_external_data(tmp_path, threshold):
    rng = np.random.default_rng(3)
    arrays = {"a": rng.standard_normal((64, 33)).astype(np.float32),
              "b": rng.standard_normal(1000).astype(np.float16),
              "c": np.arange(5, dtype=np.int64)}
    inits = [numpy_helper.from_array(v, k) for k, v in arrays.items()]
    path = _save(tmp_path, inits, save_as_external_data=True,
                 all_tensors_to_one_file=True, location="weights.bin",
                 size_threshold=threshold)
    want = _check_against_oracle(path)
    for k, v in arrays.items():
        assert _same(want[k], v)
    with open_tensors(path) as r:
        a = r.read("a")
    assert _is_memmap(a) and not a.flags.writeable


def _is_memmap(a):
    while a is not None:
        if isinstance(a, (np.memmap, memoryview)) or type(a).__name__ == "mmap":
            return True
        a = getattr(a, "base", None)
    return False


def test_raw_data_aligned_and_mapped_or_copied(tmp_path):
    """raw_data lies at any byte offset of the file: an aligned tensor comes back
    memory-mapped, an unaligned one copied (numba compiles unaligned arrays apart)."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal(n).astype(np.float32), f"w{n}")
             for n in range(60, 68)]
    path = _save(tmp_path, inits)
    with open_tensors(path) as r:
        got = [r.read(t.name) for t in r.tensors]
    mapped = [_is_memmap(a) for a in got]
    assert any(mapped) and not all(mapped)
    assert all(a.flags.aligned and not (m and a.flags.writeable)
               for a, m in zip(got, mapped, strict=True))
    for a, t in zip(got, inits, strict=True):
        assert _same(a, numpy_helper.to_array(t))


# ------------------------------------------------------------------ hand-made wire
def _key(num, wt):
    return _enc(num << 3 | wt)


def _enc(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def _ld(num, payload):
    return _key(num, 2) + _enc(len(payload)) + payload


def test_hand_made_wire_encodings(tmp_path):
    """Packed dims, unpacked float_data, a graph split in two (protobuf merges them),
    a repeated singular field (last wins), unknown fields of every wire type and a
    group: parsed as protobuf itself parses them."""
    f = np.array([1.5, -2.0, 3.25, 0.0, 7.0, -1e-3], dtype=np.float32)
    t1 = (_ld(1, b"".join(_enc(d) for d in (2, 3)))            # packed dims
          + _key(2, 0) + _enc(7) + _key(2, 0) + _enc(1)       # data_type: last wins
          + b"".join(_key(4, 5) + v.tobytes() for v in f)     # unpacked float_data
          + _ld(8, b"t1")
          + _key(99, 0) + _enc(2**63) + _key(98, 1) + bytes(8) + _key(97, 5) + bytes(4)
          + _ld(96, b"junk") + _key(95, 3) + _key(1, 0) + _enc(5) + _key(95, 4))
    t2 = (_key(1, 0) + _enc(3) + _key(2, 0) + _enc(7) + _ld(8, b"t2")
          + _ld(7, b"".join(_enc(v) for v in (-1, 2**40, -(2**63)))))
    g1 = _ld(5, t1) + _ld(2, b"name")
    g2 = _ld(5, t2)
    model = _key(1, 0) + _enc(8) + _ld(7, g1) + _ld(8, b"") + _ld(7, g2)
    path = tmp_path / "hand.onnx"
    path.write_bytes(model)
    want = _check_against_oracle(path)
    assert list(want) == ["t1", "t2"]
    np.testing.assert_array_equal(want["t1"], f.reshape(2, 3))
    np.testing.assert_array_equal(want["t2"], [-1, 2**40, -(2**63)])


@given(st.lists(st.integers(0, 2**64 - 1), max_size=40))
def test_varints_vectorised_equal_sequential(values):
    data = b"".join(_enc(v) for v in values)
    got = varints(data, [(2, (0, len(data)))])
    pos, seq = 0, []
    while pos < len(data):
        v, pos = varint(data, pos, len(data))
        seq.append(v)
    assert seq == values and got.tolist() == values


# ------------------------------------------------------------------ bad files
def test_corrupt_and_truncated_files(tmp_path, real_model):
    path = real_model("ppocr-det")
    data = path.read_bytes()
    for cut in (1, 100, 4096, len(data) // 3, len(data) // 2, len(data) - 20):
        bad = tmp_path / f"cut{cut}.onnx"
        bad.write_bytes(data[:cut])
        with pytest.raises(TensorFileError, match="not a valid ONNX model") as exc:
            open_tensors(bad)
        assert str(exc.value).startswith(str(bad)) and "\n" not in str(exc.value)


@pytest.mark.parametrize("content, why", [
    (b"", "empty file"),
    (b"\xff\xff\xff garbage that is not protobuf", "not a valid ONNX model"),
    (b"\x08\x07", "no graph"),                           # ir_version only
    (b"\x3a\x05\x2a\x10ab", "runs past the end"),         # graph holds a cut tensor
    (b"\x0f", "wire type 7"),
])
def test_unreadable_onnx_one_line(tmp_path, content, why):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(TensorFileError, match=why) as exc:
        open_tensors(path)
    msg = str(exc.value)
    assert msg.startswith(f"{path}: ") and "\n" not in msg
    proc = subprocess.run([sys.executable, "-m", "qerror", "analyze", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and str(path) in proc.stderr


def test_bad_tensors_do_not_stop_the_others(tmp_path):
    good = numpy_helper.from_array(np.ones(3, np.float32), "good")
    short = TP(name="short", data_type=TP.FLOAT, dims=[4], raw_data=bytes(12))
    count = TP(name="count", data_type=TP.FLOAT, dims=[2], float_data=[1.0])
    neg = TP(name="neg", data_type=TP.FLOAT, dims=[-1], float_data=[1.0])
    text = TP(name="text", data_type=TP.STRING, dims=[1], string_data=[b"x"])
    cplx = TP(name="cplx", data_type=TP.COMPLEX64, dims=[1], float_data=[1.0, 2.0])
    undef = TP(name="undef", dims=[1], float_data=[1.0])
    missing = TP(name="missing", data_type=TP.FLOAT, dims=[2],
                 data_location=TP.EXTERNAL)
    missing.external_data.add(key="location", value="nowhere.bin")
    escape = TP(name="escape", data_type=TP.FLOAT, dims=[1],
                data_location=TP.EXTERNAL)
    escape.external_data.add(key="location", value="../outside.bin")
    (tmp_path.parent / "outside.bin").write_bytes(bytes(4))
    absolute = TP(name="absolute", data_type=TP.FLOAT, dims=[1],
                  data_location=TP.EXTERNAL)
    absolute.external_data.add(key="location", value=str(tmp_path.parent /
                                                          "outside.bin"))
    (tmp_path / "w.bin").write_bytes(bytes(16))
    offset = TP(name="offset", data_type=TP.FLOAT, dims=[2],
                data_location=TP.EXTERNAL)
    offset.external_data.add(key="location", value="w.bin")
    offset.external_data.add(key="offset", value="12")
    why = {"short": "holds 12 bytes", "count": "holds 1 values", "neg": "negative",
           "text": "string", "cplx": "complex64", "undef": "undefined",
           "missing": "nowhere.bin", "escape": "inside the model's directory",
           "absolute": "inside the model's directory", "offset": "needs 8"}
    path = _save(tmp_path, [good, short, count, neg, text, cplx, undef, missing,
                            escape, absolute, offset])
    with open_tensors(path) as r:
        assert r.read("good").tolist() == [1.0, 1.0, 1.0]
        assert {t.name: t.shape for t in r.tensors}["neg"] is None
        for name, reason in why.items():
            with pytest.raises(TensorError, match=reason) as exc:
                r.read(name)
            assert str(exc.value).startswith(f"{path}: tensor {name!r}: ")
            assert "\n" not in str(exc.value)
    proc = subprocess.run([sys.executable, "-m", "qerror", "analyze", str(path),
                           "--json", "--no-peers"], capture_output=True, text=True)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and doc["tensors"][0]["error"] is None
    assert [t["name"] for t in doc["tensors"] if t["error"]] == list(why)


# ------------------------------------------------------------------ start-up
def test_reading_onnx_imports_neither_onnx_nor_protobuf(tmp_path):
    path = _save(tmp_path, [numpy_helper.from_array(np.ones(4, np.float32), "w")])
    code = ("import sys; from qerror.io import read_tensors; "
            f"assert [n for n, _ in read_tensors({str(path)!r})] == ['w']; "
            "print([m for m in ('onnx', 'google.protobuf', 'ml_dtypes', 'scipy', "
            "'numba') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_wire_error_names_the_offset():
    with pytest.raises(WireError, match="truncated varint at byte 0"):
        varint(b"\x80\x80", 0, 2)
