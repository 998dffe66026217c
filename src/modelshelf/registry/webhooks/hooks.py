"""Hook records and their cursors, in the store.

```
registry/webhooks/<hook id>.json                    {id, url, events, prefix, secret, created,
                                                    who, registry}; create-only, never changed
registry/webhooks/<hook id>/cursor/<NNNNNNNN>.json  {seq, cursor, delivered, who, when}
```
A hook's secret is written in its record (the registry needs it to sign) and returned once, by
:meth:`HookBook.add`; every other answer shows its fingerprint (the first 12 hex digits of its
sha256) at most. Anyone who can read the bucket can read the secrets: the bucket is the
registry's trust root, as for every other record.

The cursor is the store-log id up to which every event of the hook is delivered or given up
(plus ``delivered``: ids after it already done, so a restart does not send them again). A new
hook's cursor is the time it was created: it sees the changes from then on. Cursor records are
numbered and created only if absent, so two writers can never both advance it from one
number: the one that loses learns another replica delivers.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import secrets
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

from modelshelf import trust
from modelshelf.errors import (
    InvalidInputError,
    ObjectNotFoundError,
    StoreError,
    UntrustedStoreDataError,
)
from modelshelf.registry.scopes import Scope
from modelshelf.registry.webhooks._records import (
    MAX_LISTED,
    PREFIX,
    dumps,
    numbered,
    read_json,
    stamp,
)
from modelshelf.store.bucket import Store, now_iso

__all__ = [
    "EVENTS",
    "HOOK_ID",
    "MAX_DELIVERED",
    "Cursor",
    "Hook",
    "HookBook",
    "event_of",
    "hook_url_problem",
    "shown_url",
]

log = logging.getLogger("modelshelf.registry.webhooks")

EVENTS = ("push", "alias", "remove", "label")
"""The events a hook may ask for (``ping`` is sent by ``webhook test`` only)."""
_EVENT_OF_ACTION = {"push": "push", "copy": "push", "alias": "alias", "remove": "remove",
                    "label": "label"}  # fmt: skip
HOOK_ID = re.compile(r"wh-[0-9a-f]{16}")
_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")
MAX_URL = 2048
MAX_HOOKS = 1000
MAX_DELIVERED = 2000
"""The most ids after the cursor a cursor record lists as done (more are sent again after a
restart: at least once)."""
_KEEP_CURSORS = 3


def event_of(action: str) -> str | None:
    """The event an audit action is (``push`` and ``copy``: push; ``alias``, ``remove``,
    ``label``), or ``None`` for one no hook hears (``repair``)."""
    if action.startswith("alias"):
        return "alias"
    return _EVENT_OF_ACTION.get(action)


def hook_url_problem(url: object) -> str | None:
    """Why ``url`` cannot be a hook's URL, or ``None``: it must be ``http://`` or
    ``https://`` with a host, one line, at most 2048 characters."""
    if not isinstance(url, str) or not url:
        return "the URL is empty"
    if len(url) > MAX_URL:
        return f"the URL is longer than {MAX_URL} characters"
    if any(c.isspace() or not c.isprintable() for c in url):
        return "the URL holds spaces or control characters"
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is no number
    except ValueError as exc:
        return f"the URL does not parse ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return "a hook's URL must start with http:// or https://"
    if not parts.hostname:
        return "the URL names no host"
    if parts.fragment:
        return "the URL has a #fragment, which no request sends"
    return None


