"""TorchScript found by detection loads without trust: show that it cannot run Python.

torch.jit.load reads ``data.pkl``, ``constants.pkl`` and (on an error) the ``.debug_pkl`` files
with torch's own restricted unpickler, which knows torch's types and the archive's
``__torch__`` classes only, and compiles ``code/`` as TorchScript, which has no ``import`` and
no Python builtins. Each test swaps one part of a real archive for a pickle whose
``__reduce__`` is ``os.system("touch MARKER")`` (or code calling ``__import__``), loads it the
way a pulled plain file is loaded (no trust), and checks the load is refused and the marker
never made. What TorchScript *could* do (torch operators, such as reading a file) is refused
without trust since: see the last test and tests/unit/test_torchscript_trust.py.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from modelshelf import PushSource, Shelf, load_model
from modelshelf.errors import TrustRequiredError, UnknownModelFormatError
from modelshelf.models.engines.torch import _jit_quiet

torch = pytest.importorskip("torch")

CONTAINER = "code/__torch__/torch/nn/modules/container.py"
FIRST_LINE = '    _0 = getattr(self, "0")'
RETURN_LINE = "    return (_1).forward(input0, )"


class _System:
    """Unpickles as ``os.system(command)`` under Python's own unpickler."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (self.command,))


def archive(changes: dict[str, bytes]) -> bytes:
    """A real TorchScript archive (Linear + ReLU) with the entries in ``changes`` replaced."""
    torch.manual_seed(0)
    with _jit_quiet():
        module = torch.jit.script(torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU()))
        buffer = io.BytesIO()
        torch.jit.save(module, buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            inner = _unmangled(info.filename.split("/", 1)[1])
            target.writestr(info.filename, changes.get(inner, source.read(info)))
    return out.getvalue()


def _unmangled(name: str) -> str:
    """An entry's name as when Sequential is first scripted in the process: once another test
    has scripted a different Sequential, torch names this one ``container/___torch_mangle_N.py``."""
    return re.sub(r"/___torch_mangle_\d+(?=\.py)", "", name)


def code_of(replace: str, by: str) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(archive({})))
    name = next(n for n in source.namelist() if _unmangled(n).endswith(CONTAINER))
    text = source.read(name).decode()
    assert replace in text
    return text.replace(replace, by).encode()


def hostile(kind: str, marker: Path) -> bytes:
    touch = f"touch {marker}"
    if kind == "data.pkl":
        return archive({"data.pkl": pickle.dumps(_System(touch), protocol=2)})
    if kind == "constants.pkl":
        return archive({"constants.pkl": pickle.dumps((_System(touch),), protocol=2)})
    if kind == "code-import":
        call = f'    _z = __import__("os").system("{touch}")\n'
        return archive({CONTAINER: code_of(FIRST_LINE, call + FIRST_LINE)})
    if kind == "code-eval":
        call = f"    _z = eval(\"__import__('os').system('{touch}')\")\n"
        return archive({CONTAINER: code_of(FIRST_LINE, call + FIRST_LINE)})
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["data.pkl", "constants.pkl", "code-import", "code-eval"])
def test_a_torchscript_file_cannot_run_python_when_loaded(kind: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    model = tmp_path / "model.pt"
    model.write_bytes(hostile(kind, marker))
    with pytest.raises(UnknownModelFormatError, match="torchscript could not load it"):
        load_model(model)
    assert not marker.exists()


def test_a_debug_pickle_is_read_by_the_restricted_unpickler_too(tmp_path: Path) -> None:
    """``.debug_pkl`` is unpickled only when the module fails, to say where: still no Python."""
    marker = tmp_path / "ran"
    model = tmp_path / "model.pt"
    debug = pickle.dumps(_System(f"touch {marker}"), protocol=2)
    model.write_bytes(archive({CONTAINER + ".debug_pkl": debug}))
    loaded = load_model(model)
    assert loaded.section["engine"] == "detected:torchscript"
    with pytest.raises(RuntimeError, match="unknown type"):
        loaded.predict([[1.0] * 7])  # the wrong width: the error reads the debug pickle
    assert not marker.exists()


def test_a_hostile_torchscript_pulled_from_a_store_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    model = tmp_path / "model.pt"
    model.write_bytes(hostile("data.pkl", marker))
    url = (tmp_path / "store").as_uri()
    Shelf(url, cache_dir=tmp_path / "w").push(PushSource.from_files({model: "model.pt"}), "m")
    with pytest.raises(UnknownModelFormatError):
        load_model("m", store=Shelf(url, cache_dir=tmp_path / "r"))
    assert not marker.exists()


def test_a_torchscript_file_cannot_read_files_outside_its_archive(tmp_path: Path) -> None:
    """Was a strict xfail: ``torch.from_file`` in the code read any file through predict. Now
    operators that reach files need trust (tests/unit/test_torchscript_trust.py for the rest)."""
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"SECRET")
    leak = f'    return torch.from_file("{secret}", False, 6, dtype=0)'
    model = tmp_path / "model.pt"
    model.write_bytes(archive({CONTAINER: code_of(RETURN_LINE, leak)}))
    with pytest.raises(TrustRequiredError, match="aten::from_file"):
        load_model(model).predict([[1.0, 2.0, 3.0]])
