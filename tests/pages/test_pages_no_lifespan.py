"""An app whose lifespan never runs (a test client used without ``with``, an app embedded
without one) still serves current pages, and leaves no thread of its catalog behind: one that
outlived its app polled the store for the rest of the process (seen: a later test's stderr got
its warnings)."""

from __future__ import annotations

import threading

from starlette.testclient import TestClient
from tests.pages.pages_helpers import blob, commit

from modelshelf.registry.app import create_app
from modelshelf.store.bucket import Store


def _catalog_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "modelshelf-catalog"]


def test_pages_without_a_lifespan_start_no_thread_and_stay_current(
    store: Store, tokens: dict[str, str]
) -> None:
    before = len(_catalog_threads())
    client = TestClient(create_app(store), raise_server_exceptions=False)  # no `with`
    client.post("/sign-in", data={"token": tokens["admin"]})
    first = client.get("/api/v1/search").json()
    assert "nlp/sentiment" in [a["name"] for a in first["assets"]]
    commit(store, "nlp/fresh", "1.0", [blob(store, b"fresh", "w.bin")])
    app = client.app
    app.state.catalog._last_poll = 0.0  # type: ignore[attr-defined]  # the last poll is stale
    names = [a["name"] for a in client.get("/api/v1/search").json()["assets"]]
    assert "nlp/fresh" in names
    assert len(_catalog_threads()) == before
