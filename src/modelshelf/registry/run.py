"""Running the registry on uvicorn for ``modelshelf registry serve``: address, workers, TLS.

As ``modelshelf serve`` does, the socket is bound here before uvicorn logs a line, so a port in
use is one error (:class:`~modelshelf.errors.ServeAddressError`), and the store is opened (and
the anonymous-read prefixes checked) before the port opens. With ``--workers N`` uvicorn starts
N processes that each build the app from :func:`app_from_environment` (settings travel as JSON
in ``MODELSHELF_REGISTRY_CONFIG``); the app is stateless over its store, so the workers, like
replicas on other machines, behave as one registry.

uvicorn's access log shows method, path and status: never a header, so never a token.
"""

from __future__ import annotations

import ctypes
import hashlib
import ipaddress
import json
import logging
import os
import secrets
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from modelshelf import constants
from modelshelf._bind import bind, listening_at
from modelshelf.errors import InvalidInputError, ServeError

__all__ = ["app_from_environment", "is_loopback", "proxy_options", "serve_registry", "serve_ui"]

log = logging.getLogger("modelshelf.registry")

_CONFIG_ENV = "MODELSHELF_REGISTRY_CONFIG"


def serve_registry(
    store: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    certfile: str | Path | None = None,
    keyfile: str | Path | None = None,
    anonymous_read: tuple[str, ...] | list[str] = (),
    redirect: bool = True,
    spool_dir: str | Path | None = None,
    backend_options: Mapping[str, Any] | None = None,
    forwarded_allow_ips: str | None = None,
) -> None:
    """Serve the registry over ``store`` until SIGINT/SIGTERM; requests in flight finish first.

    Args:
        store: the bucket store's URL (``s3://...``, ``file:///...``).
        workers: uvicorn worker processes, each a replica over the same store.
        certfile: with ``keyfile``, serve HTTPS with this certificate (PEM).
        backend_options: the store's settings (``endpoint``, ...); with several workers they
            reach them through the environment of the worker processes.
        forwarded_allow_ips: the proxies (comma-separated addresses, or ``*``) whose
            ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed; by default none's.

    Raises:
        InvalidInputError: a bad prefix, worker count or TLS file.
        ServeAddressError: the port is in use or reserved, or the host is not here.
        ServeError: uvicorn stopped while starting.
    """
    import uvicorn

    _bound_allocator()
    if workers < 1:
        raise InvalidInputError(f"the registry needs 1 worker or more, not {workers}")
    tls = _tls_files(certfile, keyfile)
    settings = {
        "session_secret": _session_secret().hex(),
        "store": store,
        "options": dict(backend_options or {}),
        "anonymous_read": list(anonymous_read),
        "redirect": redirect,
        "spool_dir": str(spool_dir) if spool_dir is not None else None,
    }
    app = _build(settings)  # the store opens and every setting is checked before the bind
    sock = bind(host, port)
    common: dict[str, Any] = {
        "timeout_graceful_shutdown": None,
        **tls,
        **proxy_options(forwarded_allow_ips),
    }
    scheme = "https" if tls else "http"
    try:
        if workers == 1:
            server = uvicorn.Server(uvicorn.Config(app, **common))
            log.info("registry listening on %s (Ctrl-C to stop)", listening_at(sock, scheme))
            _run(lambda: server.run(sockets=[sock]))
            return
        from uvicorn.supervisors import Multiprocess

        os.environ[_CONFIG_ENV] = json.dumps(settings)
        config = uvicorn.Config(
            f"{__name__}:app_from_environment", factory=True, workers=workers, **common
        )
        log.info("registry listening on %s (Ctrl-C to stop)", listening_at(sock, scheme))
        _run(lambda: Multiprocess(config, sockets=[sock]).run())
    finally:
        sock.close()


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve_ui(
    store: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8090,
    backend_options: Mapping[str, Any] | None = None,
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Serve the pages over ``store`` for the one user running this (``modelshelf ui``), until
    SIGINT/SIGTERM: no tokens, every read and write allowed, recorded as that user.

    Args:
        on_listening: called once the socket is bound with the URL to open, which holds the
            process's secret (``?ui-token=``; the CLI prints it): the ui answers only a
            browser that opened it, at the address it listens on.

    Raises:
        InvalidInputError: ``host`` is not a loopback address (anyone who reached it could
            write as this user).
        ServeAddressError: the port is in use.
    """
    import uvicorn

    from modelshelf.registry.app import create_app
    from modelshelf.registry.pages.session import LocalUser
    from modelshelf.store._shared import actor

    if not is_loopback(host):
        raise InvalidInputError(
            f"modelshelf ui serves one user without tokens, so it listens on this machine only:"
            f" {host} is not a loopback address; use 127.0.0.1 (or run `modelshelf registry"
            " serve`, which has tokens, for others)"
        )
    who = actor()
    user = LocalUser(who["user"], who["host"])
    app = create_app(store, local_user=user, **dict(backend_options or {}))
    sock = bind(host, port)
    user.access.listen(*sock.getsockname()[:2])  # only this Host (and loopback names) answered
    try:
        server = uvicorn.Server(
            # No access log: its lines would hold the secret of the URL opened first.
            uvicorn.Config(
                app, timeout_graceful_shutdown=None, proxy_headers=False, access_log=False
            )
        )
        if on_listening is not None:
            on_listening(user.access.entry_url(listening_at(sock)))
        _run(lambda: server.run(sockets=[sock]))
    finally:
        sock.close()


def proxy_options(forwarded_allow_ips: str | None) -> dict[str, Any]:
    """uvicorn's settings for proxy headers: believed only from the proxies given.

    uvicorn believes ``X-Forwarded-For`` from 127.0.0.1 by default, so any client on the
    registry's machine could write another address into the ``host`` of the audit records
    (``registry from <address>``). Without ``forwarded_allow_ips`` the headers are ignored.
    """
    if forwarded_allow_ips is None:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": forwarded_allow_ips}


def _tls_files(certfile: str | Path | None, keyfile: str | Path | None) -> dict[str, str]:
    if certfile is None and keyfile is None:
        return {}
    if certfile is None or keyfile is None:
        raise InvalidInputError(
            "HTTPS needs both a certificate file and its key file; give both or neither"
        )
    for what, path in (("certificate", certfile), ("key", keyfile)):
        if not Path(path).is_file():
            raise InvalidInputError(f"the TLS {what} file {path} does not exist; give its path")
    return {"ssl_certfile": str(certfile), "ssl_keyfile": str(keyfile)}


def _run(target: Any) -> None:
    """Run uvicorn; its start-up ``sys.exit(3)`` becomes our error, a SIGTERM a clean exit."""
    previous = signal.signal(signal.SIGTERM, _ignore)
    try:
        target()
    except SystemExit as exc:
        if exc.code:
            raise ServeError(
                f"the registry stopped while starting (uvicorn exit code {exc.code}); the lines"
                " above say why"
            ) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _ignore(_signum: int, _frame: object) -> None:
    """Takes the SIGTERM uvicorn re-raises after it has shut down gracefully."""


def _bound_allocator() -> None:
    """Keep the server's memory near what it uses (glibc only; other allocators keep theirs).

    glibc gives each thread that allocates an arena of its own (up to 8 per core) and, after the
    first large block is freed, serves blocks up to 32 MiB from them rather than from mmap: with
    a request's 1-8 MiB buffers made on many threads, freed memory stays in the process. Measured
    with 8 clients pushing 256 MiB each, 4 blob writes at once (``make bench-registry --quick
    --clients 8 --client-mib 256``): peak 509 MiB with glibc's defaults (one run), 273-360 MiB
    with 2 arenas and a fixed 1 MiB mmap threshold (six runs, set here or by the environment
    alike). Worker processes get the same through the environment, which glibc reads when they
    start.
    """
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(1 << 20))
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(-8, 2)  # M_ARENA_MAX
    mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD (a fixed one is never raised by frees)


def _build(settings: dict[str, Any]) -> Any:
    from modelshelf.registry.app import create_app

    return create_app(
        settings["store"],
        anonymous_read=tuple(settings["anonymous_read"]),
        redirect=settings["redirect"],
        spool_dir=settings["spool_dir"],
        session_secret=bytes.fromhex(settings["session_secret"]),
        **settings["options"],
    )


def _session_secret() -> bytes:
    """The key of the pages' sessions: ``MODELSHELF_REGISTRY_SESSION_SECRET`` (the same on every
    replica behind one address), else a random one for this server and its workers (a user
    signed in on one replica signs in again on another).

    Raises:
        InvalidInputError: a secret under 32 characters.
    """
    given = constants.registry_session_secret()
    if given is None:
        log.info(
            "the pages' sessions are signed with a key of this server alone; set"
            " MODELSHELF_REGISTRY_SESSION_SECRET to the same value on every replica"
        )
        return secrets.token_bytes(32)
    if len(given) < 32:
        raise InvalidInputError(
            "MODELSHELF_REGISTRY_SESSION_SECRET is shorter than 32 characters; set it to a long"
            " random text (for example: python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return hashlib.sha256(given.encode()).digest()


def app_from_environment() -> Any:
    """The app of one worker process, from the settings its parent put in the environment."""
    raw = constants.registry_config()
    if raw is None:
        raise RuntimeError(f"{_CONFIG_ENV} is not set; start workers with serve_registry")
    return _build(json.loads(raw))
