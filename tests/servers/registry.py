"""Run the real ``modelshelf registry serve`` on loopback, in front of a store, for tests.

:class:`RegistryProcess` is one server process: ``python -m modelshelf registry serve`` with this
checkout's ``src`` first on ``PYTHONPATH``, bound to 127.0.0.1 on a free port, its output in a
log file, ready when ``GET /api/v1`` answers 200, stopped by its PID (its process group).

:class:`RegistryStores` is the conformance suite's ``http-file`` and ``http-s3`` kinds
(:class:`RegistryFileStores`, :class:`RegistryS3Stores`). A registry serves one store, and each
test wants a fresh empty one, so each test gets a registry process of its own over a fresh
backing store (a temp folder, or a key prefix of a bucket on the session's shared SeaweedFS),
started when the test asks for its store and stopped when the test ends (``end_store``). A
start costs about what the interpreter's imports cost (measured ~0.3-0.6 s on the test
machine); one process serving many stores under URL prefixes would save that, but would test
a server the CLI never runs.

Before the server starts, an ``admin:*`` token is written straight into the backing store with
:class:`~modelshelf.registry.tokens.TokenBook`; the test's :class:`RemoteStore` carries it as the
``token`` option and as ``MODELSHELF_TOKEN``, and its ``backing`` is the store behind the
registry (a ``file`` or ``s3`` :class:`RemoteStore`), where hostile tests plant data.
"""

from __future__ import annotations

import http.client
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from tests.servers import shared
from tests.servers.remote import RemoteStore
from tests.servers.seaweed import SeaweedStores, halt_group
from tests.servers.serve_process import HOST, clean_env, free_port

from modelshelf.backends import open_backend
from modelshelf.store.bucket import Store

REPO = Path(__file__).resolve().parents[2]
ADMIN = "admin"
"""The name of the ``admin:*`` token every test registry starts with."""


class RegistryError(RuntimeError):
    """The registry process did not start, or did not answer in time."""


def admin_token(
    backing: RemoteStore, name: str = ADMIN, scopes: Sequence[str] = ("admin:*",)
) -> str:
    """Write a token straight into ``backing`` (as an admin holding the bucket's credentials
    does) and return its text."""
    from modelshelf.registry.tokens import TokenBook

    store = Store(open_backend(backing.url, **backing.options))
    store.create()
    text, _ = TokenBook(store).create(name, list(scopes), None, created_by="tests")
    return str(text)


