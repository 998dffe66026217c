"""A diff page and its twin list at most MAX_DIFF_ROWS rows a table, say how many were left
out, and name the command that lists them all."""

from __future__ import annotations

import hashlib

from tests.pages.conftest import MakePages
from tests.pages.pages_helpers import commit

from modelshelf.manifest import FileEntry
from modelshelf.registry.pages.asset_pages import MAX_DIFF_ROWS
from modelshelf.store.bucket import Store


def _files(salt: str, count: int) -> list[FileEntry]:
    return [
        FileEntry(f"shard/{n:05d}.bin", 10, hashlib.sha256(f"{salt}{n}".encode()).hexdigest())
        for n in range(count)
    ]


def test_a_big_diff_is_cut_and_says_so(
    make_pages: MakePages, tokens: dict[str, str], store: Store
) -> None:
    rows = MAX_DIFF_ROWS + 80
    for version, salt in (("1.0", "a"), ("1.1", "b")):
        commit(store, "data/big", version, _files(salt, rows), f"v{version}")
    client = make_pages(tokens["admin"])
    page = client.get("/a/data/big/-/diff/1.0...1.1")
    assert page.status_code == 200
    assert page.text.count("<tr><td>shard/") == MAX_DIFF_ROWS
    assert f"Changed ({rows:,})" in page.text
    assert "80 more not shown" in page.text
    assert "modelshelf diff data/big:1.0 data/big:1.1 --json" in page.text
    bearer = {"authorization": f"Bearer {tokens['admin']}"}
    twin = client.get("/api/v1/assets/data/big/-/diff/1.0...1.1", headers=bearer).json()
    assert len(twin["changed"]) == MAX_DIFF_ROWS and twin["left_out"]["changed"] == 80
    assert twin["whole_diff"].endswith("--json")
    small = client.get("/api/v1/assets/nlp/sentiment/-/diff/1.0...1.1", headers=bearer).json()
    assert "left_out" not in small
