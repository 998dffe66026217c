"""Built-in engine runners: real torch, scikit-learn, ONNX and pickle models, registered, loaded
into a fresh cache and compared with the predictions made before; the trust rules of each."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests import engines_fixtures as fx

from modelshelf import (
    InvalidInputError,
    Shelf,
    TrustRequiredError,
    load_model,
    register_onnx_model,
    register_pickle_model,
    register_sklearn_model,
    register_torch_model,
)
from modelshelf.models.engines._common import engine_requirement


@pytest.fixture
def url(tmp_path: Path) -> str:
    (tmp_path / "store").mkdir()  # a store to list after a refused write (reads make none)
    return (tmp_path / "store").as_uri()


def fresh(url: str, tmp_path: Path, name: str = "fresh") -> Shelf:
    return Shelf(url, cache_dir=tmp_path / name)


def test_importing_modelshelf_loads_no_engine_library() -> None:
    code = (
        "import sys, modelshelf, modelshelf.models.engines;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'sklearn', 'skops', 'onnx', 'onnxruntime', 'numpy', 'joblib'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- torch -------------------------------------------------------------------------------------


def test_torch_module_is_stored_as_torchscript_and_predicts_the_same(
    url: str, tmp_path: Path
) -> None:
    torch = pytest.importorskip("torch")
    module = fx.tiny_module()
    x = torch.randn(5, 3)
    expected = module(x).detach().tolist()
    manifest = register_torch_model("demo/torch", module, postprocess_data=fx.to_list, store=url)
    section = manifest.extra["model"]
    assert section["engine"] == "torch"
    assert section["runner"] == "modelshelf.models.engines.torch:TorchRunner"
    assert section["props"] == {"file": "model.pt", "format": "torchscript"}
    assert section["requirements"] == [f"torch=={torch.__version__.split('+')[0]}"]
    assert section["postprocess"] == "tests.engines_fixtures:to_list"
    assert "preprocess" not in section
    assert [f.path for f in manifest.files] == ["model/model.pt"]

    loaded = load_model("demo/torch", store=fresh(url, tmp_path))
    assert isinstance(loaded.model, torch.jit.ScriptModule)
    assert loaded.predict(x) == expected
    assert loaded.predict(x.tolist()) == expected


def test_torch_state_dict_loads_with_weights_only(url: str, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    state = fx.tiny_module().state_dict()
    manifest = register_torch_model("demo/state", state, store=url)
    assert manifest.extra["model"]["props"]["format"] == "state_dict"
    loaded = load_model("demo/state", store=fresh(url, tmp_path))
    assert set(loaded.model) == set(state)
    assert all(torch.equal(loaded.model[k], state[k]) for k in state)


def test_torch_pickled_module_needs_trust(url: str, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    module = fx.tiny_module()
    x = torch.randn(2, 3)
    register_torch_model("demo/pickled", module, fmt="pickle", store=url)
    with pytest.raises(TrustRequiredError, match=r"runs code.*trust=True.*MODELSHELF_TRUST_PICKLE"):
        load_model("demo/pickled", store=fresh(url, tmp_path))
    loaded = load_model("demo/pickled", store=fresh(url, tmp_path, "other"), trust=True)
    assert torch.equal(loaded.predict(x), module(x).detach())


# --- scikit-learn ------------------------------------------------------------------------------


def test_sklearn_pipeline_via_skops_predicts_the_same(url: str, tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("skops")
    pipeline = fx.tiny_pipeline()
    x, _ = fx.tiny_data()
    manifest = register_sklearn_model("demo/sk", pipeline, store=url)
    section = manifest.extra["model"]
    assert section["runner"] == "modelshelf.models.engines.sklearn:SklearnRunner"
    assert section["props"] == {"file": "model.skops", "format": "skops"}
    assert section["requirements"] == [
        engine_requirement("scikit-learn"),
        engine_requirement("skops"),
    ]
    loaded = load_model("demo/sk", store=fresh(url, tmp_path))
    assert loaded.predict(x).tolist() == pipeline.predict(x).tolist()


def test_skops_refuses_untrusted_types_without_trust(url: str, tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("skops")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    x, y = fx.tiny_data()
    pipeline = make_pipeline(fx.Halver(), LogisticRegression()).fit(x, y)
    register_sklearn_model("demo/custom", pipeline, store=url)
    with pytest.raises(TrustRequiredError, match=r"tests\.engines_fixtures\.Halver.*trust=True"):
        load_model("demo/custom", store=fresh(url, tmp_path))
    loaded = load_model("demo/custom", store=fresh(url, tmp_path, "other"), trust=True)
    assert loaded.predict(x).tolist() == pipeline.predict(x).tolist()


def test_joblib_needs_trust(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sklearn")
    pipeline = fx.tiny_pipeline()
    x, _ = fx.tiny_data()
    manifest = register_sklearn_model("demo/jl", pipeline, fmt="joblib", store=url)
    assert manifest.extra["model"]["props"] == {"file": "model.joblib", "format": "joblib"}
    with pytest.raises(TrustRequiredError, match="joblib"):
        load_model("demo/jl", store=fresh(url, tmp_path))
    monkeypatch.setenv("MODELSHELF_TRUST_PICKLE", "1")
    loaded = load_model("demo/jl", store=fresh(url, tmp_path, "other"))
    assert loaded.predict(x).tolist() == pipeline.predict(x).tolist()


# --- ONNX --------------------------------------------------------------------------------------


def test_onnx_graph_of_the_torch_module_predicts_the_same(url: str, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    torch = pytest.importorskip("torch")
    np = pytest.importorskip("numpy")
    module = fx.tiny_module()
    x = torch.randn(4, 3)
    expected = module(x).detach().numpy()
    proto = fx.onnx_of(module)
    onnx.checker.check_model(proto)
    manifest = register_onnx_model("demo/onnx", proto, store=url)
    assert manifest.extra["model"]["props"] == {"file": "model.onnx", "format": "onnx"}
    assert manifest.extra["model"]["requirements"] == [engine_requirement("onnxruntime")]
    loaded = load_model("demo/onnx", store=fresh(url, tmp_path))
    np.testing.assert_allclose(loaded.predict(x.numpy()), expected, atol=1e-6)
    np.testing.assert_allclose(loaded.predict({"x": x.tolist()}), expected, atol=1e-6)


def test_onnx_graph_built_with_helper_and_given_as_bytes(url: str, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["sum"])],
        "add",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [None]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [None]),
        ],
        [helper.make_tensor_value_info("sum", TensorProto.FLOAT, [None])],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(proto)
    register_onnx_model(
        "demo/add", proto.SerializeToString(), postprocess_data=fx.to_list, store=url
    )
    loaded = load_model("demo/add", store=fresh(url, tmp_path))
    assert loaded.predict({"a": [1, 2], "b": [0.5, 0.25]}) == [1.5, 2.25]
    with pytest.raises(InvalidInputError, match="inputs 'a', 'b'"):
        loaded.predict([1, 2])


# --- pickle ------------------------------------------------------------------------------------


def test_pickle_refuses_without_trust_and_loads_with_it(url: str, tmp_path: Path) -> None:
    register_pickle_model("demo/pkl", fx.Doubler(3.0), store=url)
    fx.UNPICKLED.clear()
    with pytest.raises(TrustRequiredError) as caught:
        load_model("demo/pkl", store=fresh(url, tmp_path))
    message = str(caught.value)
    assert "runs code when it is loaded" in message
    assert "trust=True" in message
    assert "MODELSHELF_TRUST_PICKLE=1" in message
    assert fx.UNPICKLED == []
    loaded = load_model("demo/pkl", store=fresh(url, tmp_path, "other"), trust=True)
    assert loaded.predict([1.0, 2.0]) == [3.0, 6.0]
    assert fx.UNPICKLED == ["Doubler"]
    assert loaded.metadata["engine"] == "pickle"


# --- hooks and arguments -----------------------------------------------------------------------


def _local_hook(data: Any) -> Any:
    return data


def test_hooks_must_be_module_level_functions(url: str) -> None:
    def inner(data: Any) -> Any:
        return data

    with pytest.raises(InvalidInputError, match="lambda"):
        register_pickle_model("demo/x", fx.Doubler(), preprocess_data=lambda d: d, store=url)
    with pytest.raises(InvalidInputError, match="inside a function"):
        register_pickle_model("demo/x", fx.Doubler(), postprocess_data=inner, store=url)
    assert Shelf(url).assets() == []


def test_preprocess_hook_is_recorded_and_used(url: str, tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    register_pickle_model(
        "demo/hooked",
        fx.Doubler(),
        preprocess_data=fx.as_float32,
        postprocess_data=fx.to_list,
        requirements=["numpy"],
        store=url,
    )
    loaded = load_model("demo/hooked", store=fresh(url, tmp_path), trust=True)
    assert loaded.section["preprocess"] == "tests.engines_fixtures:as_float32"
    assert loaded.section["requirements"] == ["numpy"]
    assert loaded.predict([1, 2]) == [2.0, 4.0]
    assert np is not None


def test_hook_path_from_the_store_is_checked_like_a_runner_path(url: str, tmp_path: Path) -> None:
    from modelshelf import UntrustedStoreDataError, register_model
    from modelshelf.models.engines import PickleRunner

    register_model(
        "demo/bad-hook",
        PickleRunner,
        fx.Doubler(),
        hooks={"postprocess": "not_installed_anywhere.mod:f"},
        store=url,
    )
    with pytest.raises(UntrustedStoreDataError, match=r"postprocess .* not in an installed module"):
        load_model("demo/bad-hook", store=fresh(url, tmp_path), trust=True)


def test_engine_helpers_refuse_bad_arguments(url: str) -> None:
    with pytest.raises(InvalidInputError, match="fmt='pickle'"):
        register_sklearn_model("demo/x", object(), fmt="pickle", store=url)
    with pytest.raises(InvalidInputError, match="not the string"):
        register_pickle_model("demo/x", fx.Doubler(), requirements="numpy", store=url)
    with pytest.raises(InvalidInputError, match="ModelProto or bytes"):
        register_onnx_model("demo/x", object(), store=url)


@pytest.mark.parametrize("name", ["../model.pkl", "/etc/passwd", "sub/model.pkl", ""])
def test_store_sourced_file_name_must_be_a_plain_name_in_the_model_folder(
    tmp_path: Path, name: str
) -> None:
    from modelshelf import UntrustedStoreDataError
    from modelshelf.models.engines import PickleRunner

    with pytest.raises(UntrustedStoreDataError):
        PickleRunner.load_model({"file": name, "format": "pickle"}, {"model": tmp_path}, trust=True)
    with pytest.raises(UntrustedStoreDataError, match="name a file and a format"):
        PickleRunner.load_model(None, {"model": tmp_path}, trust=True)
