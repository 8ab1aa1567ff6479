"""Tensor-file readers (qerror.io): every format, the exact narrow-float conversions,
streaming, and one-line errors for files that cannot be read."""

import json
import struct
import subprocess
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest

from qerror.io import (
    TensorError,
    TensorFileError,
    detect_format,
    list_tensors,
    open_tensors,
    read_tensors,
)


def _write_safetensors(path, tensors, header_extra=None, cut=0):
    """A .safetensors file by hand: {name: (dtype code, shape, raw bytes)}."""
    header, blobs, off = {}, [], 0
    for name, (code, shape, raw) in tensors.items():
        header[name] = {"dtype": code, "shape": list(shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header.update(header_extra or {})
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    data = struct.pack("<Q", len(head)) + head + b"".join(blobs)
    path.write_bytes(data[:len(data) - cut])
    return path


def _is_mmap(a):
    while a is not None:
        if isinstance(a, np.memmap):
            return True
        a = a.base
    return False


# ------------------------------------------------------------------ npy / npz
@pytest.mark.parametrize("arr", [
    np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 3, 4),
    np.asfortranarray(np.arange(12, dtype=">i4").reshape(3, 4)),
    np.array([True, False, True]),
    np.arange(-5, 5, dtype=np.int8),
    np.float16([0.5, -2.0]),
    np.float64(3.25),
    np.zeros((0, 3)),
])
def test_npy_roundtrip_memory_mapped(tmp_path, arr):
    path = tmp_path / "w.npy"
    np.save(path, arr)
    (name, got), = list(read_tensors(path))
    assert name == "w" and got.dtype == arr.dtype and got.shape == arr.shape
    np.testing.assert_array_equal(got, arr)
    assert _is_mmap(got) or arr.size == 0
    assert list_tensors(path)[0].shape == arr.shape


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_npz_stored_and_compressed(tmp_path, save):
    rng = np.random.default_rng(0)
    arrs = {"a": rng.normal(size=(5, 7)).astype(np.float32), "b/c": np.arange(9),
            "f": np.asfortranarray(rng.normal(size=(4, 3)))}
    path = tmp_path / "m.npz"
    save(path, **arrs)
    got = dict(read_tensors(path))
    assert list(got) == list(arrs)
    for k, v in arrs.items():
        np.testing.assert_array_equal(got[k], v)
    assert _is_mmap(got["a"]) == (save is np.savez)
    infos = {t.name: t for t in list_tensors(path)}
    assert infos["a"].shape == (5, 7) and infos["a"].dtype == "float32"
    assert infos["a"].size == 35


def test_npz_bad_member_does_not_stop_the_others(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, good=np.ones(3), text=np.array(["ab", "c"]),
             cplx=np.ones(2, complex))
    with zipfile.ZipFile(path, "a") as z:  # an object array (pickled) member
        import io
        buf = io.BytesIO()
        np.save(buf, np.array([None, 1], dtype=object), allow_pickle=True)
        z.writestr("obj.npy", buf.getvalue())
    with open_tensors(path) as r:
        assert [t.name for t in r.tensors] == ["good", "text", "cplx", "obj"]
        np.testing.assert_array_equal(r.read("good"), np.ones(3))
        for name, why in [("text", "unsupported dtype <U2"),
                          ("cplx", "unsupported dtype complex128"),
                          ("obj", "object array")]:
            with pytest.raises(TensorError, match=why) as exc:
                r.read(name)
            msg = str(exc.value)
            assert str(path) in msg and repr(name) in msg and "\n" not in msg
            assert exc.value.name == name
    assert [n for n, _ in read_tensors(path, errors="skip")] == ["good"]
    with pytest.raises(TensorError):
        list(read_tensors(path))
    with pytest.raises(KeyError, match="nope"):
        list(read_tensors(path, ["good", "nope"]))


def test_npz_corrupt_member_data(tmp_path):
    path = tmp_path / "m.npz"
    np.savez_compressed(path, a=np.arange(1000.0), b=np.arange(1000.0))
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        zi = z.getinfo("a.npy")
        start = zi.header_offset + 30 + len(zi.filename) + 80
    raw[start:start + 40] = bytes(40)  # garble a's deflate stream
    path.write_bytes(bytes(raw))
    with open_tensors(path) as r:
        with pytest.raises(TensorError, match="'a'"):
            r.read("a")
        np.testing.assert_array_equal(r.read("b"), np.arange(1000.0))


@pytest.mark.parametrize("make,why", [
    (lambda p: np.save(p, np.array([None, 1], dtype=object)), "object array"),
    (lambda p: np.save(p, np.ones(3, complex)), "unsupported dtype complex128"),
    (lambda p: np.save(p, np.zeros(3, dtype=[("x", "f4")])), "unsupported dtype"),
    (lambda p: p.write_bytes(b"not numpy at all"), "not a .npy file"),
    (lambda p: p.write_bytes(b""), "not a .npy file"),
    (lambda p: p.write_bytes(b"\x93NUMPY\x01\x00\x0f\x00{'descr': 'zz'}"),
     "malformed .npy header"),
])
def test_npy_unreadable(tmp_path, make, why):
    path = tmp_path / "w.npy"
    make(path)
    with pytest.raises(TensorFileError, match=why) as exc:
        open_tensors(path)
    assert str(exc.value).startswith(f"{path}: ") and "\n" not in str(exc.value)


def test_npy_truncated(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.arange(100.0))
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(TensorFileError, match="truncated: the header promises 800 "
                       "bytes of data, the file has 792"):
        open_tensors(path)


def test_npz_not_a_zip(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(b"PK\x03\x04 garbage")
    with pytest.raises(TensorFileError, match="not a valid .npz"):
        open_tensors(path)


# ------------------------------------------------------------------ safetensors
def test_safetensors_written_by_the_library(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    rng = np.random.default_rng(1)
    arrs = {"w": rng.normal(size=(3, 5)).astype(np.float32),
            "h": rng.normal(size=7).astype(np.float16), "i": np.arange(-3, 3),
            "d": rng.normal(size=(2, 2)), "m": np.array([True, False]),
            "u": np.arange(4, dtype=np.uint8), "e": np.zeros((0, 2), np.float32)}
    path = tmp_path / "m.safetensors"
    st.save_file(arrs, str(path), metadata={"format": "np"})
    with open_tensors(path) as r:
        assert r.metadata == {"format": "np"}
        assert {t.name for t in r.tensors} == set(arrs)
        for name, a in r:
            assert a.dtype == arrs[name].dtype and a.shape == arrs[name].shape
            np.testing.assert_array_equal(a, arrs[name])
            assert _is_mmap(a) or a.size == 0


def test_bf16_converts_exactly(tmp_path):
    # every finite bf16 pattern plus inf and NaN: the value is the top half of f32
    bits = np.arange(1 << 16, dtype=np.uint16)
    path = _write_safetensors(tmp_path / "b.safetensors",
                              {"all": ("BF16", (256, 256), bits.tobytes())})
    info, = list_tensors(path)
    assert info.dtype == "bfloat16" and info.shape == (256, 256)
    (_, got), = list(read_tensors(path))
    assert got.dtype == np.float32
    expect = (bits.astype(np.uint32) << 16).view(np.float32).reshape(256, 256)
    np.testing.assert_array_equal(got.view(np.uint32), expect.view(np.uint32))
    # spot values, independent of the bit trick
    vals = got.ravel()
    assert vals[0x3F80] == 1.0 and vals[0xC040] == -3.0 and vals[0x3FC0] == 1.5
    assert vals[0x7F80] == np.inf and np.isnan(vals[0x7FC0])
    ml = pytest.importorskip("ml_dtypes")
    ref = bits.view(ml.bfloat16).astype(np.float32).reshape(256, 256)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("code,name", [("F8_E4M3", "float8_e4m3fn"),
                                       ("F8_E5M2", "float8_e5m2")])
def test_float8_converts_exactly(tmp_path, code, name):
    bits = np.arange(256, dtype=np.uint8)
    path = _write_safetensors(tmp_path / "f8.safetensors",
                              {"x": (code, (256,), bits.tobytes())})
    (_, got), = list(read_tensors(path))
    assert list_tensors(path)[0].dtype == name
    if code == "F8_E4M3":
        assert got[0x38] == 1.0 and got[0x7E] == 448.0 and np.isnan(got[0x7F])
    else:
        assert got[0x3C] == 1.0 and got[0x7B] == 57344.0 and got[0x7C] == np.inf
    ml = pytest.importorskip("ml_dtypes")
    ref = bits.view(getattr(ml, name)).astype(np.float32)
    np.testing.assert_array_equal(got, ref)


def test_safetensors_bad_tensor_and_truncated_file(tmp_path):
    a = np.arange(6, dtype="<f4").tobytes()
    tensors = {"a": ("F32", (2, 3), a), "odd": ("C64", (1,), bytes(8)),
               "short": ("F16", (5,), bytes(8)), "last": ("F32", (4,), bytes(16))}
    path = _write_safetensors(tmp_path / "m.safetensors", tensors, cut=4)
    with open_tensors(path) as r:
        assert [t.name for t in r.tensors] == ["a", "odd", "short", "last"]
        np.testing.assert_array_equal(r.read("a"), np.arange(6.0).reshape(2, 3))
        for name, why in [("odd", "unsupported dtype 'C64'"),
                          ("short", "data_offsets span 8 bytes but F16 x \\[5\\] "
                           "needs 10"),
                          ("last", "truncated: data ends at byte")]:
            with pytest.raises(TensorError, match=why):
                r.read(name)
    assert [n for n, _ in read_tensors(path, errors="skip")] == ["a"]


@pytest.mark.parametrize("data,why", [
    (b"", "too short"),
    (struct.pack("<Q", 10**9) + b"{}", "header length 1000000000 exceeds the file"),
    (struct.pack("<Q", 4) + b"{no}", "header is not valid JSON"),
    (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
])
def test_safetensors_unreadable(tmp_path, data, why):
    path = tmp_path / "m.safetensors"
    path.write_bytes(data)
    with pytest.raises(TensorFileError, match=why) as exc:
        open_tensors(path)
    assert str(exc.value).startswith(str(path))


def test_streaming_peak_memory_is_one_tensor(tmp_path):
    # 6 bf16 tensors of 2^20 values (12 MiB file); each is converted to f32 (4 MiB)
    # while the previous one is released: the peak stays near one tensor
    n = 1 << 20
    raw = (np.arange(n, dtype=np.uint32) % 4096 + 0x3C00).astype(np.uint16).tobytes()
    path = _write_safetensors(tmp_path / "big.safetensors",
                              {f"t{i}": ("BF16", (n,), raw) for i in range(6)})
    total = 0.0
    tracemalloc.start()
    try:
        for _, x in read_tensors(path):
            total += float(x[::4096].sum())
            del x
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total != 0.0
    assert peak < 2.5 * 4 * n  # < 10 MiB, while the file holds 12 MiB


# ------------------------------------------------------------------ ONNX
def _onnx_model(path, bf16=False):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = np.arange(8, dtype=np.float32).reshape(2, 1, 2, 2) / 8 - 0.3
    b = np.array([0.5, -1.0], dtype=np.float32)
    k = np.array([[1.5, -2.5]], dtype=np.float32)
    inits = [numpy_helper.from_array(b, "conv.bias")]
    if bf16:
        inits.append(helper.make_tensor("h", TensorProto.BFLOAT16, [3],
                                        [1.0, -0.5, 3.0]))
    then = helper.make_graph(
        [helper.make_node("Constant", [], ["then_out"],
                          value=numpy_helper.from_array(k, "k"))],
        "then", [], [helper.make_tensor_value_info("then_out", TensorProto.FLOAT,
                                                   [1, 2])])
    nodes = [
        helper.make_node("Constant", [], ["conv.weight"],
                         value=numpy_helper.from_array(w, "wval")),
        helper.make_node("Constant", [], ["shape"], value=numpy_helper.from_array(
            np.array([1, -1], dtype=np.int64), "s")),
        helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["y"], group=2),
        helper.make_node("If", ["cond"], ["z"], then_branch=then, else_branch=then),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4]),
         helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(graph), str(path))
    return {"conv.bias": b, "conv.weight": w, "shape": np.array([1, -1]),
            "then_out": k}


def test_onnx_initializers_and_constant_nodes(tmp_path):
    path = tmp_path / "tiny.onnx"
    want = _onnx_model(path, bf16=True)
    with open_tensors(path) as r:
        names = [t.name for t in r.tensors]
        # the If's two branches are the same graph: the second copy is renamed
        assert names == ["conv.bias", "h", "conv.weight", "shape", "then_out",
                         "then_out#2"]
        assert r.sources["conv.bias"] == "initializer"
        assert r.sources["conv.weight"] == r.sources["then_out"] == "constant"
        got = dict(r)
    for k, v in want.items():
        np.testing.assert_array_equal(got[k], v)
    assert got["conv.weight"].dtype == np.float32
    assert got["h"].dtype == np.float32
    np.testing.assert_array_equal(got["h"], [1.0, -0.5, 3.0])
    info = {t.name: t for t in list_tensors(path)}
    assert info["h"].dtype == "bfloat16" and info["conv.weight"].shape == (2, 1, 2, 2)


def test_onnx_unreadable(tmp_path):
    pytest.importorskip("onnx")
    path = tmp_path / "bad.onnx"
    path.write_bytes(b"\xff\xff\xff garbage that is not protobuf")
    with pytest.raises(TensorFileError, match="not a valid ONNX model") as exc:
        open_tensors(path)
    assert "\n" not in str(exc.value)


# ------------------------------------------------------------------ torch
def test_torch_state_dict(tmp_path):
    torch = pytest.importorskip("torch")
    sd = {"fc.weight": torch.randn(3, 4), "fc.bias": torch.zeros(3),
          "h": torch.tensor([1.0, -0.5]).to(torch.bfloat16)}
    path = tmp_path / "m.pt"
    torch.save({"state_dict": sd, "epoch": 3}, path)
    got = dict(read_tensors(path))
    assert set(got) == {"state_dict.fc.weight", "state_dict.fc.bias", "state_dict.h"}
    np.testing.assert_array_equal(got["state_dict.fc.weight"], sd["fc.weight"].numpy())
    assert got["state_dict.h"].dtype == np.float32


def test_torch_refuses_arbitrary_objects(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(2), "obj": _Evil()}, path)
    with pytest.raises(TensorFileError, match="weights_only=True"):
        open_tensors(path)


