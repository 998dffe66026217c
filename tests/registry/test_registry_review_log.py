"""Review item: audit log poisoning. A write token once stored a record larger than any reader
takes, after which every read of the log failed. The client's fields are bounded (413), the
store never writes a record its readers refuse, and a read of the log is bounded as a whole
(refused naming the bound, never cut short)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient
from tests.registry.registry_helpers import MakeClient, asset, error_of, manifest_of, put_blobs

from modelshelf import trust
from modelshelf.errors import InvalidInputError, UntrustedStoreDataError
from modelshelf.registry.asset_routes import MAX_CLIENT_AUDIT_BYTES
from modelshelf.registry.tokens import TokenBook
from modelshelf.store.bucket import Store


@pytest.fixture
def writer(store: Store, book: TokenBook, make_client: MakeClient) -> TestClient:
    token, _ = book.create("nlp-writer", ["write:nlp/"], None, created_by="t")
    client = make_client(token)
    files = put_blobs(store, b"one")
    response = client.put(asset("nlp/a", "versions", "1"), content=manifest_of("nlp/a", "1", files))
    assert response.status_code == 201, response.text
    return client


def test_audit_fields_over_the_bound_are_a_413_and_the_log_stays_readable(
    store: Store, writer: TestClient
) -> None:
    before = store.log("nlp/a")
    fields = {f"k{i}": "a" * 65536 for i in range(17)}  # the review's 1.1 MiB record
    response = writer.post(asset("nlp/a", "log"), json={"action": "copy", "fields": fields})
    assert response.status_code == 413
    assert isinstance(error_of(response), InvalidInputError)
    just_over = {"source": "s" * MAX_CLIENT_AUDIT_BYTES}
    response = writer.post(asset("nlp/a", "log"), json={"action": "copy", "fields": just_over})
    assert response.status_code == 413
    assert f"over the {MAX_CLIENT_AUDIT_BYTES}" in response.json()["error"]["message"]
    assert store.log("nlp/a") == before  # nothing written
    answer = writer.get(asset("nlp/a", "log"))
    assert answer.status_code == 200 and len(answer.json()["records"]) == len(before)

    ok = {"source": "s3://bucket/prefix", "version": "1"}
    response = writer.post(asset("nlp/a", "log"), json={"action": "copy", "fields": ok})
    assert response.status_code == 201, response.text
    assert store.log("nlp/a")[-1]["source"] == "s3://bucket/prefix"


def test_the_store_never_writes_a_record_its_readers_refuse(store: Store) -> None:
    with pytest.raises(InvalidInputError, match=f"over the {trust.MAX_RECORD_BYTES}"):
        store.append_log("nlp/a", "copy", source="s" * trust.MAX_RECORD_BYTES)
    assert list(store.backend.list("assets/nlp/a/log")) == []


def test_a_log_over_the_read_budget_is_refused_whole_naming_the_bound(
    store: Store, writer: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in range(5):
        store.append_log("nlp/a", "copy", source=f"s3://b/{index}")
    sizes = [m.size for m in store.backend.list("assets/nlp/a/log")]
    monkeypatch.setattr(trust, "MAX_LOG_BYTES", sum(sizes) - 1)
    with pytest.raises(UntrustedStoreDataError, match=f"more than {sum(sizes) - 1} bytes"):
        store.log("nlp/a")
    response = writer.get(asset("nlp/a", "log"))
    assert response.status_code == 422
    assert f"more than {sum(sizes) - 1} bytes of records" in response.json()["error"]["message"]
    monkeypatch.setattr(trust, "MAX_LOG_BYTES", sum(sizes))
    assert len(store.log("nlp/a")) == 6  # the push and the five copies
