"""The runner contract (issue 21): a runner that does not save gets its instance saved by
engine (skops, TorchScript or a state_dict, ONNX, pickle) and loaded back by the default
``Runner.load_model``; ``message=``/``aliases=``/``metadata=`` on register_model and the engine
helpers; a registration's source is the registration, never its temporary folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests import engines_fixtures as efx
from tests import runner_contract_fixtures as fx

from modelshelf import (
    InvalidInputError,
    InvalidSpecError,
    PushSource,
    Shelf,
    TrustRequiredError,
    UntrustedStoreDataError,
    load_model,
    register_model,
    register_onnx_model,
    register_pickle_model,
    register_sklearn_model,
    register_torch_model,
)
from modelshelf.cli.main import main

RUNNERS = "tests.runner_contract_fixtures"


@pytest.fixture
def url(tmp_path: Path) -> str:
    # An existing, empty store: "nothing was written" is then an empty listing (a read of a
    # folder that does not exist is refused, and a refused registration must not create it).
    (tmp_path / "store").mkdir()
    return (tmp_path / "store").as_uri()


def fresh(url: str, tmp_path: Path, name: str = "fresh") -> Shelf:
    return Shelf(url, cache_dir=tmp_path / name)


def flat(rows: list[list[float]]) -> list[float]:
    return [x for row in rows for x in row]


def files_of(manifest: Any) -> list[str]:
    return [f.path for f in manifest.files]


# --- 1. default save and load by engine --------------------------------------------------------


def test_sklearn_pipeline_with_a_predict_only_runner_is_saved_with_skops(
    url: str, tmp_path: Path
) -> None:
    pytest.importorskip("skops")
    pipeline = efx.tiny_pipeline()
    x, _ = efx.tiny_data()
    manifest = register_model("demo/sk", fx.PredictOnly, pipeline, store=url)
    section = manifest.extra["model"]
    assert section["saved_as"] == "skops"
    assert section["props"] is None
    assert "saved_class" not in section
    assert files_of(manifest) == ["model/model.skops"]
    loaded = load_model("demo/sk", store=fresh(url, tmp_path))
    assert type(loaded.model) is type(pipeline)
    assert loaded.predict(x).tolist() == pipeline.predict(x).tolist()


def test_torch_module_with_a_predict_only_runner_is_saved_as_torchscript(
    url: str, tmp_path: Path
) -> None:
    torch = pytest.importorskip("torch")
    module = efx.tiny_module()
    x = torch.randn(4, 3)
    manifest = register_model("demo/torch", fx.TorchPredict, module, store=url)
    section = manifest.extra["model"]
    assert section["saved_as"] == "torchscript"
    assert files_of(manifest) == ["model/model.pt"]
    loaded = load_model("demo/torch", store=fresh(url, tmp_path))  # no trust: tensor math
    assert isinstance(loaded.model, torch.jit.ScriptModule)
    assert flat(loaded.predict(x)) == pytest.approx(flat(module(x).detach().tolist()))


def test_unscriptable_torch_module_falls_back_to_its_state_dict_and_class(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    torch = pytest.importorskip("torch")
    from tests import runner_contract_torch as tfx

    torch.manual_seed(1)
    module = tfx.Unscriptable().eval()
    x = torch.randn(4, 3)
    manifest = register_model("demo/state", fx.TorchPredict, module, store=url)
    section = manifest.extra["model"]
    assert section["saved_as"] == "torch-state-dict"
    assert section["saved_class"] == "tests.runner_contract_torch:Unscriptable"
    assert "saved its state_dict" in caplog.text  # the user learns the format changed
    loaded = load_model("demo/state", store=fresh(url, tmp_path))  # weights only: no trust
    assert type(loaded.model) is tfx.Unscriptable
    assert loaded.model.training is False
    assert flat(loaded.predict(x)) == pytest.approx(flat(module(x).detach().tolist()))


def test_unscriptable_module_that_needs_constructor_arguments_is_refused_before_writing(
    url: str,
) -> None:
    pytest.importorskip("torch")
    from tests import runner_contract_torch as tfx

    with pytest.raises(InvalidInputError, match="NeedsArguments") as caught:
        register_model("demo/args", fx.TorchPredict, tfx.NeedsArguments(4), store=url)
    message = str(caught.value)
    assert "torch.jit.script" in message and "\n" not in message
    assert "save_model" in message  # the way out
    assert Shelf(url).assets() == []


def test_onnx_proto_with_a_predict_only_runner_is_saved_as_onnx(url: str, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    module = efx.tiny_module()
    proto = efx.onnx_of(module)
    x = torch.randn(3, 3)
    manifest = register_model("demo/onnx", fx.OnnxPredict, proto, store=url)
    assert manifest.extra["model"]["saved_as"] == "onnx"
    assert files_of(manifest) == ["model/model.onnx"]
    loaded = load_model("demo/onnx", store=fresh(url, tmp_path))
    assert type(loaded.model) is type(proto)
    assert loaded.model == proto
    assert flat(loaded.predict(x.numpy())) == pytest.approx(
        flat(module(x).detach().tolist()), abs=1e-6
    )


def test_any_other_object_is_pickled_and_needs_trust_named_for_python_and_the_cli(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = register_model("demo/pickled", fx.PredictOnly, fx.Scaler(3.0), store=url)
    assert manifest.extra["model"]["saved_as"] == "pickle"
    assert files_of(manifest) == ["model/model.pkl"]
    with pytest.raises(TrustRequiredError) as caught:
        load_model("demo/pickled", store=fresh(url, tmp_path))
    message = str(caught.value)
    assert "demo/pickled:1.0" in message and "\n" not in message
    assert "trust=True" in message
    assert load_model("demo/pickled", store=fresh(url, tmp_path), trust=True).predict([1, 2]) == [
        3.0,
        6.0,
    ]
    (tmp_path / "in.json").write_text("[1, 2]")
    cli = ["--store", url, "predict", "demo/pickled", "--input", str(tmp_path / "in.json")]
    assert main(cli) == 1
    refused = capsys.readouterr()
    assert "--trust" in refused.err and refused.err.count("\n") == 1
    assert main([*cli, "--trust"]) == 0
    assert json.loads(capsys.readouterr().out) == [3.0, 6.0]


def test_a_runner_that_loads_itself_gets_no_props_and_the_saved_files(
    url: str, tmp_path: Path
) -> None:
    fx.LOADS.clear()
    register_model("demo/self", fx.LoadsItself, fx.Scaler(2.0), store=url)
    loaded = load_model("demo/self", store=fresh(url, tmp_path))
    assert fx.LOADS == [(None, ["model.pkl"])]  # nothing was unpickled: its own load_model ran
    assert loaded.predict(None) == ["model.pkl"]


def test_a_plain_runner_imports_no_engine_library(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from modelshelf import register_model, load_model\n"
        f"from {RUNNERS} import PredictOnly, Scaler\n"
        f"store = {(tmp_path / 'store').as_uri()!r}\n"
        "register_model('demo/plain', PredictOnly, Scaler(2.0), store=store)\n"
        "assert load_model('demo/plain', store=store, trust=True).predict([1]) == [2.0]\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'sklearn', 'skops', 'onnx', 'onnxruntime', 'joblib'}))\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {"PYTHONPATH": f"{root / 'src'}:{root}", "MODELSHELF_CACHE_DIR": str(tmp_path / "c")}
    env["MODELSHELF_STORE"] = (tmp_path / "store").as_uri()
    env["MODELSHELF_CONFIG"] = str(tmp_path / "no-config.toml")
    env["MODELSHELF_ALLOWED_HOOK_PACKAGES"] = "tests"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def forge(url: str, tmp_path: Path, fields: dict[str, Any]) -> Shelf:
    """A version whose model section names a saved instance as a hostile store would."""
    model = tmp_path / "model.pt"
    model.write_bytes(b"not a model")
    section = {
        "runner": f"{RUNNERS}:TorchPredict",
        "requirements": [],
        "artifacts": ["model"],
        "props": None,
        **fields,
    }
    Shelf(url, cache_dir=tmp_path / "writer").push(
        PushSource.from_files({model: "model/model.pt"}), "demo/forged", sections={"model": section}
    )
    return fresh(url, tmp_path)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"saved_as": "exe"}, "unknown saved format"),
        ({"saved_as": ["pickle"]}, "unknown saved format"),
        ({"saved_as": "pickle\nforged"}, "unknown saved format"),
        ({"saved_as": "pickle", "saved_class": "os:system"}, "saved_class"),
        ({"saved_class": f"{RUNNERS}:Scaler"}, "saved_class"),
        ({"saved_as": "torch-state-dict", "saved_class": "os:system"}, "standard library"),
        ({"saved_as": "torch-state-dict", "saved_class": "torch.nn:Linear"}, "allow"),
        (
            {"saved_as": "torch-state-dict", "saved_class": "modelshelf.shelf.shelf:Shelf"},
            "modelshelf",
        ),
        ({"saved_as": "torch-state-dict", "saved_class": "../x:Y"}, "package.module:ClassName"),
        ({"saved_as": "torch-state-dict", "saved_class": f"{RUNNERS}:Scaler"}, "nn.Module"),
        ({"saved_as": "torch-state-dict", "saved_class": f"{RUNNERS}:_hidden"}, "private"),
    ],
)
def test_a_hostile_saved_instance_section_is_refused_in_one_line(
    fields: dict[str, Any], reason: str, url: str, tmp_path: Path
) -> None:
    pytest.importorskip("torch")
    shelf = forge(url, tmp_path, fields)
    with pytest.raises(UntrustedStoreDataError, match=reason) as caught:
        load_model("demo/forged", store=shelf, trust=True)
    message = str(caught.value)
    assert "demo/forged:1.0" in message and "\n" not in message


def test_a_state_dict_class_from_an_allowed_package_only(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The class path is store input: without the tests package allowed it is refused, even
    though the same class loads when allowed."""
    torch = pytest.importorskip("torch")
    from tests import runner_contract_torch as tfx

    register_model("demo/state", fx.TorchPredict, tfx.Unscriptable(), store=url)
    monkeypatch.setenv("MODELSHELF_ALLOWED_HOOK_PACKAGES", "tests.runner_contract_fixtures")
    with pytest.raises(UntrustedStoreDataError, match="runner_contract_torch"):
        load_model("demo/state", store=fresh(url, tmp_path))
    loaded = load_model(
        "demo/state",
        store=fresh(url, tmp_path, "again"),
        allowed_hook_packages=["tests.runner_contract_torch"],
    )
    assert isinstance(loaded.model, torch.nn.Module)


