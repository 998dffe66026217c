"""The HTTP side of a registry store: one pooled ``httpx.Client``, the bearer token, TLS,
retries, and the registry's answers turned into modelshelf errors.

Every answer of the registry is outside input: a JSON answer is read with a running count and
refused past its bound, an error body is rebuilt by
:func:`~modelshelf.store.http_protocol.error_from_body` (bounded, escaped), and the token never
appears in any text this module makes (it is sent in a header only, and cut from any message a
server echoes).

Retries (the spec's "Transport"): a ``503`` (honouring ``Retry-After``, at most 2 s a wait) and a
dropped connection are retried on idempotent requests, up to 5 tries in all; a connection that
could not be opened at all is retried on any request (nothing reached the server). What is left
after the retries is a :class:`~modelshelf.errors.StoreUnreachableError` (a pull then falls back
to the cache) or a :class:`~modelshelf.errors.StoreUnavailableError`.
"""

from __future__ import annotations

import ipaddress
import ssl
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from modelshelf import constants, trust
from modelshelf.errors import (
    InvalidInputError,
    ModelshelfError,
    StoreAuthError,
    StoreError,
    StoreUnavailableError,
    StoreUnreachableError,
    UnsupportedStoreError,
    UntrustedStoreDataError,
)
from modelshelf.store.http_protocol import API, error_from_body

__all__ = ["MAX_ERROR_BODY", "Transport", "load_token", "registry_base", "tls_context"]

TRIES = 5
MAX_WAIT = 2.0
MAX_ERROR_BODY = 64 << 10
"""The most of an error answer read (its message is cut to 4 KiB after)."""
MAX_TOKEN_FILE = 4096
CONNECT_TIMEOUT, READ_TIMEOUT = 10.0, 60.0
TOKEN_HINT = (
    "set MODELSHELF_TOKEN, or token / token_file in a named store of the config file"
    " (`modelshelf config stores`)"
)
OWN_TOKEN_HINT = (
    "MODELSHELF_TOKEN goes only to the store the command or the Shelf was given, never to a"
    " copy's destination;"
    " give this registry its own token: token / token_file in a named store of the config file"
    " (`modelshelf config stores`), or a token setting of the store"
)

Body = bytes | Callable[[], bytes | Iterable[bytes]] | None
"""A request body: bytes, or a function that gives it (or its pieces) afresh for each try."""


def registry_base(url: str) -> str:
    """A registry's base URL as every part of the client compares it: no spaces around, no
    trailing ``/``, the scheme in lower case (``HTTPS://host`` is ``https://host``)."""
    base = url.strip().rstrip("/")
    scheme, sep, rest = base.partition("://")
    return scheme.lower() + sep + rest if sep else base


def load_token(
    token: str | None,
    token_file: str | Path | None,
    url: str,
    *,
    environment: bool = True,
) -> str | None:
    """The token to send: ``token``, else the first line of ``token_file``, else
    ``MODELSHELF_TOKEN`` when ``environment`` (the store the user chose as its store; a copy's
    destination or any other store opened beside it passes ``False``, so the token meant for
    one registry never reaches another); ``None`` for anonymous requests.

    Raises:
        InvalidInputError: the token file cannot be read, or a token is not one line of
            printable ASCII (it would break the header); the token is never shown.
    """
    source = "the token"
    if not token and token_file:
        path = Path(token_file).expanduser()
        source = f"the token file {path}"
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_TOKEN_FILE + 1)
        except OSError as exc:
            raise InvalidInputError(
                f"{source} of the registry {url} cannot be read ({exc.strerror}); give a"
                " readable file holding the token"
            ) from None
        if len(raw) > MAX_TOKEN_FILE:
            raise InvalidInputError(f"{source} holds more than {MAX_TOKEN_FILE} bytes; a token"
                                    " is one short line")  # fmt: skip
        token = raw.decode("ascii", "replace").strip()
    elif not token and environment:
        token, source = constants.registry_token(), "MODELSHELF_TOKEN"
    if not token:
        return None
    token = token.strip()
    if not token.isascii() or not token.isprintable() or " " in token:
        raise InvalidInputError(
            f"{source} for the registry {url} is not one line of printable ASCII without"
            " spaces; give the token text as the registry printed it"
        )
    return token


