"""A push never harms another push: blob keys hold only their hash's bytes and are never deleted.

The interleavings are injected through a wrapped backend: push A is held inside its blob upload
while its file changes and push B runs to its commit. Tests marked ``two_pass`` send every file
down the streaming path (hashed, then verified as it is sent), which large files take; the
single-pass path of small files is tested in test_push_single_pass.py.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from tests.wrapped_backend import Interleaving

import modelshelf.backends._obstore as obstore_backend
from modelshelf import Shelf
from modelshelf.backends import open_backend
from modelshelf.backends.base import PutMode
from modelshelf.errors import ObjectNotFoundError, SourcePathError
from modelshelf.shelf import _push_read as _upload
from modelshelf.store.bucket import Store
from modelshelf.transfer.verified_upload import VerifyingReader, upload_verified

ORIGINAL = b"original weights " * 64
CHANGED = b"CHANGED! weights " * 64  # same size: only the bytes tell them apart


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(params=["memory", "file"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://pushsafe"
    return (tmp_path / "store").as_uri()


@pytest.fixture
def two_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file takes the streaming path of large files: hashed, then verified as sent."""
    monkeypatch.setattr(_upload, "SINGLE_PASS_MAX", -1)


def one_file(folder: Path, data: bytes) -> Path:
    folder.mkdir(parents=True)
    (folder / "w.bin").write_bytes(data)
    return folder


def rewrite_keeping_mtime(path: Path, data: bytes) -> None:
    """Change the bytes but not size or mtime, as on a filesystem with coarse timestamps."""
    info = path.stat()
    path.write_bytes(data)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def pulled_bytes(url: str, spec: str, cache: Path) -> bytes:
    """Pull ``spec`` into a fresh cache, so the bytes come from the store, verified."""
    return (Shelf(url, cache_dir=cache).pull(spec) / "w.bin").read_bytes()


def check_racing_push_fails_only_the_changed_one(store_url: str, tmp_path: Path) -> None:
    """A uploads while its file changes; B uploads the same bytes and commits; B stays whole.

    Shared with the S3 integration test.
    """
    inner = open_backend(store_url)
    a_dir = one_file(tmp_path / "a", ORIGINAL)
    b_dir = one_file(tmp_path / "b", ORIGINAL)

    def b_pushes_while_a_file_changes() -> None:
        (a_dir / "w.bin").write_bytes(CHANGED)
        Shelf(inner, cache_dir=tmp_path / "b-cache").push(b_dir, "m")

    racing = Interleaving(inner, before=b_pushes_while_a_file_changes)
    with pytest.raises(SourcePathError, match="changed while being pushed"):
        Shelf(racing, cache_dir=tmp_path / "a-cache").push(a_dir, "m")
    assert racing.deletes == []
    assert Shelf(inner).versions("m") == ["1.0"]
    assert pulled_bytes(store_url, "m:1.0", tmp_path / "fresh") == ORIGINAL


@pytest.mark.usefixtures("two_pass")
def test_file_changing_during_upload_fails_only_that_push(store_url: str, tmp_path: Path) -> None:
    check_racing_push_fails_only_the_changed_one(store_url, tmp_path)


def test_other_push_finding_the_blob_present_keeps_a_whole_version(
    store_url: str, tmp_path: Path
) -> None:
    """A uploads, then its file changes; B finds the blob present and commits; no delete."""
    inner = open_backend(store_url)
    a_dir = one_file(tmp_path / "a", ORIGINAL)
    b_dir = one_file(tmp_path / "b", ORIGINAL)
    b_puts: list[str] = []

    def file_changes_then_b_pushes() -> None:
        (a_dir / "w.bin").write_bytes(CHANGED)
        counting = Interleaving(inner)
        counting.put = lambda key, data, mode="overwrite": (  # type: ignore[method-assign]
            b_puts.append(key),
            inner.put(key, data, mode=mode),
        )
        Shelf(counting, cache_dir=tmp_path / "b-cache").push(b_dir, "m")

    racing = Interleaving(inner, after=file_changes_then_b_pushes)
    a_version = Shelf(racing, cache_dir=tmp_path / "a-cache").push(a_dir, "m")
    assert not [k for k in b_puts if k.startswith("blobs/")]  # B found the blob present
    assert racing.deletes == []
    # A sent exactly the bytes it hashed before its file changed: its version is whole too.
    assert a_version.version == "1.1"
    assert pulled_bytes(store_url, "m:1.0", tmp_path / "fresh") == ORIGINAL
    assert pulled_bytes(store_url, "m:1.1", tmp_path / "fresh") == ORIGINAL