class _Evil:
    pass


# ------------------------------------------------------------------ detection
def test_detect_format_by_content(tmp_path):
    np.save(tmp_path / "a.npy", np.ones(2))
    (tmp_path / "a.npy").rename(tmp_path / "a.bin")
    assert detect_format(tmp_path / "a.bin") == "npy"
    np.savez(tmp_path / "b.npz", x=np.ones(2))
    (tmp_path / "b.npz").rename(tmp_path / "b.dat")
    assert detect_format(tmp_path / "b.dat") == "npz"
    _write_safetensors(tmp_path / "c.weights", {"x": ("F32", (1,), bytes(4))})
    assert detect_format(tmp_path / "c.weights") == "safetensors"
    assert dict(read_tensors(tmp_path / "c.weights"))["x"] == 0.0
    (tmp_path / "d.txt").write_text("1 2 3")
    with pytest.raises(TensorFileError, match="unsupported file type"):
        detect_format(tmp_path / "d.txt")
    with pytest.raises(TensorFileError, match="no such file"):
        open_tensors(tmp_path / "missing.npy")
    with pytest.raises(ValueError, match="format must be one of"):
        open_tensors(tmp_path / "a.bin", format="hdf5")


def test_import_is_light():
    code = ("import sys, qerror, qerror.io; "
            "bad = [m for m in ('onnx', 'torch', 'safetensors', 'scipy.stats', "
            "'sympy', 'matplotlib', 'tqdm', 'qerror.io._onnx') if m in sys.modules]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