def shown_url(url: str) -> str:
    """What a log line shows of a hook's URL: its scheme, host and port only (a path or query
    may hold a receiver's own secret, as chat webhooks' do)."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<a URL that does not parse>"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{port}/..."


def fingerprint(secret: str) -> str:
    """The first 12 hex digits of the secret's sha256: enough to tell two secrets apart."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Hook:
    """One hook: where events go, which ones, for which names."""

    id: str
    url: str
    events: tuple[str, ...]
    prefix: str
    secret: str = field(repr=False)
    created: str
    who: str
    registry: str

    def wants(self, event: str, name: str) -> bool:
        """True if this hook hears ``event`` on the asset ``name``."""
        if event not in self.events:
            return False
        return not self.prefix or Scope("read", self.prefix).covers_name(name)

    def public(self) -> dict[str, Any]:
        """The record as every answer shows it: the secret's fingerprint, never the secret."""
        return {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "prefix": self.prefix,
            "created": self.created,
            "who": self.who,
            "registry": self.registry,
            "fingerprint": fingerprint(self.secret),
        }

    def to_record(self) -> dict[str, Any]:
        return {**{k: v for k, v in self.public().items() if k != "fingerprint"},
                "secret": self.secret}  # fmt: skip


@dataclass(frozen=True)
class Cursor:
    """Where a hook stands in the store-wide log (``seq`` 0: never written)."""

    seq: int
    cursor: str
    delivered: frozenset[str] = frozenset()