def tls_context(ca_file: str | Path | None) -> ssl.SSLContext:
    """Verification always on: the public CAs (certifi), plus ``ca_file`` or ``SSL_CERT_FILE``
    for a private CA (so a presigned URL of a public cloud still verifies beside it)."""
    import certifi

    context = ssl.create_default_context(cafile=certifi.where())
    extra = str(ca_file) if ca_file else constants.env("SSL_CERT_FILE")
    if extra:
        try:
            context.load_verify_locations(cafile=str(Path(extra).expanduser()))
        except (OSError, ssl.SSLError) as exc:
            given = "the CA file given" if ca_file else "SSL_CERT_FILE"
            raise InvalidInputError(
                f"{given} ({extra}) cannot be used: {exc}; give a PEM file of the registry's CA"
                " certificate"
            ).with_fix(" with {ca_file} or SSL_CERT_FILE") from None
    return context


def is_loopback(host: str) -> bool:
    """True if ``host`` is this machine by name or address: ``localhost``, 127.0.0.0/8, ``::1``
    (text only: never resolved, so the answer comes before any DNS lookup)."""
    host = host.lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_cleartext_token(url: str) -> None:
    """Refuse to send a token over plain ``http://`` to another machine: anyone on the way
    would read it (and could use it until it is revoked). Loopback stays allowed: a registry
    on this machine, or behind a local TLS proxy.

    Raises:
        UnsupportedStoreError: ``url`` is ``http://`` to a host that is not loopback.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != "http":
        return
    try:
        host = parts.hostname or ""
    except ValueError:
        host = ""
    if is_loopback(host):
        return
    raise UnsupportedStoreError(
        f"refusing to send a token to the registry {url} over plain http:// (a token in"
        " cleartext over a network can be read by anyone on the way); use"
        f" https://{url.partition('://')[2]}, or give no token for anonymous reads"
    )


def _tls_failure(exc: BaseException) -> str | None:
    """The reason of a certificate verification failure somewhere in ``exc``'s chain."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return str(seen.verify_message or seen.reason or seen)
        if "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return "certificate verify failed"
        seen = seen.__cause__ or seen.__context__
    return None