@pytest.mark.usefixtures("two_pass")
def test_change_invisible_to_size_and_mtime_is_caught_by_the_bytes(
    store_url: str, tmp_path: Path
) -> None:
    inner = open_backend(store_url)
    a_dir = one_file(tmp_path / "a", ORIGINAL)
    racing = Interleaving(inner, before=lambda: rewrite_keeping_mtime(a_dir / "w.bin", CHANGED))
    with pytest.raises(SourcePathError, match="changed while being pushed"):
        Shelf(racing).push(a_dir, "m")
    assert racing.deletes == []
    assert Shelf(inner).assets() == []
    # Nothing is stored under the hash of the bytes that were hashed.
    with pytest.raises(ObjectNotFoundError):
        inner.head(Store.blob_key(sha(ORIGINAL)))
    if store_url.startswith("file:"):  # not even a staged temporary file
        assert [p for p in (tmp_path / "store").rglob("*") if p.is_file()] == []


@pytest.mark.usefixtures("two_pass")
@pytest.mark.parametrize("grow", [True, False])
def test_file_growing_or_shrinking_during_upload_fails(
    store_url: str, tmp_path: Path, grow: bool
) -> None:
    inner = open_backend(store_url)
    a_dir = one_file(tmp_path / "a", ORIGINAL)
    new = ORIGINAL + b"more" if grow else ORIGINAL[:-4]
    racing = Interleaving(inner, before=lambda: (a_dir / "w.bin").write_bytes(new))
    with pytest.raises(SourcePathError, match="changed while being pushed"):
        Shelf(racing).push(a_dir, "m")
    assert racing.deletes == []
    assert [m.path for m in inner.list("blobs")] == []


@pytest.mark.usefixtures("two_pass")
def test_failed_large_upload_leaves_nothing_in_a_local_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Multipart on a local folder: the staged file is removed when the read fails."""
    monkeypatch.setattr(obstore_backend, "_MULTIPART_CHUNK", 1 << 20)
    root = tmp_path / "store"
    inner = open_backend(root.as_uri())
    big = os.urandom(3 << 20)
    a_dir = one_file(tmp_path / "a", big)
    changed = big[: 2 << 20] + bytes(1 << 20)
    racing = Interleaving(inner, before=lambda: rewrite_keeping_mtime(a_dir / "w.bin", changed))
    with pytest.raises(SourcePathError, match="changed while being pushed"):
        Shelf(racing).push(a_dir, "m")
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_upload_verified_accepts_the_right_bytes_in_parts(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(obstore_backend, "_MULTIPART_CHUNK", 1 << 20)
    backend = open_backend(store_url)
    for data in (b"", b"small", os.urandom((3 << 20) + 5)):
        local = tmp_path / "f.bin"
        local.write_bytes(data)
        key = Store.blob_key(sha(data))
        upload_verified(backend, key, local, len(data), sha(data))
        assert backend.read(key) == data


@pytest.mark.parametrize("mode", ["overwrite", "create"])
def test_backend_put_accepts_a_binary_file_object(store_url: str, mode: PutMode) -> None:
    backend = open_backend(store_url)
    backend.put("f/obj", io.BytesIO(b"from a reader"), mode=mode)
    assert backend.read("f/obj") == b"from a reader"


def test_reader_refuses_out_of_order_reads_without_blaming_the_file(tmp_path: Path) -> None:
    local = tmp_path / "f.bin"
    local.write_bytes(ORIGINAL)
    with local.open("rb", buffering=0) as raw:
        reader = VerifyingReader(raw, len(ORIGINAL), sha(ORIGINAL))
        reader.seek(10)
        with pytest.raises(io.UnsupportedOperation):
            reader.read(5)
        assert reader.failure is None
        reader.seek(0)
        assert reader.read() == ORIGINAL and reader.verified
