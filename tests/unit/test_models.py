"""Runner-style models: register_model, load_model, the runner import rule and the checks."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from tests import models_fixtures as fx

import modelshelf
from modelshelf import (
    InvalidInputError,
    PushSource,
    RequirementsError,
    Runner,
    Shelf,
    UntrustedStoreDataError,
    load_model,
    register_model,
)
from modelshelf.cli.main import main
from modelshelf.models import NotAModelError

WEIGHTS = {"x": 2.0, "y": -1.5, "bias": 0.25}
ROWS = [{"x": 1, "y": 2}, {"x": -3.5, "y": 0}]


@pytest.fixture
def url(tmp_path: Path) -> str:
    (tmp_path / "store").mkdir()  # a store to list after a refused write (reads make none)
    return (tmp_path / "store").as_uri()


def fresh(url: str, tmp_path: Path, name: str = "fresh") -> Shelf:
    return Shelf(url, cache_dir=tmp_path / name)


def test_register_then_load_in_a_fresh_cache_predicts_the_same(url: str, tmp_path: Path) -> None:
    expected = fx.LinearRunner.postprocess_data(
        fx.LinearRunner.predict(WEIGHTS, fx.LinearRunner.preprocess_data(ROWS))
    )
    manifest = register_model(
        "demo/linear", fx.LinearRunner, WEIGHTS, requirements=["pytest>=1"], store=url
    )
    assert manifest.version == "1.0"
    section = manifest.extra["model"]
    assert section["runner"] == "tests.models_fixtures:LinearRunner"
    assert section["engine"] == "linear-json"
    assert section["props"] == {"weights": "weights.json"}
    assert section["requirements"] == ["pytest>=1"]
    assert section["libraries"]["pytest"] == modelshelf_version("pytest")
    assert section["python"] == ".".join(map(str, sys.version_info[:3]))
    assert [f.path for f in manifest.files] == ["model/weights.json"]

    loaded = load_model("demo/linear", store=fresh(url, tmp_path))
    assert loaded.predict(ROWS) == expected == [-0.75, -6.75]
    assert loaded.metadata["name"] == "demo/linear"
    assert loaded.metadata["version"] == "1.0"
    assert loaded.metadata["runner"] == "tests.models_fixtures:LinearRunner"
    assert loaded.metadata["props"] == {"weights": "weights.json"}
    assert loaded.metadata["manifest"]["files"] == 1
    assert loaded.path.is_relative_to(tmp_path / "fresh")
    assert loaded.trust is False


def modelshelf_version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def test_artifact_glob_keeps_relative_paths_and_predict_only_runner_gets_them(
    url: str, tmp_path: Path
) -> None:
    ckpt = tmp_path / "checkpoints"
    (ckpt / "epoch1").mkdir(parents=True)
    (ckpt / "epoch1" / "w.bin").write_bytes(b"1")
    (ckpt / "scale.txt").write_text("3")
    (tmp_path / "vocab.txt").write_text("a b")
    manifest = register_model(
        "demo/ckpt",
        fx.CheckpointRunner,
        artifacts={f"{ckpt}/*": "ckpt", tmp_path / "vocab.txt": "vocab.txt"},
        store=url,
    )
    assert [f.path for f in manifest.files] == ["ckpt/epoch1/w.bin", "ckpt/scale.txt", "vocab.txt"]
    assert manifest.extra["model"]["artifacts"] == ["ckpt", "vocab.txt"]
    assert manifest.extra["model"]["props"] is None
    loaded = load_model("demo/ckpt", store=fresh(url, tmp_path))
    assert loaded.predict(2) == {"files": ["epoch1/w.bin", "scale.txt"], "scale": 6.0}
    assert loaded.metadata["engine"] == "custom"


@pytest.mark.parametrize(
    "pattern", ["ckpt/*.bin", "ckpt/**", "ckpt/?", "ck[a-z]/*", "*/x", "ckpt*", "ckpt/**/*", "/*"]
)
def test_any_wildcard_but_a_trailing_folder_star_is_refused(
    pattern: str, url: str, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInputError, match="only wildcard accepted is a trailing '/\\*'"):
        register_model("demo/glob", fx.CheckpointRunner, artifacts={pattern: "x"}, store=url)
    assert Shelf(url).assets() == []


def test_artifacts_under_model_folder_are_refused(url: str, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    with pytest.raises(InvalidInputError, match="model/ holds the files save_model writes"):
        register_model("demo/m", fx.CheckpointRunner, artifacts={tmp_path / "a.txt": "model/a"})


def test_save_model_without_load_model_is_refused(url: str) -> None:
    with pytest.raises(InvalidInputError, match="overrides save_model but not load_model"):
        register_model("demo/x", fx.SavesOnly, {"a": 1}, store=url)
    assert Shelf(url).assets() == []


def test_model_instance_none_needs_load_model_or_artifacts(url: str) -> None:
    with pytest.raises(InvalidInputError, match="does not override load_model"):
        register_model("demo/x", fx.CheckpointRunner, store=url)
    # An instance with a runner that does not save it is saved by engine since issue 21
    # (tests/unit/test_runner_contract.py); it used to be refused here.
    assert Shelf(url).assets() == []


def test_runner_must_be_an_importable_runner_subclass(url: str) -> None:
    class Local(Runner):
        @staticmethod
        def predict(model: Any, data: Any) -> Any:
            return data

    with pytest.raises(InvalidInputError, match=r"inside a function.*importable module"):
        register_model("demo/x", Local, artifacts={__file__: "f.py"}, store=url)
    Local.__module__ = "__main__"
    Local.__qualname__ = "Local"
    with pytest.raises(InvalidInputError, match=r"in __main__.*importable module"):
        register_model("demo/x", Local, artifacts={__file__: "f.py"}, store=url)
    with pytest.raises(InvalidInputError, match=r"subclass of modelshelf\.Runner"):
        register_model("demo/x", fx.NotARunner, store=url)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="must override predict"):
        register_model("demo/x", Runner, artifacts={__file__: "f.py"}, store=url)
    assert Shelf(url).assets() == []


def test_bad_requirement_and_version_arguments_write_nothing(url: str) -> None:
    with pytest.raises(InvalidInputError, match="not a PEP 508 requirement"):
        register_model("demo/x", fx.LinearRunner, WEIGHTS, requirements=["numpy >>= 1"], store=url)
    with pytest.raises(InvalidInputError, match="list of requirement strings"):
        register_model("demo/x", fx.LinearRunner, WEIGHTS, requirements="numpy", store=url)
    with pytest.raises(InvalidInputError, match="version 'v2'"):
        register_model("demo/x", fx.LinearRunner, WEIGHTS, version="v2", store=url)
    with pytest.raises(InvalidInputError, match="takes the name alone"):
        register_model("demo/x:1", fx.LinearRunner, WEIGHTS, store=url)
    assert Shelf(url).assets() == []


def test_version_none_makes_a_new_version_and_a_major_takes_its_next_minor(url: str) -> None:
    def reg(version: str | None) -> str:
        return register_model("demo/v", fx.LinearRunner, WEIGHTS, version, store=url).version

    assert [reg(None), reg(None), reg("2"), reg("2"), reg("1"), reg(None)] == [
        "1.0", "1.1", "2.0", "2.1", "1.2", "2.2",
    ]  # fmt: skip
    assert [reg("2.7"), reg("2"), reg("5")] == ["2.7", "2.8", "5.0"]


def test_requirements_missing_and_mismatched_are_listed_at_once(url: str, tmp_path: Path) -> None:
    register_model(
        "demo/req",
        fx.LinearRunner,
        WEIGHTS,
        requirements=["pytest>=1", "packaging<1", "surely-not-installed-xyz>=2", "click"],
        store=url,
    )
    shelf = fresh(url, tmp_path)
    with pytest.raises(RequirementsError) as caught:
        load_model("demo/req", store=shelf)
    message = str(caught.value)
    assert "\n" not in message
    assert "2 requirement(s)" in message
    assert "packaging<1 (installed: " in message
    assert "surely-not-installed-xyz>=2 (not installed)" in message
    assert "pytest>=1" not in message and "click" not in message
    assert "pip install 'packaging<1' 'surely-not-installed-xyz>=2'" in message
    assert "ignore_requirements=True" in message
    loaded = load_model("demo/req", store=shelf, ignore_requirements=True)
    assert loaded.predict(ROWS) == [-0.75, -6.75]


def test_requirement_markers_that_do_not_apply_are_skipped(url: str, tmp_path: Path) -> None:
    register_model(
        "demo/marker",
        fx.LinearRunner,
        WEIGHTS,
        requirements=['surely-not-installed-xyz; python_version < "3"'],
        store=url,
    )
    assert load_model("demo/marker", store=fresh(url, tmp_path)).predict(ROWS)


def forge(url: str, tmp_path: Path, section: dict[str, Any], name: str = "demo/forged") -> None:
    """A version whose model section says what a hostile store would say."""
    (tmp_path / "f.txt").write_text("x")
    Shelf(url, cache_dir=tmp_path / "writer").push(
        PushSource.from_files({tmp_path / "f.txt": "f.txt"}), name, sections={"model": section}
    )


@pytest.mark.parametrize(
    ("runner", "reason"),
    [
        ("../x:Y", "is not 'package.module:ClassName'"),
        ("x/y:Z", "is not 'package.module:ClassName'"),
        ("os:system", "is in Python's standard library"),
        ("builtins:eval", "is in Python's standard library"),
        ("tests.models_fixtures:NotARunner", "is not a modelshelf.Runner subclass"),
        ("tests.models_fixtures:LOADED_WITH_TRUST", "is not a modelshelf.Runner subclass"),
        ("surely_not_installed_mod:Runner", "is not in an installed module"),
        ("__main__:Runner", "names the __main__ module"),
        ("os:sys.modules", "is in Python's standard library"),
        (["tests.models_fixtures:LinearRunner"], "must be text"),
        ("a:b\nc", "holds control characters"),
    ],
)
def test_a_forged_runner_path_is_refused_in_one_line(
    runner: object, reason: str, url: str, tmp_path: Path
) -> None:
    forge(url, tmp_path, {"runner": runner, "requirements": [], "artifacts": []})
    with pytest.raises(UntrustedStoreDataError) as caught:
        load_model("demo/forged", store=fresh(url, tmp_path))
    message = str(caught.value)
    assert reason in message and "\n" not in message
    assert "demo/forged:1.0" in message


@pytest.mark.parametrize("hook", ["os:system", "builtins:eval", "subprocess:getoutput"])
def test_a_forged_hook_from_the_standard_library_is_refused(
    hook: str, url: str, tmp_path: Path
) -> None:
    runner = f"{fx.LinearRunner.__module__}:{fx.LinearRunner.__qualname__}"
    section = {"runner": runner, "requirements": [], "artifacts": [], "preprocess": hook}
    forge(url, tmp_path, section)
    with pytest.raises(UntrustedStoreDataError, match="standard library") as caught:
        load_model("demo/forged", store=fresh(url, tmp_path))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("spelling", ["", ".", "absolute"])
def test_a_module_in_the_working_folder_is_never_imported(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    """Under ``python -c``, a REPL or a notebook ``''`` (the working folder) is on sys.path;
    ``python -m`` and ``python script.py`` put its absolute path there; ``pull -o .`` puts store
    files there: they are not installed code, however the entry is spelt."""
    work = tmp_path / "work"
    work.mkdir()
    marker = tmp_path / "imported"
    (work / "evil_cwd_mod.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass X: pass\n")
    monkeypatch.chdir(work)
    monkeypatch.syspath_prepend(str(work) if spelling == "absolute" else spelling)
    monkeypatch.setenv("MODELSHELF_ALLOWED_HOOK_PACKAGES", "evil_cwd_mod")  # allowing a name
    forge(url, tmp_path, {"runner": "evil_cwd_mod:X", "requirements": [], "artifacts": []})
    with pytest.raises(UntrustedStoreDataError, match="is not in an installed module"):
        load_model("demo/forged", store=fresh(url, tmp_path))
    assert not marker.exists()


def test_a_runner_module_in_the_cache_is_never_imported(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "imported"
    code = f"open({str(marker)!r}, 'w').close()\nclass Evil: pass\n"
    (tmp_path / "evil_runner_mod.py").write_text(code)
    (tmp_path / "f.txt").write_text("x")
    section = {"runner": "evil_runner_mod:Evil", "requirements": [], "artifacts": []}
    Shelf(url, cache_dir=tmp_path / "writer").push(
        PushSource.from_files(
            {tmp_path / "evil_runner_mod.py": "evil_runner_mod.py", tmp_path / "f.txt": "f.txt"}
        ),
        "demo/evil",
        sections={"model": section},
    )
    shelf = fresh(url, tmp_path)
    snapshot = shelf.pull("demo/evil")
    monkeypatch.syspath_prepend(str(snapshot))  # as if the cwd were the snapshot
    with pytest.raises(UntrustedStoreDataError, match="is not in an installed module"):
        load_model("demo/evil", store=shelf)
    assert "evil_runner_mod" not in sys.modules
    assert not marker.exists()


def test_malformed_sections_are_refused(url: str, tmp_path: Path) -> None:
    runner = "tests.models_fixtures:CheckpointRunner"
    bad: list[tuple[dict[str, Any], str]] = [
        ({"runner": runner, "requirements": "numpy", "artifacts": []}, "not a list"),
        ({"runner": runner, "requirements": [1], "artifacts": []}, "requirement 1"),
        ({"runner": runner, "requirements": ["numpy >>= 1"], "artifacts": []}, "refused"),
        ({"runner": runner, "requirements": [], "artifacts": ["../up"]}, "artifact name"),
        ({"runner": runner, "requirements": [], "artifacts": [], "props": [1]}, "props"),
    ]
    for index, (section, reason) in enumerate(bad):
        forge(url, tmp_path, section, name=f"demo/bad{index}")
        with pytest.raises(UntrustedStoreDataError, match=reason):
            load_model(f"demo/bad{index}", store=fresh(url, tmp_path))


def test_a_plain_version_is_not_a_model(url: str, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    Shelf(url).push(tmp_path / "f.txt", "demo/plain")
    with pytest.raises(NotAModelError, match=r"not a registered model.*modelshelf pull"):
        load_model("demo/plain", store=url)


def test_trust_reaches_a_runner_that_asks_for_it(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_model("demo/trust", fx.TrustingRunner, artifacts={__file__: "f.py"}, store=url)
    fx.LOADED_WITH_TRUST.clear()
    assert load_model("demo/trust", store=url).trust is False
    assert load_model("demo/trust", store=url, trust=True).trust is True
    monkeypatch.setenv("MODELSHELF_TRUST_PICKLE", "1")
    assert load_model("demo/trust", store=url).trust is True
    assert fx.LOADED_WITH_TRUST == [False, True, True]


def test_cli_predict_reads_a_json_file_and_stdin(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    register_model("demo/linear", fx.LinearRunner, WEIGHTS, store=url)
    data = tmp_path / "rows.json"
    data.write_text(json.dumps(ROWS))
    assert main(["predict", "demo/linear", "--input", str(data), "--store", url, "-q"]) == 0
    out, _ = capsys.readouterr()
    assert json.loads(out) == [-0.75, -6.75]

    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(ROWS[:1])))
    assert main(["--store", url, "predict", "demo/linear:1", "--input", "-"]) == 0
    out, _ = capsys.readouterr()
    assert json.loads(out) == [-0.75]


def test_cli_predict_errors_are_one_line(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register_model("demo/req", fx.LinearRunner, WEIGHTS, requirements=["packaging<1"], store=url)
    data = tmp_path / "rows.json"
    data.write_text(json.dumps(ROWS))
    assert main(["predict", "demo/req", "--input", str(data), "--store", url]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "packaging<1 (installed:" in err
    code = main(["predict", "demo/req", "-i", str(data), "--store", url, "--ignore-requirements"])
    assert code == 0 and json.loads(capsys.readouterr()[0]) == [-0.75, -6.75]

    data.write_text("{not json")
    assert main(["predict", "demo/req", "--input", str(data), "--store", url]) == 1
    err = capsys.readouterr()[1]
    assert err.startswith("error: the input") and "is not JSON" in err and err.count("\n") == 1
    data.write_text(json.dumps([{"x": "text"}]))
    args = ["predict", "demo/req", "-i", str(data), "--store", url, "--ignore-requirements"]
    assert main(args) == 1
    err = capsys.readouterr()[1]
    assert "LinearRunner failed on the input: ValueError" in err and err.count("\n") == 1


def test_import_modelshelf_does_not_import_packaging_or_engines() -> None:
    import subprocess

    code = (
        "import sys, modelshelf; heavy = ('packaging', 'torch', 'sklearn', 'onnx', 'numpy');"
        " print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert "register_model" in modelshelf.__all__


def test_props_and_engine_are_checked_before_the_push(url: str) -> None:
    with pytest.raises(InvalidInputError, match="props as a dict of text to text"):
        register_model("demo/x", fx.BadProps, {"a": 1}, store=url)
    with pytest.raises(InvalidInputError, match="declares engine"):
        register_model("demo/x", fx.BadEngine, artifacts={__file__: "f.py"}, store=url)
    assert Shelf(url).assets() == []
