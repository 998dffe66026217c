"""Engine detection of plain model files, on real bytes made here without any ML library.

Layouts mimicked (checked against public descriptions, not copied):
- torch.save (zip format, torch >= 1.6): every entry under one folder named after the file,
  ``<name>/data.pkl``, ``<name>/byteorder``, ``<name>/data/0..n``, ``<name>/version``,
  ``<name>/.data/version`` or ``<name>/.format_version``, ``<name>/.data/serialization_id``
  (PyTorch's caffe2/serialize/inline_container.h comment and files written by torch.save).
- TorchScript (torch.jit.save): the same container plus ``<name>/code/__torch__/...py``,
  ``<name>/constants.pkl`` and often ``<name>/extra/``.
- skops (skops.io.dump): a zip with ``schema.json`` at the root and one ``<id>.npy`` per array.
- joblib: a pickle stream whose arrays are ``joblib.numpy_pickle.NumpyArrayWrapper`` objects,
  optionally wrapped whole in zlib, gzip, bz2, xz or lzma (joblib's ``compress=`` option), or
  the pre-0.10 ``ZF`` + hex length + zlib file.
- safetensors: 8-byte little-endian header length N, N bytes of JSON, then the tensor bytes.
- ONNX: a protobuf ModelProto; ir_version is field 1 (varint), producer_name field 2, graph 7.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import pickle
import re
import struct
import warnings
import zipfile
import zlib
from collections import OrderedDict
from pathlib import Path

import pytest

from modelshelf.errors import ModelshelfError, UnknownModelFormatError
from modelshelf.models import detect
from modelshelf.models.detect import DetectedFormat, detect_format

PLAIN = {"weights": [1.5, 2.5], "name": "m", "n": 3}


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def joblib_like_pickle() -> bytes:
    """A protocol-4 pickle naming joblib's array wrapper class, as joblib.dump writes arrays.

    Built by hand so that nothing from joblib is imported or unpickled: GLOBAL of
    ``joblib.numpy_pickle NumpyArrayWrapper`` then STOP.
    """
    frame = b"cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81."
    return b"\x80\x04\x95" + struct.pack("<Q", len(frame)) + frame


def zip_bytes(path: Path, entries: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def torch_entries(stem: str = "archive") -> dict[str, bytes]:
    return {
        f"{stem}/data.pkl": pickle.dumps(OrderedDict(w=1), protocol=2),
        f"{stem}/.format_version": b"1",
        f"{stem}/.storage_alignment": b"64",
        f"{stem}/byteorder": b"little",
        f"{stem}/data/0": b"\x00" * 16,
        f"{stem}/version": b"3\n",
        f"{stem}/.data/serialization_id": b"0123456789",
    }


def torchscript_entries(stem: str = "archive") -> dict[str, bytes]:
    entries = torch_entries(stem)
    entries[f"{stem}/code/__torch__/model.py"] = b"class Net(Module):\n  pass\n"
    entries[f"{stem}/constants.pkl"] = pickle.dumps((), protocol=2)
    entries[f"{stem}/extra/"] = b""
    return entries


def safetensors_bytes(header: dict[str, object] | None = None, payload: bytes = b"\0" * 8) -> bytes:
    if header is None:
        header = {
            "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
            "__metadata__": {"format": "pt"},
        }
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + payload


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def onnx_bytes() -> bytes:
    """ModelProto: ir_version=8 (1, varint), producer_name (2), opset_import (8), graph (7)."""
    producer = b"pytorch"
    opset = b"\x10\x11"  # OperatorSetIdProto.version = 17
    graph = b"\x12\x05torch" + b"\x00" * 40  # GraphProto.name, then filler
    return (
        b"\x08\x08"
        + b"\x12"
        + varint(len(producer))
        + producer
        + b"\x42"
        + varint(len(opset))
        + opset
        + b"\x3a"
        + varint(len(graph))
        + graph
    )


# -- single files: each engine ---------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickle_at_each_binary_protocol(tmp_path: Path, protocol: int) -> None:
    f = write(tmp_path / "model.pkl", pickle.dumps(PLAIN, protocol=protocol))
    got = detect_format(f)
    assert got == DetectedFormat("pickle", f, got.evidence, needs_trust=True)
    assert f"protocol {protocol}" in got.evidence


@pytest.mark.parametrize("protocol", [0, 1])
def test_old_pickle_protocols_need_a_pickle_extension(tmp_path: Path, protocol: int) -> None:
    data = pickle.dumps(PLAIN, protocol=protocol)
    assert detect_format(write(tmp_path / "m.pkl", data)).engine == "pickle"
    with pytest.raises(UnknownModelFormatError):
        detect_format(write(tmp_path / "m.bin", data))


def test_pickle_extension_does_not_make_garbage_a_pickle(tmp_path: Path) -> None:
    with pytest.raises(UnknownModelFormatError, match=re.escape("m.pkl")):
        detect_format(write(tmp_path / "m.pkl", b"hello world, not a pickle"))


def test_joblib_markers_in_a_pickle(tmp_path: Path) -> None:
    got = detect_format(write(tmp_path / "model.bin", joblib_like_pickle()))
    assert got.engine == "joblib" and got.needs_trust
    assert "joblib.numpy_pickle" in got.evidence and "overruled" not in got.evidence


def test_a_plain_pickle_named_joblib_is_joblib(tmp_path: Path) -> None:
    got = detect_format(write(tmp_path / "model.joblib", pickle.dumps(PLAIN, protocol=4)))
    assert got.engine == "joblib"
    assert ".joblib" in got.evidence


@pytest.mark.parametrize(
    ("name", "compress"),
    [
        ("zlib", zlib.compress),
        ("gzip", gzip.compress),
        ("bz2", bz2.compress),
        ("xz", lambda b: lzma.compress(b, format=lzma.FORMAT_XZ)),
        ("lzma", lambda b: lzma.compress(b, format=lzma.FORMAT_ALONE)),
    ],
)
def test_joblib_compressed_containers(tmp_path: Path, name: str, compress: object) -> None:
    assert callable(compress)
    data = compress(pickle.dumps(PLAIN, protocol=4))
    got = detect_format(write(tmp_path / "model.bin", data))
    assert got.engine == "joblib" and got.needs_trust
    assert name in got.evidence


def test_joblib_old_zfile(tmp_path: Path) -> None:
    body = pickle.dumps(PLAIN, protocol=2)
    data = b"ZF" + hex(len(body)).encode().ljust(19) + zlib.compress(body)
    assert detect_format(write(tmp_path / "old.pkl", data)).engine == "joblib"


def test_compressed_non_pickle_is_not_joblib(tmp_path: Path) -> None:
    with pytest.raises(UnknownModelFormatError):
        detect_format(write(tmp_path / "notes.gz", gzip.compress(b"just some text" * 10)))


def test_skops(tmp_path: Path) -> None:
    f = zip_bytes(tmp_path / "model.skops", {"schema.json": b"{}", "123.npy": b"\x93NUMPY"})
    got = detect_format(f)
    assert got.engine == "skops" and not got.needs_trust
    assert "schema.json" in got.evidence


def test_torch_zip(tmp_path: Path) -> None:
    got = detect_format(zip_bytes(tmp_path / "weights.pt", torch_entries("weights")))
    assert got.engine == "torch" and got.needs_trust
    assert "weights/data.pkl" in got.evidence


def test_torchscript(tmp_path: Path) -> None:
    got = detect_format(zip_bytes(tmp_path / "scripted.pt", torchscript_entries("scripted")))
    assert got.engine == "torchscript" and not got.needs_trust
    assert "code/" in got.evidence


def test_torchscript_with_constants_only(tmp_path: Path) -> None:
    entries = torch_entries()
    entries["archive/constants.pkl"] = b"\x80\x02)."
    assert detect_format(zip_bytes(tmp_path / "m.pt", entries)).engine == "torchscript"


def test_data_pkl_without_version_or_data_is_not_torch(tmp_path: Path) -> None:
    f = zip_bytes(tmp_path / "m.zip", {"archive/data.pkl": b"\x80\x02}."})
    with pytest.raises(UnknownModelFormatError, match="zip"):
        detect_format(f)


def test_an_entry_merely_ending_in_data_pkl_is_not_torch(tmp_path: Path) -> None:
    f = zip_bytes(tmp_path / "m.zip", {"a/mydata.pkl": b"\x80\x02.", "a/myversion": b"3"})
    with pytest.raises(UnknownModelFormatError, match="no torch or skops layout"):
        detect_format(f)


def test_safetensors(tmp_path: Path) -> None:
    got = detect_format(write(tmp_path / "model.safetensors", safetensors_bytes()))
    assert got.engine == "safetensors" and not got.needs_trust
    assert "header" in got.evidence


@pytest.mark.parametrize(
    "data",
    [
        struct.pack("<Q", 10**9) + b'{"a": 1}',  # N larger than the file
        struct.pack("<Q", 0) + b"{}",  # N == 0
        struct.pack("<Q", 8) + b"[1,2,3,4]",  # not an object
        struct.pack("<Q", 8) + b'{"a": 1]',  # not JSON
        struct.pack("<Q", 9) + b'{"w": 12}',  # a tensor entry that is not an object
    ],
)
def test_not_safetensors(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(UnknownModelFormatError):
        detect_format(write(tmp_path / "model.safetensors", data))


def test_onnx(tmp_path: Path) -> None:
    got = detect_format(write(tmp_path / "model.onnx", onnx_bytes()))
    assert got.engine == "onnx" and not got.needs_trust
    assert "ir_version" in got.evidence


def test_onnx_needs_its_extension(tmp_path: Path) -> None:
    with pytest.raises(UnknownModelFormatError):
        detect_format(write(tmp_path / "model.bin", onnx_bytes()))


@pytest.mark.parametrize(
    "data", [b"", b"\x08", b"\x12\xff\xff\xff\x0f", b"\x08\x08\x12\x50abc", b"\x07junk", b"{}"]
)
def test_not_onnx(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(UnknownModelFormatError, match="onnx"):
        detect_format(write(tmp_path / "model.onnx", data))


# -- signatures win over extensions, and the documented order ---------------------------------


def test_signature_beats_extension(tmp_path: Path) -> None:
    got = detect_format(write(tmp_path / "model.onnx", pickle.dumps(PLAIN, protocol=4)))
    assert got.engine == "pickle"
    assert ".onnx" in got.evidence  # says the extension was overruled


def test_torchscript_before_torch_before_skops(tmp_path: Path) -> None:
    both = {**torch_entries(), "schema.json": b"{}"}
    assert detect_format(zip_bytes(tmp_path / "a.zip", both)).engine == "torch"
    every = {**torchscript_entries(), "schema.json": b"{}"}
    assert detect_format(zip_bytes(tmp_path / "b.zip", every)).engine == "torchscript"


def test_safetensors_before_pickle(tmp_path: Path) -> None:
    """A header length whose first byte is 0x80 and second a protocol looks like a pickle too."""
    n = 0x0480
    header = b"{" + b" " * (n - 2) + b"}"
    data = struct.pack("<Q", n) + header
    assert data[:2] == b"\x80\x04"
    assert detect_format(write(tmp_path / "x.pkl", data)).engine == "safetensors"


def test_order_table_lists_every_engine() -> None:
    assert set(detect.ORDER) == set(detect.ENGINES)
    for engine in detect.ENGINES:
        assert engine in (detect.__doc__ or "")


def test_generic_zip_is_not_a_model(tmp_path: Path) -> None:
    f = zip_bytes(tmp_path / "arrays.npz", {"x.npy": b"\x93NUMPY", "y.npy": b"\x93NUMPY"})
    with pytest.raises(UnknownModelFormatError, match="zip archive"):
        detect_format(f)


# -- folders ----------------------------------------------------------------------------------


def test_folder_with_one_model_file(tmp_path: Path) -> None:
    write(tmp_path / "README.md", b"# my model\n")
    write(tmp_path / "config.json", b'{"labels": 3}')
    f = write(tmp_path / "weights" / "w.safetensors", safetensors_bytes())
    got = detect_format(tmp_path)
    assert got.engine == "safetensors" and got.path == f


def test_folder_prefers_the_file_named_model(tmp_path: Path) -> None:
    write(tmp_path / "tokenizer.pkl", pickle.dumps(PLAIN, protocol=4))
    f = write(tmp_path / "model.onnx", onnx_bytes())
    got = detect_format(tmp_path)
    assert got.path == f and got.engine == "onnx"
    assert "named model.*" in got.evidence


def test_folder_with_several_candidates_lists_them_all(tmp_path: Path) -> None:
    write(tmp_path / "a.pkl", pickle.dumps(PLAIN, protocol=4))
    write(tmp_path / "b.safetensors", safetensors_bytes())
    write(tmp_path / "notes.txt", b"hi")
    with pytest.raises(UnknownModelFormatError) as info:
        detect_format(tmp_path)
    message = str(info.value)
    assert "2 model files" in message
    assert "a.pkl" in message and "b.safetensors" in message
    assert set(info.value.candidates) == {"a.pkl", "b.safetensors"}


def test_folder_with_two_files_named_model_is_ambiguous(tmp_path: Path) -> None:
    write(tmp_path / "model.pkl", pickle.dumps(PLAIN, protocol=4))
    write(tmp_path / "model.onnx", onnx_bytes())
    with pytest.raises(UnknownModelFormatError, match=re.escape("model.onnx")):
        detect_format(tmp_path)


def test_folder_with_nothing_recognised_names_every_file_and_format(tmp_path: Path) -> None:
    write(tmp_path / "README.md", b"# hi\n")
    write(tmp_path / "sub" / "data.bin", b"\x00\x01\x02")
    with pytest.raises(UnknownModelFormatError) as info:
        detect_format(tmp_path)
    err = info.value
    assert isinstance(err, ModelshelfError) and isinstance(err, ValueError)
    message = str(err)
    assert "README.md" in message and "sub/data.bin" in message
    for engine in detect.ENGINES:
        assert engine in message
    assert err.tried == detect.ORDER


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(UnknownModelFormatError, match="no files"):
        detect_format(tmp_path)


def test_hidden_files_are_skipped(tmp_path: Path) -> None:
    write(tmp_path / ".cache" / "x.pkl", pickle.dumps(PLAIN, protocol=4))
    f = write(tmp_path / "m.pkl", pickle.dumps(PLAIN, protocol=4))
    assert detect_format(tmp_path).path == f


def test_symlinked_file_is_followed(tmp_path: Path) -> None:
    """Cache snapshots link to blobs: the link is the candidate, its target gives the bytes."""
    blob = write(tmp_path / "blobs" / "abc", safetensors_bytes())
    snap = tmp_path / "snap"
    snap.mkdir()
    (snap / "model.safetensors").symlink_to(blob)
    got = detect_format(snap)
    assert got.path == snap / "model.safetensors" and got.engine == "safetensors"


# -- bad input --------------------------------------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(UnknownModelFormatError, match="does not exist"):
        detect_format(tmp_path / "nope.pkl")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80",
        b"\x80\x04",
        b"PK\x03\x04",
        b"PK\x03\x04" + b"\x00" * 100,
        b"\x1f\x8b\x08\x00",
        b"\x78\x9c\x00\x00",
        b"BZh9" + b"\xff" * 20,
        b"\xfd7zXZ\x00\x00",
        b"\x5d\x00\x00\x80\x00" + b"\xff" * 8,
        b"ZF0x10" + b" " * 15 + b"\x78\x9c",
        struct.pack("<Q", 2**63) + b"{",
    ],
)
def test_truncated_or_garbage_files_raise_only_our_error(tmp_path: Path, data: bytes) -> None:
    for name in ("m.pkl", "m.onnx", "m.safetensors", "m.pt", "m"):
        f = write(tmp_path / name, data)
        try:
            got = detect_format(f)
        except UnknownModelFormatError as err:
            assert name in str(err)
        else:
            # A truncated pickle header is still recognised as a pickle (the loader will fail).
            assert got.engine in detect.ENGINES


def test_truncated_zip_of_a_torch_file(tmp_path: Path) -> None:
    f = zip_bytes(tmp_path / "m.pt", torch_entries())
    data = f.read_bytes()
    write(f, data[: len(data) // 2])
    with pytest.raises(UnknownModelFormatError, match=re.escape("m.pt")):
        detect_format(f)


def test_large_file_reads_only_the_bounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A big torch archive: the head and the tail with the central directory are all it reads."""
    f = tmp_path / "big.pt"
    with zipfile.ZipFile(f, "w") as zf:
        for name, data in torch_entries("big").items():
            zf.writestr(name, data)
        zf.writestr("big/data/1", b"\x01" * (4 * detect.TAIL_BYTES))
    read = count_reads(monkeypatch)
    assert detect_format(f).engine == "torch"
    assert 0 < read[0] <= detect.HEAD_BYTES + detect.TAIL_BYTES < f.stat().st_size


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Patch the module's one file opener to count every byte read through it."""
    total = [0]
    real = detect._open_binary

    class Counting:
        def __init__(self, path: Path) -> None:
            self._f = real(path)

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *exc: object) -> None:
            self._f.close()

        def seek(self, offset: int, whence: int = 0) -> int:
            return self._f.seek(offset, whence)

        def read(self, n: int = -1) -> bytes:
            data = self._f.read(n)
            total[0] += len(data)
            return data

    monkeypatch.setattr(detect, "_open_binary", Counting)
    return total


