"""Signatures: recorded by register_model(input_example=...) and the engine helpers, read back
strictly by load_model, printed by show (text and --json), checked against OIP inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests import engines_fixtures as fx

import modelshelf
from modelshelf import InvalidInputError, Runner, Shelf, UntrustedStoreDataError, load_model
from modelshelf.cli.main import main
from modelshelf.models.signature import Signature, TensorSpec, describe
from modelshelf.shelf.source import PushSource


class ArrayRunner(Runner):
    """Saves a factor as text; predict multiplies an array by it (output: an array)."""

    engine = "array"

    @staticmethod
    def save_model(model: Any, folder: Path) -> dict[str, str]:
        (folder / "factor.txt").write_text(str(model))
        return {"factor": "factor.txt"}

    @staticmethod
    def load_model(props: dict[str, str] | None, artifacts: dict[str, Path]) -> Any:
        assert props is not None
        return float((artifacts["model"] / props["factor"]).read_text())

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        return np.asarray(data, dtype=np.float32) * model


class NamedRunner(Runner):
    """Takes {"a": ints, "b": floats}; gives {"sum": floats, "label": texts}."""

    @staticmethod
    def load_model(props: dict[str, str] | None, artifacts: dict[str, Path]) -> Any:
        return float((artifacts["weights"]).read_text())

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        total = np.asarray(data["a"]) + np.asarray(data["b"]) * model
        return {"sum": total, "label": np.where(total > 0, "pos", "neg")}


class ObjectsRunner(Runner):
    """Answers with objects that are no tensor."""

    @staticmethod
    def load_model(props: dict[str, str] | None, artifacts: dict[str, Path]) -> Any:
        return None

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        return [{"label": "x", "score": 0.5} for _ in data]


class FailingRunner(Runner):
    @staticmethod
    def load_model(props: dict[str, str] | None, artifacts: dict[str, Path]) -> Any:
        return None

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        raise ValueError("expects 4 features")


@pytest.fixture
def url(tmp_path: Path) -> str:
    # An existing, empty store: "nothing was written" is then an empty listing (a read of a
    # folder that does not exist is refused, and a refused registration must not create it).
    (tmp_path / "store").mkdir()
    return (tmp_path / "store").as_uri()


def note(tmp_path: Path) -> dict[str | Path, str]:
    """One artifact file, for runners that save nothing."""
    (tmp_path / "note.txt").write_text("n")
    return {tmp_path / "note.txt": "note.txt"}


def fresh(url: str, tmp_path: Path) -> Shelf:
    return Shelf(url, cache_dir=tmp_path / "fresh-cache")


def recorded(manifest: modelshelf.Manifest) -> dict[str, Any]:
    signature: dict[str, Any] = manifest.extra["model"]["signature"]
    return signature


def test_array_example_records_inputs_and_one_predictions_outputs(url: str, tmp_path: Path) -> None:
    example = np.ones((2, 3), dtype=np.float64)
    manifest = modelshelf.register_model(
        "demo/arr", ArrayRunner, 2.0, store=url, input_example=example
    )
    assert recorded(manifest) == {
        "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, 3]}],
        "outputs": [{"name": "output-0", "datatype": "FP32", "shape": [-1, 3]}],
    }
    loaded = load_model("demo/arr", store=fresh(url, tmp_path))
    assert loaded.signature == Signature(
        (TensorSpec("input-0", "FP64", (-1, 3)),), (TensorSpec("output-0", "FP32", (-1, 3)),)
    )
    assert loaded.metadata["signature"] == recorded(manifest)


def test_dict_example_names_inputs_and_outputs_and_artifacts_load_back(
    url: str, tmp_path: Path
) -> None:
    weights = tmp_path / "w.txt"
    weights.write_text("2")
    example = {"a": [1, 2], "b": np.array([0.5, -3.0], dtype=np.float32)}
    manifest = modelshelf.register_model(
        "demo/named", NamedRunner, artifacts={weights: "weights"}, store=url, input_example=example
    )
    assert recorded(manifest) == {
        "inputs": [
            {"name": "a", "datatype": "INT64", "shape": [-1]},
            {"name": "b", "datatype": "FP32", "shape": [-1]},
        ],
        "outputs": [
            {"name": "sum", "datatype": "FP64", "shape": [-1]},
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
        ],
    }


def test_no_example_records_no_signature(url: str, tmp_path: Path) -> None:
    manifest = modelshelf.register_model("demo/plain", ArrayRunner, 2.0, store=url)
    assert "signature" not in manifest.extra["model"]
    assert load_model("demo/plain", store=fresh(url, tmp_path)).signature is None


def test_text_and_scalar_examples(url: str, tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match=r"outputs are left out"):
        words = modelshelf.register_model(
            "demo/words",
            ObjectsRunner,
            artifacts=note(tmp_path),
            store=url,
            input_example=["a", "bc"],
        )
    inputs = recorded(words)["inputs"]
    assert inputs == [{"name": "input-0", "datatype": "BYTES", "shape": [-1]}]
    assert describe(b"raw", "x", what="t") == (TensorSpec("x", "BYTES", ()),)
    assert describe(3, "x", what="t") == (TensorSpec("x", "INT64", ()),)
    assert describe([[True], [False]], "x", what="t") == (TensorSpec("x", "BOOL", (-1, 1)),)


def test_outputs_that_are_no_tensor_are_left_out_with_a_warning(url: str, tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match=r"outputs are left out of the signature"):
        manifest = modelshelf.register_model(
            "demo/objects",
            ObjectsRunner,
            artifacts=note(tmp_path),
            store=url,
            input_example=[[1.0, 2.0]],
        )
    assert recorded(manifest)["outputs"] == []
    assert recorded(manifest)["inputs"][0]["shape"] == [-1, 2]


@pytest.mark.parametrize(
    ("example", "message"),
    [
        (object(), r"input_example 'input-0' has dtype object"),
        ([[1.0, 2.0], [3.0]], r"not a rectangular array"),
        ([], r"is empty"),
        ({}, r"empty dict"),
        ({1: [1.0]}, r"must be text"),
        ({"a\nb": [1.0]}, r"control characters"),
        (np.array([1 + 2j]), r"dtype complex128"),
        ([1, "a"], r"has dtype <U21 \(list\)"),
    ],
)
def test_an_example_that_is_no_tensor_is_refused_before_anything_is_written(
    url: str, example: Any, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        modelshelf.register_model("demo/bad", ArrayRunner, 2.0, store=url, input_example=example)
    assert Shelf(url).assets() == []


def test_a_failing_prediction_on_the_example_is_refused_naming_the_stage(
    url: str, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        modelshelf.register_model(
            "demo/fail", FailingRunner, artifacts=note(tmp_path), store=url, input_example=[[1.0]]
        )
    text = str(caught.value)
    assert (
        "failed in predict" in text
        and "expects 4 features" in text
        and "Nothing was pushed" in text
    )
    assert Shelf(url).assets() == []


def test_sklearn_helper(url: str, tmp_path: Path) -> None:
    pytest.importorskip("skops")
    x, _ = fx.tiny_data()
    manifest = modelshelf.register_sklearn_model(
        "demo/sk", fx.tiny_pipeline(), store=url, input_example=x[:2]
    )
    assert recorded(manifest) == {
        "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, 3]}],
        "outputs": [{"name": "output-0", "datatype": "INT64", "shape": [-1]}],
    }
    assert load_model("demo/sk", store=fresh(url, tmp_path)).signature is not None


def test_torch_helper_with_a_tensor_example_and_hooks(url: str) -> None:
    torch = pytest.importorskip("torch")
    example = torch.zeros((4, 3), dtype=torch.float32)
    manifest = modelshelf.register_torch_model(
        "demo/torch", fx.tiny_module(), store=url, input_example=example
    )
    assert recorded(manifest) == {
        "inputs": [{"name": "input-0", "datatype": "FP32", "shape": [-1, 3]}],
        "outputs": [{"name": "output-0", "datatype": "FP32", "shape": [-1, 2]}],
    }
    hooked = modelshelf.register_torch_model(
        "demo/torch-hooked",
        fx.tiny_module(),
        preprocess_data=fx.as_float32,
        postprocess_data=fx.to_list,
        store=url,
        input_example=[[1, 2, 3]],
    )
    assert recorded(hooked)["inputs"] == [
        {"name": "input-0", "datatype": "INT64", "shape": [-1, 3]}
    ]
    # the postprocess hook made plain lists of Python floats
    assert recorded(hooked)["outputs"] == [
        {"name": "output-0", "datatype": "FP64", "shape": [-1, 2]}
    ]


def test_pickle_helper(url: str) -> None:
    manifest = modelshelf.register_pickle_model(
        "demo/pickled", fx.Doubler(), store=url, input_example=[1.0, 2.0]
    )
    assert recorded(manifest)["outputs"] == [
        {"name": "output-0", "datatype": "FP64", "shape": [-1]}
    ]


def test_onnx_helper_describes_the_graph_without_an_example(url: str, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("torch")
    graph = fx.onnx_of(fx.tiny_module())
    manifest = modelshelf.register_onnx_model("demo/onnx", graph, store=url)
    expected = {
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}],
        "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 2]}],
    }
    assert recorded(manifest) == expected
    assert load_model("demo/onnx", store=fresh(url, tmp_path)).signature == Signature.from_dict(
        expected
    )
    # A graph behind a preprocess hook does not describe what callers send: the example does.
    hooked = modelshelf.register_onnx_model(
        "demo/onnx-hooked", graph, preprocess_data=fx.as_float32, store=url
    )
    assert "signature" not in hooked.extra["model"]
    described = modelshelf.register_onnx_model(
        "demo/onnx-ex", graph, preprocess_data=fx.as_float32, store=url, input_example=[[1, 2, 3]]
    )
    assert recorded(described)["inputs"] == [
        {"name": "input-0", "datatype": "INT64", "shape": [-1, 3]}
    ]


def test_a_plain_onnx_file_has_its_graphs_signature(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("torch")
    path = tmp_path / "tiny.onnx"
    onnx.save(fx.onnx_of(fx.tiny_module()), str(path))
    signature = load_model(path).signature
    assert signature is not None
    assert [str(t) for t in signature.inputs] == ["x FP32 [-1, 3]"]


def test_dataframe_columns_are_inputs() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"age": [31, 42], "name": ["a", "b"], "score": [0.5, 1.5]})
    assert describe(frame, "x", what="t") == (
        TensorSpec("age", "INT64", (-1,)),
        TensorSpec("name", "BYTES", (-1,)),
        TensorSpec("score", "FP64", (-1,)),
    )


def forge(url: str, tmp_path: Path, signature: object) -> None:
    (tmp_path / "f.txt").write_text("x")
    section = {
        "format": 1,
        "engine": "array",
        "runner": f"{__name__}:ArrayRunner",
        "requirements": [],
        "props": None,
        "artifacts": [],
        "signature": signature,
    }
    Shelf(url, cache_dir=tmp_path / "writer").push(
        PushSource.from_files({tmp_path / "f.txt": "f.txt"}),
        "demo/forged",
        sections={"model": section},
    )


GOOD_INPUT = {"name": "x", "datatype": "FP32", "shape": [-1, 3]}


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        ([], "must be an object"),
        ({"inputs": []}, "lists 0 inputs"),
        ({"inputs": [GOOD_INPUT], "extra": 1}, "unknown key 'extra'"),
        ({"inputs": [GOOD_INPUT] * 2}, "names input 'x' twice"),
        ({"inputs": [{**GOOD_INPUT, "datatype": "FLOAT"}]}, "datatype 'FLOAT' is not one of"),
        ({"inputs": [{**GOOD_INPUT, "datatype": "BF16"}]}, "datatype 'BF16' is not one of"),
        ({"inputs": [{**GOOD_INPUT, "shape": [-2]}]}, "must be at most 32 integers >= -1"),
        ({"inputs": [{**GOOD_INPUT, "shape": [True]}]}, "must be at most 32 integers >= -1"),
        ({"inputs": [{**GOOD_INPUT, "shape": [1.0]}]}, "must be at most 32 integers >= -1"),
        ({"inputs": [{**GOOD_INPUT, "shape": [1] * 33}]}, "must be at most 32 integers >= -1"),
        ({"inputs": [{**GOOD_INPUT, "name": "a\x1b[2Jb"}]}, "control characters"),
        ({"inputs": [{**GOOD_INPUT, "name": "n" * 300}]}, "longer than 256"),
        ({"inputs": [{**GOOD_INPUT, "name": ""}]}, "empty name"),
        ({"inputs": [{**GOOD_INPUT, "more": 1}]}, "unknown key 'more'"),
        ({"inputs": [GOOD_INPUT] * 257}, "lists 257 inputs"),
        ({"inputs": [GOOD_INPUT], "outputs": "y"}, "outputs must be a list"),
    ],
)
def test_a_hostile_signature_is_refused_by_load_model_and_shown_as_refused(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], signature: object, reason: str
) -> None:
    forge(url, tmp_path, signature)
    with pytest.raises(UntrustedStoreDataError) as caught:
        load_model("demo/forged", store=fresh(url, tmp_path))
    assert "its signature is refused" in str(caught.value) and reason in str(caught.value)
    assert "\n" not in str(caught.value) and "\x1b" not in str(caught.value)
    assert main(["show", "demo/forged", "--store", url]) == 0
    out = capsys.readouterr().out
    assert "signature refused:" in out and "\x1b" not in out


def test_show_prints_the_model_section_and_json_keeps_it_whole(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    modelshelf.register_model(
        "demo/arr",
        ArrayRunner,
        2.0,
        requirements=["numpy>=1"],
        store=url,
        input_example=np.ones((1, 3), dtype=np.float32),
    )
    assert main(["show", "demo/arr", "--store", url]) == 0
    out = capsys.readouterr().out
    lines = [line.rstrip() for line in out.splitlines()]
    assert "engine   array" in lines
    assert f"runner   {__name__}:ArrayRunner" in lines
    assert "requires numpy>=1" in lines
    assert "input    input-0 FP32 [-1, 3]" in lines
    assert "output   output-0 FP32 [-1, 3]" in lines
    assert main(["show", "demo/arr", "--store", url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"]["signature"]["inputs"] == [
        {"name": "input-0", "datatype": "FP32", "shape": [-1, 3]}
    ]
    assert data["model"]["runner"] == f"{__name__}:ArrayRunner"


def test_show_says_the_saved_format_and_when_no_signature_is_recorded(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    modelshelf.register_pickle_model("demo/pickled", fx.Doubler(), store=url)
    assert main(["show", "demo/pickled", "--store", url]) == 0
    lines = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
    assert "saved as pickle (model/model.pkl)" in lines
    assert "signature none recorded" in lines


def test_show_of_a_pushed_version_prints_no_model_lines(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "f.txt").write_text("x")
    Shelf(url).push(PushSource.from_files({tmp_path / "f.txt": "f.txt"}), "demo/files")
    assert main(["show", "demo/files", "--store", url]) == 0
    out = capsys.readouterr().out
    assert "engine" not in out and "signature" not in out


SIG = Signature(
    (
        TensorSpec("a", "FP32", (-1, 3)),
        TensorSpec("b", "INT64", (-1,)),
        TensorSpec("t", "BYTES", (-1,)),
    )
)


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ([("a", "FP32", (2, 3)), ("b", "INT64", (2,)), ("t", "BYTES", (2,))], None),
        ([("a", "FP64", (2, 3)), ("b", "INT32", (2,)), ("t", "BYTES", (2,))], None),
        ([("a", "INT8", (2, 3)), ("b", "UINT8", (2,)), ("t", "BYTES", (0,))], None),
        ([("a", "BYTES", (2, 3)), ("b", "INT64", (2,)), ("t", "BYTES", (2,))], "datatype BYTES"),
        ([("a", "FP32", (2, 3)), ("b", "FP32", (2,)), ("t", "BYTES", (2,))], "datatype FP32"),
        ([("a", "FP32", (2, 3)), ("b", "BOOL", (2,)), ("t", "BYTES", (2,))], "datatype BOOL"),
        ([("a", "FP32", (2, 3)), ("b", "INT64", (2,)), ("t", "INT8", (2,))], "datatype INT8"),
        ([("a", "FP32", (3,)), ("b", "INT64", (2,)), ("t", "BYTES", (2,))], "has rank 1"),
        ([("a", "FP32", (2, 4)), ("b", "INT64", (2,)), ("t", "BYTES", (2,))], "dimension 1 is 4"),
        ([("a", "FP32", (2, 3)), ("b", "INT64", (2,))], "'t' is missing"),
        (
            [("a", "FP32", (2, 3)), ("z", "INT64", (2,)), ("t", "BYTES", (2,))],
            "'z' is not an input",
        ),
    ],
)
def test_contradictions(given: list[tuple[str, str, tuple[int, ...]]], why: str | None) -> None:
    found = SIG.contradiction(given)
    assert found is None if why is None else why in (found or "")


def test_one_input_matches_whatever_its_name() -> None:
    one = Signature((TensorSpec("x", "FP32", (-1, 3)),))
    assert one.contradiction([("input-0", "FP32", (1, 3))]) is None
    assert "rank 1" in (one.contradiction([("input-0", "FP32", (3,))]) or "")


class _Column:
    def __init__(self, values: list[Any]) -> None:
        self.values = values

    def to_numpy(self) -> Any:
        return np.asarray(self.values, dtype=object if isinstance(self.values[0], str) else None)


class DataFrame:
    """Stands in for a pandas DataFrame where pandas is not installed: what describe reads."""

    __module__ = "pandas.core.frame"

    def __init__(self, columns: dict[str, list[Any]]) -> None:
        self._columns = columns
        self.columns = list(columns)

    def __getitem__(self, name: str) -> _Column:
        return _Column(self._columns[name])


def test_a_dataframe_shaped_value_is_described_by_column() -> None:
    frame = DataFrame({"age": [31, 42], "name": ["a", "b"]})
    assert describe(frame, "x", what="t") == (
        TensorSpec("age", "INT64", (-1,)),
        TensorSpec("name", "BYTES", (-1,)),
    )


def test_show_prints_a_hostile_model_section_escaped_and_bounded(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "f.txt").write_text("x")
    section = {
        "engine": "evil\x1b[2J\nengine   forged",
        "runner": {"not": "text"},
        "saved_as": ["x"] * 1000,
        "props": {"file": 7},
        "preprocess": "m:f\r",
        "requirements": ["a" * 5000, 3],
        "signature": None,
    }
    Shelf(url, cache_dir=tmp_path / "writer").push(
        PushSource.from_files({tmp_path / "f.txt": "f.txt"}),
        "demo/odd",
        sections={"model": section},
    )
    assert main(["show", "demo/odd", "--store", url]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out
    assert "engine   evil\\x1b[2J\\nengine   forged" in out.splitlines()
    assert "runner   <dict>" in out.splitlines()
    assert "saved as <list>" in out.splitlines()
    assert max(len(line) for line in out.splitlines()) < 1100
    Shelf(url, cache_dir=tmp_path / "writer").push(
        PushSource.from_files({tmp_path / "f.txt": "f.txt"}), "demo/odd2", sections={"model": 5}
    )
    assert main(["show", "demo/odd2", "--store", url]) == 0
    assert "model    refused: the model section is not an object" in capsys.readouterr().out