# --- 2. message=, aliases=, metadata= ----------------------------------------------------------


def test_register_model_takes_message_aliases_and_metadata_like_push(url: str) -> None:
    manifest = register_model(
        "demo/meta",
        fx.PredictOnly,
        fx.Scaler(2.0),
        store=url,
        message="first cut",
        aliases=["prod", "staging", "prod"],
        metadata={"team": "nlp"},
    )
    assert manifest.message == "first cut"
    assert manifest.metadata == {"team": "nlp"}
    shelf = Shelf(url)
    assert shelf.resolve("demo/meta@prod").version == manifest.version
    assert shelf.resolve("demo/meta@staging").version == manifest.version
    log = shelf.log("demo/meta")
    actions = [(r.get("action"), r.get("alias")) for r in log]
    assert ("alias", "prod") in actions and ("alias", "staging") in actions
    assert [r.get("message") for r in log if r.get("action") == "push"] == ["first cut"]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"aliases": ["latest"]}, "latest"),
        ({"aliases": "prod"}, "list of alias names"),
        ({"aliases": ["no spaces"]}, "alias"),
        ({"message": 3}, "message must be text"),
        ({"metadata": {"k": 1}}, "metadata"),
        ({"message": "x" * 70_000}, "shorten"),
    ],
)
def test_register_arguments_are_checked_before_anything_is_written(
    kwargs: dict[str, Any], reason: str, url: str
) -> None:
    with pytest.raises((InvalidInputError, InvalidSpecError), match=reason):
        register_model("demo/refused", fx.PredictOnly, fx.Scaler(2.0), store=url, **kwargs)
    assert Shelf(url).assets() == []
    with pytest.raises((InvalidInputError, InvalidSpecError), match=reason):
        register_pickle_model("demo/refused", fx.Scaler(2.0), store=url, **kwargs)
    assert Shelf(url).assets() == []


