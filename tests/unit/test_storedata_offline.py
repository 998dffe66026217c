"""Offline, a spec resolves to the newest cached version it matches, never just any one
(issue 20: a planted bug that picked any cached version survived the whole suite).

The versions are pulled by exact version (which remembers no alias), in an order that is
neither oldest nor newest first, so that only an ordering by version finds the answer; 1.10
is newer than 1.9, which text ordering gets wrong.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modelshelf import Shelf
from modelshelf.backends import open_backend

PUSHED = ["1.0", "1.1", "1.2", "1.9", "1.10", "2.0", "2.1"]
PULL_ORDER = ["1.2", "2.0", "1.10", "1.0", "2.1", "1.9", "1.1"]


def _shelf(url: str, tmp_path: Path) -> Shelf:
    return Shelf(url, cache_dir=tmp_path / "cache")


def _pushed(tmp_path: Path, versions: list[str], name: str) -> str:
    url = f"memory://storedata-offline-{name}"
    backend = open_backend(url)
    for key in [m.path for m in backend.list("")]:
        backend.delete(key)
    shelf = _shelf(url, tmp_path)
    for version in versions:
        folder = tmp_path / "src" / version
        folder.mkdir(parents=True)
        (folder / "w.txt").write_text(version)
        shelf.push(folder, f"m:{version}", progress=False)
    return url


def _unreachable(monkeypatch: pytest.MonkeyPatch, shelf: Shelf) -> None:
    def down(*args: object, **kwargs: object) -> None:
        from modelshelf.errors import StoreUnreachableError

        raise StoreUnreachableError("the store is down (test)")

    monkeypatch.setattr(type(shelf.store), "versions", down)
    monkeypatch.setattr(type(shelf.store), "alias_target", down)


@pytest.mark.parametrize("how", ["MODELSHELF_OFFLINE", "unreachable"])
@pytest.mark.parametrize(
    ("spec", "expected"),
    [("m", "2.1"), ("m@latest", "2.1"), ("m:1", "1.10"), ("m:2", "2.1"), ("m:1.9", "1.9")],
)
def test_offline_a_spec_means_the_newest_cached_version_it_matches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str, spec: str, expected: str
) -> None:
    url = _pushed(tmp_path, PUSHED, "many")
    shelf = _shelf(url, tmp_path)
    for version in PULL_ORDER:
        shelf.pull(f"m:{version}", progress=False)
    if how == "MODELSHELF_OFFLINE":
        monkeypatch.setenv("MODELSHELF_OFFLINE", "1")
    else:
        _unreachable(monkeypatch, shelf)
    resolved = shelf.resolve(spec)
    assert resolved.offline or spec == "m:1.9"  # a cached full version needs no store
    assert resolved.version == expected
    assert (shelf.pull(spec, progress=False) / "w.txt").read_text() == expected


@pytest.mark.parametrize("how", ["MODELSHELF_OFFLINE", "unreachable"])
def test_offline_with_the_issue_s_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    url = _pushed(tmp_path, ["1.0", "1.1", "1.2", "2.0"], "issue")
    shelf = _shelf(url, tmp_path)
    for version in ["1.1", "2.0", "1.0", "1.2"]:
        shelf.pull(f"m:{version}", progress=False)
    if how == "MODELSHELF_OFFLINE":
        monkeypatch.setenv("MODELSHELF_OFFLINE", "1")
    else:
        _unreachable(monkeypatch, shelf)
    assert shelf.resolve("m").version == "2.0"
    assert shelf.resolve("m:1").version == "1.2"


def test_the_cache_lists_versions_newest_first_by_version_not_text(tmp_path: Path) -> None:
    # Callers may take the first match: the order is the contract (1.10 is newer than 1.9).
    url = _pushed(tmp_path, PUSHED, "order")
    shelf = _shelf(url, tmp_path)
    for version in PULL_ORDER:
        shelf.pull(f"m:{version}", progress=False)
    listed = [str(v) for v in shelf.cache.cached_versions(shelf.store_id, "m")]
    assert listed == ["2.1", "2.0", "1.10", "1.9", "1.2", "1.1", "1.0"]
