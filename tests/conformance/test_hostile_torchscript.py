"""TorchScript from a remote store loads without trust only when its code is plain tensor math.

A writer of the store pushes a TorchScript file whose code reads a file of the reader's
(``torch.from_file``), as a plain model file (found by detection) and as a registered torch
model (the engine runner's loader); loading either without trust is refused before anything
runs, and an ordinary registered model from the same store still loads and predicts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.servers.gcs import expect_emulator_gap
from tests.servers.remote import RemoteStore
from tests.unit.test_torchscript_trust import Recurrent, hostile

from modelshelf import PushSource, Shelf, load_model
from modelshelf.errors import TrustRequiredError
from modelshelf.models.engine_helpers import register_torch_model
from modelshelf.models.engines.torch import _jit_quiet

torch = pytest.importorskip("torch")


def test_torchscript_reading_files_needs_trust_and_ordinary_models_load(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    writer = Shelf(remote_store.url, cache_dir=tmp_path / "w", **remote_store.options)
    path, _ = hostile("forward-reads", tmp_path)
    writer.push(PushSource.from_files({path: "model.pt"}), "plain", progress=False)
    with _jit_quiet():
        register_torch_model("registered", torch.jit.load(str(path)), store=writer)
    module = Recurrent().eval()
    register_torch_model("ordinary", module, store=writer)

    reader = Shelf(remote_store.url, cache_dir=tmp_path / "r", **remote_store.options)
    for name in ("plain", "registered"):
        with pytest.raises(TrustRequiredError, match="aten::from_file") as info:
            load_model(name, store=reader)
        assert str(info.value).startswith(f"{name}:")  # the asset, then its store
    example = torch.randn(2, 5, 4)
    with torch.no_grad():
        expected = module(example)
    assert torch.allclose(load_model("ordinary", store=reader).predict(example), expected)
