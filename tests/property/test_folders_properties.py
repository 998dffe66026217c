"""``pull -o`` into any folder (issue 20 item 3), as a property: whatever files, folders and
symbolic links a folder already holds and whatever tree a version has, never a byte is written
outside it, nothing of the user's is replaced without overwrite (only the same content is
taken over), nothing goes through a link, and a refusal leaves the folder exactly as it was."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from modelshelf.cache.cache import Cache, atomic_write
from modelshelf.errors import UserFolderRefusedError
from modelshelf.manifest import FileEntry
from modelshelf.shelf.export import export_files

_NAMES = st.sampled_from(["a", "b", "c"])
_PATHS = st.lists(_NAMES, min_size=1, max_size=3).map("/".join)
_KINDS = st.sampled_from(["file", "same", "dir", "link_dir", "link_file", "link_dangling"])
_EXISTING = st.lists(st.tuples(_PATHS, _KINDS, st.binary(max_size=6)), max_size=8)
_VERSION = st.dictionaries(_PATHS, st.binary(max_size=6), min_size=1, max_size=5).filter(
    lambda files: not any(other.startswith(p + "/") for p in files for other in files)
)


def snapshot(root: Path) -> dict[str, object]:
    """Everything under ``root`` as lstat sees it (links not followed)."""
    found: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            rel = path.relative_to(root).as_posix()
            if stat.S_ISLNK(info.st_mode):
                found[rel] = ("link", str(path.readlink()))
            elif stat.S_ISDIR(info.st_mode):
                found[rel] = "dir"
            else:
                found[rel] = ("file", path.read_bytes())
    return found


def build(
    out: Path, outside: Path, existing: list[tuple[str, str, bytes]], version: dict[str, bytes]
) -> None:
    out.mkdir()
    for rel, kind, data in existing:
        path = out / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink() or path.exists():
                continue
            if kind == "file":
                path.write_bytes(data)
            elif kind == "same":  # the version's own content already there
                path.write_bytes(version.get(rel, data))
            elif kind == "dir":
                path.mkdir()
            elif kind == "link_dir":
                path.symlink_to(outside, target_is_directory=True)
            elif kind == "link_file":
                path.symlink_to(outside / "victim")
            else:
                path.symlink_to(outside / "absent")
        except (FileExistsError, NotADirectoryError):
            continue  # a file or a link where this path's folder would be: leave it


def related(rel: str, version: dict[str, bytes]) -> bool:
    """``rel`` is a version path, a folder on the way to one, or inside one."""
    return any(rel == p or p.startswith(rel + "/") or rel.startswith(p + "/") for p in version)


@pytest.mark.parametrize("link", ["copy", "hardlink", "symlink"])
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(existing=_EXISTING, version=_VERSION, overwrite=st.booleans())
# Found by this property after a merge: the file ``a`` cleared for ``a/a`` is already the folder
# ``a`` when ``a/b`` is placed, and must not be unlinked as a file then.
@example(existing=[("a", "file", b"")], version={"a/a": b"", "a/b": b""}, overwrite=True)
def test_pull_into_any_folder_keeps_the_policy(
    tmp_path: Path,
    link: str,
    existing: list[tuple[str, str, bytes]],
    version: dict[str, bytes],
    overwrite: bool,
) -> None:
    with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
        base = Path(scratch)
        outside, out = base / "outside", base / "out"
        outside.mkdir()
        (outside / "victim").write_bytes(b"outside")
        cache = Cache(base / "cache")
        entries = []
        for rel, data in sorted(version.items()):
            digest = hashlib.sha256(data).hexdigest()
            atomic_write(cache.blob_path(digest), data)
            cache.blob_path(digest).chmod(0o444)
            entries.append(FileEntry(rel, len(data), digest))
        build(out, outside, existing, version)
        before, before_outside = snapshot(out), snapshot(outside)
        links_in_the_way = [  # at a version path or a folder on the way (not inside one)
            rel
            for rel, what in before.items()
            if what[0] == "link" and any(rel == p or p.startswith(rel + "/") for p in version)
        ]
        try:
            export_files(
                cache, tuple(entries), "", out, link, single_file=False, overwrite=overwrite
            )
        except UserFolderRefusedError:
            assert snapshot(out) == before  # planned first: nothing written at all
            assert links_in_the_way or not overwrite  # refused only for a reason
        else:
            assert not links_in_the_way  # never written through (or over) a link
            after = snapshot(out)
            for rel, data in version.items():
                assert (out / rel).read_bytes() == data
            for rel, what in before.items():
                if not related(rel, version):
                    assert after.get(rel) == what  # nothing else touched
                elif rel in version and what[0] == "file" and not overwrite:
                    assert what[1] == version[rel]  # only the same content was taken over
                elif not overwrite:
                    assert what == "dir" and rel not in version  # a folder on the way, kept
        assert snapshot(outside) == before_outside  # never a byte outside the folder
        assert sorted(p.name for p in base.iterdir()) == ["cache", "out", "outside"]
