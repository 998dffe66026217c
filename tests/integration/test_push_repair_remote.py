"""Idempotent pushes and repair against real servers: SeaweedFS (s3://) and Azurite (az://).

An unchanged ``push --if-changed`` writes no object at all (every key of the store is listed
before and after); a changed byte or metadata makes a version; racing idempotent pushes of one
content make one version. ``repair`` puts back a blob damaged in place (same size) or deleted,
also a large one streamed through a multipart upload, and never uses a file whose bytes are not
the blob's.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from tests.integration.test_azure_store import azurite  # noqa: F401 - the session's Azurite
from tests.servers.azurite import Azurite
from tests.servers.seaweed import S3Bucket
from tests.wrapped_backend import WrappedBackend

from modelshelf import Shelf
from modelshelf.backends import Backend, PutMode
from modelshelf.backends.registry import open_backend
from modelshelf.cli.main import main
from modelshelf.shelf import _push_read as _upload


@pytest.fixture(params=["s3", "azure"])
def remote(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    """A fresh remote store's URL, its settings in the environment (for Shelf and the CLI)."""
    if request.param == "s3":
        bucket: S3Bucket = request.getfixturevalue("s3_bucket")
        url, env = bucket.url, bucket.env
    else:
        server: Azurite = request.getfixturevalue("azurite")
        store = server.new_store(request.node.name)
        url, env = store.url, store.env
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MODELSHELF_STORE", url)
    monkeypatch.setenv("MODELSHELF_CACHE_DIR", str(tmp_path / "cache"))
    yield url


class Gate(WrappedBackend):
    """Holds each thread's first manifest commit until both threads reach it."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.barrier: threading.Barrier | None = None
        self.passed: set[int] = set()

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        commit = "/versions/" in key and mode == "create"
        if self.barrier is not None and commit and threading.get_ident() not in self.passed:
            self.passed.add(threading.get_ident())
            self.barrier.wait(timeout=60)
        self.inner.put(key, data, mode=mode)


def listing(shelf: Shelf) -> dict[str, tuple[int, str | None, Any]]:
    return {m.path: (m.size, m.etag, m.last_modified) for m in shelf.store.backend.list("")}


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "sub").mkdir(parents=True)
    (root / "weights.bin").write_bytes(os.urandom(200_000))
    (root / "sub" / "vocab.txt").write_text("a\nb\n")
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_an_unchanged_push_writes_no_object(remote: str, model: Path) -> None:
    shelf = Shelf(remote)
    first = shelf.push(model, "m", metadata={"lr": "0.1"}, aliases=["prod"], progress=False)
    before = listing(shelf)
    report = shelf.push_report(
        model, "m", metadata={"lr": "0.1"}, aliases=["prod"], if_changed=True, progress=False
    )
    assert not report.new_version and report.manifest == first
    assert report.aliases_kept == ("prod",)
    assert listing(shelf) == before  # no key added, none rewritten
    data = bytearray((model / "weights.bin").read_bytes())
    data[100_000] ^= 1
    (model / "weights.bin").write_bytes(bytes(data))
    changed = shelf.push_report(model, "m", metadata={"lr": "0.1"}, if_changed=True, progress=False)
    assert changed.new_version and changed.manifest.version == "1.1"
    meta = shelf.push_report(model, "m", metadata={"lr": "0.2"}, if_changed=True, progress=False)
    assert meta.new_version and meta.manifest.version == "1.2"
    assert shelf.versions("m") == ["1.2", "1.1", "1.0"]


def test_racing_idempotent_pushes_make_one_version(
    remote: str, model: Path, tmp_path: Path
) -> None:
    gate = Gate(open_backend(remote))
    shelf = Shelf(gate, cache_dir=tmp_path / "cache")
    shelf.push(model, "m", progress=False)
    (model / "extra.txt").write_text("more")
    gate.barrier = threading.Barrier(2)
    results: list[Any] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                shelf.push_report(model, "m", if_changed=True, progress=False)
            )
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(r.new_version for r in results) == [False, True]
    assert {r.manifest.version for r in results} == {"1.1"}
    assert shelf.versions("m") == ["1.1", "1.0"]


def test_cli_push_if_changed(remote: str, model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "push", str(model), "m")[:2] == (0, "m:1.0\n")
    code, out, _ = run(capsys, "push", str(model), "m", "--if-changed", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["spec"] == "m:1.0" and doc["new_version"] is False


def test_repair_puts_back_a_damaged_and_a_missing_blob(
    remote: str, model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shelf = Shelf(remote)
    manifest = shelf.push(model, "m", progress=False)
    by_path = {f.path: f.sha256 for f in manifest.files}
    weights_key = shelf.store.blob_key(by_path["weights.bin"])
    damage = os.urandom(200_000)
    shelf.store.backend.put(weights_key, damage)  # same size: only a full verify sees it
    shelf.store.backend.delete(shelf.store.blob_key(by_path["sub/vocab.txt"]))
    assert run(capsys, "verify", "m:1.0")[0] == 1
    decoy = tmp_path / "decoy"
    (decoy / "sub").mkdir(parents=True)
    (decoy / "weights.bin").write_bytes(os.urandom(200_000))  # right name and size
    (decoy / "sub" / "vocab.txt").write_text("a\nc\n")
    code, out, err = run(capsys, "repair", "m:1.0", "--from", str(decoy))
    assert code == 1 and "weights.bin" in out and "sub/vocab.txt" in out
    assert b"".join(shelf.store.backend.get(weights_key, 1 << 20)) == damage  # untouched
    code, out, err = run(capsys, "repair", "m:1.0", "--from", str(decoy), "--from", str(model))
    assert code == 0 and "2 repaired, 0 left" in err
    assert run(capsys, "verify", "m:1.0")[0] == 0
    assert shelf.log("m")[-1]["action"] == "repair"


def test_repair_streams_a_large_blob(
    remote: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.bin"
    data = os.urandom(12 * 1024 * 1024)  # past the single-PUT size: a multipart upload
    big.write_bytes(data)
    shelf = Shelf(remote)
    manifest = shelf.push(big, "big", progress=False)
    digest = manifest.files[0].sha256
    assert digest == hashlib.sha256(data).hexdigest()
    damaged = bytearray(data)
    damaged[-1] ^= 1
    shelf.store.backend.put(shelf.store.blob_key(digest), bytes(damaged))
    monkeypatch.setattr(_upload, "SINGLE_PASS_MAX", 1024 * 1024)  # hashed, then streamed
    report = shelf.repair("big", [tmp_path], progress=False)
    assert report.ok and report.repaired[0].source == str(big)
    assert shelf.verify("big", progress=False).ok
