"""Bad endpoints and credentials give one line naming the store and that cloud's own settings."""

from __future__ import annotations

import base64
import dataclasses
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from tests.servers.gcs import AUTH_GAP, expect_emulator_gap
from tests.servers.remote import RemoteStore

from modelshelf.backends.base import is_secret_option

# What each cloud's errors must name (credentials, endpoint), and what they must never name.
# A registry's endpoint is its URL, named by every line; nothing of the bucket behind it (its
# cloud's settings) reaches its clients.
HINTS = {
    "s3": ("AWS_ACCESS_KEY_ID", "AWS_ENDPOINT_URL"),
    "gcs": ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_BASE_URL"),
    "azure": ("AZURE_", "AZURE_"),
    "http-file": ("MODELSHELF_TOKEN", "http://127.0.0.1:"),
    "http-s3": ("MODELSHELF_TOKEN", "http://127.0.0.1:"),
}
FOREIGN = {
    "s3": ("GOOGLE_", "AZURE_"),
    "gcs": ("AWS_", "AZURE_"),
    "azure": ("AWS_", "GOOGLE_"),
    "http-file": ("AWS_", "GOOGLE_", "AZURE_"),
    "http-s3": ("AWS_", "GOOGLE_", "AZURE_"),
}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(store: RemoteStore, env: dict[str, str], tmp_path: Path, *args: str) -> str:
    """Run the CLI in a fresh interpreter with only the store's variables; its one error line."""
    child_env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "MODELSHELF_CACHE_DIR": str(tmp_path / "cache"),
        # A run from a checkout (PYTHONPATH=src) tests that checkout's code, not an install's.
        **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}),
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-m", "modelshelf", "--store", store.url, *args],
        env=child_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def assert_own_hints(store: RemoteStore, line: str, which: int | None) -> None:
    """The line names the store (its bucket at least), its own hint, and no other cloud's."""
    assert (store.url if store.is_registry else store.url.rsplit("/", 1)[0]) in line, line
    if which is not None:
        assert HINTS[store.kind][which] in line, line
    for foreign in FOREIGN[store.kind]:
        assert foreign not in line, line


def test_an_unreachable_endpoint_names_the_endpoint_setting(
    remote_store: RemoteStore, tmp_path: Path
) -> None:
    down = f"http://127.0.0.1:{closed_port()}"
    if remote_store.is_registry:  # the registry's endpoint is its URL
        remote_store = dataclasses.replace(remote_store, url=down)
        env = remote_store.env
    else:
        endpoint = next(v for v in remote_store.env.values() if v.startswith("http://127.0.0.1:"))
        env = {k: v.replace(endpoint, down) for k, v in remote_store.env.items()}
    for args in (("ls",), ("versions", "m")):
        line = run_cli(remote_store, env, tmp_path, *args)
        assert "cannot reach the store" in line, line
        assert_own_hints(remote_store, line, which=1)
    # a pull falls back to the cache; it says so, and what to do, without the endpoint hint
    line = run_cli(remote_store, env, tmp_path, "pull", "m")
    assert "cannot reach the store" in line, line
    assert_own_hints(remote_store, line, which=None)


def wrong(secret: str) -> str:
    """Another secret of the same form (an Azure key must stay base64 to reach the server)."""
    try:
        raw = base64.b64decode(secret, validate=True)
    except ValueError:
        return "wrong-" + secret
    return base64.b64encode(bytes(b ^ 0x5A for b in raw)).decode()


def test_wrong_credentials_name_the_credential_settings(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request, AUTH_GAP, raises=AssertionError)
    env = {
        k: (wrong(v) if is_secret_option(k) and not k.endswith("_ID") else v)
        for k, v in remote_store.env.items()
    }
    assert env != remote_store.env
    for args in (("ls",), ("pull", "m")):
        line = run_cli(remote_store, env, tmp_path, *args)
        assert "refused access" in line, line
        assert_own_hints(remote_store, line, which=0)
        for key, secret in env.items():
            if is_secret_option(key) and len(secret) > 8:
                assert secret not in line


def test_no_credentials_name_the_credential_settings(
    remote_store: RemoteStore, tmp_path: Path
) -> None:
    env = {k: v for k, v in remote_store.env.items() if not is_secret_option(k)}
    line = run_cli(remote_store, env, tmp_path, "ls")
    assert_own_hints(remote_store, line, which=0)