class RegistryProcess:
    """One ``modelshelf registry serve`` process over ``store_url``.

    Args:
        store_url: the backing store (a bucket URL); its settings come from ``env``.
        workdir: the process's log and cache folder.
        env: extra environment variables (the backing store's credentials).
        args: extra arguments of ``registry serve``.
    """

    def __init__(
        self,
        store_url: str,
        workdir: Path,
        *,
        env: dict[str, str] | None = None,
        args: Sequence[str] = (),
        startup_timeout: float = 30.0,
    ) -> None:
        self.store_url = store_url
        self.workdir = workdir
        self.extra_env = dict(env or {})
        self.args = list(args)
        self.startup_timeout = startup_timeout
        self.port = 0
        self.startup_seconds = 0.0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def https(self) -> bool:
        """True when started with ``--certfile`` (and ``--keyfile``)."""
        return "--certfile" in self.args

    @property
    def url(self) -> str:
        return f"{'https' if self.https else 'http'}://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def environment(self) -> dict[str, str]:
        env = clean_env()
        # This checkout's source first: the server runs the code under test, not an install.
        env["PYTHONPATH"] = str(REPO / "src")
        env["MODELSHELF_CACHE_DIR"] = str(self.workdir / "cache")
        env.update(self.extra_env)
        return env

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "modelshelf", "registry", "serve", "--store", self.store_url,
            "--host", HOST, "--port", str(self.port), *self.args,
        ]  # fmt: skip

    def start(self, attempts: int = 3) -> None:
        """Start on a free port and wait until ``GET /api/v1`` answers; retry on a port race."""
        shared.refuse_in_no_server_runs("registry serve")
        self.workdir.mkdir(parents=True, exist_ok=True)
        for attempt in range(attempts):
            self.port = free_port()
            try:
                self._start_once()
                return
            except RegistryError:
                self.stop()
                if attempt == attempts - 1 or "address already in use" not in self.log_tail():
                    raise

    def _start_once(self) -> None:
        t0 = time.monotonic()
        with (self.workdir / "registry.log").open("ab") as log:
            self._proc = subprocess.Popen(
                self.command(), env=self.environment(), cwd=self.workdir,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = t0 + self.startup_timeout
        while not self.ready():
            if self._proc.poll() is not None:
                raise RegistryError(
                    f"registry serve exited with {self._proc.returncode}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise RegistryError(
                    f"registry not ready after {self.startup_timeout}s:\n{self.log_tail()}"
                )
            time.sleep(0.02)
        self.startup_seconds = time.monotonic() - t0

    def ready(self) -> bool:
        conn = (
            # Only asks whether it answers: the tests check the certificate themselves.
            http.client.HTTPSConnection(
                HOST, self.port, timeout=2, context=ssl._create_unverified_context()
            )
            if self.https
            else http.client.HTTPConnection(HOST, self.port, timeout=2)
        )
        try:
            conn.request("GET", "/api/v1")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def stop(self, grace: float = 5.0, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop the process group by PID: ``sig``, then SIGKILL after ``grace`` seconds.

        SIGTERM lets requests in flight finish (uvicorn takes ~0.2 s to exit even when idle);
        a registry keeps no state of its own (it is all in the backing store), so SIGKILL
        loses nothing once no request is in flight.
        """
        proc, self._proc = self._proc, None
        if proc is not None:
            halt_group(proc, sig, grace)

    def log_tail(self, lines: int = 40) -> str:
        log = self.workdir / "registry.log"
        if not log.exists():
            return "<no log>"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


class RegistryStores:
    """A registry on loopback in front of a fresh backing store for each test.

    Follows ``tests/servers/remote.py``'s StoreServer contract, plus ``end_store(store)``,
    which the conformance suite calls when the test ends.
    """

    BACKING: ClassVar[str] = ""

    def __init__(self) -> None:
        self._root: Path | None = None
        self._seaweed: SeaweedStores | None = None
        self._running: dict[str, RegistryProcess] = {}

    def start(self) -> None:
        shared.refuse_in_no_server_runs(f"registry over {self.BACKING}")
        base = "/var/tmp" if Path("/var/tmp").is_dir() else None
        self._root = Path(tempfile.mkdtemp(prefix="modelshelf-registry-", dir=base))
        if self.BACKING == "s3":
            self._seaweed = SeaweedStores("modelshelf-registry")
            self._seaweed.start()

    def stop(self) -> None:
        for url in list(self._running):
            self._running.pop(url).stop()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def backing_store(self, test_name: str) -> RemoteStore:
        """A fresh, empty store of the backing kind (not yet behind any registry)."""
        assert self._root is not None, "start() first"
        if self._seaweed is not None:
            return self._seaweed.new_store(test_name)
        name = f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', test_name)[:60]}-{uuid.uuid4().hex[:8]}"
        return RemoteStore(kind="file", url=(self._root / "stores" / name).as_uri())

    def serve(self, backing: RemoteStore, args: Sequence[str] = ()) -> RegistryProcess:
        """Start one more registry process over ``backing`` (a replica, when one runs)."""
        assert self._root is not None, "start() first"
        workdir = self._root / "procs" / uuid.uuid4().hex[:12]
        process = RegistryProcess(backing.url, workdir, env=backing.env, args=args)
        process.start()
        self._running[process.url] = process
        return process

    def new_store(self, test_name: str) -> RemoteStore:
        backing = self.backing_store(test_name)
        token = admin_token(backing)
        process = self.serve(backing)
        return RemoteStore(
            kind=f"http-{self.BACKING}",
            url=process.url,
            options={"token": token},
            env={"MODELSHELF_TOKEN": token},
            server=self,
            backing=backing,
        )

    def process(self, store: RemoteStore) -> RegistryProcess:
        """The registry process that serves ``store``."""
        return self._running[store.url]

    def end_store(self, store: RemoteStore) -> None:
        """Stop the registry of a test that ended (its backing store is thrown away with the
        session's temp folder, or stays in the bucket under its own prefix).

        SIGKILL: the test is over, so no request is in flight, and a graceful stop would cost
        each test ~0.2 s more.
        """
        process = self._running.pop(store.url, None)
        if process is not None:
            process.stop(sig=signal.SIGKILL)


class RegistryFileStores(RegistryStores):
    """The ``http-file`` kind: a registry in front of a ``file://`` folder."""

    BACKING = "file"


class RegistryS3Stores(RegistryStores):
    """The ``http-s3`` kind: a registry in front of a prefix of a SeaweedFS bucket."""

    BACKING = "s3"
