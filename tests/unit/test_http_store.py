"""The registry store as a store: named stores with token/token_file/ca_file (masked), how a Shelf
opens an http(s):// URL and keys its cache, what it refuses, and the client's side of the seam
(manifest and record checks, removal messages, the audit log) against a real server on loopback
(tests/http_script.py) that answers as the registry API says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.http_script import DROP, Reply, Request, ScriptServer, error, running

from modelshelf import Shelf
from modelshelf.cli.main import main
from modelshelf.config import load_config
from modelshelf.errors import (
    AssetNotFoundError,
    ConfigError,
    InvalidInputError,
    ObjectNotFoundError,
    UnsupportedStoreError,
    UntrustedStoreDataError,
    VersionExistsError,
    VersionNotFoundError,
    VersionRemovedError,
)
from modelshelf.manifest import Manifest
from modelshelf.mirror.run import mirror
from modelshelf.spec import Version
from modelshelf.store.api import MaintainedStore
from modelshelf.store.bucket import Store
from modelshelf.store.http import HttpStore
from modelshelf.store.removal import Removal

TOKEN = "msr_team_dG9wLXNlY3JldC10b2tlbi10ZXh0"
DISCOVERY = {
    "registry": "modelshelf", "api": 1,
    "guarantees": {"create_only_commit": True, "alias_compare_and_swap": True, "listable": True},
    "upload": {"max_single": 67108864, "chunk": 67108864}, "who": "team", "scopes": ["read:*"],
}  # fmt: skip


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "modelshelf.toml"
    monkeypatch.setenv("MODELSHELF_CONFIG", str(path))
    return path


@pytest.fixture
def registry() -> Iterator[ScriptServer]:
    with running() as server:
        server.route("GET", "/api/v1", Reply(200, DISCOVERY))
        yield server


@pytest.fixture
def store(registry: ScriptServer) -> Iterator[HttpStore]:
    opened = HttpStore(registry.url, token=TOKEN)
    yield opened
    opened.close()


# -- named stores --------------------------------------------------------------------------------
TEAM = f"""\
[stores.team]
url = "https://models.example.com"
token = "{TOKEN}"
ca_file = "/etc/ssl/team-ca.pem"

