"""A server's listening socket, bound by modelshelf before uvicorn starts (``modelshelf serve``
and ``modelshelf registry serve`` alike).

uvicorn reports a port in use with its own log lines and ``sys.exit(3)``; binding first makes
that one ``error:`` line with the next step (:class:`~modelshelf.errors.ServeAddressError`,
exit 1), and leaves no window between a check and uvicorn's own bind: the socket bound here is
the one served.
"""

from __future__ import annotations

import errno
import socket

from modelshelf.errors import ServeAddressError

__all__ = ["bind", "listening_at"]


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not yet listening), inheritable by workers.

    Raises:
        ServeAddressError: the host is not an address of this machine, or the port is in use
            or needs privileges; the message says which setting to change.
    """
    # The family as uvicorn chooses it: IPv6 only for an address written with ':' (so
    # "localhost" stays 127.0.0.1, as it was when uvicorn bound the port).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        found = socket.getaddrinfo(
            host, port, family, socket.SOCK_STREAM, socket.IPPROTO_TCP, socket.AI_PASSIVE
        )
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ServeAddressError(f"cannot listen on {host}: {reason}").with_fix(
            "; pass {host} with an address of this machine (127.0.0.1 for this machine only,"
            " 0.0.0.0 for every interface)"
        ) from None
    _, kind, proto, _, address = found[0]
    sock = socket.socket(family, kind, proto)
    # As uvicorn does: a port whose last connections linger in TIME_WAIT is free to serve again
    # (a port another process listens on still fails, with EADDRINUSE).
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise _refused(exc, host, port) from None
    sock.set_inheritable(True)  # --workers N: each worker process serves this socket
    return sock


def _refused(exc: OSError, host: str, port: int) -> ServeAddressError:
    if exc.errno == errno.EADDRINUSE:
        return ServeAddressError(f"port {port} on {host} is in use").with_fix(
            ": pass {port} (another port), or stop what listens there"
        )
    if exc.errno == errno.EACCES:
        return ServeAddressError(
            f"port {port} on {host} needs privileges this process lacks"
        ).with_fix(": pass {port} above 1023")
    if exc.errno == errno.EADDRNOTAVAIL:
        return ServeAddressError(
            f"cannot listen on {host}: it is not an address of this machine"
        ).with_fix(
            "; pass {host} with one of its addresses (127.0.0.1, or 0.0.0.0 for every interface)"
        )
    return ServeAddressError(
        f"cannot listen on {host} port {port}: {exc.strerror or exc}"
    ).with_fix("; pass another {host} or {port}")


def listening_at(sock: socket.socket, scheme: str = "http") -> str:
    """``http://127.0.0.1:8080`` (``[::1]`` for IPv6): where ``sock`` listens, for the log."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if sock.family == socket.AF_INET6 else host
    return f"{scheme}://{shown}:{port}"
