"""A tiny scripted HTTP server on 127.0.0.1 for tests of the registry client's HTTP behaviour
(retries, redirects, headers, errors, uploads): each test says what a route answers, the server
records every request it got. A real server on loopback, in a thread: the client's real
httpx client talks to it over a real socket (and TLS, given an ssl context).
"""

from __future__ import annotations

import json
import re
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["DROP", "Reply", "Request", "ScriptServer", "error", "running"]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    """An answer; ``stream`` (pieces written one by one, ``Content-Length`` as ``headers`` say,
    else the connection closes after them) replaces ``body`` for answers too large to hold."""

    status: int = 200
    body: bytes | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterable[bytes] | None = None


DROP = Reply(status=-1)
"""Close the connection without answering (a dropped connection)."""

Route = Callable[[Request], Reply]


def error(status: int, kind: str, message: str, **attrs: Any) -> Reply:
    """An error answer as the registry writes it."""
    body = {"error": {"type": kind, "message": message, "fix": "", "fix_values": {},
                      "attrs": attrs}}  # fmt: skip
    return Reply(status, body)


class ScriptServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: list[tuple[str, re.Pattern[str], Route]] = []
        self.seen: list[Request] = []
        self.streamed = 0  # bytes of streamed answers written to a socket, all told
        self.lock = threading.Lock()
        if context is not None:
            self.socket = context.wrap_socket(self.socket, server_side=True)
        self.scheme = "https" if context is not None else "http"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a refused TLS handshake or a client that hung up: what some tests do

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server_address[1]}"

    def route(self, method: str, pattern: str, answer: Route | Reply) -> None:
        """Answer ``method`` on paths matching ``pattern`` (a regex, whole path); the latest
        route given wins."""
        fn = answer if callable(answer) else (lambda _request, reply=answer: reply)
        self.routes.insert(0, (method, re.compile(pattern), fn))

    def requests(self, method: str | None = None, path: str | None = None) -> list[Request]:
        with self.lock:
            return [
                r
                for r in self.seen
                if (method is None or r.method == method) and (path is None or r.path == path)
            ]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One write per answer, sent at once: headers and body apart meet the client's delayed ACK
    # (40 ms an answer on Linux loopback).
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: ScriptServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(self.command, parts.path, query, headers, body)
        with self.server.lock:
            self.server.seen.append(request)
        reply = next(
            (
                fn(request)
                for method, pattern, fn in self.server.routes
                if method == self.command and pattern.fullmatch(parts.path)
            ),
            Reply(404, {"detail": "no route"}),
        )
        if reply.status == -1:
            self.close_connection = True
            return
        if reply.stream is not None:
            self._stream(reply)
            return
        raw = json.dumps(reply.body).encode() if isinstance(reply.body, dict | list) else reply.body
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        if "Content-Length" not in reply.headers:
            self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)

    def _stream(self, reply: Reply) -> None:
        assert reply.stream is not None
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        if "Content-Length" not in reply.headers:
            self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for piece in reply.stream:
                self.wfile.write(piece)
                with self.server.lock:
                    self.server.streamed += len(piece)
        except OSError:
            pass  # the client hung up: what a client that refuses the answer does

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle  # noqa: N815


@contextmanager
def running(context: ssl.SSLContext | None = None) -> Iterator[ScriptServer]:
    """A scripted server, serving in a thread until the block ends."""
    server = ScriptServer(context)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
