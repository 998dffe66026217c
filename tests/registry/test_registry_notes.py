"""The notes routes: labels and descriptions of assets and versions, read with a read scope,
written with a write scope, compare-and-swap, audited by the registry as the token's name."""

from __future__ import annotations

import httpx
import pytest
from starlette.testclient import TestClient
from tests.registry.registry_helpers import (
    MakeClient,
    asset,
    error_of,
    pushed_through,
)

from modelshelf.errors import (
    AssetNotFoundError,
    InvalidInputError,
    NotesConflictError,
    StoreAuthError,
    VersionNotFoundError,
)
from modelshelf.registry.tokens import TokenBook
from modelshelf.store.bucket import Store


@pytest.fixture
def writer(store: Store, book: TokenBook, make_client: MakeClient) -> TestClient:
    token, _ = book.create("nlp-writer", ["write:nlp/"], None, created_by="t")
    client = make_client(token)
    pushed_through(client, store, "nlp/a", list(("1.0", "1.1")))
    return client


@pytest.fixture
def reader(book: TokenBook, make_client: MakeClient) -> TestClient:
    token, _ = book.create("nlp-reader", ["read:nlp/"], None, created_by="t")
    return make_client(token)


def _put(client: TestClient, *where: str, expected: int = 0, **labels: str) -> httpx.Response:
    body = {"labels": labels, "description": "", "expected_seq": expected}
    return client.put(asset("nlp/a", *where, "notes"), json=body)


@pytest.mark.parametrize("where", [(), ("versions", "1.1")], ids=["asset", "version"])
def test_notes_are_written_read_and_kept_as_history(
    store: Store, writer: TestClient, reader: TestClient, where: tuple[str, ...]
) -> None:
    assert reader.get(asset("nlp/a", *where, "notes")).json()["seq"] == 0
    body = {"labels": {"team": "nlp", "gpu": ""}, "description": "# A\n", "expected_seq": 0}
    response = writer.put(asset("nlp/a", *where, "notes"), json=body)
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["seq"] == 1 and record["labels"] == {"gpu": "", "team": "nlp"}
    assert record["who"] == "nlp-writer" and record["host"] == "registry"  # never the client's
    body = {"labels": {"team": "cv"}, "description": "# A\n", "expected_seq": 1}
    assert writer.put(asset("nlp/a", *where, "notes"), json=body).status_code == 201
    current = reader.get(asset("nlp/a", *where, "notes")).json()
    assert current["seq"] == 2 and current["labels"] == {"team": "cv"}
    history = reader.get(asset("nlp/a", *where, "notes", "history")).json()["history"]
    assert [r["seq"] for r in history] == [1, 2]
    version = where[1] if where else None
    assert store.read_notes("nlp/a", version).labels == {"team": "cv"}


def test_a_write_is_audited_as_the_token_with_the_labels_as_text(
    store: Store, writer: TestClient
) -> None:
    body = {"labels": {"team": "nlp", "gpu": ""}, "description": "d", "expected_seq": 0}
    assert writer.put(asset("nlp/a", "versions", "1.0", "notes"), json=body).status_code == 201
    body = {"labels": {"team": "nlp"}, "description": "d", "expected_seq": 1}
    assert writer.put(asset("nlp/a", "versions", "1.0", "notes"), json=body).status_code == 201
    first, second = [r for r in store.log("nlp/a") if r["action"] == "label"]
    assert first["user"] == "nlp-writer" and first["via"] == "registry"
    assert first["version"] == "1.0" and first["seq"] == 1
    assert first["labels"] == "gpu, team=nlp" and first["description_changed"] is True
    assert second["labels"] == "team=nlp" and second["description_changed"] is False


def test_the_asset_notes_record_has_no_version_field(store: Store, writer: TestClient) -> None:
    assert _put(writer, team="nlp").status_code == 201
    (record,) = [r for r in store.log("nlp/a") if r["action"] == "label"]
    assert "version" not in record and record["description_changed"] is False


def test_a_read_token_reads_but_may_not_write(
    store: Store, writer: TestClient, reader: TestClient
) -> None:
    assert _put(writer, team="nlp").status_code == 201
    assert reader.get(asset("nlp/a", "notes")).status_code == 200
    response = _put(reader, expected=1, team="cv")
    assert response.status_code == 403
    assert isinstance(error_of(response), StoreAuthError)
    assert store.read_notes("nlp/a").labels == {"team": "nlp"}


