"""The facade, end to end over memory:// and file:// stores and a temporary cache."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tests.wrapped_backend import WrappedBackend

import modelshelf
import modelshelf.shelf.opening as shelf_module
from modelshelf import Shelf
from modelshelf.backends import Backend, ObjectMeta, open_backend
from modelshelf.backends.base import PutMode
from modelshelf.backends.registry import store_identity
from modelshelf.errors import (
    AliasConflictError,
    AliasNotFoundError,
    AssetNotFoundError,
    IntegrityError,
    InvalidInputError,
    InvalidSpecError,
    OfflineError,
    PathNotInVersionError,
    SourcePathError,
    StoreNotFoundError,
    StoreUnreachableError,
    UserFolderRefusedError,
    VersionExistsError,
    VersionNotFoundError,
)
from modelshelf.manifest import FileEntry
from modelshelf.store.bucket import Store

if TYPE_CHECKING:
    from tests.conftest import IsolatedEnv


def make_tree(root: Path, files: dict[str, bytes | str]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            data = data.encode()
        path.write_bytes(data)
    return root


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (following links), by relative POSIX path."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


MODEL = {"model.bin": b"weights-v1" * 100, "tok/vocab.txt": "a\nb\n", "tok/merges.txt": "ab"}


@pytest.fixture(params=["memory", "file"])
def shelf(request: pytest.FixtureRequest, tmp_path: Path) -> Shelf:
    url = "memory://shelf-tests" if request.param == "memory" else (tmp_path / "st").as_uri()
    return Shelf(url)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "model", MODEL)


@pytest.fixture
def file_shelf(tmp_path: Path) -> Shelf:
    return Shelf((tmp_path / "fstore").as_uri())


class CountingBackend(WrappedBackend):
    """Delegates to ``inner`` and records every put's key."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.puts: list[str] = []

    def put(self, key: str, data: bytes | Path, *, mode: PutMode = "overwrite") -> None:
        self.puts.append(key)
        self.inner.put(key, data, mode=mode)


class FailingBackend(Backend):
    """Every call raises ``error``: a store that is down, or one that must not be touched."""

    def __init__(self, url: str, error: Exception) -> None:
        self.url, self.error, self.calls = url, error, 0

    def store_identity(self) -> dict[str, str]:
        return store_identity(self.url)  # stands for the store at ``url``, down

    def _fail(self) -> None:
        self.calls += 1
        raise self.error

    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        self._fail()
        raise AssertionError  # pragma: no cover

    def get_range(self, key: str, start: int, end: int) -> bytes:
        self._fail()
        raise AssertionError  # pragma: no cover

    def put(self, key: str, data: bytes | Path, *, mode: PutMode = "overwrite") -> None:
        self._fail()

    def head(self, key: str) -> ObjectMeta:
        self._fail()
        raise AssertionError  # pragma: no cover

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        self._fail()
        raise AssertionError  # pragma: no cover

    def delete(self, key: str) -> None:
        self._fail()