class HookBook:
    """The hooks of a registry, kept in its bucket store.

    Example:
        >>> from modelshelf.backends.memory import MemoryBackend
        >>> book = HookBook(Store(MemoryBackend("memory://hooks-doc")))
        >>> hook, secret = book.add("https://ci.example.com/hook", ["push"], "nlp/", who="ann")
        >>> [h.url for h in book.hooks()], secret == book.get(hook.id).secret
        (['https://ci.example.com/hook'], True)
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._backend = store.backend  # the keys under registry/webhooks/ are this package's
        self._url = store.url

    # -- hooks -----------------------------------------------------------------------------------
    def add(
        self,
        url: str,
        events: list[str] | tuple[str, ...],
        prefix: str = "",
        *,
        who: str,
        registry: str = "",
    ) -> tuple[Hook, str]:
        """Add a hook; its secret is returned here, and never again.

        Args:
            url: ``http://`` or ``https://`` (any host: an admin's choice, internal ones too).
            events: some of ``push``, ``alias``, ``remove``, ``label``.
            prefix: only names under it (``nlp/``; ``nlp`` is ``nlp`` and under it), or all.
            who: who adds it (a token's name, or user@host).
            registry: the registry's base URL, sent in every body (``registry``).

        Raises:
            InvalidInputError: a bad URL, event or prefix; too many hooks.
        """
        problem = hook_url_problem(url)
        if problem is not None:
            raise InvalidInputError(f"{trust.show(url)} cannot be a webhook's URL: {problem}")
        chosen = self.check_events(events)
        if prefix and (not _PREFIX.fullmatch(prefix) or "//" in prefix):
            raise InvalidInputError(
                f"the prefix {trust.show(prefix)} is not an asset-name prefix (nlp/, or nlp for"
                " nlp and every name under it); leave it out for every name"
            )
        if len(self._hook_ids()) >= MAX_HOOKS:
            raise InvalidInputError(
                f"{self._url} has {MAX_HOOKS} webhooks, the most a registry keeps: remove some"
                " with `modelshelf registry webhook rm ID`"
            )
        secret = "mswh_" + secrets.token_urlsafe(32)
        hook = Hook(
            id=f"wh-{uuid.uuid4().hex[:16]}",
            url=url,
            events=chosen,
            prefix=prefix,
            secret=secret,
            created=now_iso(),
            who=trust.escape_controls(str(who))[: trust.MAX_LINE],
            registry=registry[:MAX_URL],
        )
        self._backend.put(f"{PREFIX}/{hook.id}.json", dumps(hook.to_record()), mode="create")
        return hook, secret

    @staticmethod
    def check_events(events: list[str] | tuple[str, ...]) -> tuple[str, ...]:
        """``events`` in a fixed order, each known, at least one.

        Raises:
            InvalidInputError: none, or one that is not an event.
        """
        if not events or not isinstance(events, list | tuple):
            raise InvalidInputError(f"a webhook needs at least one event of {', '.join(EVENTS)}")
        for event in events:
            if event not in EVENTS:
                raise InvalidInputError(
                    f"{trust.show(event)} is not a webhook event: give some of"
                    f" {', '.join(EVENTS)} (e.g. push and alias)"
                )
        return tuple(e for e in EVENTS if e in events)

    def hooks(self) -> list[Hook]:
        """Every hook, sorted by id; damaged records are skipped with a warning."""
        hooks = []
        for hook_id in sorted(self._hook_ids()):
            try:
                hooks.append(self.get(hook_id))
            except (ObjectNotFoundError, UntrustedStoreDataError) as exc:
                log.warning("webhook %s skipped: %s", hook_id, exc)
        return hooks

    def get(self, hook_id: str) -> Hook:
        """The hook ``hook_id``.

        Raises:
            InvalidInputError: not a hook id.
            ObjectNotFoundError: no such hook.
            UntrustedStoreDataError: its record is damaged.
        """
        self.check_id(hook_id)
        key = f"{PREFIX}/{hook_id}.json"
        try:
            data = read_json(self._backend, key, self._url)
        except ObjectNotFoundError:
            raise ObjectNotFoundError(
                f"{self._url} has no webhook {hook_id}; list them with `modelshelf registry"
                " webhook ls`"
            ) from None
        try:
            return _checked_hook(data, hook_id)
        except ValueError as exc:
            raise UntrustedStoreDataError(
                f"{self._url}/{key} is not a webhook record ({exc}); modelshelf did not write"
                " it: delete it and add the hook again",
                store=self._url,
                key=key,
            ) from None

    def remove(self, hook_id: str) -> Hook:
        """Remove a hook: its record, then its cursor and delivery log. A delivery in flight
        may still arrive once.

        Raises:
            ObjectNotFoundError: no such hook.
        """
        hook = self.get(hook_id)
        self._backend.delete(f"{PREFIX}/{hook_id}.json")
        listing = trust.bounded_listing(
            self._backend.list(f"{PREFIX}/{hook_id}"), MAX_LISTED, f"{self._url}/{PREFIX}/"
        )
        for meta in list(listing):
            with contextlib.suppress(StoreError):
                self._backend.delete(meta.path)
        return hook

    @staticmethod
    def check_id(hook_id: str) -> None:
        if not isinstance(hook_id, str) or not HOOK_ID.fullmatch(hook_id):
            raise InvalidInputError(
                f"{trust.show(hook_id)} is not a webhook id (wh- and 16 hex digits, as"
                " `modelshelf registry webhook ls` shows)"
            )

    def _hook_ids(self) -> list[str]:
        """The ids of the hook records, without listing their delivery logs: each step lists
        from just past the previous name (``wh-x0`` sorts after ``wh-x.json`` and everything
        under ``wh-x/``), so the cost is one short listing per hook, however long the logs.

        SeaweedFS lists a folder ``wh-x/`` before the key ``wh-x.json`` (path components, not
        bytes, in order), so a name first seen as a folder is looked up as a record too."""
        found: list[str] = []
        after = ""
        for _ in range(MAX_HOOKS + 100):  # hooks, plus a few other names (the lease)
            meta = next(iter(self._backend.list_after(PREFIX, after)), None)
            if meta is None:
                return found
            top = meta.path[len(PREFIX) + 1 :].split("/", 1)[0]
            name = top.removesuffix(".json")
            if HOOK_ID.fullmatch(name) and (
                top != name or self._backend.exists(f"{PREFIX}/{name}.json")
            ):
                found.append(name)
            after = f"{PREFIX}/{name}0"
        raise UntrustedStoreDataError(
            f"{self._url}/{PREFIX}/ holds more names than {MAX_HOOKS} hooks; modelshelf did not"
            " write them: delete what is not a hook there",
            store=self._url,
        )

    # -- cursors ---------------------------------------------------------------------------------
    def read_cursor(self, hook: Hook) -> Cursor:
        """The hook's cursor: its newest record, or the time it was created (seq 0)."""
        prefix = f"{PREFIX}/{hook.id}/cursor"
        seqs = numbered(self._backend, prefix, self._url)
        if not seqs:
            return Cursor(0, stamp(hook.created))
        seq = seqs[-1]
        key = f"{prefix}/{seq:08d}.json"
        data = read_json(self._backend, key, self._url)
        try:
            return _checked_cursor(data, seq)
        except ValueError as exc:
            raise UntrustedStoreDataError(
                f"{self._url}/{key} is not a webhook cursor ({exc}); modelshelf did not write"
                " it: delete it (the hook then delivers from the cursor before it)",
                store=self._url,
                key=key,
            ) from None

    def write_cursor(self, hook: Hook, previous: Cursor, cursor: str,
                     delivered: frozenset[str], who: str) -> Cursor:  # fmt: skip
        """Advance the cursor from ``previous`` (compare-and-swap on its number).

        Raises:
            ObjectExistsError: another writer advanced it first (another replica delivers).
        """
        seq = previous.seq + 1
        kept = sorted(i for i in delivered if i > cursor)[:MAX_DELIVERED]
        record = {"seq": seq, "cursor": cursor, "delivered": kept, "who": who, "when": now_iso()}
        prefix = f"{PREFIX}/{hook.id}/cursor"
        self._backend.put(f"{prefix}/{seq:08d}.json", dumps(record), mode="create")
        if seq > _KEEP_CURSORS:  # one older record goes with each new one: a few are kept
            with contextlib.suppress(StoreError):
                self._backend.delete(f"{prefix}/{seq - _KEEP_CURSORS:08d}.json")
        return Cursor(seq, cursor, frozenset(kept))


def _checked_hook(data: object, hook_id: str) -> Hook:
    if not isinstance(data, dict):
        raise ValueError("a webhook record must be an object")
    if data.get("id") != hook_id:
        raise ValueError(f"it names the hook {trust.show(data.get('id'))}, not {hook_id}")
    url = data.get("url")
    problem = hook_url_problem(url)
    if problem is not None:
        raise ValueError(problem)
    events = data.get("events")
    if not isinstance(events, list) or not events or any(e not in EVENTS for e in events):
        raise ValueError(f"events must be some of {', '.join(EVENTS)}")
    prefix = trust.check_text(data.get("prefix"), "prefix", limit=200)
    if prefix and not _PREFIX.fullmatch(prefix):
        raise ValueError("the prefix is not an asset-name prefix")
    secret = trust.check_text(data.get("secret"), "secret", limit=200)
    if len(secret) < 16:
        raise ValueError("the secret is too short")
    registry = data.get("registry") or ""
    return Hook(
        id=hook_id,
        url=str(url),
        events=tuple(e for e in EVENTS if e in events),
        prefix=prefix,
        secret=secret,
        created=trust.check_text(data.get("created"), "created"),
        who=trust.check_text(data.get("who"), "who"),
        registry=trust.check_text(registry, "registry", limit=MAX_URL),
    )


_LOG_ID = re.compile(r"[0-9]{8}T[0-9]{6}\.[0-9]{6}Z(-[0-9a-f]{12})?")


def _checked_cursor(data: object, seq: int) -> Cursor:
    if not isinstance(data, dict) or data.get("seq") != seq:
        raise ValueError(f"a cursor record must be an object with seq {seq}")
    cursor = data.get("cursor")
    if not isinstance(cursor, str) or not _LOG_ID.fullmatch(cursor):
        raise ValueError("its cursor is not a store-log id")
    delivered = data.get("delivered", [])
    if not isinstance(delivered, list) or len(delivered) > MAX_DELIVERED:
        raise ValueError(f"delivered must be a list of at most {MAX_DELIVERED} ids")
    if not all(isinstance(i, str) and _LOG_ID.fullmatch(i) for i in delivered):
        raise ValueError("delivered holds something that is not a store-log id")
    return Cursor(seq, cursor, frozenset(delivered))
