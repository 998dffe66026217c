"""The registry's tokens: created, listed, revoked and verified, every record in the store.

```
registry/tokens/<name>.json      {name, sha256, scopes, created, expires, created_by}; create-only
registry/tokens/<name>.revoked   the revocation; create-only, read on every request
registry/tokens/<name>.used      when the token was last used; overwritten at most once a minute
registry/sessions/<sha256>.ended a pages' session signed out; create-only, read on every request
                                 with that session, dropped once the session would have ended
```
A token's text is ``msr_<name>_<secret>`` (:mod:`modelshelf.store.http_protocol`); only the
sha256 of the secret is stored, and it is compared in constant time. A record never changes
once written (a name is never reused), so each process keeps the records it has read; the
revocation marker is read on every verification, so a token revoked through one replica is
refused by every replica at once. Records read from the store are outside input: read bounded
and checked field by field before use.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from modelshelf import trust
from modelshelf.errors import (
    InvalidInputError,
    ObjectExistsError,
    ObjectNotFoundError,
    StoreError,
    UntrustedStoreDataError,
)
from modelshelf.registry.context import ANONYMOUS, CallerRefusedError, Principal
from modelshelf.registry.scopes import parse_scope, parse_scopes
from modelshelf.store.bucket import Store, now_iso
from modelshelf.store.http_protocol import TOKEN_NAME, TOKEN_PREFIX, token_name_of

__all__ = ["SESSION_SECONDS", "TokenBook", "parse_duration"]

log = logging.getLogger("modelshelf.registry")

_PREFIX = "registry/tokens"
_DURATION = re.compile(r"([1-9][0-9]{0,5})([dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
# Far more scopes than anyone writes by hand: a record holding more was not written by us.
_MAX_SCOPES = 100
_USED_EVERY = 60.0  # seconds between two writes of a token's `.used` by one process
_MAX_CACHED = 10_000
_NO_SECRET = "0" * 64  # compared with when the name is unknown
SESSION_SECONDS = 12 * 3600
"""How long a session of the pages lasts (less when its token expires sooner)."""
_SESSION = re.compile(
    r"(?P<name>[a-z0-9][a-z0-9.-]{0,62})\.(?P<expiry>[0-9]{1,12})\.(?P<nonce>[0-9a-f]{32})"
    r"\.(?P<mac>[0-9a-f]{64})"
)
_SESSIONS = "registry/sessions"
"""``registry/sessions/<sha256 of a session>.ended``: a session signed out (create-only)."""
_SESSION_KEY = b"modelshelf-session-key"
_PROCESS_SESSION_SECRET = secrets.token_bytes(32)
"""The session key of this process when none is given: its sessions end with it."""


def _session_mac(
    record: dict[str, Any], name: str, expiry: int, nonce: str, server_secret: bytes
) -> str:
    """The HMAC of a session, keyed by the server's secret and the token's stored hash: the
    hash alone (which anyone who reads the bucket reads) makes no session, and a new token
    (or a revoked one) ends its sessions."""
    key = hmac.new(
        server_secret, bytes.fromhex(record["sha256"]) + _SESSION_KEY, hashlib.sha256
    ).digest()
    return hmac.new(key, f"{name}|{expiry}|{nonce}".encode(), hashlib.sha256).hexdigest()


def parse_duration(text: str) -> timedelta:
    """``90d``, ``12h`` or ``30m`` as a time span.

    Raises:
        InvalidInputError: anything else.

    Example:
        >>> parse_duration("12h")
        datetime.timedelta(seconds=43200)
    """
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidInputError(
            f"the expiry {trust.show(text)} is not a duration: give a number and a unit, d"
            " (days), h (hours) or m (minutes), e.g. 90d, 12h or 30m"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# How a client gives a token: the end of every 401 for a token that cannot be right.
_GIVE_TOKEN = (
    "; set MODELSHELF_TOKEN, or token / token_file in the store's table of the config file, to"
    " the text `modelshelf registry token create` printed"
)


class TokenBook:
    """The tokens of a registry, kept in its bucket store.

    Args:
        store: the store the registry serves; tokens live under ``registry/tokens/``.
        session_secret: the key the pages' sessions are signed with (with each token's stored
            hash); default: one random key per process.

    Example:
        >>> from modelshelf.backends.memory import MemoryBackend
        >>> book = TokenBook(Store(MemoryBackend("memory://token-doc")))
        >>> text, record = book.create("ci", ["write:nlp/"], "90d", created_by="ann")
        >>> book.verify(text).name
        'ci'
    """

    def __init__(self, store: Store, session_secret: bytes | None = None) -> None:
        self.store = store
        # Sessions verify on every replica given the same secret (serve_registry passes one to
        # its workers); never kept in the store, whose readers could then sign sessions.
        self._session_secret = session_secret or _PROCESS_SESSION_SECRET
        self._backend = store.backend  # the keys under registry/tokens/ are this module's
        self._records: dict[str, dict[str, Any]] = {}
        self._used: dict[str, float] = {}
        self._lock = threading.Lock()

    # -- admin -----------------------------------------------------------------------------------
    def create(
        self, name: str, scopes: list[str] | tuple[str, ...], expires: str | None, created_by: str
    ) -> tuple[str, dict[str, Any]]:
        """Make a new token; its text is returned here once and never stored.

        Args:
            name: ``[a-z0-9][a-z0-9.-]{0,62}``; never used by another token before.
            scopes: ``read:PREFIX``, ``write:PREFIX`` or ``admin:PREFIX``, at least one.
            expires: a duration from now (``90d``, ``12h``, ``30m``), or ``None``: never.
            created_by: who made it (a token's name, or a user), for ``token ls``.

        Returns:
            ``(token text, its record without the hash)``.

        Raises:
            InvalidInputError: a bad name, scope or duration.
            ObjectExistsError: a token of that name exists, or existed (names are never reused).
        """
        self._check_name(name)
        if len(scopes) > _MAX_SCOPES:
            raise InvalidInputError(f"a token holds at most {_MAX_SCOPES} scopes")
        parsed = parse_scopes(list(scopes))
        created = now_iso()
        until = None
        if expires is not None:
            until = (_parse_time(created) + parse_duration(expires)).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"
            )
        secret = secrets.token_urlsafe(32)
        record = {
            "name": name,
            "sha256": _secret_hash(secret),
            "scopes": [str(s) for s in parsed],
            "created": created,
            "expires": until,
            "created_by": trust.escape_controls(str(created_by))[: trust.MAX_LINE],
        }
        body = json.dumps(record, indent=2).encode() + b"\n"
        try:
            self._backend.put(f"{_PREFIX}/{name}.json", body, mode="create")
        except ObjectExistsError:
            raise ObjectExistsError(
                f"a token named {name!r} exists or existed in {self.store.url}; token names are"
                " never reused: choose another name"
            ) from None
        shown = {k: v for k, v in record.items() if k != "sha256"}
        return f"{TOKEN_PREFIX}{name}_{secret}", shown

    def list(self) -> list[dict[str, Any]]:
        """Every token: name, scopes, created, expires, created_by, last_used, revoked; sorted
        by name, never the hash. Records that fail the checks are skipped with a warning."""
        found: dict[str, set[str]] = {}
        for meta in trust.bounded_listing(
            self._backend.list(_PREFIX), 100_000, f"{self.store.url}/{_PREFIX}/"
        ):
            rest = meta.path[len(_PREFIX) + 1 :]
            name, dot, kind = rest.rpartition(".")
            if dot and TOKEN_NAME.fullmatch(name) and kind in ("json", "revoked", "used"):
                found.setdefault(name, set()).add(kind)
        tokens = []
        for name, kinds in sorted(found.items()):
            if "json" not in kinds:
                continue
            try:
                record = self._record(name)
            except (ObjectNotFoundError, UntrustedStoreDataError) as exc:
                log.warning("token %s skipped: %s", name, exc)
                continue
            shown = {k: v for k, v in record.items() if k != "sha256"}
            shown["last_used"] = self._last_used(name) if "used" in kinds else None
            shown["revoked"] = "revoked" in kinds
            tokens.append(shown)
        return tokens

    def revoke(self, name: str) -> dict[str, Any]:
        """Revoke a token for good; every replica refuses it from its next request on.

        Revoking a revoked token changes nothing and is not an error.

        Raises:
            InvalidInputError: not a token name.
            ObjectNotFoundError: no token of that name.
        """
        self._check_name(name)
        record = self._record(name)
        marker = json.dumps({"name": name, "revoked": now_iso()}).encode() + b"\n"
        with contextlib.suppress(ObjectExistsError):  # revoked already: the first one stands
            self._backend.put(f"{_PREFIX}/{name}.revoked", marker, mode="create")
        return {"name": name, "scopes": record["scopes"], "revoked": True}

    # -- every request ---------------------------------------------------------------------------
    def verify(self, token: str) -> Principal:
        """Who holds ``token``, with its scopes.

        The record is read once per process (it never changes); the revocation marker on every
        call. The secret's hash is compared in constant time.

        Raises:
            CallerRefusedError: (401) not a token's text, or unknown, bad, expired or revoked;
                the message names the token's name when it parsed, never its secret.
        """
        name = token_name_of(token)
        if name is None:
            raise CallerRefusedError(
                f"the registry refused access: the token sent is not a modelshelf registry token"
                f" ({TOKEN_PREFIX}<name>_<secret>){_GIVE_TOKEN}"
            )
        secret = token[len(TOKEN_PREFIX) + len(name) + 1 :]
        refused = f"the registry refused access to the token {name!r}"
        # An unknown name and a wrong secret get one answer, so that names cannot be found by
        # asking; `anonymous` (reserved) is never a token, even one an older server made.
        unknown = f"{refused}: no token of that name has that secret{_GIVE_TOKEN}"
        if name == ANONYMOUS:
            raise CallerRefusedError(unknown)
        try:
            record = self._record(name)
        except ObjectNotFoundError:
            hmac.compare_digest(_secret_hash(secret), _NO_SECRET)  # the same work as a known name
            raise CallerRefusedError(unknown) from None
        except UntrustedStoreDataError:
            raise CallerRefusedError(f"{refused}: its record is damaged; ask an admin") from None
        if not hmac.compare_digest(_secret_hash(secret), record["sha256"]):
            raise CallerRefusedError(unknown)
        return self._admit(name, record, refused)

    def _admit(self, name: str, record: dict[str, Any], refused: str) -> Principal:
        """The holder of the token ``name``, unless it was revoked or expired."""
        if self._backend.exists(f"{_PREFIX}/{name}.revoked"):
            raise CallerRefusedError(f"{refused}: it was revoked; ask an admin for a new one")
        expires = record["expires"]
        if expires is not None and datetime.now(UTC) >= _parse_time(expires):
            raise CallerRefusedError(
                f"{refused}: it expired at {trust.show_time(expires)}; ask an admin for a new one"
            )
        self._mark_used(name)
        return Principal(name, tuple(parse_scope(s) for s in record["scopes"]))

    # -- the pages' sessions ---------------------------------------------------------------------
    def start_session(self, name: str, seconds: int = SESSION_SECONDS) -> tuple[str, int]:
        """A signed session of the token ``name`` (already verified by the caller) and its
        lifetime in seconds: ``<name>.<expiry unix time>.<random>.<hex HMAC-SHA256>``.

        The HMAC's key is derived from the server's session secret and the token record's
        stored hash: the browser holding the session never learns the token, and what the
        bucket holds makes none. The session ends at ``seconds`` from now, when the token
        expires if sooner, or when it is signed out (:meth:`end_session`).
        """
        record = self._record(name)
        now = int(time.time())
        expiry = now + seconds
        if record["expires"] is not None:
            expiry = min(expiry, int(_parse_time(record["expires"]).timestamp()))
        nonce = secrets.token_hex(16)
        mac = _session_mac(record, name, expiry, nonce, self._session_secret)
        return f"{name}.{expiry}.{nonce}.{mac}", max(0, expiry - now)

    def verify_session(self, session: str) -> Principal:
        """The holder of the token a session (:meth:`start_session`) was made for.

        Raises:
            CallerRefusedError: (401) not a session of this registry, ended or signed out, or
                its token is unknown, revoked or expired.
        """
        ended = "the registry ended this session or never made it; sign in again"
        name, record = self._signed(session, ended)
        if self._backend.exists(self._ended_key(session)):  # signed out, on any replica
            raise CallerRefusedError(ended)
        return self._admit(name, record, f"the session of the token {name!r} ended")

    def end_session(self, session: str) -> None:
        """Sign ``session`` out on every replica: a create-only marker that
        :meth:`verify_session` reads (a copy of the cookie no longer works). A session that is
        not one of this registry's is ignored."""
        try:
            name, _ = self._signed(session, "")
        except CallerRefusedError:
            return
        body = json.dumps({"name": name, "ended": now_iso()}).encode() + b"\n"
        with contextlib.suppress(ObjectExistsError):
            self._backend.put(self._ended_key(session), body, mode="create")

    def _signed(self, session: str, ended: str) -> tuple[str, dict[str, Any]]:
        """The token name and record of a session whose signature holds and that has not
        expired; CallerRefusedError(``ended``) otherwise."""
        parsed = _SESSION.fullmatch(session)
        if parsed is None:
            raise CallerRefusedError(ended)
        name, expiry = parsed["name"], int(parsed["expiry"])
        if expiry <= time.time() or name == ANONYMOUS:
            raise CallerRefusedError(ended)
        try:
            record = self._record(name)
        except (ObjectNotFoundError, UntrustedStoreDataError):
            raise CallerRefusedError(ended) from None
        mac = _session_mac(record, name, expiry, parsed["nonce"], self._session_secret)
        if not hmac.compare_digest(mac, parsed["mac"]):
            raise CallerRefusedError(ended)
        return name, record

    def drop_ended_sessions(self) -> int:
        """Delete the sign-out markers of sessions that have expired since (older than the
        longest session and an hour): the number deleted."""
        horizon = time.time() - SESSION_SECONDS - 3600
        dropped = 0
        for meta in self._backend.list(_SESSIONS):
            moment = meta.last_modified.timestamp() if meta.last_modified else None
            if meta.path.endswith(".ended") and moment is not None and moment < horizon:
                self._backend.delete(meta.path)
                dropped += 1
        return dropped

    @staticmethod
    def _ended_key(session: str) -> str:
        return f"{_SESSIONS}/{hashlib.sha256(session.encode()).hexdigest()}.ended"

    # -- records ---------------------------------------------------------------------------------
    @staticmethod
    def _check_name(name: str) -> None:
        if not isinstance(name, str) or not TOKEN_NAME.fullmatch(name):
            raise InvalidInputError(
                f"the token name {trust.show(name)} is not [a-z0-9][a-z0-9.-]{{0,62}}: lowercase"
                " letters, digits, '.' and '-', e.g. ci-bot"
            )
        if name == ANONYMOUS:
            raise InvalidInputError(
                f"the token name {ANONYMOUS!r} is reserved: it is who a request without a token"
                " is (in scopes checks and the audit log); choose another name"
            )

    def _record(self, name: str) -> dict[str, Any]:
        """The checked record of ``name`` (read once per process: records never change)."""
        with self._lock:
            cached = self._records.get(name)
        if cached is not None:
            return cached
        key = f"{_PREFIX}/{name}.json"
        raw = self._read_small(key)
        try:
            record = _checked_record(trust.loads_json(raw), name)
        except (ValueError, RecursionError) as exc:
            raise UntrustedStoreDataError(
                f"{self.store.url}/{key} is not a token record ({exc}); modelshelf did not"
                " write it: delete that key and create the token again under another name",
                store=self.store.url,
                key=key,
            ) from exc
        with self._lock:
            if len(self._records) < _MAX_CACHED:
                self._records[name] = record
        return record

    def _read_small(self, key: str) -> bytes:
        chunks, total = [], 0
        for chunk in self._backend.get(key, chunk_size=1 << 16):
            total += len(chunk)
            if total > trust.MAX_RECORD_BYTES:
                raise UntrustedStoreDataError(
                    f"{self.store.url}/{key} is larger than a token record may be; modelshelf"
                    " did not write it: delete that key",
                    store=self.store.url,
                    key=key,
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _last_used(self, name: str) -> str | None:
        try:
            text = self._read_small(f"{_PREFIX}/{name}.used").decode("utf-8", "replace").strip()
        except (ObjectNotFoundError, UntrustedStoreDataError):
            return None
        try:
            _parse_time(text)
        except ValueError:
            return None  # not a time we wrote: shown as unknown
        return text

    def _mark_used(self, name: str) -> None:
        """Write when ``name`` was used, at most once a minute by this process; a failed write
        never fails the request it was for."""
        now = time.monotonic()
        with self._lock:
            last = self._used.get(name)
            if last is not None and now - last < _USED_EVERY:
                return
            self._used[name] = now
        try:
            self._backend.put(f"{_PREFIX}/{name}.used", now_iso().encode() + b"\n")
        except StoreError as exc:
            log.warning("could not record that the token %s was used: %s", name, exc)


def _checked_record(data: object, name: str) -> dict[str, Any]:
    """The fields of a token record, each checked (``ValueError`` with a one-line reason)."""
    if not isinstance(data, dict):
        raise ValueError(f"a token record must be an object, not {trust.show(data)}")
    for field in ("name", "sha256", "scopes", "created", "expires", "created_by"):
        if field not in data:
            raise ValueError(f"the field {field!r} is missing")
    if data["name"] != name:
        raise ValueError(f"it names the token {trust.show(data['name'])}, not {name!r}")
    scopes = data["scopes"]
    if not isinstance(scopes, list) or not 0 < len(scopes) <= _MAX_SCOPES:
        raise ValueError(f"scopes must be a list of 1 to {_MAX_SCOPES} scopes")
    for scope in scopes:
        if not isinstance(scope, str):
            raise ValueError(f"the scope {trust.show(scope)} is not text")
        try:
            parse_scope(scope)
        except InvalidInputError:
            raise ValueError(f"the scope {trust.show(scope)} is not a scope") from None
    expires = data["expires"]
    if expires is not None:
        trust.check_text(expires, "expires")
        _parse_time(expires)  # a ValueError if it is no time we write
    return {
        "name": name,
        "sha256": trust.check_sha256(data["sha256"]),
        "scopes": list(scopes),
        "created": trust.check_text(data["created"], "created"),
        "expires": expires,
        "created_by": trust.check_text(data["created_by"], "created_by"),
    }
