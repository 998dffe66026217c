"""Review item: a write that happened was answered 503 when its audit record failed to be
written. The registry tries the record again; if the store still refuses it, the write is
answered as done and the lost record is logged at ERROR, whole."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from tests.registry.registry_helpers import asset, manifest_of, put_blobs

from modelshelf.backends.registry import open_backend
from modelshelf.errors import StoreUnavailableError
from modelshelf.registry import audit
from modelshelf.registry.app import create_app
from modelshelf.registry.tokens import TokenBook
from modelshelf.store.bucket import Store


class FlakyLogStore(Store):
    """A real file:// store whose next ``failures`` audit appends fail as an S3 500 would."""

    failures = 0
    tries = 0

    def append_log(self, name: str, action: str, **fields: Any) -> None:
        self.tries += 1
        if self.failures > 0:
            self.failures -= 1
            raise StoreUnavailableError("simulated: the store answered 500 to the log write")
        super().append_log(name, action, **fields)


@pytest.fixture
def flaky(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[FlakyLogStore, TestClient]:
    monkeypatch.setattr(audit, "AUDIT_PAUSE", 0.0)
    store = FlakyLogStore(open_backend((tmp_path / "store").as_uri()))
    store.create()
    token, _ = TokenBook(store).create("admin", ["admin:*"], None, created_by="t")
    client = TestClient(create_app(store), raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {token}"
    return store, client


def _push(store: Store, client: TestClient, version: str) -> int:
    files = put_blobs(store, version.encode())
    body = manifest_of("nlp/a", version, files)
    return client.put(asset("nlp/a", "versions", version), content=body).status_code


def test_an_audit_append_that_fails_once_is_tried_again(
    flaky: tuple[FlakyLogStore, TestClient],
) -> None:
    store, client = flaky
    store.failures = 1
    assert _push(store, client, "1") == 201
    assert [r["action"] for r in store.log("nlp/a")] == ["push"]
    store.failures = 1
    response = client.put(asset("nlp/a", "aliases", "prod"), json={"version": "1"})
    assert response.status_code == 200, response.text
    assert [r["action"] for r in store.log("nlp/a")] == ["push", "alias"]


@pytest.mark.parametrize("write", ["push", "alias", "alias-remove", "remove"])
def test_a_done_write_whose_audit_keeps_failing_is_answered_done_and_logged_at_error(
    flaky: tuple[FlakyLogStore, TestClient], write: str, caplog: pytest.LogCaptureFixture
) -> None:
    store, client = flaky
    assert _push(store, client, "1") == 201
    assert client.put(asset("nlp/a", "aliases", "prod"), json={"version": "1"}).status_code == 200
    store.failures, store.tries = audit.AUDIT_TRIES, 0
    with caplog.at_level(logging.ERROR, logger="modelshelf.registry"):
        if write == "push":
            status = _push(store, client, "2")
            assert (status, [str(v) for v in store.versions("nlp/a")]) == (201, ["2", "1"])
        elif write == "alias":
            status = client.put(
                asset("nlp/a", "aliases", "stage"), json={"version": "1"}
            ).status_code
            assert (status, store.read_alias("nlp/a", "stage").version) == (200, "1")
        elif write == "alias-remove":
            status = client.delete(asset("nlp/a", "aliases", "prod")).status_code
            assert (status, "prod" in store.aliases("nlp/a")) == (200, False)
        else:
            response = client.post(asset("nlp/a", "versions", "1", "remove"), json={"message": "m"})
            assert (response.status_code, store.versions("nlp/a")) == (200, [])
    assert store.tries == audit.AUDIT_TRIES
    lost = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(lost) == 1 and "AUDIT RECORD LOST" in lost[0].getMessage()
    assert '"name": "nlp/a"' in lost[0].getMessage() and '"user": "admin"' in lost[0].getMessage()
