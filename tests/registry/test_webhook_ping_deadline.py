"""``webhook test`` holds a receiver to one deadline for the whole delivery: a receiver that
answers a byte at a time (each read well inside httpx's per-read timeout) is cut off, as the
dispatcher cuts it off, instead of holding an admin's request for as long as it likes."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelshelf.backends.registry import open_backend
from modelshelf.registry.webhooks.hooks import HookBook
from modelshelf.registry.webhooks.sender import ping
from modelshelf.store.bucket import Store


@pytest.fixture
def trickling_receiver() -> Iterator[str]:
    """Answers ``HTTP/1.1 200 OK`` one byte every 0.2 s (4 s for the status line)."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                    if stop.wait(0.2):
                        return
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    finally:
        stop.set()
        thread.join(5)
        server.close()


def test_a_trickling_receiver_is_cut_off_at_the_deadline(
    trickling_receiver: str, tmp_path: Path
) -> None:
    store = Store(open_backend((tmp_path / "store").as_uri()))
    store.create()
    hook, _ = HookBook(store).add(trickling_receiver, ["push"], "", who="admin")
    attempt = ping(store, hook, "admin", timeout=1.0)
    # Cut off by the deadline: the receiver would have answered 200 in the end.
    assert attempt.status is None and attempt.error is not None
    assert "timed out" in attempt.error
    assert attempt.outcome == "failed"
