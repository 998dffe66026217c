"""What the webhook tests share: a receiver on loopback that records every delivery, the
registry's app served by uvicorn in a thread (lifespan on: the dispatcher runs), short
settings, and a registry process for the tests that kill one (webhook_registry_app.py)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.registry.registry_blob_app import served
from tests.servers.seaweed import halt_group

from modelshelf.registry.app import create_app
from modelshelf.registry.webhooks.dispatcher import WebhookSettings
from modelshelf.registry.webhooks.schedule import RetryPolicy
from modelshelf.store.bucket import Store

REPO = Path(__file__).resolve().parents[2]

FAST = WebhookSettings(
    retry=RetryPolicy(first_delay=0.05, max_delay=0.4, give_up_after=3600.0),
    timeout=2.0,
    poll_every=0.05,
    settle_seconds=1.0,
    lease_ttl=3.0,
    hooks_every=0.2,
    cursor_every=0.1,
)
"""Seconds where the defaults have minutes: the same code, a short clock."""


def settings_json(settings: WebhookSettings) -> str:
    fields = dict(settings.__dict__)
    fields["retry"] = dict(settings.retry.__dict__)
    return json.dumps(fields)


def settings_from_json(text: str) -> WebhookSettings:
    fields = json.loads(text)
    fields["retry"] = RetryPolicy(**fields["retry"])
    return WebhookSettings(**fields)


@dataclass(frozen=True)
class Received:
    """One request the receiver got, and what it answered."""

    at: float  # time.time() when it arrived
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def data(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def delivery(self) -> str:
        return str(self.data["id"])


Decide = Callable[[dict[str, Any], int], tuple[int, float]]
"""(body, how many times this delivery id came before) -> (status to answer, seconds to wait)."""


def always(status: int = 200) -> Decide:
    return lambda body, seen: (status, 0.0)


class Receiver:
    """A threaded HTTP server on 127.0.0.1 recording every POST it gets."""

    def __init__(self, decide: Decide | None = None) -> None:
        self.decide = decide or always(200)
        self.received: list[Received] = []
        self.answered = 0  # requests answered (after their wait)
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(min(length, 4 << 20))
                data = json.loads(body)
                with owner._lock:
                    seen = sum(1 for r in owner.received if r.delivery == data["id"])
                status, wait = owner.decide(data, seen)
                arrived = time.time()
                with owner._lock:
                    owner.received.append(Received(arrived, dict(self.headers), body, status))
                time.sleep(wait)
                with owner._lock:
                    owner.answered += 1
                with contextlib.suppress(OSError):
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False  # a hanging answer must not hold the test's end
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def got(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def delivered(self) -> list[Received]:
        return [r for r in self.got() if 200 <= r.status < 300]

    def wait(self, done: Callable[[list[Received]], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not done(self.got()):
            if time.monotonic() > deadline:
                seen = [(r.data["asset"], r.status) for r in self.got()]
                raise AssertionError(f"not there after {timeout}s; got {seen}")
            time.sleep(0.02)


@contextlib.contextmanager
def served_registry(store: Store, settings: WebhookSettings = FAST) -> Iterator[str]:
    """The whole registry app over ``store`` in a uvicorn thread, lifespan on (so its
    background tasks run); yields its base URL; stops it cleanly at the end."""
    app = create_app(store)
    app.state.webhook_settings = settings
    with served(app, lifespan="on") as url:
        yield url


class RegistryApp:
    """The registry app with webhook settings in a process of its own
    (tests/registry/webhook_registry_app.py), to be killed like a crashed replica."""

    def __init__(self, store_url: str, workdir: Path, settings: WebhookSettings = FAST,
                 env: dict[str, str] | None = None,
                 options: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.store_url, self.workdir, self.settings = store_url, workdir, settings
        self.env, self.options = dict(env or {}), dict(options or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> RegistryApp:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}", **self.env}
        with (self.workdir / "registry.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("webhook_registry_app.py")),
                 self.store_url, settings_json(self.settings), json.dumps(self.options)],
                env=env, cwd=self.workdir, stdout=subprocess.PIPE, stderr=log,
                start_new_session=True,
            )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        if not line.isdigit():
            self.stop()
            raise RuntimeError(f"the registry app did not start: {self.log_tail()}")
        self.url = f"http://127.0.0.1:{line}"
        return self

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed, the lease left to expire."""
        self.stop(sig=signal.SIGKILL)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            halt_group(proc, sig, 10.0)
            if proc.stdout is not None:
                proc.stdout.close()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def log_tail(self) -> str:
        log = self.workdir / "registry.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else "<no log>"
