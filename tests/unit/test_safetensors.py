"""safetensors: real files load as tensors without trust; hostile headers are refused first."""

from __future__ import annotations

import json
import struct
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import modelshelf
from modelshelf import InvalidInputError, Shelf, load_model
from modelshelf.errors import UnknownModelFormatError
from modelshelf.models.engines import safetensors as st_engine
from modelshelf.shelf.source import PushSource

st_numpy = pytest.importorskip("safetensors.numpy")


def write(path: Path, header: object, data: bytes = b"", *, length: int | None = None) -> Path:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    size = len(raw) if length is None else length
    path.write_bytes(struct.pack("<Q", size) + raw + data)
    return path


def real(path: Path) -> Path:
    st_numpy.save_file(
        {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, 2], dtype=np.int64)},
        str(path),
        metadata={"by": "test"},
    )
    return path


def test_a_real_file_loads_as_numpy_arrays_without_trust(tmp_path: Path) -> None:
    tensors = st_engine.load_file(real(tmp_path / "m.safetensors"), framework="numpy")
    assert set(tensors) == {"w", "b"}
    np.testing.assert_array_equal(tensors["w"], np.arange(6, dtype=np.float32).reshape(2, 3))
    assert tensors["b"].dtype == np.int64


def test_load_model_gives_the_tensors_and_refuses_to_predict(tmp_path: Path) -> None:
    loaded = load_model(real(tmp_path / "m.safetensors"))
    assert set(loaded.model) == {"w", "b"}
    assert loaded.metadata["engine"] == "detected:safetensors" and not loaded.trust
    with pytest.raises(InvalidInputError, match=r"only tensors"):
        loaded.predict([1.0])


def test_torch_tensors_when_asked(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    path = real(tmp_path / "m.safetensors")
    tensors = st_engine.load_file(path, framework="torch")
    assert isinstance(tensors["w"], torch.Tensor) and tensors["w"].shape == (2, 3)
    loaded = load_model(path, loader="modelshelf.models.engines.safetensors:load_torch")
    assert isinstance(loaded.model["b"], torch.Tensor)
    as_numpy = load_model(path, loader="modelshelf.models.engines.safetensors:load_numpy")
    assert isinstance(as_numpy.model["b"], np.ndarray)


def test_bf16_needs_torch_and_says_so(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bf.safetensors",
        {"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}},
        b"\0" * 4,
    )
    with pytest.raises(UnknownModelFormatError, match=r"BF16 tensors, which numpy cannot hold"):
        st_engine.load_file(path, framework="numpy")


def test_a_pulled_asset_loads_through_the_store(tmp_path: Path) -> None:
    url = (tmp_path / "store").as_uri()
    path = real(tmp_path / "m.safetensors")
    Shelf(url).push(PushSource.from_files({path: "weights/model.safetensors"}), "demo/weights")
    loaded = load_model("demo/weights", store=Shelf(url, cache_dir=tmp_path / "fresh"))
    assert set(loaded.model) == {"w", "b"}
    by_loader = load_model(
        "demo/weights",
        store=url,
        loader="modelshelf.models.engines.safetensors:load_numpy",
    )
    assert set(by_loader.model) == {"w", "b"}


ENTRY = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


@pytest.mark.parametrize(
    ("header", "data", "length", "reason"),
    [
        ({"w": ENTRY}, b"\0" * 8, 2**62, "header length is 4611686018427387904 bytes, more than"),
        ({"w": ENTRY}, b"\0" * 8, 2**64 - 1, "more than the file holds"),
        (b"{" + b" " * (9 * 2**20) + b"}", b"", None, "over the 8388608 modelshelf reads"),
        (b"{not json}", b"", None, "its header is not JSON"),
        (b'{"w": NaN}', b"", None, "its header is not JSON"),
        (b"\xff\xfe{}", b"", None, "its header is not JSON"),
        (b"[1]", b"", None, "not an object"),
        (b"[" * 5000 + b"]" * 5000, b"", None, "values in 10000 bytes, not a header"),
        (b"[" + b"0," * 5000 + b"0]", b"", None, "not a header"),
        ({"w": {**ENTRY, "dtype": "F128"}}, b"\0" * 8, None, "unknown dtype 'F128'"),
        ({"w": {**ENTRY, "shape": [-2]}}, b"\0" * 8, None, "has the shape '[-2]'"),
        ({"w": {**ENTRY, "shape": [True]}}, b"\0" * 8, None, "has the shape '[true]'"),
        ({"w": {**ENTRY, "data_offsets": [0, 2**40]}}, b"\0" * 8, None, "outside its 8 bytes"),
        ({"w": {**ENTRY, "data_offsets": [8, 0]}}, b"\0" * 8, None, "outside its 8 bytes"),
        ({"w": {**ENTRY, "shape": [3]}}, b"\0" * 8, None, "takes 8 bytes but F32 [3] needs 12"),
        ({"w": {**ENTRY, "x": 1}}, b"\0" * 8, None, "is not {dtype, shape, data_offsets}"),
        ({"__metadata__": {"a": 1}}, b"", None, "__metadata__ is not an object of text"),
        ({"w\x1b[2J": [1]}, b"", None, "tensor 'w\\x1b[2J' is not"),
    ],
)
def test_a_hostile_header_is_one_clear_error_before_any_large_read(
    tmp_path: Path, header: object, data: bytes, length: int | None, reason: str
) -> None:
    path = write(tmp_path / "bad.safetensors", header, data, length=length)
    tracemalloc.start()
    try:
        with pytest.raises(UnknownModelFormatError) as caught:
            st_engine.load_file(path, framework="numpy")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reason in str(caught.value)
    assert str(caught.value).startswith(f"{path}: safetensors, but")
    assert "\x1b" not in str(caught.value)
    assert peak < 2**20  # nothing like the header it claims (or the 9 MiB one) is read


def test_a_hostile_file_through_load_model_names_it(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.safetensors", {"w": {**ENTRY, "shape": [3]}}, b"\0" * 8)
    with pytest.raises(UnknownModelFormatError, match=r"needs 12"):
        load_model(path)


def test_register_then_load_a_registered_safetensors_artifact(tmp_path: Path) -> None:
    """An artifact's tensors reach a runner through the same loader (no trust needed)."""
    from tests.unit.test_signature import note  # a file for the version besides the weights

    url = (tmp_path / "store").as_uri()
    weights = real(tmp_path / "w.safetensors")
    modelshelf.register_model(
        "demo/st",
        WeightsRunner,
        artifacts={weights: "weights.safetensors", **note(tmp_path)},
        store=url,
        input_example=[[1.0, 1.0, 1.0]],
    )
    loaded = load_model("demo/st", store=Shelf(url, cache_dir=tmp_path / "fresh"))
    assert loaded.predict([[1.0, 1.0, 1.0]]).tolist() == [[3.0, 12.0]]
    assert (
        loaded.signature is not None and str(loaded.signature.outputs[0]) == "output-0 FP32 [-1, 2]"
    )


class WeightsRunner(modelshelf.Runner):
    @staticmethod
    def load_model(props: dict[str, str] | None, artifacts: dict[str, Path]) -> Any:
        return st_engine.load_file(artifacts["weights.safetensors"], framework="numpy")

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        return np.asarray(data, dtype=np.float32) @ model["w"].T
