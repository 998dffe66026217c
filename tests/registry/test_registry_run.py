"""``serve_registry``: the real uvicorn process (two workers over one file:// store), its
refusals before it starts, and its output free of tokens."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.servers.serve_process import clean_env, free_port

from modelshelf._bind import bind
from modelshelf.errors import InvalidInputError, ServeAddressError, UnsupportedStoreError
from modelshelf.registry.app import create_app
from modelshelf.registry.run import serve_registry
from modelshelf.registry.tokens import TokenBook
from modelshelf.store.bucket import Store

SRC = Path(__file__).resolve().parents[2] / "src"


def test_a_registry_in_front_of_a_registry_is_refused() -> None:
    for url in ("http://registry.example", "HTTPS://registry.example/prefix"):
        with pytest.raises(UnsupportedStoreError, match="registry in front of a registry"):
            create_app(url)


def test_bad_settings_are_refused_before_the_bind(store: Store, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="read:"):
        create_app(store, anonymous_read=["../etc"])
    with pytest.raises(InvalidInputError, match="key file"):
        serve_registry(store.backend.url, certfile=tmp_path / "cert.pem")
    with pytest.raises(InvalidInputError, match="does not exist"):
        serve_registry(store.backend.url, certfile=tmp_path / "c", keyfile=tmp_path / "k")
    with pytest.raises(InvalidInputError, match="1 worker or more"):
        serve_registry(store.backend.url, workers=0)


def test_a_port_in_use_is_one_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServeAddressError, match=f"port {port} on 127.0.0.1 is in use"):
            bind("127.0.0.1", port)


def test_two_workers_serve_one_store(store: Store, tmp_path: Path) -> None:
    book = TokenBook(store)
    token, _ = book.create("ci", ["read:*"], None, created_by="test")
    port = free_port()
    script = (
        "import logging, sys; logging.basicConfig(level=logging.INFO);"
        "from modelshelf.registry.run import serve_registry;"
        f"serve_registry({store.backend.url!r}, port={port}, workers=2)"
    )
    env = clean_env() | {"PYTHONPATH": os.pathsep.join([str(SRC), str(SRC.parent)])}
    output = tmp_path / "registry.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", script], stdout=sink, stderr=subprocess.STDOUT, env=env
        )
    try:
        url = f"http://127.0.0.1:{port}/api/v1"
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
                break
            except httpx.TransportError:
                assert process.poll() is None, output.read_text()
                assert time.monotonic() < deadline, output.read_text()
                time.sleep(0.2)
        assert answer.json()["who"] == "ci"
        for _ in range(8):  # on either worker
            assert httpx.get(f"{url}/assets", headers={"Authorization": f"Bearer {token}"}).json()
        book.revoke("ci")
        refused = httpx.get(f"{url}/assets", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    log = output.read_text()
    assert "registry listening on http://127.0.0.1" in log
    assert "GET /api/v1/assets" in log
    assert token.split("_", 2)[2] not in log


def test_the_session_secret_is_the_configured_one_or_this_servers_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from modelshelf.registry.run import _session_secret

    monkeypatch.delenv("MODELSHELF_REGISTRY_SESSION_SECRET", raising=False)
    assert len(_session_secret()) == 32 and _session_secret() != _session_secret()
    monkeypatch.setenv("MODELSHELF_REGISTRY_SESSION_SECRET", "s" * 40)
    assert _session_secret() == _session_secret()  # every replica given it agrees
    monkeypatch.setenv("MODELSHELF_REGISTRY_SESSION_SECRET", "short")
    with pytest.raises(InvalidInputError, match="32 characters"):
        _session_secret()