[stores.filed]
url = "http://127.0.0.1:8080/shelf"
token_file = "~/.config/modelshelf/team.token"
"""


def test_a_registry_store_takes_token_token_file_and_ca_file(config_file: Path) -> None:
    config_file.write_text(TEAM)
    config_file.chmod(0o600)
    team = load_config().stores["team"]
    assert team.settings() == {"token": TOKEN, "ca_file": "/etc/ssl/team-ca.pem"}
    assert TOKEN not in repr(team) and "token=" in repr(team)
    filed = load_config().stores["filed"]
    assert filed.settings() == {"token_file": "~/.config/modelshelf/team.token"}


@pytest.mark.parametrize("key", ["token", "token_file", "ca_file"])
def test_registry_fields_are_refused_for_a_bucket_store(config_file: Path, key: str) -> None:
    config_file.write_text(f'[stores.prod]\nurl = "s3://b/p"\n{key} = "x"\n')
    with pytest.raises(ConfigError, match="registry stores only") as caught:
        load_config()
    assert f"stores.prod.{key}" in str(caught.value) or key in str(caught.value)


def test_config_stores_masks_the_token(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file.write_text(TEAM)
    config_file.chmod(0o600)
    assert main(["config", "stores"]) == 0
    out = capsys.readouterr().out
    assert TOKEN not in out
    assert "token = ***" in out and "ca_file = /etc/ssl/team-ca.pem" in out
    assert "token_file = ~/.config/modelshelf/team.token" in out
    assert main(["config", "stores", "--json"]) == 0
    out = capsys.readouterr().out
    assert TOKEN not in out
    rows = {row["name"]: row for row in json.loads(out)["stores"]}
    assert rows["team"]["token"] == "***" and rows["filed"]["token"] is None


def test_a_named_registry_store_opens_an_http_store_with_its_token(
    config_file: Path, registry: ScriptServer, tmp_path: Path
) -> None:
    token_file = tmp_path / "team.token"
    token_file.write_text(TOKEN + "\n")
    config_file.write_text(f'[stores.team]\nurl = "{registry.url}"\ntoken_file = "{token_file}"\n')
    shelf = Shelf("team")
    opened = shelf.store
    assert isinstance(opened, HttpStore) and isinstance(opened, MaintainedStore)
    assert shelf.store_id == opened.id  # the cache is keyed as the store names itself
    registry.route("GET", "/api/v1/assets", Reply(200, {"assets": ["nlp/a"], "next": None}))
    assert opened.assets() == ["nlp/a"]
    assert registry.requests("GET", "/api/v1/assets")[0].headers["authorization"] == (
        f"Bearer {TOKEN}"
    )
    opened.close()


# -- opening -------------------------------------------------------------------------------------
def test_a_shelf_on_an_https_url_is_keyed_by_the_url_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELSHELF_TOKEN", TOKEN)
    one = Shelf("https://models.example.com/team/")
    other = Shelf("https://models.example.com/team", token="msr_other_x")
    assert one.url == "https://models.example.com/team"
    assert one.store_id == other.store_id and "models-example-com-team" in one.store_id
    assert TOKEN not in repr(one) and TOKEN not in one.store_id


def test_a_registry_store_refuses_bucket_settings() -> None:
    with pytest.raises(InvalidInputError, match="takes no setting region"):
        Shelf("https://models.example.com", region="eu-west-1")


def test_a_registry_url_with_a_password_or_query_is_refused() -> None:
    refused = (
        "https://u:pw-123@host",
        "https://u:pw-123/with/slash@host:1",
        "https://host/p?token=abc",
        "https://host:port",
        "https://",
    )
    for url in refused:
        with pytest.raises(UnsupportedStoreError) as caught:
            HttpStore(url)
        assert "pw-123" not in str(caught.value)


def test_mirror_of_a_registry_url_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedStoreError, match="mirror copies a bucket prefix; pull or"):
        mirror("https://models.example.com/nlp/", tmp_path / "out")


# -- the seam, as the registry answers -----------------------------------------------------------
def _manifest(tmp_path: Path, content: bytes = b"weights") -> Manifest:
    """``nlp/sentiment:1.0`` holding one file of ``content``."""
    folder = tmp_path / content.hex()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "w.bin").write_bytes(content)
    return Shelf(f"memory://manifests-{content.hex()[:16]}").push(folder, "nlp/sentiment:1.0")


def test_read_manifest_checks_the_answer_like_a_bucket_store(
    registry: ScriptServer, store: HttpStore, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path)
    route = "/api/v1/assets/nlp/sentiment/-/versions/1.0"
    registry.route("GET", route, Reply(200, manifest.to_json()))
    assert store.read_manifest("nlp/sentiment", "1.0") == manifest
    registry.route("GET", "/api/v1/assets/nlp/other/-/versions/1.0", Reply(200, manifest.to_json()))
    with pytest.raises(UntrustedStoreDataError, match=r"sentiment:1\.0, not nlp/other"):
        store.read_manifest("nlp/other", "1.0")
    registry.route("GET", route, Reply(200, b'{"name": 1}'))
    with pytest.raises(UntrustedStoreDataError):
        store.read_manifest("nlp/sentiment", "1.0")


def test_versions_are_checked_and_newest_first_and_no_asset_is_empty(
    registry: ScriptServer, store: HttpStore
) -> None:
    route = "/api/v1/assets/nlp/a/-/versions"
    live = {"live": ["1.0", "1.10", "../x", "1.2"], "taken": ["1.3"]}
    registry.route("GET", route, Reply(200, live))
    assert store.versions("nlp/a") == [Version.parse(v) for v in ("1.10", "1.2", "1.0")]
    assert store.taken_versions("nlp/a")[:2] == [Version.parse("1.10"), Version.parse("1.3")]
    registry.route("GET", route, error(404, "AssetNotFoundError", "no asset named 'nlp/a'"))
    assert store.versions("nlp/a") == []


def test_removal_messages_read_as_a_bucket_store_writes_them(
    registry: ScriptServer, store: HttpStore
) -> None:
    record = Removal("nlp/a", "1.0", "ann", "laptop", "2026-11-30T16:47:04.000000Z", "leaked")
    registry.route(
        "GET", "/api/v1/assets/nlp/a/-/versions/1.0/removal", Reply(200, record.__dict__)
    )
    taken = store.version_taken_error("nlp/a", "1.0")
    assert isinstance(taken, VersionRemovedError)
    bucket = Store.__new__(Store)
    bucket.url = store.url
    bucket.removal = lambda name, version: record  # type: ignore[method-assign]
    assert str(taken) == str(bucket.version_taken_error("nlp/a", "1.0"))
    registry.route(
        "GET", "/api/v1/assets/nlp/a/-/versions/1.1/removal", error(404, "ObjectNotFoundError", "-")
    )
    assert type(store.version_taken_error("nlp/a", "1.1")) is VersionExistsError
    gone = store.version_not_found("nlp/a", Version.parse("1.0"), [Version.parse("1.1")])
    assert isinstance(gone, VersionNotFoundError) and "removed by ann@laptop" in str(gone)
    registry.route(
        "GET", "/api/v1/assets/nlp/a/-/versions", Reply(200, {"live": [], "taken": ["1.0"]})
    )
    none_left = store.version_not_found("nlp/a", None, [])
    assert isinstance(none_left, AssetNotFoundError) and "no versions left" in str(none_left)


def test_the_log_and_alias_records_are_checked(registry: ScriptServer, store: HttpStore) -> None:
    good = {"action": "push", "name": "nlp/a", "when": "2026-12-01T00:00:00Z", "user": "ci",
            "host": "registry"}  # fmt: skip
    registry.route("GET", "/api/v1/assets/nlp/a/-/log", Reply(200, {"records": [good]}))
    assert store.log("nlp/a") == [good]
    forged = {**good, "name": "cv/b"}
    registry.route("GET", "/api/v1/assets/nlp/a/-/log", Reply(200, {"records": [forged]}))
    with pytest.raises(UntrustedStoreDataError, match="audit record"):
        store.log("nlp/a")
    alias = {"alias": "prod", "version": "1.0", "previous": None, "seq": 1, "who": "ci",
             "host": "registry", "when": "2026-12-01T00:00:00Z"}  # fmt: skip
    registry.route("GET", "/api/v1/assets/nlp/a/-/aliases/prod", Reply(200, alias))
    assert store.read_alias("nlp/a", "prod").version == "1.0"
    registry.route(
        "GET", "/api/v1/assets/nlp/a/-/aliases/prod", Reply(200, {**alias, "alias": "x"})
    )
    with pytest.raises(UntrustedStoreDataError, match="alias record"):
        store.read_alias("nlp/a", "prod")


def test_append_log_leaves_server_audited_actions_to_the_registry(
    registry: ScriptServer, store: HttpStore
) -> None:
    registry.route("POST", "/api/v1/assets/nlp/a/-/log", Reply(201, {}))
    for action in ("push", "alias", "remove"):
        store.append_log("nlp/a", action, version="1.0")
    assert registry.requests("POST") == []
    store.append_log("nlp/a", "copy", version="1.0", source="s3://b/p", nested=[1])
    sent = registry.requests("POST")[0].json()
    assert sent == {"action": "copy", "fields": {"version": "1.0", "source": "s3://b/p"}}


def test_guarantees_come_from_discovery_and_create_is_a_no_op(
    registry: ScriptServer, store: HttpStore
) -> None:
    store.create()
    assert store.guarantees.create_only_commit and store.guarantees.listable
    assert len(registry.requests("GET", "/api/v1")) == 1


def test_a_commit_whose_answer_was_lost_succeeds_when_the_number_holds_it(
    registry: ScriptServer, store: HttpStore, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path)
    route = "/api/v1/assets/nlp/sentiment/-/versions/1.0"
    committed: list[bytes] = []

    def put(request: Request) -> Reply:
        if committed:
            return error(409, "VersionExistsError", "nlp/sentiment:1.0 exists")
        committed.append(request.body)
        return DROP  # committed, but the answer is lost

    registry.route("PUT", route, put)
    registry.route("GET", route, lambda _r: Reply(200, committed[0]))
    store.commit_manifest(manifest)
    assert len(registry.requests("PUT")) == 2
    other = _manifest(tmp_path, b"other weights")
    with pytest.raises(VersionExistsError):
        store.commit_manifest(other)  # taken by another manifest: refused at once


def test_a_manifest_of_an_unknown_asset_is_not_found_as_a_bucket_says_it(
    registry: ScriptServer, store: HttpStore
) -> None:
    missing = error(404, "AssetNotFoundError", "no asset named 'nlp/none'")
    registry.route("GET", "/api/v1/assets/nlp/none/-/versions/1.0", missing)
    with pytest.raises(ObjectNotFoundError, match="no asset named"):
        store.read_manifest("nlp/none", "1.0")


def test_a_listing_pages_forward_and_is_bounded(
    registry: ScriptServer, store: HttpStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = {
        "": {"assets": ["a/one", "../bad", 7], "next": "a/one"},
        "a/one": {"assets": ["b/two"], "next": None},
    }
    registry.route("GET", "/api/v1/assets", lambda r: Reply(200, pages[r.query.get("after", "")]))
    assert store.assets() == ["a/one", "b/two"]
    assert [r.query.get("after") for r in registry.requests("GET", "/api/v1/assets")] == [
        None,
        "a/one",
    ]
    pages["a/one"] = {"assets": [], "next": "a/one"}  # a page that does not move on
    with pytest.raises(UntrustedStoreDataError, match="goes backwards"):
        store.assets()
    monkeypatch.setenv("MODELSHELF_MAX_LIST_KEYS", "2")
    with pytest.raises(UntrustedStoreDataError, match="MODELSHELF_MAX_LIST_KEYS"):
        store.assets()
