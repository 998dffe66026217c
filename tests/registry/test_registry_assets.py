"""The registry's asset routes, each on its happy path, over a real file:// store: listings,
versions, manifests, removals, aliases and the audit log, as the token's name writes them."""

from __future__ import annotations

import json

from tests.registry.registry_helpers import (
    API,
    MakeClient,
    asset,
    error_of,
    manifest_of,
    put_blobs,
)

from modelshelf.errors import (
    AliasConflictError,
    AliasNotFoundError,
    VersionExistsError,
    VersionNotFoundError,
    VersionRemovedError,
)
from modelshelf.manifest import Manifest
from modelshelf.registry.tokens import TokenBook
from modelshelf.store.bucket import Store


def _push(client: object, store: Store, name: str, version: str, data: bytes = b"x") -> None:
    files = put_blobs(store, data)
    response = client.put(
        asset(name, "versions", version), content=manifest_of(name, version, files)
    )  # type: ignore[attr-defined]
    assert response.status_code == 201, response.text
    assert response.json() == {"version": version}


def test_push_then_read_every_view(store: Store, book: TokenBook, make_client: MakeClient) -> None:
    token, _ = book.create("ci-bot", ["write:nlp/"], None, created_by="ann")
    client = make_client(token)
    _push(client, store, "nlp/sentiment", "1", b"one")
    _push(client, store, "nlp/sentiment", "1.1", b"two")
    _push(client, store, "nlp/other", "2", b"three")

    versions = client.get(asset("nlp/sentiment", "versions")).json()
    assert versions == {"live": ["1.1", "1"], "taken": ["1.1", "1"]}
    response = client.get(asset("nlp/sentiment", "versions", "1.1"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    manifest = Manifest.from_json(response.content)
    assert (manifest.name, manifest.version) == ("nlp/sentiment", "1.1")
    assert response.content == store.backend.read(store.manifest_key("nlp/sentiment", "1.1"))
    assert manifest.author == "the client's claim@somewhere"  # the manifest is the client's

    assert client.get(f"{API}/assets").json() == {
        "assets": ["nlp/other", "nlp/sentiment"],
        "next": None,
    }
    live = client.get(f"{API}/live-versions", params={"prefix": "nlp/sentiment"}).json()
    assert live == {"versions": [["nlp/sentiment", "1"], ["nlp/sentiment", "1.1"]]}

    (record,) = [r for r in store.log("nlp/sentiment") if r["version"] == "1.1"]
    assert record["action"] == "push"
    assert (record["user"], record["via"]) == ("ci-bot", "registry")
    assert record["host"].startswith("registry from ")
    assert (record["files"], record["size"]) == (1, 3)
    # the log route returns the same records
    assert client.get(asset("nlp/sentiment", "log")).json()["records"] == store.log("nlp/sentiment")


def test_assets_pages_and_prefixes(store: Store, book: TokenBook, make_client: MakeClient) -> None:
    token, _ = book.create("writer", ["write:*"], None, created_by="ann")
    client = make_client(token)
    names = [f"team/m{i}" for i in range(5)] + ["cv/resnet"]
    for name in names:
        _push(client, store, name, "1", name.encode())
    first = client.get(f"{API}/assets", params={"limit": 2}).json()
    assert first == {"assets": ["cv/resnet", "team/m0"], "next": "team/m0"}
    second = client.get(f"{API}/assets", params={"limit": 2, "after": "team/m0"}).json()
    assert second == {"assets": ["team/m1", "team/m2"], "next": "team/m2"}
    last = client.get(f"{API}/assets", params={"limit": 3, "after": "team/m2"}).json()
    assert last == {"assets": ["team/m3", "team/m4"], "next": None}
    assert client.get(f"{API}/assets", params={"prefix": "cv"}).json()["assets"] == ["cv/resnet"]
    globbed = client.get(f"{API}/assets", params={"prefix": "team/m[13]"}).json()
    assert globbed["assets"] == ["team/m1", "team/m3"]
    too_many = client.get(f"{API}/assets", params={"limit": 10_001})
    assert too_many.status_code == 400
    assert type(error_of(too_many)).__name__ == "InvalidInputError"


def test_taken_version_is_409(store: Store, book: TokenBook, make_client: MakeClient) -> None:
    token, _ = book.create("ci", ["admin:nlp"], None, created_by="ann")
    client = make_client(token)
    _push(client, store, "nlp/a", "1")
    files = put_blobs(store, b"other")
    again = client.put(asset("nlp/a", "versions", "1"), content=manifest_of("nlp/a", "1", files))
    assert again.status_code == 409
    error = error_of(again)
    assert isinstance(error, VersionExistsError)
    assert "http://testserver" in str(error) and store.url not in str(error)

    removed = client.post(asset("nlp/a", "versions", "1", "remove"), json={"message": "bad"})
    assert removed.status_code == 200
    assert removed.json()["who"] == "ci" and removed.json()["host"] == "registry"
    removal = client.get(asset("nlp/a", "versions", "1", "removal")).json()
    assert (removal["who"], removal["message"]) == ("ci", "bad")
    assert client.get(asset("nlp/a", "versions", "2", "removal")).status_code == 404
    gone = client.get(asset("nlp/a", "versions", "1"))
    assert gone.status_code == 404 and isinstance(error_of(gone), VersionNotFoundError)
    retaken = client.put(asset("nlp/a", "versions", "1"), content=manifest_of("nlp/a", "1", files))
    assert retaken.status_code == 409 and isinstance(error_of(retaken), VersionRemovedError)
    assert client.get(asset("nlp/a", "versions")).json() == {"live": [], "taken": ["1"]}
    (audit,) = [r for r in store.log("nlp/a") if r["action"] == "remove"]
    assert (audit["user"], audit["message"]) == ("ci", "bad")


def test_dry_run_removal_writes_nothing(
    store: Store, book: TokenBook, make_client: MakeClient
) -> None:
    token, _ = book.create("boss", ["admin:*"], None, created_by="ann")
    client = make_client(token)
    _push(client, store, "nlp/a", "1")
    response = client.post(asset("nlp/a", "versions", "1", "remove"), json={"dry_run": True})
    assert response.status_code == 200 and response.json()["version"] == "1"
    assert store.versions("nlp/a") and store.removal("nlp/a", "1") is None
    assert [r["action"] for r in store.log("nlp/a")] == ["push"]


def test_aliases_move_by_compare_and_swap(
    store: Store, book: TokenBook, make_client: MakeClient
) -> None:
    token, _ = book.create("mover", ["write:nlp/"], None, created_by="ann")
    client = make_client(token)
    _push(client, store, "nlp/a", "1", b"1")
    _push(client, store, "nlp/a", "2", b"2")
    path = asset("nlp/a", "aliases", "prod")
    first = client.put(path, json={"version": "1", "expected": ""})
    assert first.status_code == 200
    assert first.json() | {"when": ""} == {
        "alias": "prod",
        "version": "1",
        "previous": None,
        "seq": 1,
        "who": "mover",
        "host": "registry",
        "when": "",
    }
    conflict = client.put(path, json={"version": "2", "expected": "2"})
    assert conflict.status_code == 409
    error = error_of(conflict)
    assert isinstance(error, AliasConflictError)
    assert "points at 1" in str(error) and error.current == "1"  # type: ignore[attr-defined]
    moved = client.put(path, json={"version": "2", "expected": "1"}).json()
    assert (moved["version"], moved["previous"], moved["seq"]) == ("2", "1", 2)
    assert client.get(path).json()["version"] == "2"
    assert list(client.get(asset("nlp/a", "aliases")).json()["aliases"]) == ["prod"]
    history = client.get(f"{path}/history").json()["history"]
    assert [r["version"] for r in history] == ["1", "2"]
    stale = client.delete(path, params={"expected": "1"})
    assert stale.status_code == 409 and isinstance(error_of(stale), AliasConflictError)
    assert error_of(stale).current == "2"  # type: ignore[attr-defined]
    dropped = client.delete(path, params={"expected": "2"})
    assert dropped.status_code == 200 and dropped.json()["version"] is None
    missing = client.get(path)
    assert missing.status_code == 404 and isinstance(error_of(missing), AliasNotFoundError)
    audits = [r for r in store.log("nlp/a") if r["action"] == "alias"]
    assert [(r["version"], r["user"]) for r in audits] == [
        ("1", "mover"),
        ("2", "mover"),
        (None, "mover"),
    ]


def test_log_takes_copy_and_repair_only(
    store: Store, book: TokenBook, make_client: MakeClient
) -> None:
    token, _ = book.create("copier", ["write:nlp/"], None, created_by="ann")
    client = make_client(token)
    _push(client, store, "nlp/a", "1")
    path = asset("nlp/a", "log")
    forged = {"version": "1", "source": "s3://b", "user": "mallory", "host": "h", "when": "x"}
    response = client.post(path, json={"action": "copy", "fields": forged})
    assert response.status_code == 201
    (record,) = [r for r in store.log("nlp/a") if r["action"] == "copy"]
    assert (record["user"], record["via"], record["source"]) == ("copier", "registry", "s3://b")
    assert record["when"] != "x" and record["host"].startswith("registry from ")
    for action in ("push", "alias", "remove", "delete-everything"):
        refused = client.post(path, json={"action": action, "fields": {}})
        assert refused.status_code == 400, action
    nested = client.post(path, json={"action": "repair", "fields": {"x": {"y": 1}}})
    assert nested.status_code == 400
    assert [r["action"] for r in store.log("nlp/a")] == ["push", "copy"]


def test_openapi_and_docs_are_served(make_client: MakeClient) -> None:
    client = make_client()
    document = client.get(f"{API}/openapi.json").json()
    assert f"{API}/assets/{{name}}/-/versions/{{version}}" in document["paths"]
    assert client.get(f"{API}/docs").status_code == 200
    assert json.loads(client.get(API).content)["who"] == "anonymous"
