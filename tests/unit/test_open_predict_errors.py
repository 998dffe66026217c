"""`modelshelf predict`: a ModelshelfError that modelshelf's own code raises (an engine runner,
a cast) is printed as itself, one line with its own message, type and exit code; an exception
of a user's runner (even a ModelshelfError it raises itself) stays wrapped, named by the runner,
escaped (issue 21, open leftover 4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelshelf import Runner, register_model
from modelshelf.cli.main import main
from modelshelf.errors import InvalidInputError
from modelshelf.models.engines.onnx import OnnxRunner

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def graph(tmp_path: Path) -> Path:
    """``y = x + x`` over a float32 ``x`` of shape ``[N, 3]``."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    model = helper.make_model(
        helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "double", [x], [y]),
        opset_imports=[helper.make_opsetid("", 13)],
    )
    model.ir_version = 8
    path = tmp_path / "double.onnx"
    onnx.save(model, str(path))
    return path


def predict(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, spec: str, data: str, *flags: str
) -> tuple[int, str, str]:
    given = tmp_path / "input.json"
    given.write_text(data)
    return run(capsys, "predict", spec, "--input", str(given), "-q", *flags)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ('{"z\\u001b[2J": [[1, 2, 3]]}', "error: 'z\\x1b[2J' is not an input; this graph takes"),
        ("[1, 2, 3]", "error: the graph refused the input: "),  # rank 1 for rank 2
        ('[["a", "b", "c"]]', "error: input 'x' "),  # the cast to float32 refuses text
    ],
    ids=["an unknown input name", "the wrong rank", "text for floats"],
)
def test_an_engines_own_refusal_passes_through_as_itself(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, graph: Path, data: str, message: str
) -> None:
    assert predict(capsys, tmp_path, str(graph), "[[1, 2, 3]]")[:2] == (0, "[[2.0, 4.0, 6.0]]\n")
    code, out, err = predict(capsys, tmp_path, str(graph), data)
    assert (code, out) == (1, "") and err.count("\n") == 1, err
    assert err.startswith(message), err
    assert "OnnxRunner failed" not in err and "InvalidInputError:" not in err, err
    assert "\x1b" not in err

    code, _, err = predict(capsys, tmp_path, str(graph), data, "--json")
    error = json.loads(err)
    assert code == 1 and error["exit"] == 1 and error["type"] == "InvalidInputError", error
    assert error["error"].startswith(message.removeprefix("error: ")[:20]), error
    assert "OnnxRunner failed" not in error["error"], error


class RaisesOurError(Runner):
    """A user's runner that raises modelshelf's error type itself, with hostile text."""

    @staticmethod
    def save_model(model: Any, folder: Path) -> dict[str, str]:
        (folder / "w.json").write_text("{}")
        return {}

    @staticmethod
    def load_model(props: dict[str, str] | None, artifacts: dict[str, Path]) -> Any:
        return None

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        raise InvalidInputError("bad rows \x1b]0;owned\x07\nline two")


class RaisesValueError(RaisesOurError):
    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        raise ValueError("the user's own \x1b[2J failure")


class CallsTheEngine(OnnxRunner):
    """A user's runner that reshapes its input, then leaves the run to the ONNX engine."""

    @staticmethod
    def preprocess_data(data: Any) -> Any:
        return {"wrong": data}


def test_a_user_runners_own_modelshelf_error_stays_wrapped_and_escaped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    register_model("demo/ours", RaisesOurError, {"w": 1})
    code, out, err = predict(capsys, tmp_path, "demo/ours", "[1]")
    assert (code, out) == (1, "") and err.count("\n") == 1, err
    assert err.startswith(
        "error: RaisesOurError failed on the input: InvalidInputError: bad rows \\x1b]0;owned\\x07"
        " (MODELSHELF_DEBUG=1 shows the rest)"
    ), err


def test_a_user_runners_exception_stays_wrapped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    register_model("demo/value", RaisesValueError, {"w": 1})
    code, _, err = predict(capsys, tmp_path, "demo/value", "[1]")
    assert code == 1 and err == (
        "error: RaisesValueError failed on the input: ValueError: the user's own \\x1b[2J failure\n"
    )


def test_the_engine_under_a_users_subclass_speaks_for_itself(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, graph: Path
) -> None:
    register_model("demo/sub", CallsTheEngine, graph.read_bytes())
    code, _, err = predict(capsys, tmp_path, "demo/sub", "[[1, 2, 3]]")
    assert code == 1 and err.startswith("error: 'wrong' is not an input; this graph takes"), err
