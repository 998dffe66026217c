"""A runner (or hook) in a module of the working folder is refused by design (``pull -o .``
puts store files there); the refusal names the module's file and says how to fix it: from the
working folder a module there is always found there first, installed or not, so the code moves
into ``src/`` (then ``pip install -e .`` in a project, else ``PYTHONPATH=src``), or the command
runs from another folder with ``PYTHONPATH=<the working folder>``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelshelf import PushSource, Shelf, UntrustedStoreDataError, load_model
from modelshelf._imports import ImportRefusedError, import_object

RUNNER = (
    "from modelshelf import Runner\n"
    "class LocalRunner(Runner):\n"
    "    @staticmethod\n"
    "    def predict(model, data):\n"
    "        return data\n"
    "def double(data):\n"
    "    return data * 2\n"
)


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder holding ``wf_runners.py``, found through ``''`` on sys.path."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "wf_runners.py").write_text(RUNNER)
    monkeypatch.chdir(folder)
    monkeypatch.syspath_prepend("")
    monkeypatch.delitem(sys.modules, "wf_runners", raising=False)
    return folder


def refusal(path: str) -> str:
    with pytest.raises(ImportRefusedError) as caught:
        import_object(path, "runner", expect="a class", from_store=True, allowed=["wf_runners"])
    message = str(caught.value)
    assert "\n" not in message
    assert "wf_runners" not in sys.modules  # refused before the import
    return message


def test_in_a_project_folder_the_refusal_says_pip_install_e(work: Path) -> None:
    (work / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    message = refusal("wf_runners:LocalRunner")
    assert "not in an installed module" in message
    assert str(work / "wf_runners.py") in message
    assert "working folder" in message and "pull -o ." in message
    assert "move it into src/ and run `pip install -e .`" in message
    assert f"PYTHONPATH={work}" in message


def test_outside_a_project_the_refusal_says_pythonpath_and_the_modules_folder(work: Path) -> None:
    message = refusal("wf_runners:LocalRunner")
    assert str(work / "wf_runners.py") in message
    assert "pip install -e" not in message  # no pyproject.toml or setup.py: nothing to install
    assert "move it into src/ and set PYTHONPATH=src" in message
    assert f"PYTHONPATH={work}" in message
    assert "another folder" in message


def test_a_package_in_the_working_folder_names_its_module_file(work: Path) -> None:
    (work / "wf_pkg").mkdir()
    (work / "wf_pkg" / "__init__.py").write_text("")
    (work / "wf_pkg" / "runners.py").write_text(RUNNER)
    (work / "setup.py").write_text("")
    with pytest.raises(ImportRefusedError) as caught:
        import_object("wf_pkg.runners:LocalRunner", "runner", expect="a class", from_store=False)
    message = str(caught.value)
    assert str(work / "wf_pkg") in message
    assert "pip install -e ." in message and f"PYTHONPATH={work}" in message


def test_a_module_that_is_not_installed_anywhere_keeps_the_install_advice(work: Path) -> None:
    message = refusal("wf_surely_absent_mod:X")
    assert "not in an installed module" in message and "install the package" in message
    assert "PYTHONPATH" not in message


def test_load_model_of_a_runner_in_the_working_folder_says_how(work: Path, tmp_path: Path) -> None:
    (work / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "f.txt").write_text("x")
    url = (tmp_path / "store").as_uri()
    section = {
        "runner": "wf_runners:LocalRunner",
        "requirements": [],
        "artifacts": [],
        "postprocess": "wf_runners:double",
    }
    Shelf(url, cache_dir=tmp_path / "w").push(
        PushSource.from_files({tmp_path / "f.txt": "f.txt"}), "demo/wf", sections={"model": section}
    )
    with pytest.raises(UntrustedStoreDataError, match="pip install -e ") as caught:
        load_model("demo/wf", store=Shelf(url, cache_dir=tmp_path / "c"))
    assert "runner" in str(caught.value) and str(work / "wf_runners.py") in str(caught.value)


def test_a_hook_in_the_working_folder_says_how(tmp_path: Path, work: Path) -> None:
    with pytest.raises(ImportRefusedError) as caught:
        import_object(
            "wf_runners:double",
            "postprocess",
            expect="a function",
            from_store=True,
            allowed=["wf_runners"],
            runner_module="tests.models_fixtures",
        )
    assert "postprocess" in str(caught.value)
    assert f"PYTHONPATH={work}" in str(caught.value)


def test_the_cli_predict_says_how(tmp_path: Path) -> None:
    """``python -m modelshelf`` from the project folder (its absolute path first on sys.path)."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "wf_cli_runners.py").write_text(RUNNER)
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "f.txt").write_text("x")
    (project / "in.json").write_text("[1]")
    store = (tmp_path / "store").as_uri()
    section = {"runner": "wf_cli_runners:LocalRunner", "requirements": [], "artifacts": []}
    Shelf(store, cache_dir=tmp_path / "w").push(
        PushSource.from_files({tmp_path / "f.txt": "f.txt"}), "x/m", sections={"model": section}
    )
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": str(root / "src"),
        "MODELSHELF_CACHE_DIR": str(tmp_path / "cache"),
        "MODELSHELF_ALLOWED_HOOK_PACKAGES": "wf_cli_runners",
    }
    done = subprocess.run(
        [sys.executable, "-m", "modelshelf", "--store", store, "predict", "x/m", "-i", "in.json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert "pip install -e ." in done.stderr
    assert str(project / "wf_cli_runners.py") in done.stderr


def test_a_src_layout_on_the_path_is_imported_from_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first way out the message gives works: ``src/`` on the path, run from the project."""
    project = tmp_path / "project"
    (project / "src" / "wf_src_pkg").mkdir(parents=True)
    (project / "src" / "wf_src_pkg" / "__init__.py").write_text("")
    (project / "src" / "wf_src_pkg" / "runners.py").write_text(RUNNER)
    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(project / "src"))
    monkeypatch.syspath_prepend("")
    found = import_object(
        "wf_src_pkg.runners:LocalRunner", "runner", expect="a class", from_store=False
    )
    assert isinstance(found, type) and found.__name__ == "LocalRunner"