class Transport:
    """Requests to one registry: ``{base}/api/v1/...`` with the token, the pooled client.

    Args:
        url: the registry's base URL (``https://host[:port][/prefix]``), no userinfo.
        token: the bearer token, or ``None`` for anonymous requests. Never shown.
        ca_file: a PEM file of a private CA to trust beside the public ones.
        timeout: seconds to wait for a byte of an answer (connecting: 10 s at most).
        max_wait: the longest wait between two tries.
        environment_token: whether ``MODELSHELF_TOKEN`` was this registry's to take (a 401
            then says to set it); ``False`` for a copy's destination.

    Raises:
        UnsupportedStoreError: a token would go over plain ``http://`` to a host that is not
            loopback; refused before any connection (or DNS lookup).
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        ca_file: str | Path | None = None,
        timeout: float = READ_TIMEOUT,
        max_wait: float = MAX_WAIT,
        environment_token: bool = True,
    ) -> None:
        self.url = registry_base(url)
        if token is not None:
            refuse_cleartext_token(self.url)
        self._token = token
        self._max_wait = max_wait
        self._token_hint = TOKEN_HINT if environment_token else OWN_TOKEN_HINT
        https = self.url.startswith("https:")
        verify: ssl.SSLContext | bool = tls_context(ca_file) if https else True
        # trust_env off: no .netrc credentials or proxy settings sent where we did not choose.
        self.client = httpx.Client(
            verify=verify,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=8),
            timeout=httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout)),
        )
        # A Shelf is never closed: its pooled connections close when the store is dropped.
        weakref.finalize(self, self.client.close)

    def __repr__(self) -> str:
        return f"Transport({self.url!r})"

    @property
    def has_token(self) -> bool:
        return self._token is not None

    def close(self) -> None:
        self.client.close()

    # -- requests ------------------------------------------------------------------------------
    def api_url(self, path: str) -> str:
        """The full URL of an API path (``/api/v1/...``, or a path under it)."""
        return self.url + (path if path.startswith(API) else API + path)

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Body = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        ok: Iterable[int] = (200,),
    ) -> httpx.Response:
        """Send a request to the registry, retried as the module says; the streamed answer.

        The caller reads (bounded) and closes it. A status not in ``ok`` is raised as the error
        it describes.

        Raises:
            StoreUnreachableError: no answer after the retries.
            StoreUnavailableError: the registry's store was unavailable after the retries.
            StoreAuthError: 401/403, or a certificate that does not verify.
        """
        retry = method in ("GET", "HEAD") if idempotent is None else idempotent
        wanted = set(ok)
        response = self._with_retries(
            lambda: self._request(method, self.api_url(path), params, body, headers, auth=True),
            retry,
        )
        if response.status_code in wanted:
            return response
        try:
            raise self.error_of(response)
        finally:
            response.close()

    def send_plain(self, url: str, headers: Mapping[str, str]) -> httpx.Response:
        """GET an absolute URL the registry redirected to (a presigned URL): no token, no
        cookies, retried as a GET; the streamed answer, whatever its status."""
        return self._with_retries(
            lambda: self._request("GET", url, None, None, headers, auth=False), True
        )

    def json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        payload: Any = None,
        limit: int,
        what: str,
        idempotent: bool | None = None,
        ok: Iterable[int] = (200,),
    ) -> dict[str, Any]:
        """A JSON request and its JSON object answer, read up to ``limit`` bytes.

        Raises:
            UntrustedStoreDataError: the answer is larger than ``limit``, or no JSON object.
        """
        body = None if payload is None else trust_dumps(payload)
        headers = {"Content-Type": "application/json"} if body is not None else None
        response = self.send(
            method, path, params=params, body=body, headers=headers, idempotent=idempotent, ok=ok
        )
        return self.json_of(response, limit, what)

    def json_of(self, response: httpx.Response, limit: int, what: str) -> dict[str, Any]:
        """The JSON object of an answer, bounded; the response is closed."""
        raw = self.read_bounded(response, limit, what)
        try:
            data = trust.loads_json(raw)
        except (ValueError, RecursionError) as exc:
            raise self.untrusted(f"{what} is not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise self.untrusted(f"{what} is not a JSON object")
        return data

    def read_bounded(self, response: httpx.Response, limit: int, what: str) -> bytes:
        """The body of an answer, refused once it passes ``limit`` bytes; the response is
        closed."""
        try:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise self.untrusted(f"{what} takes {declared} bytes, over the {limit} allowed")
            chunks, total = [], 0
            for chunk in self.stream_of(response):
                total += len(chunk)
                if total > limit:
                    raise self.untrusted(f"{what} takes more than the {limit} bytes allowed")
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            response.close()

    def stream_of(self, response: httpx.Response, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The body of an answer in pieces; a connection lost on the way is a StoreError."""
        try:
            yield from response.iter_bytes(chunk_size)
        except httpx.HTTPError as exc:
            raise StoreUnreachableError(
                f"the connection to the registry {self.url} broke during an answer"
                f" ({self._reason(exc)}); try again"
            ) from None

    def untrusted(self, problem: str) -> UntrustedStoreDataError:
        """The error for an answer that is not what a modelshelf registry sends."""
        return UntrustedStoreDataError(
            f"the registry {self.url} answered badly: {problem}; is it a modelshelf registry"
            " of a matching version?",
            store=self.url,
        )

    # -- errors --------------------------------------------------------------------------------
    def error_of(self, response: httpx.Response) -> ModelshelfError:
        """The error an answer describes (its body read up to :data:`MAX_ERROR_BODY`)."""
        status = response.status_code
        try:
            raw = self.read_bounded(response, MAX_ERROR_BODY, "an error answer")
            body: object = trust.loads_json(raw) if raw else None
        except (ModelshelfError, ValueError, RecursionError):
            body = None
        exc = error_from_body(status, body, self.url)
        if status in (401, 403):
            exc = self._auth_error(status, exc if isinstance(exc, StoreAuthError) else None)
        elif 300 <= status < 400:
            exc = StoreError(
                f"the registry {self.url} answered a redirect (HTTP {status}) where none is"
                " expected; give the registry's own URL as the store"
            )
        elif status >= 500 and type(exc) is StoreError:
            exc = StoreUnavailableError(f"{exc}; try again later")
        return self.scrub(exc)

    def _auth_error(self, status: int, given: StoreAuthError | None) -> StoreAuthError:
        """The registry refused the caller, in the words every store's refusal uses ("refused
        access"), naming the registry, then its own (the scope needed, what is wrong with the
        token) and, for a 401, how to give a token."""
        why = str(given) if given is not None else ""
        if status == 401:
            why = why or ("the token given was refused" if self.has_token else "it needs a token")
            if "MODELSHELF_TOKEN" not in why:
                why += f"; {self._token_hint}"
        else:
            why = why or (
                "the token lacks the scope it needs; ask the registry's admin for a token with"
                " that scope"
            )
        if "refused access" in why:  # the registry's own words say it: name the registry first
            return StoreAuthError(why if self.url in why else f"{self.url}: {why}")
        return StoreAuthError(f"the registry {self.url} refused access (HTTP {status}): {why}")

    def scrub(self, exc: ModelshelfError) -> ModelshelfError:
        """``exc`` with the token cut from its message, its attributes and its fix values,
        should a server have echoed it anywhere it rebuilt the error from."""
        token = self._token
        if not token:
            return exc

        def cut(value: object) -> object:
            return value.replace(token, "***") if isinstance(value, str) else value

        exc.args = tuple(cut(a) for a in exc.args)
        for key, value in list(vars(exc).items()):
            if isinstance(value, str) and token in value:
                setattr(exc, key, cut(value))
        if any(token in v for v in exc.fix_values.values() if isinstance(v, str)):
            exc.fix_values = {k: str(cut(v)) for k, v in exc.fix_values.items()}
        if token in exc.fix:
            exc.fix = str(cut(exc.fix))
        return exc

    def _reason(self, exc: BaseException) -> str:
        text = str(exc) or type(exc).__name__
        if self._token:
            text = text.replace(self._token, "***")
        return trust.escape_controls(text[:300])

    # -- the request loop ----------------------------------------------------------------------
    def _request(
        self,
        method: str,
        url: str,
        params: Mapping[str, str | int] | None,
        body: Body,
        headers: Mapping[str, str] | None,
        *,
        auth: bool,
    ) -> httpx.Response:
        content = body() if callable(body) else body
        request = self.client.build_request(
            method, url, params=params, content=content, headers=headers
        )
        request.headers.pop("Cookie", None)  # never send what a server set back
        if auth and self._token is not None:
            request.headers["Authorization"] = f"Bearer {self._token}"
        return self.client.send(request, stream=True)

    def _with_retries(self, attempt: Callable[[], httpx.Response], retry: bool) -> httpx.Response:
        for tries in range(1, TRIES + 1):
            last = tries == TRIES
            try:
                response = attempt()
            except httpx.HTTPError as exc:
                reason = _tls_failure(exc)
                if reason is not None:
                    raise StoreAuthError(
                        f"TLS verification of {self.url} failed: {reason}; give the server's CA"
                    ).with_fix(" with {ca_file} or SSL_CERT_FILE") from None
                if last or not (retry or isinstance(exc, httpx.ConnectError)):
                    # The part before " (" is what a fallback to the cache prints as its reason.
                    raise StoreUnreachableError(
                        f"cannot reach the store {self.url} ({self._reason(exc)}). Check the"
                        " registry's URL and that its server is running; cached versions stay"
                        " usable with MODELSHELF_OFFLINE=1."
                    ) from None
                time.sleep(min(self._max_wait, 0.25 * 2 ** (tries - 1)))
                continue
            if response.status_code != 503 or last or not retry:
                return response
            wait = _retry_after(response.headers.get("Retry-After"), self._max_wait)
            response.close()
            time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _retry_after(value: str | None, max_wait: float) -> float:
    """Seconds to wait as ``Retry-After`` says (seconds only), within ``[0, max_wait]``."""
    try:
        seconds = float(value) if value is not None else 1.0
    except ValueError:
        seconds = 1.0
    return max(0.0, min(seconds, max_wait)) if seconds == seconds else 1.0  # NaN: default


def trust_dumps(payload: Any) -> bytes:
    """``payload`` as compact UTF-8 JSON."""
    import json

    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
