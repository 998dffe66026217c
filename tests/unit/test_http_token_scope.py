"""Where the registry client sends a token, against a real server on loopback
(tests/http_script.py): ``MODELSHELF_TOKEN`` goes to THE store only (never to a copy's
destination), no token goes over plain http:// to another machine, an upper-case scheme is the
same URL, and a token a server echoes is cut from every part of the error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.http_script import Reply, ScriptServer, error, running

from modelshelf import Shelf
from modelshelf.cli.main import main
from modelshelf.errors import FOR_CLI, StoreAuthError, UnsupportedStoreError
from modelshelf.store._http_transport import Transport
from modelshelf.store.http import HttpStore

ENV_TOKEN = "msr_team-admin_ZW52aXJvbm1lbnQtc2VjcmV0"
OWN_TOKEN = "msr_prod-ci_b3duLXRva2VuLW9mLXByb2Q"
DISCOVERY = {"registry": "modelshelf", "api": 1, "guarantees": {}}


@pytest.fixture
def destination() -> Iterator[ScriptServer]:
    """A registry that refuses every request it gets, and records each one's headers."""
    with running() as server:
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH"):
            server.route(method, "/.*", error(401, "StoreAuthError", "it needs a token"))
        yield server


@pytest.fixture
def source(tmp_path: Path) -> Shelf:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"weights")
    shelf = Shelf((tmp_path / "source").as_uri())
    shelf.push(folder, "nlp/a:1.0")
    return shelf


def _authorizations(server: ScriptServer) -> set[str | None]:
    return {r.headers.get("authorization") for r in server.requests()}


def test_a_copy_destination_never_receives_the_environment_token(
    source: Shelf, destination: ScriptServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSHELF_TOKEN", ENV_TOKEN)
    with pytest.raises(StoreAuthError, match="its own token") as refused:
        source.copy("nlp/a:1.0", destination.url)
    assert destination.requests() and _authorizations(destination) == {None}
    assert ENV_TOKEN not in str(refused.value)
    # A Shelf built by the caller is a destination too once handed to copy.
    with pytest.raises(StoreAuthError):
        source.copy("nlp/a:1.0", Shelf(destination.url))
    assert _authorizations(destination) == {None}
    # The command line alike: --store is THE store, DEST_STORE gets no environment token.
    assert main(["copy", "nlp/a:1.0", destination.url, "--store", source.url]) != 0
    assert _authorizations(destination) == {None}


def test_a_copy_destination_gets_its_own_token_and_the_chosen_store_the_environments(
    source: Shelf, destination: ScriptServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MODELSHELF_TOKEN", ENV_TOKEN)
    config = tmp_path / "modelshelf.toml"
    config.write_text(f'[stores.prod]\nurl = "{destination.url}"\ntoken = "{OWN_TOKEN}"\n')
    config.chmod(0o600)
    monkeypatch.setenv("MODELSHELF_CONFIG", str(config))
    with pytest.raises(StoreAuthError):
        source.copy("nlp/a:1.0", "prod")
    assert _authorizations(destination) == {f"Bearer {OWN_TOKEN}"}
    with running() as chosen:
        chosen.route("GET", "/api/v1/assets", Reply(200, {"assets": [], "next": None}))
        assert Shelf(chosen.url).assets() == []  # THE store: the environment's token
        assert _authorizations(chosen) == {f"Bearer {ENV_TOKEN}"}


@pytest.mark.parametrize(
    "url", ["http://registry.invalid", "HTTP://registry.invalid/shelf", "http://10.0.0.7:8080"]
)
def test_a_token_over_plain_http_to_another_machine_is_refused_before_any_connection(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # registry.invalid never resolves: a refusal that came after a DNS lookup would say so.
    with pytest.raises(UnsupportedStoreError, match=r"plain http://.*use https://") as refused:
        HttpStore(url, token=OWN_TOKEN)
    assert OWN_TOKEN not in str(refused.value) and "cleartext" in str(refused.value)
    monkeypatch.setenv("MODELSHELF_TOKEN", ENV_TOKEN)
    with pytest.raises(UnsupportedStoreError, match="plain http://"):
        Shelf(url).assets()
    anonymous = HttpStore(url, environment_token=False)  # no token: nothing to protect
    assert not anonymous._transport.has_token
    anonymous.close()


@pytest.mark.parametrize(
    "url", ["http://localhost:1", "http://127.0.0.9:1", "http://[::1]:1", "https://example.invalid"]
)
def test_a_token_may_go_to_loopback_over_http_and_anywhere_over_https(url: str) -> None:
    HttpStore(url, token=OWN_TOKEN).close()


def test_an_upper_case_scheme_is_the_same_url_and_keeps_the_ca_file(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ca.pem"
    with pytest.raises(ValueError, match="cannot be used"):  # the CA file is read: https
        HttpStore("HTTPS://models.example.com/shelf/", ca_file=missing)
    store = HttpStore("HTTPS://models.example.com/shelf/")
    assert store.url == "https://models.example.com/shelf"
    assert store.id == HttpStore("https://models.example.com/shelf").id
    store.close()


def test_an_echoed_token_is_cut_from_the_attributes_and_fix_values_too() -> None:
    with running() as server:
        echoed = error(409, "AliasConflictError", f"moved by {OWN_TOKEN}", current=OWN_TOKEN)
        assert isinstance(echoed.body, dict)
        echoed.body["error"].update(fix="; ask {who}", fix_values={"who": OWN_TOKEN})
        server.route("GET", "/api/v1/x", echoed)
        client = Transport(server.url, token=OWN_TOKEN, max_wait=0.01)
        with pytest.raises(Exception) as caught:
            client.send("GET", "/x")
        client.close()
    exc = caught.value
    assert OWN_TOKEN not in repr(vars(exc)) and OWN_TOKEN not in repr(exc.args)
    assert OWN_TOKEN not in str(exc) and OWN_TOKEN not in exc.render(FOR_CLI)  # type: ignore[attr-defined]
    assert vars(exc)["current"] == "***"
