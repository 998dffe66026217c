"""A registry's blob read takes no more than it asked for, against a real server on loopback
(tests/http_script.py): an answer of 200 MiB to a 1 KiB range is refused after about one piece
read, whether the registry sends it or the presigned URL it redirects to; a 206 whose
Content-Range or Content-Length is not the range asked, and a 200 to a range past offset 0, are
refused before their body is read."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.http_script import Reply, ScriptServer, running

from modelshelf.errors import StoreError, UntrustedStoreDataError
from modelshelf.store.http import HttpStore

SHA = "cd" * 32
MIB = 1 << 20
ASKED = 1024


def _flood(total: int = 200 * MIB) -> Iterator[bytes]:
    for _ in range(total // MIB):
        yield b"x" * MIB


@pytest.fixture
def server() -> Iterator[ScriptServer]:
    with running() as scripted:
        yield scripted


def _store(server: ScriptServer) -> tuple[HttpStore, list[httpx.Response]]:
    """A registry store whose answers are kept, to count the bytes it read of each."""
    store = HttpStore(server.url, token="msr_ci_eA")
    answers: list[httpx.Response] = []
    store._transport.client.event_hooks["response"] = [answers.append]
    return store, answers


@pytest.mark.parametrize("redirected", [False, True])
@pytest.mark.parametrize("declared", [True, False])
def test_200_mib_answered_to_a_1_kib_range_is_refused_after_one_piece(
    server: ScriptServer, redirected: bool, declared: bool
) -> None:
    # A Content-Range and Content-Length of the range asked, then 200 MiB; or no length: the
    # body ends when the connection closes, the one framing that lets a server send on.
    headers = {"Content-Range": f"bytes 0-{ASKED - 1}/{ASKED}"}
    if declared:
        headers["Content-Length"] = str(ASKED)
    flood = lambda _request: Reply(206, headers=headers, stream=_flood())  # noqa: E731
    if redirected:
        location = {"Location": f"{server.url}/presigned/{SHA}"}
        server.route("GET", f"/api/v1/blobs/{SHA}", Reply(307, b"", location))
        server.route("GET", f"/presigned/{SHA}", flood)
    else:
        server.route("GET", f"/api/v1/blobs/{SHA}", flood)
    store, answers = _store(server)
    blob = store._transport  # the registry named in the refusal
    reader = store.open_blob(SHA)
    if redirected:
        reader._direct_up_to = 0  # type: ignore[attr-defined]  # let the registry redirect
    if declared:  # HTTP's own framing stops at the Content-Length: the rest is never read
        assert reader.read_range(0, ASKED) == b"x" * ASKED
    else:
        with pytest.raises(UntrustedStoreDataError, match="more than the 1024 bytes") as caught:
            reader.read_range(0, ASKED)
        assert blob.url in str(caught.value)
    read = sum(answer.num_bytes_downloaded for answer in answers)
    assert read <= ASKED + 64 * 1024, read  # the range, plus one piece of the socket at most
    store.close()


def test_a_206_that_is_not_the_range_asked_is_refused_before_its_body(
    server: ScriptServer,
) -> None:
    route = f"/api/v1/blobs/{SHA}"
    store, answers = _store(server)
    reader = store.open_blob(SHA)
    wrong = {
        "another range": {"Content-Range": "bytes 0-1023/4096", "Content-Length": "1024"},
        "a longer range": {"Content-Range": "bytes 10-4095/4096", "Content-Length": "4086"},
        "a larger length": {"Content-Range": "bytes 10-1033/4096", "Content-Length": "9999999"},
        "no Content-Range": {"Content-Length": "1024"},
    }
    for case, headers in wrong.items():
        server.route("GET", route, Reply(206, headers=headers, stream=_flood(8 * MIB)))
        with pytest.raises(UntrustedStoreDataError, match=store.url):
            reader.read_range(10, 10 + ASKED)
        assert answers[-1].num_bytes_downloaded <= 64 * 1024, case
    server.route("GET", route, Reply(200, headers={"Content-Length": "4096"}, stream=_flood()))
    with pytest.raises(StoreError, match="does not honour ranged reads"):
        reader.read_range(10, 10 + ASKED)  # the whole blob is not bytes 10-1033
    with pytest.raises(UntrustedStoreDataError, match="answered 4096 bytes where 1024"):
        reader.read_range(0, ASKED)  # nor more of it than asked from offset 0
    store.close()


def test_a_range_answered_as_asked_reads_back(server: ScriptServer) -> None:
    data = bytes(range(256)) * 16
    headers = {"Content-Range": f"bytes 100-1123/{len(data)}"}
    server.route("GET", f"/api/v1/blobs/{SHA}", Reply(206, data[100:1124], headers))
    store, _ = _store(server)
    assert store.open_blob(SHA).read_range(100, 1124) == data[100:1124]
    whole = {"Content-Length": str(len(data))}
    server.route("GET", f"/api/v1/blobs/{SHA}", Reply(200, data, whole))
    assert store.open_blob(SHA).read_range(0, len(data)) == data  # a 200 for all of it
    store.close()
