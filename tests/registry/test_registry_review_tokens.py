"""Review items on who is calling: the token name ``anonymous`` is reserved; an unknown token
name and a wrong secret get one 401 text (no finding names by asking); and ``X-Forwarded-For``
is believed only from the proxies given, so a client on the registry's machine cannot write
another address into the audit log (a real uvicorn on loopback)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from tests.registry.registry_helpers import API, MakeClient, asset, manifest_of, put_blobs

from modelshelf.errors import InvalidInputError
from modelshelf.registry.app import create_app
from modelshelf.registry.run import proxy_options
from modelshelf.registry.tokens import TokenBook
from modelshelf.store.bucket import Store


def test_the_token_name_anonymous_is_reserved(book: TokenBook, make_client: MakeClient) -> None:
    with pytest.raises(InvalidInputError, match="'anonymous' is reserved"):
        book.create("anonymous", ["write:nlp/"], None, created_by="t")
    admin, _ = book.create("admin", ["admin:*"], None, created_by="t")
    response = make_client(admin).post(
        f"{API}/tokens", json={"name": "anonymous", "scopes": ["read:*"]}
    )
    assert response.status_code == 400
    assert "reserved" in response.json()["error"]["message"]


def test_a_token_named_anonymous_an_older_server_made_is_refused(
    store: Store, book: TokenBook, make_client: MakeClient
) -> None:
    text, _ = book.create("old", ["write:nlp/"], None, created_by="t")
    record = store.backend.read("registry/tokens/old.json").replace(b'"old"', b'"anonymous"')
    store.backend.put("registry/tokens/anonymous.json", record)
    forged = text.replace("msr_old_", "msr_anonymous_")
    response = make_client(forged).get(f"{API}/assets")
    assert response.status_code == 401


def test_an_unknown_name_and_a_wrong_secret_get_the_same_401(
    book: TokenBook, make_client: MakeClient
) -> None:
    text, _ = book.create("ci", ["read:*"], None, created_by="t")
    wrong_secret = make_client(text[:-4] + "AAAA").get(f"{API}/assets")
    unknown = make_client(text.replace("msr_ci_", "msr_cj_")).get(f"{API}/assets")
    assert wrong_secret.status_code == unknown.status_code == 401
    shown = unknown.json()["error"]["message"].replace("'cj'", "'ci'")
    assert shown == wrong_secret.json()["error"]["message"]
    assert "secret" in shown and text.split("_", 2)[2] not in shown


@contextmanager
def _uvicorn(store: Store, options: dict[str, object]) -> Iterator[str]:
    """The registry on a real uvicorn on 127.0.0.1 (in a thread), with ``options``."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(store), log_level="warning", lifespan="off", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive()
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@pytest.mark.parametrize(("proxies", "host"), [(None, "127.0.0.1"), ("127.0.0.1", "203.0.113.9")])
def test_x_forwarded_for_is_believed_only_from_the_proxies_given(
    store: Store, book: TokenBook, proxies: str | None, host: str
) -> None:
    token, _ = book.create("ci", ["write:nlp/"], None, created_by="t")
    files = put_blobs(store, b"one")
    headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": "203.0.113.9"}
    with _uvicorn(store, proxy_options(proxies)) as url:
        response = httpx.put(
            url + asset("nlp/a", "versions", "1"),
            content=manifest_of("nlp/a", "1", files),
            headers=headers,
        )
    assert response.status_code == 201, response.text
    assert store.log("nlp/a")[-1]["host"] == f"registry from {host}"
