"""The cache trusts no file at a blob's name that the cache did not make, and a user's folder
never reaches into the cache (issue 20 item 3, review B3): the class of "a file put in the
cache's place by a pull -o, an export, a mirror, or a user's edit of a hard link is served to
every asset sharing that blob"."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from modelshelf import Shelf, export
from modelshelf.backends import open_backend
from modelshelf.errors import ExportError, UserFolderRefusedError
from modelshelf.mirror.run import mirror

HONEST = b"honest weights\n"
SHA = hashlib.sha256(HONEST).hexdigest()


def tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def test_an_edited_hard_link_is_not_served_to_another_asset(tmp_path: Path) -> None:
    # review i3/hardlink_edit.sh: pull -o --link hardlink, the user makes the file writable
    # and edits it: the blob's inode changed with it.
    shelf = Shelf()
    shelf.push(tree(tmp_path / "a", {"w.bin": HONEST}), "a/one", progress=False)
    shelf.push(tree(tmp_path / "b", {"w.bin": HONEST}), "b/two", progress=False)
    shelf.pull("b/two", progress=False)  # its snapshot shares the blob
    out = tmp_path / "out"
    shelf.pull("a/one", output=out, link="hardlink", progress=False)
    (out / "w.bin").chmod(0o644)
    with (out / "w.bin").open("ab") as handle:
        handle.write(b"user edit\n")
    assert (Path(shelf.pull("b/two", progress=False)) / "w.bin").read_bytes() == HONEST
    assert (Path(shelf.pull("a/one", progress=False)) / "w.bin").read_bytes() == HONEST
    assert (out / "w.bin").read_bytes() == HONEST + b"user edit\n"  # the user's edit stays


@pytest.mark.parametrize("planted", ["writable", "other size"])
def test_a_file_at_a_blobs_name_the_cache_did_not_make_counts_as_missing(
    tmp_path: Path, planted: str
) -> None:
    shelf = Shelf()
    shelf.push(tree(tmp_path / "a", {"w.bin": HONEST}), "a/one", progress=False)
    blob = shelf.cache.blob_path(SHA)
    blob.parent.mkdir(parents=True)
    if planted == "writable":  # the same size, writable: not something the cache made
        blob.write_bytes(b"X" * len(HONEST))
    else:  # read-only, but not the size the manifest records
        blob.write_bytes(b"EVIL weights!\n")
        blob.chmod(0o444)
    assert not shelf.cache.has_blob(SHA, len(HONEST))
    assert (Path(shelf.pull("a/one", progress=False)) / "w.bin").read_bytes() == HONEST
    assert blob.read_bytes() == HONEST and not blob.stat().st_mode & 0o222


def cache_poison(tmp_path: Path) -> tuple[Shelf, Path, str]:
    """review i3/cache_poison.sh: a version whose file path is another model's blob in the
    cache, as seen from the folder a user pulls into (the cache lies under it)."""
    home = tmp_path / "home"
    cache = home / ".cache" / "modelshelf"
    shelf = Shelf(cache_dir=cache)
    shelf.push(tree(tmp_path / "honest", {"weights.bin": HONEST}), "team/honest", progress=False)
    rel = f".cache/modelshelf/blobs/sha256/{SHA[:2]}/{SHA}"
    evil = b"EVIL weights!\n".ljust(len(HONEST), b"!")  # the same size
    shelf.push(tree(tmp_path / "evil", {rel: evil, "README.md": b"hi"}), "x/readme", progress=False)
    return shelf, home, rel


@pytest.mark.parametrize("link", ["copy", "hardlink", "symlink"])
def test_a_pull_into_a_folder_holding_the_cache_never_writes_into_it(
    tmp_path: Path, link: str
) -> None:
    shelf, home, _ = cache_poison(tmp_path)
    with pytest.raises(UserFolderRefusedError, match=r"modelshelf cache"):
        shelf.pull("x/readme", output=home, link=link, progress=False)  # type: ignore[arg-type]
    assert not (home / "README.md").exists()  # refused before any write
    assert (Path(shelf.pull("team/honest", progress=False)) / "weights.bin").read_bytes() == HONEST


def test_export_and_mirror_never_write_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shelf, home, rel = cache_poison(tmp_path)
    monkeypatch.setenv("MODELSHELF_CACHE_DIR", str(shelf.cache.root))  # mirror: the default
    with pytest.raises(ExportError, match=r"modelshelf cache"):
        export("x/readme", to=shelf.cache.root / "exported", store=shelf)
    open_backend("memory://bucket").put(rel, b"EVIL")
    with pytest.raises(UserFolderRefusedError, match=r"modelshelf cache"):
        mirror("memory://bucket", home)
    assert (Path(shelf.pull("team/honest", progress=False)) / "weights.bin").read_bytes() == HONEST


def test_the_folder_may_not_be_inside_the_cache(tmp_path: Path) -> None:
    shelf = Shelf()
    shelf.push(tree(tmp_path / "a", {"w.bin": HONEST}), "a/one", progress=False)
    inner = shelf.cache.root / "blobs" / "mine"
    with pytest.raises(UserFolderRefusedError, match=r"modelshelf cache"):
        shelf.pull("a/one", output=inner, progress=False)
    assert not inner.exists()


def test_the_default_cache_is_protected_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Shelf on another cache still must not write into the one MODELSHELF_CACHE_DIR names.
    shelf = Shelf(cache_dir=tmp_path / "other-cache")
    shelf.push(tree(tmp_path / "a", {"x/w.bin": HONEST}), "a/one", progress=False)
    default = Path(os.environ["MODELSHELF_CACHE_DIR"])
    default.mkdir(parents=True, exist_ok=True)
    with pytest.raises(UserFolderRefusedError, match=r"modelshelf cache"):
        shelf.pull("a/one", output=default, progress=False)


# -- B3 (c): hidden folders that exist already are other programs' ---------------------------
SITE = ".local/lib/python3.11/site-packages"


@pytest.mark.parametrize(
    "rel", [f"{SITE}/zz-readme.pth", ".ssh/authorized_keys", ".config/autostart/x.desktop"]
)
def test_a_version_adds_no_file_to_an_existing_hidden_folder(tmp_path: Path, rel: str) -> None:
    # review i3/home_pth.sh: `pull -o ~` created a .pth in the user site-packages (code at the
    # next start of Python), authorized_keys in ~/.ssh: absent files, so "create" was allowed.
    shelf = Shelf()
    shelf.push(tree(tmp_path / "v", {rel: b"import os", "README.md": b"card"}), "x/card")
    home = tmp_path / "home"
    (home / rel.split("/")[0]).mkdir(parents=True)
    with pytest.raises(UserFolderRefusedError, match=r"hidden folder .*overwrite=True"):
        shelf.pull("x/card", output=home, progress=False)
    assert sorted(p.name for p in home.rglob("*")) == [rel.split("/")[0]]  # nothing written
    shelf.pull("x/card", output=home, overwrite=True, progress=False)  # the user asked
    assert (home / rel).read_bytes() == b"import os"


def test_hidden_files_in_new_folders_and_at_the_top_stay_fine(tmp_path: Path) -> None:
    files = {".gitattributes": b"* text", "pkg/.hidden/x": b"x", ".new/y": b"y", "a": b"a"}
    shelf = Shelf()
    shelf.push(tree(tmp_path / "v", files), "x/ok", progress=False)
    out = tmp_path / "out"
    (out / "pkg").mkdir(parents=True)
    shelf.pull("x/ok", output=out, progress=False)
    assert all((out / rel).read_bytes() == data for rel, data in files.items())
    shelf.pull("x/ok", output=out, progress=False)  # the same content again: kept, no refusal


def test_a_mirror_adds_files_to_a_hidden_folder_it_made(tmp_path: Path) -> None:
    backend = open_backend("memory://hidden")
    backend.put(".config/a", b"a")
    dest = tmp_path / "dest"
    assert mirror("memory://hidden", dest).fetched == 1
    backend.put(".config/b", b"b")  # a new key in the folder the first mirror made
    assert mirror("memory://hidden", dest).fetched == 1
    (dest / ".ssh").mkdir()
    backend.put(".ssh/authorized_keys", b"k")
    with pytest.raises(UserFolderRefusedError, match=r"\.ssh is a hidden folder"):
        mirror("memory://hidden", dest)
