"""Review findings on push --if-changed against a real SeaweedFS (s3://).

An unchanged push whose version lacks a blob (deleted, or cut to another size) puts it back
from the local files, through the S3 API, and the version verifies again; one whose blobs are
all there writes no object. Sections that Python calls equal but JSON writes differently
(``true``, ``1``, ``1.0``) make a new version.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.servers.seaweed import S3Bucket

from modelshelf import Shelf
from modelshelf.cli.main import main
from modelshelf.shelf import _push_read as _upload


@pytest.fixture
def remote(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    for name, value in s3_bucket.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MODELSHELF_STORE", s3_bucket.url)
    monkeypatch.setenv("MODELSHELF_CACHE_DIR", str(tmp_path / "cache"))
    yield s3_bucket.url


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "sub").mkdir(parents=True)
    (root / "weights.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    (root / "sub" / "vocab.txt").write_text("a\nb\n")
    (root / "sub" / "copy.txt").write_text("a\nb\n")  # the same blob
    return root


def listing(shelf: Shelf) -> dict[str, tuple[int, str | None, Any]]:
    return {m.path: (m.size, m.etag, m.last_modified) for m in shelf.store.backend.list("")}


def test_an_unchanged_push_puts_back_missing_blobs_on_s3(
    remote: str, model: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shelf = Shelf(remote)
    first = shelf.push(model, "y/z", progress=False)
    by_path = {f.path: f.sha256 for f in first.files}
    weights_key = shelf.store.blob_key(by_path["weights.bin"])
    vocab_key = shelf.store.blob_key(by_path["sub/vocab.txt"])
    shelf.store.backend.delete(weights_key)
    shelf.store.backend.put(vocab_key, b"cut")  # not its size: as good as missing
    assert not shelf.verify("y/z:1.0", progress=False).ok
    monkeypatch.setattr(_upload, "SINGLE_PASS_MAX", 1024 * 1024)  # weights.bin streamed
    code = main(["push", str(model), "y/z", "--if-changed", "--json"])
    out, err = capsys.readouterr()
    doc = json.loads(out)
    for line in err.splitlines():  # --json: nothing but JSON on stderr
        json.loads(line)
    assert code == 0 and doc["spec"] == "y/z:1.0" and doc["new_version"] is False
    assert doc["reuploaded"] == ["sub/copy.txt", "sub/vocab.txt", "weights.bin"]
    assert shelf.versions("y/z") == ["1.0"]
    assert shelf.verify("y/z:1.0", progress=False).ok
    assert shelf.log("y/z")[-1]["action"] == "repair"
    before = listing(shelf)
    report = shelf.push_report(model, "y/z", if_changed=True, progress=False)
    assert not report.new_version and report.reuploaded == ()
    assert listing(shelf) == before  # whole: nothing written


def test_json_that_python_calls_equal_is_a_change_on_s3(remote: str, model: Path) -> None:
    shelf = Shelf(remote)
    shelf.push(model, "x/cfg", sections={"cfg": {"enabled": 1, "lr": 1}}, progress=False)
    second = shelf.push(
        model, "x/cfg", sections={"cfg": {"enabled": True, "lr": 1.0}}, if_changed=True,
        progress=False,
    )  # fmt: skip
    assert second.version == "1.1"
    same = shelf.push(
        model, "x/cfg", sections={"cfg": {"lr": 1.0, "enabled": True}}, if_changed=True,
        progress=False,
    )  # fmt: skip
    assert same.version == "1.1"
