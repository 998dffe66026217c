"""``load_model`` on plain model files: a local path or a pushed (not registered) asset, loaded by
the detected engine; trust for pickle-based formats; candidates named; custom loaders; the CLI."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from tests import engines_fixtures as fx

from modelshelf import (
    InvalidInputError,
    NotAModelError,
    Shelf,
    TrustRequiredError,
    load_model,
)
from modelshelf.cli.main import main
from modelshelf.errors import UnknownModelFormatError
from modelshelf.models.plain import is_local_path

X = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]


@pytest.fixture
def url(tmp_path: Path) -> str:
    return (tmp_path / "store").as_uri()


def both(path: Path, url: str, tmp_path: Path, **kwargs: Any) -> list[Any]:
    """The model loaded from the local path and from a pushed asset pulled into a fresh cache."""
    shelf = Shelf(url, cache_dir=tmp_path / f"cache-{path.name}")
    shelf.push(path, f"plain/{path.stem}")
    return [
        load_model(path, **kwargs),
        load_model(f"plain/{path.stem}", store=shelf, **kwargs),
    ]


def write_torch(tmp_path: Path, pickled: bool) -> tuple[Path, Any]:
    """A TorchScript or pickled copy of the tiny module, written by the engine runner."""
    pytest.importorskip("torch")
    from modelshelf.models.engines.torch import TorchPickleRunner, TorchRunner

    module = fx.tiny_module()
    runner = TorchPickleRunner if pickled else TorchRunner
    folder = tmp_path / ("pickled" if pickled else "scripted")
    folder.mkdir()
    written = folder / runner.save_model(module, folder)["file"]
    path = written.rename(tmp_path / f"{folder.name}.pt")
    return path, module


def test_spec_and_path_are_told_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert not is_local_path("demo/doubler:1")
    assert not is_local_path("demo/doubler@prod")
    for text in ("/abs/m.onnx", "./m.onnx", "../m.onnx", "~/m.onnx", "file:///m.onnx"):
        assert is_local_path(text)
    assert is_local_path(tmp_path)
    (tmp_path / "model.onnx").write_bytes(b"x")
    assert is_local_path("model.onnx")


def test_skops_pipeline_from_path_and_pushed_asset(url: str, tmp_path: Path) -> None:
    skops_io = pytest.importorskip("skops.io")
    np = pytest.importorskip("numpy")
    pipeline = fx.tiny_pipeline()
    path = tmp_path / "pipe.skops"
    skops_io.dump(pipeline, path)
    for loaded in both(path, url, tmp_path):
        assert np.array_equal(loaded.predict(np.asarray(X)), pipeline.predict(np.asarray(X)))
        assert loaded.metadata["engine"] == "detected:skops"
        assert loaded.metadata["evidence"]
        assert loaded.runner.__name__ == "SklearnRunner"


def test_joblib_pipeline_needs_trust_then_predicts(url: str, tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    np = pytest.importorskip("numpy")
    pytest.importorskip("sklearn")
    pipeline = fx.tiny_pipeline()
    path = tmp_path / "pipe.joblib"
    joblib.dump(pipeline, path)
    with pytest.raises(TrustRequiredError, match=r"runs code.*trust=True.*MODELSHELF_TRUST"):
        load_model(path)
    for loaded in both(path, url, tmp_path, trust=True):
        assert np.array_equal(loaded.predict(np.asarray(X)), pipeline.predict(np.asarray(X)))
        assert loaded.metadata["engine"] == "detected:joblib"


def test_torchscript_from_path_and_pushed_asset(url: str, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    path, module = write_torch(tmp_path, pickled=False)
    x = torch.tensor(X)
    for loaded in both(path, url, tmp_path):
        assert torch.equal(loaded.predict(x), module(x).detach())
        assert loaded.metadata["engine"] == "detected:torchscript"


def test_pickled_torch_module_needs_trust(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch = pytest.importorskip("torch")
    path, module = write_torch(tmp_path, pickled=True)
    calls: list[object] = []
    real_load = torch.load

    def recording_load(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)
    with pytest.raises(TrustRequiredError, match=r"pickled torch module.*trust=True"):
        load_model(path)
    assert calls == [True]  # only torch's restricted (weights-only) unpickler ran
    monkeypatch.undo()
    x = torch.tensor(X)
    for loaded in both(path, url, tmp_path, trust=True):
        assert torch.equal(loaded.predict(x), module(x).detach())
        assert loaded.metadata["engine"] == "detected:torch"


def test_a_torch_state_dict_loads_without_trust_as_weights(url: str, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    state = fx.tiny_module().state_dict()
    path = tmp_path / "weights.pt"
    torch.save(state, path)
    for loaded in both(path, url, tmp_path):
        assert loaded.model.keys() == state.keys()
        assert all(torch.equal(loaded.model[k], state[k]) for k in state)
        with pytest.raises(InvalidInputError, match="only tensors"):
            loaded.predict(torch.tensor(X))


def test_a_file_its_engine_cannot_load_is_one_line(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    import zipfile

    path = tmp_path / "fake_ts.pt"
    with zipfile.ZipFile(path, "w") as archive:  # detected as TorchScript, not one
        archive.writestr("m/data.pkl", b"\x80\x02}q\x00.")
        archive.writestr("m/constants.pkl", b"\x80\x02)q\x00.")
        archive.writestr("m/code/__torch__.py", b"")
    with pytest.raises(UnknownModelFormatError, match="could not load it") as caught:
        load_model(path)
    assert str(path) in str(caught.value)


def test_onnx_graph_from_path_and_pushed_asset(url: str, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    np = pytest.importorskip("numpy")
    module = fx.tiny_module()
    path = tmp_path / "tiny.onnx"
    onnx.save(fx.onnx_of(module), str(path))
    expected = module(__import__("torch").tensor(X)).detach().numpy()
    for loaded in both(path, url, tmp_path):
        assert np.allclose(loaded.predict(X), expected, atol=1e-6)
        assert loaded.metadata["engine"] == "detected:onnx"


def test_plain_pickle_refuses_without_trust_and_unpickles_nothing(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "doubler.pkl"
    path.write_bytes(pickle.dumps(fx.Doubler(3.0), protocol=5))
    shelf = Shelf(url, cache_dir=tmp_path / "cache")
    shelf.push(path, "plain/doubler")
    fx.UNPICKLED.clear()
    for target, store in ((path, None), ("plain/doubler", shelf)):
        with pytest.raises(TrustRequiredError) as caught:
            load_model(target, store=store)
        assert "trust=True" in str(caught.value)
        assert "MODELSHELF_TRUST_PICKLE=1" in str(caught.value)
    assert fx.UNPICKLED == []
    monkeypatch.setenv("MODELSHELF_TRUST_PICKLE", "1")
    for loaded in both(path, url, tmp_path):
        assert loaded.predict([1.0, 2.0]) == [3.0, 6.0]
        assert loaded.metadata["engine"] == "detected:pickle"
        assert loaded.trust
    assert fx.UNPICKLED == ["Doubler", "Doubler"]


def test_unknown_file_names_its_candidates(url: str, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("hello\n")
    (folder / "weights.bin").write_bytes(b"\x01\x02\x03")
    with pytest.raises(UnknownModelFormatError, match=r"readme\.txt") as caught:
        load_model(folder)
    assert "weights.bin" in str(caught.value)
    shelf = Shelf(url, cache_dir=tmp_path / "cache")
    shelf.push(folder, "plain/texts")
    with pytest.raises(NotAModelError) as not_model:
        load_model("plain/texts", store=shelf)
    message = str(not_model.value)
    assert "plain/texts:1.0" in message and "readme.txt" in message and "weights.bin" in message
    assert "loader=" in message


def test_folder_with_two_model_files_lists_both(tmp_path: Path) -> None:
    folder = tmp_path / "two"
    folder.mkdir()
    (folder / "a.pkl").write_bytes(pickle.dumps([1, 2], protocol=4))
    (folder / "b.pkl").write_bytes(pickle.dumps([3], protocol=4))
    with pytest.raises(UnknownModelFormatError) as caught:
        load_model(folder, trust=True)
    assert "a.pkl" in str(caught.value) and "b.pkl" in str(caught.value)


def test_safetensors_gives_tensors_and_refuses_to_predict(tmp_path: Path) -> None:
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    path = tmp_path / "weights.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"\x00" * 8)
    try:
        import safetensors  # noqa: F401
    except ModuleNotFoundError:
        with pytest.raises(ImportError, match=r"pip install safetensors"):
            load_model(path)
        return
    loaded = load_model(path)
    assert set(loaded.model) == {"w"}
    with pytest.raises(InvalidInputError, match=r"only tensors"):
        loaded.predict([1.0])


def test_custom_loader_by_import_path(url: str, tmp_path: Path) -> None:
    path = tmp_path / "anything.bin"
    path.write_bytes(b"opaque")
    fx.LOADED_FROM.clear()
    for loaded in both(path, url, tmp_path, loader="tests.engines_fixtures:load_tripler"):
        assert loaded.predict([1.0, 2.0]) == [3.0, 6.0]
        assert loaded.metadata["engine"] == "custom"
    assert fx.LOADED_FROM[0] == str(path)
    assert len(fx.LOADED_FROM) == 2


@pytest.mark.parametrize(
    "loader",
    ["tests.engines_fixtures:load tripler", "../evil:run", "not_installed_pkg_xyz.mod:load"],
)
def test_forged_or_uninstalled_loader_is_refused_in_one_line(tmp_path: Path, loader: str) -> None:
    path = tmp_path / "anything.bin"
    path.write_bytes(b"opaque")
    with pytest.raises(InvalidInputError) as caught:
        load_model(path, loader=loader)
    assert "\n" not in str(caught.value)
    assert "loader" in str(caught.value)


def test_cli_predict_on_local_onnx_and_skops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    skops_io = pytest.importorskip("skops.io")
    np = pytest.importorskip("numpy")
    module = fx.tiny_module()
    onnx_path = tmp_path / "tiny.onnx"
    onnx.save(fx.onnx_of(module), str(onnx_path))
    pipeline = fx.tiny_pipeline()
    skops_path = tmp_path / "pipe.skops"
    skops_io.dump(pipeline, skops_path)
    data = tmp_path / "x.json"
    data.write_text(json.dumps(X))
    assert main(["predict", str(onnx_path), "--input", str(data), "-q"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert np.allclose(out, module(__import__("torch").tensor(X)).detach().numpy(), atol=1e-6)
    assert main(["predict", str(skops_path), "--input", str(data), "-q"]) == 0
    assert json.loads(capsys.readouterr().out) == pipeline.predict(np.asarray(X)).tolist()


def test_cli_predict_pickle_needs_trust_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "doubler.pkl"
    path.write_bytes(pickle.dumps(fx.Doubler(2.0), protocol=5))
    data = tmp_path / "x.json"
    data.write_text("[1, 2]")
    assert main(["predict", str(path), "--input", str(data)]) != 0
    assert "trust" in capsys.readouterr().err
    assert main(["predict", str(path), "--input", str(data), "--trust"]) == 0
    assert json.loads(capsys.readouterr().out) == [2.0, 4.0]