def forbid_store_access(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(url: str, **kwargs: object) -> Backend:
        raise AssertionError(f"the store {url} must not be opened")

    monkeypatch.setattr(shelf_module, "open_guarded", refuse)


# -- push: versions --------------------------------------------------------------------------


def test_push_numbers_versions_minor_then_major(shelf: Shelf, model_dir: Path) -> None:
    assert shelf.push(model_dir, "nlp/sentiment").version == "1.0"
    assert shelf.push(model_dir, "nlp/sentiment").version == "1.1"
    assert shelf.push(model_dir, "nlp/sentiment", major=True).version == "2.0"
    assert shelf.push(model_dir, "nlp/sentiment").version == "2.1"
    assert shelf.versions("nlp/sentiment") == ["2.1", "2.0", "1.1", "1.0"]


def test_push_returns_the_committed_manifest(shelf: Shelf, model_dir: Path) -> None:
    manifest = shelf.push(model_dir, "m", message="hello", metadata={"dataset": "imdb"})
    assert manifest.kind == "directory"
    assert [(f.path, f.size) for f in manifest.files] == [
        ("model.bin", 1000), ("tok/merges.txt", 2), ("tok/vocab.txt", 4)
    ]  # fmt: skip
    assert manifest.file("model.bin").sha256 == sha(MODEL["model.bin"])  # type: ignore[union-attr,arg-type]
    assert manifest.message == "hello"
    assert manifest.metadata == {"dataset": "imdb"}
    assert manifest.source["path"] == str(model_dir.resolve())
    assert "@" in manifest.author
    assert shelf.manifest("m:1.0") == manifest


def test_metadata_and_message_are_stored_in_the_store(shelf: Shelf, model_dir: Path) -> None:
    shelf.push(model_dir, "m", message="trained on imdb", metadata={"epochs": "3", "lr": "1e-4"})
    fresh = Shelf(shelf.url)  # a different client reads what the store holds
    stored = fresh.store.read_manifest("m", "1.0")
    assert stored.metadata == {"epochs": "3", "lr": "1e-4"}
    assert stored.message == "trained on imdb"


def test_push_explicit_version(shelf: Shelf, model_dir: Path) -> None:
    assert shelf.push(model_dir, "m:3.5").version == "3.5"
    assert shelf.push(model_dir, "m").version == "3.6"
    assert shelf.push(model_dir, "m:1.0").version == "1.0"  # an older gap is fine
    assert shelf.versions("m") == ["3.6", "3.5", "1.0"]


def test_push_explicit_version_that_exists(shelf: Shelf, model_dir: Path) -> None:
    shelf.push(model_dir, "m")
    with pytest.raises(VersionExistsError, match=r"m:1\.0 already exists") as info:
        shelf.push(model_dir, "m:1.0")
    assert info.value.version == "1.0"
    assert shelf.versions("m") == ["1.0"]


@pytest.mark.parametrize("explicit", ["m:2", "m:2.0.0"])
def test_push_explicit_version_of_another_depth(
    shelf: Shelf, model_dir: Path, explicit: str
) -> None:
    shelf.push(model_dir, "m")
    with pytest.raises(InvalidInputError, match="2-part versions"):
        shelf.push(model_dir, explicit)


def test_counter_scheme(shelf: Shelf, model_dir: Path) -> None:
    assert shelf.push(model_dir, "m:1").version == "1"
    assert shelf.push(model_dir, "m").version == "2"
    assert shelf.push(model_dir, "m", major=True).version == "3"
    with pytest.raises(InvalidInputError, match="1-part versions"):
        shelf.push(model_dir, "m:4.0")
    assert shelf.versions("m") == ["3", "2", "1"]
    assert shelf.resolve("m:2").version == "2"


def test_push_explicit_version_and_major_is_refused(shelf: Shelf, model_dir: Path) -> None:
    with pytest.raises(InvalidInputError, match="not both"):
        shelf.push(model_dir, "m:2.0", major=True)


@pytest.mark.parametrize("spec", ["m@prod", "m:1.0/model.bin"])
def test_push_to_alias_or_sub_path_is_refused(shelf: Shelf, model_dir: Path, spec: str) -> None:
    with pytest.raises(InvalidInputError, match="push takes NAME or NAME:VERSION"):
        shelf.push(model_dir, spec)


def test_push_bad_spec(shelf: Shelf, model_dir: Path) -> None:
    with pytest.raises(InvalidSpecError):
        shelf.push(model_dir, "Bad Name")


# -- push: sources ---------------------------------------------------------------------------


def test_push_of_missing_path(shelf: Shelf, tmp_path: Path) -> None:
    with pytest.raises(SourcePathError, match="no such file or folder") as info:
        shelf.push(tmp_path / "absent", "m")
    assert isinstance(info.value, FileNotFoundError)
    assert isinstance(info.value, InvalidInputError)


def test_push_of_empty_folder(shelf: Shelf, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    (empty / "nested" / "deeper").mkdir(parents=True)
    with pytest.raises(SourcePathError, match="holds no files"):
        shelf.push(empty, "m")
    try:
        assert shelf.assets() == []
    except StoreNotFoundError:  # a refused push does not even make a file:// store's folder
        assert shelf.url.startswith("file://")


def test_top_level_dot_complete_is_ordinary_content(shelf: Shelf, tmp_path: Path) -> None:
    folder = make_tree(tmp_path / "x", {".complete": "mine", "a": "a"})
    shelf.push(folder, "m")
    assert tree(shelf.pull("m:1.0")) == {".complete": b"mine", "a": b"a"}


def test_push_follows_file_symlinks_and_skips_vcs_folders(shelf: Shelf, tmp_path: Path) -> None:
    outside = make_tree(tmp_path / "outside", {"big.bin": "linked content"})
    folder = make_tree(tmp_path / "m", {"a.txt": "a", ".git/HEAD": "ref", ".hg/x": "y"})
    (folder / "link.bin").symlink_to(outside / "big.bin")
    manifest = shelf.push(folder, "m")
    assert [f.path for f in manifest.files] == ["a.txt", "link.bin"]
    assert tree(shelf.pull("m:1.0"))["link.bin"] == b"linked content"


def test_push_single_file_and_pull_returns_the_file(shelf: Shelf, tmp_path: Path) -> None:
    single = tmp_path / "weights.onnx"
    single.write_bytes(b"onnx bytes")
    manifest = shelf.push(single, "vision/cls")
    assert manifest.kind == "file"
    assert [f.path for f in manifest.files] == ["weights.onnx"]
    path = shelf.pull("vision/cls:1.0")
    assert path.name == "weights.onnx"
    assert path.is_file()
    assert path.read_bytes() == b"onnx bytes"
    out = shelf.pull("vision/cls", output=tmp_path / "out")
    assert out == tmp_path / "out" / "weights.onnx"
    assert out.read_bytes() == b"onnx bytes"


def test_git_commit_is_recorded(
    shelf: Shelf, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    repo = make_tree(tmp_path / "repo", {"model/w.bin": "w", "README": "r"})

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "user.email=t@example.com", "-c", "user.name=Tester",
             "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", "-C", str(repo),
             *args],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    git("init", "-q")
    git("remote", "add", "origin", "https://example.com/team/models.git")
    git("add", ".")
    git("commit", "-q", "-m", "initial")
    head = git("rev-parse", "HEAD")

    clean = shelf.push(repo / "model", "m")
    assert clean.source["git_commit"] == head
    assert clean.source["git_dirty"] is False
    assert clean.source["git_remote"] == "https://example.com/team/models.git"
    assert clean.source["path"] == str((repo / "model").resolve())

    (repo / "model" / "w.bin").write_text("changed")
    dirty = shelf.push(repo / "model", "m")
    assert dirty.source["git_commit"] == head
    assert dirty.source["git_dirty"] is True

    whole = shelf.push(repo, "repo")
    assert all(not f.path.startswith(".git/") for f in whole.files)

    # a folder git ignores lies in the work tree, but no commit describes it
    (repo / ".gitignore").write_text("scratch/\n")
    make_tree(repo / "scratch", {"w.bin": "local only"})
    ignored = shelf.push(repo / "scratch", "scratch")
    assert "git_commit" not in ignored.source and "git_dirty" not in ignored.source


def test_push_outside_git_records_no_commit(shelf: Shelf, model_dir: Path) -> None:
    manifest = shelf.push(model_dir, "m")
    assert "git_commit" not in manifest.source


# -- dedupe ----------------------------------------------------------------------------------


def test_same_content_is_uploaded_once(tmp_path: Path, model_dir: Path) -> None:
    backend = CountingBackend(open_backend("memory://dedupe"))
    shelf = Shelf(backend)

    def blob_puts() -> list[str]:
        return [k for k in backend.puts if k.startswith("blobs/")]

    def blob_keys() -> set[str]:
        return {m.path for m in backend.list("blobs")}

    shelf.push(model_dir, "a")
    assert len(blob_puts()) == 3
    assert len(blob_keys()) == 3

    backend.puts.clear()
    shelf.push(model_dir, "a")  # same content, next version
    shelf.push(model_dir, "other/asset")  # same content, another asset
    assert blob_puts() == []
    assert len(blob_keys()) == 3
    assert shelf.versions("a") == ["1.1", "1.0"]

    changed = make_tree(tmp_path / "changed", {**MODEL, "model.bin": b"weights-v2"})
    shelf.push(changed, "a")
    assert blob_puts() == [Store.blob_key(sha(b"weights-v2"))]
    assert len(blob_keys()) == 4


def test_identical_files_in_one_push_are_one_blob(shelf: Shelf, tmp_path: Path) -> None:
    folder = make_tree(tmp_path / "dup", {"a.bin": "same", "b/c.bin": "same", "d": "other"})
    manifest = shelf.push(folder, "m")
    assert len({f.sha256 for f in manifest.files}) == 2
    assert len(list(shelf.store.backend.list("blobs"))) == 2
    assert tree(shelf.pull("m:1.0")) == {"a.bin": b"same", "b/c.bin": b"same", "d": b"other"}


# -- pull ------------------------------------------------------------------------------------


def test_pull_returns_the_verified_snapshot(shelf: Shelf, model_dir: Path) -> None:
    shelf.push(model_dir, "nlp/sentiment")
    path = shelf.pull("nlp/sentiment:1.0")
    assert tree(path) == {k: v if isinstance(v, bytes) else v.encode() for k, v in MODEL.items()}
    assert path == shelf.cache.snapshot_dir(shelf.store_id, "nlp/sentiment", "1.0")
    assert shelf.cache.is_complete(shelf.store_id, "nlp/sentiment", "1.0")
    assert shelf.pull("nlp/sentiment:1.0") == path  # a second pull is a no-op


def test_snapshot_files_are_read_only_links_to_blobs(shelf: Shelf, model_dir: Path) -> None:
    manifest = shelf.push(model_dir, "m")
    path = shelf.pull("m")
    for entry in manifest.files:
        file = path / entry.path
        assert stat.S_IMODE(file.stat().st_mode) & 0o222 == 0
        assert os.path.samefile(file, shelf.cache.blob_path(entry.sha256))


def test_partial_version_picks_latest_match_never_ten(shelf: Shelf, tmp_path: Path) -> None:
    for version in ("1.2", "1.9", "1.10", "10.0", "2.0"):
        folder = make_tree(tmp_path / version, {"v.txt": version})
        shelf.push(folder, f"m:{version}")
    assert (shelf.pull("m:1") / "v.txt").read_text() == "1.10"
    assert shelf.resolve("m:1").version == "1.10"
    assert shelf.resolve("m:10").version == "10.0"
    assert shelf.resolve("m:2").version == "2.0"
    assert shelf.resolve("m").version == "10.0"
    assert shelf.resolve("m@latest").version == "10.0"
    assert (shelf.pull("m:1.9") / "v.txt").read_text() == "1.9"


def test_latest_follows_new_pushes(shelf: Shelf, tmp_path: Path) -> None:
    shelf.push(make_tree(tmp_path / "a", {"v": "1"}), "m")
    assert (shelf.pull("m") / "v").read_text() == "1"
    shelf.push(make_tree(tmp_path / "b", {"v": "2"}), "m")
    assert (shelf.pull("m") / "v").read_text() == "2"


def test_pull_sub_path_file_and_folder(shelf: Shelf, model_dir: Path) -> None:
    shelf.push(model_dir, "m")
    file = shelf.pull("m:1.0/tok/vocab.txt")
    assert file.is_file()
    assert file.read_text() == "a\nb\n"
    assert file == shelf.cache.snapshot_dir(shelf.store_id, "m", "1.0") / "tok" / "vocab.txt"
    assert not shelf.cache.is_complete(shelf.store_id, "m", "1.0")

    folder = shelf.pull("m:1/tok")
    assert folder.is_dir()
    assert tree(folder) == {"merges.txt": b"ab", "vocab.txt": b"a\nb\n"}
    assert not shelf.cache.has_blob(sha(MODEL["model.bin"]))  # type: ignore[arg-type]

    shelf.pull("m:1.0")
    assert shelf.cache.is_complete(shelf.store_id, "m", "1.0")


def test_sub_path_is_whole_segments(shelf: Shelf, tmp_path: Path) -> None:
    shelf.push(make_tree(tmp_path / "x", {"tok/a": "1", "tokenizer/b": "2"}), "m")
    assert tree(shelf.pull("m:1.0/tok")) == {"a": b"1"}
    with pytest.raises(PathNotInVersionError, match="'to'"):
        shelf.pull("m:1.0/to")


def test_pull_output_gives_writable_copies(shelf: Shelf, model_dir: Path, tmp_path: Path) -> None:
    manifest = shelf.push(model_dir, "m")
    out = tmp_path / "out"
    assert shelf.pull("m:1", output=out) == out
    assert tree(out) == tree(model_dir)
    for entry in manifest.files:
        file = out / entry.path
        assert not file.is_symlink()
        mode = stat.S_IMODE(file.stat().st_mode)
        assert mode & 0o200, oct(mode)
        assert not os.path.samefile(file, shelf.cache.blob_path(entry.sha256))
    (out / "model.bin").write_bytes(b"edited")  # editing a copy ...
    blob = shelf.cache.blob_path(manifest.files[0].sha256)
    assert blob.read_bytes() == MODEL["model.bin"]  # ... never touches the cache


def test_pull_output_again_restores_edited_copies_only_with_overwrite(
    shelf: Shelf, model_dir: Path, tmp_path: Path
) -> None:
    # Issue 20 item 3: an edited copy is the user's now; pulling again used to replace it
    # silently. It is refused (and left as it is) unless overwrite=True.
    shelf.push(model_dir, "m")
    out = tmp_path / "out"
    shelf.pull("m", output=out)
    (out / "model.bin").write_bytes(b"X" * 1000)  # same size, other content
    with pytest.raises(UserFolderRefusedError, match=r"model\.bin.*overwrite=True"):
        shelf.pull("m", output=out)
    assert (out / "model.bin").read_bytes() == b"X" * 1000
    shelf.pull("m", output=out, overwrite=True)
    assert (out / "model.bin").read_bytes() == MODEL["model.bin"]


def test_pull_output_with_hardlinks(shelf: Shelf, model_dir: Path, tmp_path: Path) -> None:
    manifest = shelf.push(model_dir, "m")
    out = tmp_path / "out"
    shelf.pull("m", output=out, link="hardlink")
    for entry in manifest.files:
        assert os.path.samefile(out / entry.path, shelf.cache.blob_path(entry.sha256))
        assert stat.S_IMODE((out / entry.path).stat().st_mode) & 0o222 == 0


def test_pull_output_with_symlinks(shelf: Shelf, model_dir: Path, tmp_path: Path) -> None:
    manifest = shelf.push(model_dir, "m")
    out = tmp_path / "out"
    shelf.pull("m", output=out, link="symlink")
    for entry in manifest.files:
        link = out / entry.path
        assert link.is_symlink()
        assert link.resolve() == shelf.cache.blob_path(entry.sha256).resolve()
    assert tree(out) == tree(model_dir)


def test_pull_copy_after_hardlink_gives_a_real_copy(
    shelf: Shelf, model_dir: Path, tmp_path: Path
) -> None:
    manifest = shelf.push(model_dir, "m")
    out = tmp_path / "out"
    shelf.pull("m", output=out, link="hardlink")
    shelf.pull("m", output=out, link="copy")
    entry = manifest.files[0]
    assert not os.path.samefile(out / entry.path, shelf.cache.blob_path(entry.sha256))
    assert stat.S_IMODE((out / entry.path).stat().st_mode) & 0o200


def test_pull_output_of_sub_paths(shelf: Shelf, model_dir: Path, tmp_path: Path) -> None:
    shelf.push(model_dir, "m")
    file = shelf.pull("m:1.0/tok/vocab.txt", output=tmp_path / "one")
    assert file == tmp_path / "one" / "vocab.txt"
    assert file.read_text() == "a\nb\n"
    folder = shelf.pull("m:1.0/tok", output=tmp_path / "two")
    assert folder == tmp_path / "two"
    assert tree(folder) == {"merges.txt": b"ab", "vocab.txt": b"a\nb\n"}


def test_pull_output_refusals(shelf: Shelf, model_dir: Path, tmp_path: Path) -> None:
    shelf.push(model_dir, "m")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(InvalidInputError, match="is not a folder"):
        shelf.pull("m", output=blocker)
    with pytest.raises(InvalidInputError, match=r"^link must be one of"):
        shelf.pull("m", output=tmp_path / "o", link="teleport")  # type: ignore[arg-type]


# -- errors ----------------------------------------------------------------------------------


def test_unknown_asset(shelf: Shelf, model_dir: Path) -> None:
    shelf.push(model_dir, "m")
    with pytest.raises(AssetNotFoundError, match="no asset named 'nope'") as info:
        shelf.pull("nope")
    assert (info.value.name, info.value.store) == ("nope", shelf.url)
    with pytest.raises(AssetNotFoundError):
        shelf.pull("nope:1.0")
    with pytest.raises(AssetNotFoundError):
        shelf.versions("nope")
    with pytest.raises(AssetNotFoundError):
        shelf.pull("m/sub")  # a nested name is another asset


def test_unknown_version(shelf: Shelf, model_dir: Path) -> None:
    shelf.push(model_dir, "m")
    shelf.push(model_dir, "m")
    with pytest.raises(VersionNotFoundError, match=r"no version matching 2 .* it has 1\.1, 1\.0"):
        shelf.pull("m:2")
    with pytest.raises(VersionNotFoundError):
        shelf.pull("m:1.5")


def test_unknown_alias(shelf: Shelf, model_dir: Path) -> None:
    shelf.push(model_dir, "m")
    with pytest.raises(AliasNotFoundError, match="has no alias 'production'"):
        shelf.pull("m@production")


def test_unknown_sub_path(shelf: Shelf, model_dir: Path) -> None:
    shelf.push(model_dir, "m")
    with pytest.raises(PathNotInVersionError, match=r"no file or folder 'weights\.bin'") as info:
        shelf.pull("m:1.0/weights.bin")
    assert "model.bin" in str(info.value)  # it says what the version holds
    assert isinstance(info.value, FileNotFoundError)


# -- aliases ---------------------------------------------------------------------------------


def test_alias_set_pull_and_move(shelf: Shelf, tmp_path: Path) -> None:
    for i in range(3):
        shelf.push(make_tree(tmp_path / str(i), {"v": str(i)}), "m")
    record = shelf.set_alias("m@production", "1")  # a partial version resolves first
    assert (record.version, record.seq, record.previous) == ("1.2", 1, None)
    assert (shelf.pull("m@production") / "v").read_text() == "2"
    shelf.set_alias("m@production", "1.0", expected="1.2")
    assert (shelf.pull("m@production") / "v").read_text() == "0"
    assert shelf.aliases("m")["production"].version == "1.0"
    with pytest.raises(AliasConflictError):
        shelf.set_alias("m@production", "1.1", expected="1.2")
    assert shelf.aliases("m")["production"].version == "1.0"


@pytest.mark.parametrize("spec", ["m", "m:1.0", "m@latest", "m@prod/x"])
def test_set_alias_needs_a_real_alias(shelf: Shelf, model_dir: Path, spec: str) -> None:
    shelf.push(model_dir, "m")
    with pytest.raises(InvalidInputError, match="alias set takes NAME@ALIAS"):
        shelf.set_alias(spec, "1.0")


def test_set_alias_to_missing_version(shelf: Shelf, model_dir: Path) -> None:
    shelf.push(model_dir, "m")
    with pytest.raises(VersionNotFoundError):
        shelf.set_alias("m@prod", "7")
    assert shelf.aliases("m") == {}


def test_alias_to_a_deleted_version_says_so(shelf: Shelf, model_dir: Path) -> None:
    shelf.push(model_dir, "m")
    shelf.store.set_alias("m", "prod", "9.9")  # the store layer does not check
    with pytest.raises(VersionNotFoundError, match=r"points at 9\.9, which does not exist"):
        shelf.pull("m@prod")


# -- no network when the cache can answer -----------------------------------------------------


def test_pinned_cached_version_opens_no_store(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = (tmp_path / "st").as_uri()
    Shelf(url).push(model_dir, "m")
    first = Shelf(url).pull("m:1.0")

    forbid_store_access(monkeypatch)
    assert Shelf(url).pull("m:1.0") == first
    assert tree(Shelf(url).pull("m:1.0/tok")) == {"merges.txt": b"ab", "vocab.txt": b"a\nb\n"}
    out = Shelf(url).pull("m:1.0", output=tmp_path / "out")
    assert tree(out) == tree(model_dir)
    with pytest.raises(AssertionError, match="must not be opened"):
        Shelf(url).pull("m:1")  # a partial version must ask the store


def test_pinned_cached_version_touches_no_backend_method(model_dir: Path) -> None:
    Shelf("memory://pinned").push(model_dir, "m")
    first = Shelf("memory://pinned").pull("m:1.0")
    exploding = FailingBackend("memory://pinned", AssertionError("network call"))
    assert Shelf(exploding).pull("m:1.0") == first
    assert Shelf(exploding).manifest("m:1.0").version == "1.0"
    assert exploding.calls == 0


# -- offline and unreachable stores ----------------------------------------------------------


@pytest.fixture
def pulled(tmp_path: Path) -> Shelf:
    """A memory store with m:1.0, 1.1 (@prod -> 1.0) after pulls of m:1, m@prod and m."""
    shelf = Shelf("memory://offline")
    shelf.push(make_tree(tmp_path / "a", {"v": "1.0"}), "m")
    shelf.push(make_tree(tmp_path / "b", {"v": "1.1"}), "m")
    shelf.set_alias("m@prod", "1.0")
    shelf.pull("m:1")
    shelf.pull("m@prod")
    shelf.pull("m")
    # another machine moves the store on; this cache keeps its last answers
    elsewhere = Shelf("memory://offline", cache_dir=tmp_path / "elsewhere")
    elsewhere.push(make_tree(tmp_path / "c", {"v": "1.2"}), "m")
    elsewhere.set_alias("m@prod", "1.2")
    return shelf


def test_offline_resolves_from_refs_and_warns(
    pulled: Shelf, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MODELSHELF_OFFLINE", "1")
    forbid_store_access(monkeypatch)
    shelf = Shelf("memory://offline")
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        partial = shelf.resolve("m:1")
        alias = shelf.resolve("m@prod")
        latest = shelf.resolve("m")
        path = shelf.pull("m@prod")
    assert (partial.version, partial.offline) == ("1.1", True)
    assert (alias.version, alias.offline) == ("1.0", True)
    assert latest.version == "1.1"
    assert (path / "v").read_text() == "1.0"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and all("MODELSHELF_OFFLINE" in r.getMessage() for r in warnings)
    assert any("m@prod -> m:1.0" in r.getMessage() for r in warnings)


def test_offline_never_pulled_specs_raise(pulled: Shelf, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSHELF_OFFLINE", "1")
    forbid_store_access(monkeypatch)
    shelf = Shelf("memory://offline")
    for spec in ("m:1.2", "m:2", "m@staging", "other", "other:1.0"):
        with pytest.raises(OfflineError, match="never pulled"):
            shelf.pull(spec)


def test_offline_pull_of_a_version_whose_blobs_are_not_cached(
    pulled: Shelf, monkeypatch: pytest.MonkeyPatch
) -> None:
    pulled.manifest("m:1.2")  # e.g. `modelshelf show`: caches the manifest, not the files
    monkeypatch.setenv("MODELSHELF_OFFLINE", "1")
    with pytest.raises(OfflineError):
        Shelf("memory://offline").pull("m:1.2")


def test_offline_latest_alias_means_the_same_as_no_alias(tmp_path: Path) -> None:
    shelf = Shelf("memory://latest")
    shelf.push(make_tree(tmp_path / "a", {"v": "1"}), "m")
    shelf.pull("m:1.0")  # exact: caches the manifest, writes no ref
    assert shelf.resolve("m", offline=True).version == "1.0"
    assert shelf.resolve("m@latest", offline=True).version == "1.0"


def test_offline_flag_beats_the_environment(pulled: Shelf) -> None:
    assert pulled.resolve("m@prod", offline=True).version == "1.0"
    assert pulled.resolve("m@prod").version == "1.2"


def test_unreachable_store_falls_back_to_refs(
    pulled: Shelf, caplog: pytest.LogCaptureFixture
) -> None:
    down = FailingBackend("memory://offline", StoreUnreachableError("cannot reach the store x"))
    shelf = Shelf(down)
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        resolved = shelf.resolve("m@prod")
        path = shelf.pull("m:1")
    assert (resolved.version, resolved.offline) == ("1.0", True)
    assert (path / "v").read_text() == "1.1"
    assert down.calls >= 2
    assert any("cannot reach the store" in r.getMessage() for r in caplog.records)
    with pytest.raises(OfflineError, match="never pulled") as info:
        shelf.pull("m:1.2")
    assert isinstance(info.value.__cause__, StoreUnreachableError)


def test_other_store_errors_do_not_fall_back(pulled: Shelf) -> None:
    broken = FailingBackend("memory://offline", RuntimeError("bug"))
    with pytest.raises(RuntimeError, match="bug"):
        Shelf(broken).resolve("m@prod")


# -- integrity -------------------------------------------------------------------------------


def push_and_damage(shelf: Shelf, model_dir: Path, tmp_path: Path, damage: bytes) -> FileEntry:
    """Push the model, then overwrite model.bin's blob in the file store with ``damage``."""
    entry = shelf.push(model_dir, "m").file("model.bin")
    assert entry is not None
    stored = tmp_path / "fstore" / Store.blob_key(entry.sha256)
    assert stored.is_file()
    stored.chmod(0o644)
    stored.write_bytes(damage)
    return entry


def test_corrupt_blob_raises_integrity_error_and_caches_nothing(
    file_shelf: Shelf, model_dir: Path, tmp_path: Path
) -> None:
    bad = b"X" * 1000
    entry = push_and_damage(file_shelf, model_dir, tmp_path, bad)

    fresh = Shelf(file_shelf.url)
    with pytest.raises(IntegrityError) as info:
        fresh.pull("m:1.0")
    error = info.value
    assert (error.path, error.expected, error.actual) == ("model.bin", entry.sha256, sha(bad))
    message = str(error)
    assert "'model.bin'" in message and entry.sha256 in message and sha(bad) in message

    cache = fresh.cache
    assert not cache.has_blob(entry.sha256)
    snapshot = cache.snapshot_dir(fresh.store_id, "m", "1.0")
    assert not (snapshot / "model.bin").exists()
    assert not cache.is_complete(fresh.store_id, "m", "1.0")
    assert list(cache.root.rglob("*.tmp")) == []

    # the undamaged files of the version are still usable
    assert fresh.pull("m:1.0/tok/vocab.txt").read_text() == "a\nb\n"


def test_truncated_blob_raises_integrity_error(
    file_shelf: Shelf, model_dir: Path, tmp_path: Path
) -> None:
    entry = push_and_damage(file_shelf, model_dir, tmp_path, b"weights-v1")
    with pytest.raises(IntegrityError, match="an object of 10 bytes instead of 1000"):
        Shelf(file_shelf.url).pull("m:1.0/model.bin")
    assert not Shelf(file_shelf.url).cache.has_blob(entry.sha256)


# -- defaults --------------------------------------------------------------------------------


def test_default_store_and_cache_come_from_the_environment(
    isolated_env: IsolatedEnv, model_dir: Path
) -> None:
    shelf = Shelf()
    assert shelf.url == isolated_env.store_url
    assert shelf.cache.root == isolated_env.cache_dir
    modelshelf.push(model_dir, "m")
    path = modelshelf.pull("m:1")
    assert path.is_relative_to(isolated_env.cache_dir)
    assert (isolated_env.store_dir / "assets" / "m" / "versions" / "1.0.json").is_file()


def test_plain_path_store_is_a_file_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Shelf("./here").url == (tmp_path / "here").as_uri()
    assert Shelf(str(tmp_path / "abs")).url == (tmp_path / "abs").as_uri()
    assert Shelf("memory://x/").url == "memory://x"


def test_memory_and_memory_default_are_one_store_in_the_cache() -> None:
    assert Shelf("memory://").store_id == Shelf("memory://default").store_id
    assert Shelf("memory://").store_id != Shelf("memory://other").store_id
