"""ModelLibrary against a real S3 server: assets pulled into a fresh cache before models start."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from tests.servers.seaweed import S3Bucket

from modelshelf import Model, ModelAssetsMissingError, ModelLibrary, Shelf


@pytest.fixture
def s3_env(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    for key, value in s3_bucket.env.items():
        monkeypatch.setenv(key, value)
    return s3_bucket


class Lookup(Model):
    CONFIGURATIONS: ClassVar[dict[str, dict[str, Any]]] = {
        "table": {"asset": "lib/table:1", "default": "?"},
        "vocab": {"asset": "lib/table:1/vocab.txt"},
    }

    def _load(self) -> None:
        assert self.asset_path is not None
        if self.asset_path.is_file():
            self.words = set(self.asset_path.read_text().split())
        else:
            lines = (self.asset_path / "table.tsv").read_text().splitlines()
            self.table = dict(line.split("\t") for line in lines)

    def _predict(self, item: Any) -> Any:
        if self.asset_path is not None and self.asset_path.is_file():
            return item in self.words
        return self.table.get(item, self.model_settings["default"])


def test_library_pulls_from_seaweedfs_then_serves_offline(
    s3_env: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "table"
    folder.mkdir()
    (folder / "table.tsv").write_text("a\t1\nb\t2\n")
    (folder / "vocab.txt").write_text("hello world\n")
    Shelf(s3_env.url, cache_dir=tmp_path / "pusher").push(folder, "lib/table")

    lib = ModelLibrary([Lookup], store=s3_env.url, cache_dir=tmp_path / "fresh")
    assert lib.get("table").predict_batch(["a", "b", "z"]) == ["1", "2", "?"]
    assert lib.get("vocab").predict("world") is True
    assert lib.get("vocab").asset_path.name == "vocab.txt"  # type: ignore[union-attr]

    monkeypatch.setenv("MODELSHELF_OFFLINE", "1")  # as Shelf.pull: the cache answers
    again = ModelLibrary([Lookup], store=s3_env.url, cache_dir=tmp_path / "fresh")
    assert again.get("table").predict("a") == "1"


def test_missing_assets_on_seaweedfs_are_listed_together(s3_env: S3Bucket, tmp_path: Path) -> None:
    with pytest.raises(ModelAssetsMissingError) as info:
        ModelLibrary([Lookup], store=s3_env.url, cache_dir=tmp_path / "c", lazy_loading=False)
    assert set(info.value.missing) == {"table", "vocab"}
    lazy = ModelLibrary([Lookup], store=s3_env.url, cache_dir=tmp_path / "c", lazy_loading=True)
    with pytest.raises(ModelAssetsMissingError, match=r"lib/table:1/vocab\.txt"):
        lazy.get("vocab")
