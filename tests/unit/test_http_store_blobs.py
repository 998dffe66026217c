"""The registry store's blob uploads and lookups against a real server on loopback that keeps
blobs as the registry API says (tests/http_script.py): one PUT for a small file, an upload
session in chunks for a large one that resumes after a dropped connection, a file changed since
it was hashed stores nothing, a finish that fails in passing is sent again (never aborted), and
concurrent lookups go in batches."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tests.http_script import DROP, Reply, Request, ScriptServer, error, running

from modelshelf.errors import IntegrityError, SourcePathError, StoreUnavailableError
from modelshelf.store.http import HttpStore
from modelshelf.transfer.download import download_verified
from modelshelf.transfer.verified_upload import HashedBytes

MAX_SINGLE, CHUNK = 4096, 1000


class BlobRegistry:
    """The blob routes of a registry, kept in memory: PUT verified, sessions in chunks."""

    def __init__(self, server: ScriptServer) -> None:
        self.blobs: dict[str, bytes] = {}
        self.session: dict[str, object] = {}
        self.drop_patch_at: set[int] = set()  # offsets whose first PATCH is cut
        self.finish_answers: list[Reply] = []  # answers to the next finishing PUTs, then real
        self.lose_finish_answers = 0  # finishes that store the blob, then drop the connection
        self.lock = threading.Lock()
        discovery = {"registry": "modelshelf", "api": 1, "guarantees": {},
                     "upload": {"max_single": MAX_SINGLE, "chunk": CHUNK}}  # fmt: skip
        server.route("GET", "/api/v1", Reply(200, discovery))
        server.route("PUT", r"/api/v1/blobs/[0-9a-f]{64}", self.put)
        server.route("HEAD", r"/api/v1/blobs/[0-9a-f]{64}", self.head)
        server.route("GET", r"/api/v1/blobs/[0-9a-f]{64}", self.get)
        server.route("POST", "/api/v1/blobs/present", self.present)
        server.route("POST", r"/api/v1/blobs/[0-9a-f]{64}/uploads", self.open)
        server.route("PATCH", "/api/v1/uploads/u1", self.patch)
        server.route("GET", "/api/v1/uploads/u1", self.status)
        server.route("PUT", "/api/v1/uploads/u1", self.finish)
        server.route("DELETE", "/api/v1/uploads/u1", self.abort)

    def _sha(self, request: Request) -> str:
        return request.path.split("/")[4]

    def put(self, request: Request) -> Reply:
        sha = self._sha(request)
        if hashlib.sha256(request.body).hexdigest() != sha:
            return error(422, "IntegrityError", "the bytes are not the blob")
        self.blobs[sha] = request.body
        return Reply(201)

    def head(self, request: Request) -> Reply:
        found = self.blobs.get(self._sha(request))
        return Reply(404) if found is None else Reply(200, b"", {"Content-Length": str(len(found))})

    def get(self, request: Request) -> Reply:
        data = self.blobs[self._sha(request)]
        start, end = request.headers["range"].removeprefix("bytes=").split("-")
        last = min(int(end), len(data) - 1)
        content_range = f"bytes {start}-{last}/{len(data)}"
        return Reply(206, data[int(start) : last + 1], {"Content-Range": content_range})

    def present(self, request: Request) -> Reply:
        asked = request.json()["blobs"]
        found = [sha in self.blobs and len(self.blobs[sha]) == size for sha, size in asked]
        return Reply(200, {"present": found})

    def open(self, request: Request) -> Reply:
        self.session = {"sha256": self._sha(request), "size": request.json()["size"], "data": b""}
        return Reply(201, {"upload": "u1", "offset": 0, "chunk": CHUNK})

    def patch(self, request: Request) -> Reply:
        offset = int(request.headers["upload-offset"])
        with self.lock:
            if offset in self.drop_patch_at:
                self.drop_patch_at.discard(offset)
                return DROP  # the chunk is not stored: a cut chunk stores nothing
            data = self.session["data"]
            assert isinstance(data, bytes)
            if offset != len(data):
                return error(416, "InvalidInputError", "wrong offset")
            self.session["data"] = data + request.body
            return Reply(202, {"offset": offset + len(request.body)})

    def status(self, request: Request) -> Reply:
        data = self.session["data"]
        assert isinstance(data, bytes)
        return Reply(200, {"offset": len(data), "size": self.session["size"]})

    def finish(self, request: Request) -> Reply:
        if self.finish_answers:
            return self.finish_answers.pop(0)
        if not self.session:
            return error(404, "ObjectNotFoundError", "no upload session u1")
        data = self.session["data"]
        assert isinstance(data, bytes)
        sha = self.session["sha256"]
        assert isinstance(sha, str)
        if hashlib.sha256(data).hexdigest() != sha:
            return error(422, "IntegrityError", "the bytes are not the blob")
        self.blobs[sha] = data
        self.session = {}  # finished: the session is gone, as the registry deletes it
        if self.lose_finish_answers:
            self.lose_finish_answers -= 1
            return DROP
        return Reply(201)

    def abort(self, request: Request) -> Reply:
        self.session = {}
        return Reply(204)


@pytest.fixture
def registry() -> Iterator[tuple[ScriptServer, BlobRegistry]]:
    with running() as server:
        yield server, BlobRegistry(server)


@pytest.fixture
def store(registry: tuple[ScriptServer, BlobRegistry]) -> Iterator[HttpStore]:
    opened = HttpStore(registry[0].url, token="msr_ci_x")
    opened._transport._max_wait = 0.01  # a 503's Retry-After, cut short
    yield opened
    opened.close()


def _file(tmp_path: Path, size: int) -> tuple[Path, str]:
    data = bytes((i * 7 + i // 251) % 256 for i in range(size))
    path = tmp_path / f"f{size}"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def test_a_small_file_goes_in_one_put_and_reads_back_verified(
    registry: tuple[ScriptServer, BlobRegistry], store: HttpStore, tmp_path: Path
) -> None:
    server, blobs = registry
    path, sha = _file(tmp_path, 3000)
    store.put_blob(sha, path)
    assert blobs.blobs[sha] == path.read_bytes()
    put = server.requests("PUT")[0]
    assert put.headers["content-length"] == "3000" and put.headers["authorization"]
    assert store.has_blob(sha, 3000) and not store.has_blob(sha, 2999)
    download_verified(store.open_blob(sha), 3000, sha, tmp_path / "back", label="f")
    assert (tmp_path / "back").read_bytes() == path.read_bytes()
    store.put_blob(hashlib.sha256(b"hi").hexdigest(), HashedBytes(b"hi"))
    assert b"hi" in blobs.blobs.values()


def test_a_large_file_goes_through_a_session_that_resumes_after_a_dropped_chunk(
    registry: tuple[ScriptServer, BlobRegistry], store: HttpStore, tmp_path: Path
) -> None:
    server, blobs = registry
    path, sha = _file(tmp_path, 5500)
    blobs.drop_patch_at = {2000, 4000}
    store.put_blob(sha, path)
    assert blobs.blobs[sha] == path.read_bytes()
    patches = [int(r.headers["upload-offset"]) for r in server.requests("PATCH")]
    assert patches == [0, 1000, 2000, 2000, 3000, 4000, 4000, 5000]
    assert all(int(r.headers["content-length"]) <= CHUNK for r in server.requests("PATCH"))
    assert len(server.requests("GET", "/api/v1/uploads/u1")) == 2  # asked where to resume
    assert len(server.requests("PUT", "/api/v1/uploads/u1")) == 1


def test_a_file_changed_since_it_was_hashed_stores_nothing(
    registry: tuple[ScriptServer, BlobRegistry], store: HttpStore, tmp_path: Path
) -> None:
    server, blobs = registry
    small, small_sha = _file(tmp_path, 100)
    small.write_bytes(b"x" * 100)  # same size, other bytes
    with pytest.raises(SourcePathError, match="changed while being pushed"):
        store.put_blob(small_sha, small, 100)
    large, large_sha = _file(tmp_path, 5500)
    large.write_bytes(b"y" * 5500)
    with pytest.raises(SourcePathError, match="changed while being pushed"):
        store.put_blob(large_sha, large, 5500)
    assert blobs.blobs == {}
    assert server.requests("PUT", "/api/v1/uploads/u1") == []  # never finished
    assert len(server.requests("DELETE", "/api/v1/uploads/u1")) == 1  # the session dropped


def test_a_damaged_blob_of_another_store_is_refused_as_integrity_error(
    registry: tuple[ScriptServer, BlobRegistry], store: HttpStore, tmp_path: Path
) -> None:
    server, blobs = registry
    damaged = hashlib.sha256(b"whatever").hexdigest()
    blobs.blobs[damaged] = b"damaged bytes!"  # its bytes no longer hash to its name
    wanted = hashlib.sha256(b"original bytes").hexdigest()
    with pytest.raises(IntegrityError):
        store.put_blob(wanted, store.open_blob(damaged), 14)
    assert wanted not in blobs.blobs
    # The check fails before the last byte leaves: the registry never gets a whole body.
    assert all(len(r.body) < 14 for r in server.requests("PUT"))


def test_concurrent_lookups_go_in_batches(
    registry: tuple[ScriptServer, BlobRegistry], store: HttpStore, tmp_path: Path
) -> None:
    server, blobs = registry
    stored = {hashlib.sha256(bytes([i])).hexdigest(): 1 for i in range(0, 200, 2)}
    for sha in stored:
        blobs.blobs[sha] = b"x"
    asked = [(hashlib.sha256(bytes([i])).hexdigest(), 1) for i in range(200)]
    finder = store.blob_finder(len(asked))
    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda pair: finder(*pair), asked))
    assert found == [i % 2 == 0 for i in range(200)]
    posts = server.requests("POST", "/api/v1/blobs/present")
    assert 1 <= len(posts) < 200
    assert sum(len(p.json()["blobs"]) for p in posts) == 200


@pytest.mark.parametrize("first", ["503", "dropped", "stored, answer lost"])
def test_a_finish_that_fails_in_passing_is_sent_again_and_the_session_never_aborted(
    registry: tuple[ScriptServer, BlobRegistry], store: HttpStore, tmp_path: Path, first: str
) -> None:
    server, blobs = registry
    path, sha = _file(tmp_path, 5500)
    finishes = "/api/v1/uploads/u1"
    if first == "503":
        blobs.finish_answers = [error(503, "StoreUnavailableError", "busy")]
    elif first == "dropped":
        blobs.finish_answers = [DROP]
    else:
        blobs.lose_finish_answers = 1  # the first finish stores the blob, its answer is lost
    store.put_blob(sha, path)
    assert blobs.blobs[sha] == path.read_bytes()
    assert len(server.requests("PUT", finishes)) == 2
    assert server.requests("DELETE", finishes) == []  # never aborted


def test_a_finish_unavailable_after_every_try_keeps_the_session(
    registry: tuple[ScriptServer, BlobRegistry], store: HttpStore, tmp_path: Path
) -> None:
    server, blobs = registry
    path, sha = _file(tmp_path, 5500)
    blobs.finish_answers = [error(503, "StoreUnavailableError", "busy")] * 5
    with pytest.raises(StoreUnavailableError):
        store.put_blob(sha, path)
    assert len(server.requests("PUT", "/api/v1/uploads/u1")) == 5
    assert server.requests("DELETE", "/api/v1/uploads/u1") == []  # the registry may finish it
    assert blobs.session  # still there: a later push, or the registry's sweep, ends it
