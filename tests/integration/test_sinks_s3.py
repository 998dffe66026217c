"""Export to SeaweedFS with StoreDownloader: a readable NAME/VERSION/PATH tree, streamed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.servers.seaweed import S3Bucket

from modelshelf import ExportError, Shelf, StoreDownloader, export
from modelshelf.backends import open_backend
from modelshelf.cli.main import main


@pytest.fixture
def s3_env(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    for name, value in s3_bucket.env.items():
        monkeypatch.setenv(name, value)
    return s3_bucket


def test_export_a_version_to_seaweed(s3_env: S3Bucket, tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "tokenizer").mkdir(parents=True)
    big = os.urandom(12 * 1024 * 1024)  # several multipart parts
    (model / "weights.bin").write_bytes(big)
    (model / "tokenizer" / "vocab.txt").write_text("a\nb\n")
    shelf = Shelf((tmp_path / "store").as_uri(), cache_dir=tmp_path / "cache")
    shelf.push(model, "nlp/bert", progress=False)

    served = f"{s3_env.url}/served"
    where = export("nlp/bert:1", to=StoreDownloader(served), store=shelf)
    assert where == f"{served}/nlp/bert/1.0"
    backend = open_backend(served)
    keys = sorted(meta.path for meta in backend.list(""))
    assert keys == ["nlp/bert/1.0/tokenizer/vocab.txt", "nlp/bert/1.0/weights.bin"]
    assert backend.read("nlp/bert/1.0/weights.bin") == big

    # The same again through the CLI: equal objects are kept; changed content is refused.
    assert main(["export", "nlp/bert:1.0", "--to", served, "--store", shelf.url, "-q"]) == 0
    backend.put("nlp/bert/1.0/tokenizer/vocab.txt", b"changed")
    with pytest.raises(ExportError, match="exists with other content"):
        export("nlp/bert:1.0", to=served, store=shelf)
    assert backend.read("nlp/bert/1.0/weights.bin") == big  # kept: it was there before
    export("nlp/bert:1.0", to=served, store=shelf, overwrite=True)
    assert backend.read("nlp/bert/1.0/tokenizer/vocab.txt") == b"a\nb\n"
