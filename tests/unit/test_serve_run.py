"""How ``modelshelf serve`` builds its app: the collector is frozen after each install, and only
there (``create_app`` alone never touches it)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.models_fixtures import LinearRunner

from modelshelf import Shelf, load_model, register_model
from modelshelf.serve import create_app
from modelshelf.serve._model import served_from
from modelshelf.serve._run import _build


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_the_server_freezes_what_is_loaded_after_each_install(
    tmp_path: Path, unfrozen: None
) -> None:
    store = (tmp_path / "store").as_uri()
    shelf = Shelf(store, cache_dir=tmp_path / "cache")
    register_model("team/svc", LinearRunner, {"x": 1.0, "bias": 0.0}, store=shelf)
    register_model("team/svc", LinearRunner, {"x": 2.0, "bias": 0.0}, store=shelf)
    settings = {
        "spec": "team/svc:1.0",
        "store": store,
        "name": None,
        "options": {"poll_interval": 0.0},
        "trust": False,
        "ignore_requirements": False,
    }
    app = _build(settings, load="now")
    assert gc.get_freeze_count() > 0
    gc.unfreeze()
    app.state.serve.slot.install(served_from(load_model("team/svc:1.1", store=shelf), "1.1"))
    assert gc.get_freeze_count() > 0


def test_create_app_alone_leaves_the_collector_alone(unfrozen: None) -> None:
    app = create_app(model=_Echo())
    assert app.state.serve.slot.ready
    assert gc.get_freeze_count() == 0


class _Echo:
    def predict(self, data: object) -> object:
        return data