def test_every_engine_helper_takes_message_aliases_and_metadata(url: str) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("skops")
    module = efx.tiny_module()
    cases = [
        ("e/torch", register_torch_model, module),
        ("e/sk", register_sklearn_model, efx.tiny_pipeline()),
        ("e/onnx", register_onnx_model, efx.onnx_of(module)),
        ("e/pickle", register_pickle_model, fx.Scaler(2.0)),
    ]
    shelf = Shelf(url)
    for name, helper, instance in cases:
        manifest = helper(
            name, instance, store=url, message=f"m {name}", aliases=["prod"], metadata={"k": name}
        )
        assert (manifest.message, manifest.metadata) == (f"m {name}", {"k": name})
        assert shelf.resolve(f"{name}@prod").version == manifest.version


def test_register_with_a_major_version_and_aliases(url: str) -> None:
    register_model("demo/v", fx.PredictOnly, fx.Scaler(1.0), store=url, version="2")
    second = register_model(
        "demo/v", fx.PredictOnly, fx.Scaler(1.0), store=url, version="2", aliases=["prod"]
    )
    assert second.version == "2.1"
    assert Shelf(url).resolve("demo/v@prod").version == "2.1"


# --- 3. the registration's source --------------------------------------------------------------


def git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_the_source_of_a_registration_is_the_runner_and_the_callers_git_state(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    scratch = tmp_path / "scratch"  # where the saved files are written before the push
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    project = tmp_path / "project"
    project.mkdir()
    git(project, "init", "-q")
    git(project, "config", "user.email", "t@example.com")
    git(project, "config", "user.name", "t")
    (project / "train.py").write_text("# training\n")
    git(project, "add", "train.py")
    git(project, "commit", "-q", "-m", "init")
    git(project, "remote", "add", "origin", "https://user:SECRET@example.com/org/repo.git")
    monkeypatch.chdir(project)
    manifest = register_model("demo/src", fx.PredictOnly, fx.Scaler(2.0), store=url)
    source = manifest.source
    assert source["runner"] == f"{RUNNERS}:PredictOnly"
    assert source["git_commit"] == git(project, "rev-parse", "HEAD")
    assert source["git_dirty"] is False
    assert source["git_remote"] == "https://example.com/org/repo.git"
    assert source["path"] == str(project.resolve())
    text = Shelf(url).store.read_manifest("demo/src", manifest.version).to_json().decode()
    assert str(scratch) not in text and "modelshelf-register-" not in text
    assert "SECRET" not in text

    (project / "train.py").write_text("# changed\n")
    again = register_model("demo/src", fx.PredictOnly, fx.Scaler(2.0), store=url)
    assert again.source["git_dirty"] is True


def test_the_source_outside_a_repository_has_no_temporary_path(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    artifact = tmp_path / "vocab.txt"
    artifact.write_text("a b c")
    manifest = register_model(
        "demo/nogit", fx.PredictOnly, fx.Scaler(2.0), store=url, artifacts={artifact: "vocab.txt"}
    )
    assert manifest.source["runner"] == f"{RUNNERS}:PredictOnly"
    assert "git_commit" not in manifest.source
    text = manifest.to_json().decode()
    assert str(scratch) not in text and "modelshelf-register-" not in text


def test_aliases_given_as_text_are_refused_by_push_too(url: str, tmp_path: Path) -> None:
    """``aliases="prod"`` would have pointed @p, @r, @o and @d at the version."""
    (tmp_path / "m.bin").write_bytes(b"m")
    with pytest.raises(InvalidInputError, match="list of alias names"):
        Shelf(url).push(tmp_path / "m.bin", "demo/text", aliases="prod")
    assert Shelf(url).assets() == []


def test_a_runner_given_at_load_time_loads_the_saved_instance_too(url: str, tmp_path: Path) -> None:
    """``load_model(spec, runner=...)`` with a runner that does not override load_model: the
    default loads the saved instance, as for the recorded runner."""
    register_model("demo/other", fx.PredictOnly, fx.Scaler(4.0), store=url)
    loaded = load_model("demo/other", store=fresh(url, tmp_path), runner=fx.PredictOnly, trust=True)
    assert loaded.predict([1]) == [4.0]
    with pytest.raises(TrustRequiredError, match=r"demo/other:1\.0"):
        load_model("demo/other", store=fresh(url, tmp_path, "b"), runner=fx.PredictOnly)


def test_a_saved_file_missing_from_the_version_is_refused_naming_the_asset(
    url: str, tmp_path: Path
) -> None:
    shelf = forge(url, tmp_path, {"saved_as": "onnx"})  # the version holds model/model.pt only
    with pytest.raises(UntrustedStoreDataError, match=r"demo/forged:1.0 .*model/model.onnx"):
        load_model("demo/forged", store=shelf)


@pytest.mark.parametrize(
    ("content", "reason"),
    [("mismatch", "does not fit"), ("list", "not a mapping of tensors")],
)
def test_a_state_dict_that_does_not_fit_its_class_is_refused(
    url: str, tmp_path: Path, content: str, reason: str
) -> None:
    torch = pytest.importorskip("torch")
    model = tmp_path / "model.pt"
    if content == "list":
        torch.save([torch.zeros(2)], model)
    else:
        torch.save({"other.weight": torch.zeros(2)}, model)
    section = {
        "runner": f"{RUNNERS}:TorchPredict",
        "requirements": [],
        "artifacts": ["model"],
        "props": None,
        "saved_as": "torch-state-dict",
        "saved_class": "tests.runner_contract_torch:Unscriptable",
    }
    Shelf(url, cache_dir=tmp_path / "writer").push(
        PushSource.from_files({model: "model/model.pt"}), "demo/misfit", sections={"model": section}
    )
    with pytest.raises(UntrustedStoreDataError, match=rf"demo/misfit:1.0 .*{reason}"):
        load_model("demo/misfit", store=fresh(url, tmp_path))
