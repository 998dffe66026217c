"""Second review, finding 2: onnxruntime's native log wrote store text raw to fd 2.

An ONNX graph with an unused initializer named with terminal escapes made onnxruntime warn
``Removing initializer '<raw name>'`` on file descriptor 2, past every escaping modelshelf does
(the CLI in text and --json mode, ``load_model``, ``register_onnx_model``'s signature). Each
path runs in a subprocess here, so the native log reaches a real fd 2 that the test reads.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

EVIL = "\x1b]0;pwned\x07\x1b[2Kerror: fake\nline2"


def evil_graph(path: Path) -> Path:
    """An Identity graph with one unused initializer named ``EVIL`` (the review's mk_onnx3)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])
    unused = numpy_helper.from_array(np.zeros(3, dtype=np.float32), EVIL)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y], initializer=[unused]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def run(args: list[str], tmp_path: Path, stdin: str = "") -> subprocess.CompletedProcess[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "MODELSHELF_CACHE_DIR": str(tmp_path / "cache"),
        "MODELSHELF_STORE": (tmp_path / "store").as_uri(),
    }
    return subprocess.run(
        [sys.executable, *args],
        input=stdin.encode(),
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


def assert_quiet(err: bytes) -> None:
    assert b"\x1b" not in err and b"\x07" not in err, err
    assert b"Removing initializer" not in err and b"pwned" not in err, err


@pytest.fixture
def pushed(tmp_path: Path) -> Path:
    (tmp_path / "store").mkdir()
    graph = evil_graph(tmp_path / "evil.onnx")
    out = run(["-m", "modelshelf", "push", str(graph), "o/evil"], tmp_path)
    assert out.returncode == 0, out.stderr
    return graph


@pytest.mark.parametrize("mode", [["--json"], []])
def test_predict_on_a_graph_with_a_hostile_initializer_name_writes_nothing_raw_to_fd2(
    pushed: Path, tmp_path: Path, mode: list[str]
) -> None:
    """Failed before the fix: onnxruntime's warning quoted the name raw on fd 2."""
    out = run(["-m", "modelshelf", *mode, "predict", "o/evil", "--input", "-"], tmp_path, "[1.5]")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == b"[1.5]"
    assert_quiet(out.stderr)


_LOAD = """
import sys
from modelshelf import load_model
print(load_model(sys.argv[1]).predict([2.5]))
print(load_model("o/evil").predict([3.5]))
"""


def test_load_model_of_the_graph_writes_nothing_raw_to_fd2(pushed: Path, tmp_path: Path) -> None:
    """Failed before the fix (both the local file and the stored version)."""
    out = run(["-c", _LOAD, str(pushed)], tmp_path)
    assert out.returncode == 0, out.stderr
    assert b"2.5" in out.stdout and b"3.5" in out.stdout
    assert_quiet(out.stderr)


_REGISTER = """
import sys, onnx
from modelshelf import register_onnx_model
register_onnx_model("o/registered", onnx.load(sys.argv[1]))
print("registered")
"""


def test_registering_the_graph_describes_it_without_the_native_log(
    pushed: Path, tmp_path: Path
) -> None:
    """The signature is read from a session made on the graph's bytes: quiet too."""
    out = run(["-c", _REGISTER, str(pushed)], tmp_path)
    assert out.returncode == 0, out.stderr
    assert b"registered" in out.stdout
    assert_quiet(out.stderr)


def test_every_session_modelshelf_makes_goes_through_new_session() -> None:
    """A new ``InferenceSession(`` call elsewhere would bring the default log back."""
    src = Path(__file__).resolve().parents[2] / "src" / "modelshelf"
    calls = [
        path.relative_to(src).as_posix()
        for path in src.rglob("*.py")
        if "InferenceSession(" in path.read_text(encoding="utf-8")
    ]
    assert calls == ["models/engines/onnx.py"]


@pytest.mark.integration  # a real `modelshelf serve` process
def test_serving_the_graph_logs_nothing_raw(pushed: Path, tmp_path: Path) -> None:
    """The server loads the graph in the background: its log has no onnxruntime warning."""
    from tests.servers.serve_process import ServeProcess

    store = (tmp_path / "store").as_uri()
    with ServeProcess("o/evil", workdir=tmp_path / "srv", store=store) as server:
        log = server.log_path.read_bytes()
    assert b"Removing initializer" not in log and b"pwned" not in log, log[-2000:]
    assert b"\x1b" not in log and b"\x07" not in log