def test_zip_with_an_undecodable_utf8_name(tmp_path: Path) -> None:
    """zipfile raises UnicodeDecodeError (not BadZipFile) for such a name: still our error."""
    f = zip_bytes(tmp_path / "m.pt", {"\u00e9/data.pkl": b"\x80\x02."})
    write(f, f.read_bytes().replace("\u00e9".encode(), b"\xff\xff"))
    with pytest.raises(UnknownModelFormatError, match="central directory"):
        detect_format(f)


# -- real files, when the engines happen to be installed (the `make test` extras) -------------


def test_real_torch_and_torchscript(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    net = torch.nn.Linear(2, 1)
    torch.save(net.state_dict(), tmp_path / "weights.pt")
    assert detect_format(tmp_path / "weights.pt").engine == "torch"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript deprecation notices
        torch.jit.script(net).save(str(tmp_path / "scripted.pt"))
    assert detect_format(tmp_path / "scripted.pt").engine == "torchscript"


def test_real_joblib(tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    np = pytest.importorskip("numpy")
    joblib.dump({"w": np.arange(5.0)}, tmp_path / "plain.bin")
    assert detect_format(tmp_path / "plain.bin").engine == "joblib"
    for compress in ("zlib", "gzip", "bz2", "xz", "lzma"):
        joblib.dump({"w": np.arange(5.0)}, tmp_path / "c.bin", compress=(compress, 3))
        got = detect_format(tmp_path / "c.bin")
        assert got.engine == "joblib" and compress in got.evidence


def test_real_skops(tmp_path: Path) -> None:
    sio = pytest.importorskip("skops.io")
    np = pytest.importorskip("numpy")
    sio.dump({"w": np.arange(3)}, tmp_path / "m.skops")
    assert detect_format(tmp_path / "m.skops").engine == "skops"


def test_real_onnx(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    h = onnx.helper
    x = h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    graph = h.make_graph([h.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    onnx.save(h.make_model(graph, producer_name="test"), str(tmp_path / "m.onnx"))
    assert detect_format(tmp_path / "m.onnx").engine == "onnx"


def test_real_safetensors(tmp_path: Path) -> None:
    st = pytest.importorskip("safetensors.numpy")
    np = pytest.importorskip("numpy")
    st.save_file({"w": np.zeros(3, dtype=np.float32)}, str(tmp_path / "m.safetensors"))
    assert detect_format(tmp_path / "m.safetensors").engine == "safetensors"


def test_a_zip_needing_an_unknown_version_is_no_model_not_a_crash(tmp_path: Path) -> None:
    # zipfile raises NotImplementedError for a "version needed to extract" above 6.3 (found by
    # hypothesis): detection answers "not a model" in its own words instead.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("schema.json", "{}")
    data = bytearray(buffer.getvalue())
    central = data.rfind(b"PK\x01\x02")
    data[central + 6 : central + 8] = (64).to_bytes(2, "little")
    path = tmp_path / "model.skops"
    path.write_bytes(bytes(data))
    with pytest.raises(UnknownModelFormatError, match="central directory"):
        detect_format(path)


def test_zip_entry_names_in_a_refusal_are_escaped(tmp_path: Path) -> None:
    path = tmp_path / "thing.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a\x1b[2Kerror: fake", b"x")
    with pytest.raises(UnknownModelFormatError) as refused:
        detect_format(path)
    assert "\x1b" not in str(refused.value) and "\\x1b" in str(refused.value)