def test_no_token_reads_nothing(writer: TestClient, make_client: MakeClient) -> None:
    anonymous = make_client()
    assert anonymous.get(asset("nlp/a", "notes")).status_code == 401
    assert anonymous.get(asset("nlp/a", "versions", "1.0", "notes", "history")).status_code == 401


def test_a_token_of_other_names_may_not_read(
    writer: TestClient, book: TokenBook, make_client: MakeClient
) -> None:
    token, _ = book.create("cv-reader", ["read:cv/"], None, created_by="t")
    assert make_client(token).get(asset("nlp/a", "notes")).status_code == 403


def test_two_writers_with_the_same_expected_seq_one_wins_409(
    store: Store, writer: TestClient
) -> None:
    assert _put(writer, team="one").status_code == 201
    response = _put(writer, team="two")
    assert response.status_code == 409
    error = error_of(response)
    assert isinstance(error, NotesConflictError)
    assert error.current == 1 and error.expected == 0
    assert store.read_notes("nlp/a").labels == {"team": "one"}


def test_a_version_that_is_not_live_takes_no_notes(store: Store, writer: TestClient) -> None:
    response = _put(writer, "versions", "9.9", team="x")
    assert response.status_code == 404
    assert isinstance(error_of(response), VersionNotFoundError)
    assert writer.post(asset("nlp/a", "versions", "1.1", "remove"), json={}).status_code == 403
    store.remove_version("nlp/a", "1.1")
    response = _put(writer, "versions", "1.1", team="x")
    assert response.status_code == 404
    assert "removed" in str(error_of(response))
    assert list(store.backend.list("assets/nlp/a/notes")) == []


def test_an_asset_that_does_not_exist_takes_no_notes(store: Store, writer: TestClient) -> None:
    body = {"labels": {}, "description": "", "expected_seq": 0}
    response = writer.put(asset("nlp/zzz", "notes"), json=body)
    assert response.status_code == 404
    assert type(error_of(response)) is AssetNotFoundError


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"labels": {"Team": "x"}, "description": "", "expected_seq": 0}, "label key"),
        ({"labels": {"team": "a\nb"}, "description": "", "expected_seq": 0}, "control"),
        ({"labels": {"t": "x" * 257}, "description": "", "expected_seq": 0}, "longer than 256"),
        ({"labels": {f"k{i}": "" for i in range(65)}, "description": "", "expected_seq": 0},
         "over the 64"),
        ({"labels": {}, "description": "\x1b[2J", "expected_seq": 0}, "control character"),
        ({"labels": {}, "description": "x" * (64 * 1024 + 1), "expected_seq": 0}, "longer"),
        ({"labels": [], "description": "", "expected_seq": 0}, "'labels' must be dict"),
        ({"labels": {}, "description": "", "expected_seq": -1}, "0 or more"),
        ({"labels": {}, "description": "", "expected_seq": True}, "'expected_seq' must be int"),
        ({"labels": {}, "description": ""}, "lacks the field 'expected_seq'"),
    ],
)  # fmt: skip
def test_bad_notes_are_refused_before_anything_is_written(
    store: Store, writer: TestClient, body: dict[str, object], words: str
) -> None:
    response = writer.put(asset("nlp/a", "notes"), json=body)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert isinstance(error, InvalidInputError) and words in str(error)
    assert list(store.backend.list("assets/nlp/a/notes")) == []


def test_a_body_over_a_mebibyte_is_refused_unread(store: Store, writer: TestClient) -> None:
    body = b'{"labels": {}, "description": "' + b"x" * (1 << 20) + b'", "expected_seq": 0}'
    response = writer.put(asset("nlp/a", "notes"), content=body)
    assert response.status_code == 413
    assert list(store.backend.list("assets/nlp/a/notes")) == []


def test_a_hostile_record_in_the_store_is_a_422(store: Store, writer: TestClient) -> None:
    store.backend.put("assets/nlp/a/notes/asset/00000001.json", b'["not", "a", "record"]')
    response = writer.get(asset("nlp/a", "notes"))
    assert response.status_code == 422
    assert "not a valid notes record" in response.json()["error"]["message"]
