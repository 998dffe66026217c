"""What the registry store asks in bulk (listings, pages) and what gc needs of its blobs, beside
the request helpers the store shares: the base of :class:`~modelshelf.store.http.HttpStore`.

Every listing is outside input: each name, version, digest and size is checked, pages must move
forward, and anything not valid is skipped as a bucket listing skips keys that are not ours.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from modelshelf import constants, trust
from modelshelf._name_glob import name_matches
from modelshelf.backends.base import ObjectMeta
from modelshelf.errors import UntrustedStoreDataError
from modelshelf.store._http_transport import Transport, trust_dumps
from modelshelf.store.http_protocol import API, MAX_BATCH

__all__ = ["MAX_LISTING", "RegistryRequests"]

_SHA256 = re.compile(r"[0-9a-f]{64}")
_RUN = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{12}")
MAX_LISTING = 64 << 20
"""The largest JSON answer of a listing: a page of names, live versions, a log, a history."""


class RegistryRequests:
    """The registry's URL and transport, its listings, and gc's blob operations."""

    url: str
    _transport: Transport

    # -- helpers -------------------------------------------------------------------------------
    def _get(
        self,
        path: str,
        *,
        what: str,
        params: dict[str, str | int] | None = None,
        limit: int = MAX_LISTING,
    ) -> dict[str, Any]:
        return self._transport.json("GET", path, params=params, limit=limit, what=what)

    def _post(self, path: str, payload: Any = None, ok: tuple[int, ...] = (200, 201, 204)) -> None:
        response = self._transport.send(
            "POST",
            path,
            body=None if payload is None else trust_dumps(payload),
            headers={"Content-Type": "application/json"},
            idempotent=False,
            ok=ok,
        )
        response.close()

    def _checked(self, check: Callable[..., Any], data: object, what: str, **kw: Any) -> Any:
        try:
            return check(data, **kw)
        except (ValueError, RecursionError) as exc:
            raise UntrustedStoreDataError(
                f"the registry {self.url} sent an invalid {what} ({exc}); modelshelf did not"
                " write it (or it was edited since): ask the registry's admin to check the"
                " store behind it",
                store=self.url,
            ) from exc

    # -- listings ------------------------------------------------------------------------------
    def _pages(self, path: str, key: str, what: str, **params: str) -> Iterator[object]:
        """The items of a paged listing (``{key: [...], "next": ...}``), page after page.

        Pages must move forward and the whole is bounded like a bucket listing
        (``MODELSHELF_MAX_LIST_KEYS``): a registry that never ends its listing is refused.
        """
        after: str | None = None
        count, limit = 0, constants.max_list_keys()
        while True:
            asked: dict[str, str | int] = {**params, "limit": MAX_BATCH}
            if after is not None:
                asked["after"] = after
            page = self._get(f"{API}{path}", params=asked, what=what)
            listed, following = page.get(key), page.get("next")
            if not isinstance(listed, list) or len(listed) > MAX_BATCH:
                raise self._transport.untrusted(f"a page of {what} holds no list of at most"
                                                f" {MAX_BATCH}")  # fmt: skip
            count += len(listed)
            if count > limit:
                raise UntrustedStoreDataError(
                    f"{what} of {self.url} holds more than {limit} entries; raise"
                    " MODELSHELF_MAX_LIST_KEYS if the registry is that large",
                    store=self.url,
                )
            yield from listed
            if following is None:
                return
            if not isinstance(following, str) or (after is not None and following <= after):
                raise self._transport.untrusted(f"the next page of {what} goes backwards")
            after = following

    def assets(self, prefix: str = "") -> list[str]:
        """Names of every asset with a live version the token may read, sorted; ``prefix`` as
        :meth:`Store.assets <modelshelf.store.bucket.Store.assets>` takes it."""
        listed = self._pages("/assets", "assets", "the asset listing", prefix=prefix)
        names = {n for n in listed if isinstance(n, str) and trust.is_name(n)}
        return sorted(n for n in names if name_matches(prefix, n))

    def live_versions(self, prefix: str = "") -> set[tuple[str, str]]:
        """``(name, version)`` of every live version under ``prefix`` the token may read."""
        answer = self._get(f"{API}/live-versions", params={"prefix": prefix}, what="live versions")
        listed = answer.get("versions")
        if not isinstance(listed, list):
            raise self._transport.untrusted("the live versions are not a list")
        found: set[tuple[str, str]] = set()
        for item in listed:
            if isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item):
                name, version = item
                if trust.is_name(name) and trust.listed_version(version):
                    found.add((name, version))
        return found

    def blobs(self) -> Iterator[tuple[str, ObjectMeta]]:
        """Every blob of the registry's store (admin scope), page by page."""
        for item in self._pages("/blobs", "blobs", "the blob listing"):
            entry = self._blob_entry(item, 0)
            if entry is not None:
                yield entry[1], entry[2]

    def delete_blob(self, sha256: str) -> None:
        """Delete one blob (garbage collection only; admin scope)."""
        self._transport.send("DELETE", f"/blobs/{sha256}", idempotent=True, ok=(200, 204)).close()

    def quarantine_blob(self, sha256: str, run: str) -> None:
        """Move a blob into gc run ``run``'s quarantine (ObjectNotFoundError if gone)."""
        self._post(f"/quarantine/{run}/{sha256}")

    def quarantined(self) -> Iterator[tuple[str, str, ObjectMeta]]:
        """Every quarantined blob: ``(run, sha256, meta)``."""
        answer = self._get(f"{API}/quarantine", what="the gc quarantine")
        listed = answer.get("blobs")
        if not isinstance(listed, list):
            raise self._transport.untrusted("the gc quarantine holds no list")
        for item in listed:
            entry = self._blob_entry(item, 1)
            if entry is not None:
                yield entry

    def restore_blob(self, sha256: str, run: str, size: int) -> None:
        """Put a quarantined blob back, verified by the registry (IntegrityError if not it)."""
        self._post(f"/quarantine/{run}/{sha256}/restore", {"size": size})

    def drop_quarantined(self, sha256: str, run: str) -> None:
        """Delete a blob from gc run ``run``'s quarantine."""
        path = f"/quarantine/{run}/{sha256}"
        self._transport.send("DELETE", path, idempotent=True, ok=(200, 204)).close()

    def _blob_entry(self, item: object, skip: int) -> tuple[str, str, ObjectMeta] | None:
        """``[run,] sha256, size, last_modified`` of a listing, checked; None if not valid."""
        if not isinstance(item, list) or len(item) != 3 + skip:
            return None
        run = item[0] if skip else ""
        sha256, size, modified = item[skip:]
        if skip and not (isinstance(run, str) and _RUN.fullmatch(run)):
            return None
        if not (isinstance(sha256, str) and _SHA256.fullmatch(sha256)):
            return None
        if type(size) is not int or size < 0:
            return None
        when = None
        if isinstance(modified, str):
            try:
                when = datetime.fromisoformat(modified.replace("Z", "+00:00"))
            except ValueError:
                when = None
        return run, sha256, ObjectMeta(path=sha256, size=size, last_modified=when)
