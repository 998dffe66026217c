"""Aliases: numbered, create-only records under each alias of an asset.

```
assets/<name>/aliases/<alias>/00000017.json   alias record 17; created only if absent
```
An alias moves by creating the next numbered record after reading the current one. Create-only
writes exist on every backend (S3 If-None-Match, GCS generation match, local exclusive create),
so exactly one of two racing writers gets a given number: this is compare-and-swap on the
alias's sequence number, and the records double as the alias's history. A record whose
``version`` is ``null`` removes the alias.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from modelshelf import trust
from modelshelf.errors import (
    AliasConflictError,
    AliasNotFoundError,
    ObjectExistsError,
    UntrustedStoreDataError,
)
from modelshelf.spec import LATEST
from modelshelf.store._shared import actor, now_iso
from modelshelf.store.removal import RemovalLayout, removed_target_error

__all__ = ["AliasLayout", "AliasRecord"]

_ALIAS_RECORD = re.compile(r"^(\d{8})\.json$")
_ALIAS_RETRIES = 8


@dataclass(frozen=True)
class AliasRecord:
    """One move of an alias: it points at ``version`` since ``when``; ``seq`` counts the moves."""

    alias: str
    version: str | None  # None: this record removes the alias
    previous: str | None
    seq: int
    who: str
    host: str
    when: str

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, indent=2).encode() + b"\n"


class AliasLayout(RemovalLayout):
    """Reading, moving and removing aliases (compare-and-swap on the record number)."""

    def _alias_prefix(self, name: str, alias: str) -> str:
        return f"assets/{name}/aliases/{alias}/"

    def read_alias(self, name: str, alias: str) -> AliasRecord:
        """The current record of an alias.

        Raises:
            AliasNotFoundError: the alias was never set, or was removed.
        """
        seq = self._latest_alias_seq(name, alias)
        record = self._read_alias_record(name, alias, seq) if seq else None
        if record is None or record.version is None:
            removed = (
                f" (removed by {record.who}@{record.host} at {trust.show_time(record.when)})"
                if record
                else ""
            )
            # @latest is the newest version, never a record: `alias set` refuses it.
            step = (
                f"@{LATEST} is the newest version, not an alias with records; list the versions"
                f" with `modelshelf versions {name}`"
                if alias == LATEST
                else f"set it with `modelshelf alias set {name}@{alias} VERSION`"
            )
            raise AliasNotFoundError(
                f"{name} has no alias {alias!r} in {self.url}{removed}; {step}",
                name=name,
                store=self.url,
            )
        return record

    def alias_target(self, name: str, alias: str) -> str:
        """The version ``name@alias`` points at, refused if that version was removed.

        Raises:
            AliasNotFoundError: the alias is not set.
            VersionNotFoundError: it points at a removed version.
        """
        version = self.read_alias(name, alias).version or ""  # read_alias: never a removal
        removal = self.removal(name, version)
        if removal is not None:
            raise removed_target_error(name, alias, version, self.url, removal)
        return version

    def aliases(self, name: str) -> dict[str, AliasRecord]:
        """Every alias of ``name`` with its current record (removed aliases left out)."""
        latest = self._latest_alias_seqs(name)
        records = {a: self._read_alias_record(name, a, s) for a, s in sorted(latest.items())}
        return {a: r for a, r in records.items() if r.version is not None}

    def alias_names(self, name: str) -> list[str]:
        """Every alias of ``name`` that ever had a record, removed ones too (whose history
        still says who moved and removed them), sorted."""
        return sorted(self._latest_alias_seqs(name))

    def _latest_alias_seqs(self, name: str) -> dict[str, int]:
        """Each alias of ``name`` with records, and the number of its newest (one listing)."""
        prefix = f"assets/{name}/aliases/"
        latest: dict[str, int] = {}
        for meta in self._listed(prefix.rstrip("/")):
            alias, _, rest = meta.path[len(prefix) :].partition("/")
            match = _ALIAS_RECORD.match(rest)
            if match and int(match.group(1)) > 0 and trust.is_alias(alias):
                latest[alias] = max(latest.get(alias, 0), int(match.group(1)))
        return latest

    def alias_history(
        self, name: str, alias: str, *, newest: int | None = None
    ) -> list[AliasRecord]:
        """Every move of an alias, oldest first (the records listed, not a count up to the
        last); with ``newest``, only that many of the latest moves are read."""
        seqs = sorted(self._alias_seqs(name, alias))
        if newest is not None:
            seqs = seqs[-newest:] if newest > 0 else []
        return [self._read_alias_record(name, alias, seq) for seq in seqs]

    def set_alias(
        self,
        name: str,
        alias: str,
        version: str,
        *,
        expected: str | None = None,
        writer: Mapping[str, str] | None = None,
    ) -> AliasRecord:
        """Point ``alias`` at ``version`` by creating the next numbered record.

        Args:
            expected: if given, the version the alias must point at now (``""`` for unset);
                otherwise the move retries on a concurrent move, last writer wins.
            writer: ``user`` and ``host`` to record as who moved it (default: this process's
                :func:`~modelshelf.store._shared.actor`); the registry passes the token's name.

        Raises:
            AliasConflictError: ``expected`` did not hold, or moves kept racing.
        """
        if self.removal(name, version) is not None:
            raise self._removed_error(name, version)
        return self._write_alias(name, alias, version, expected, writer)

    def remove_alias(
        self,
        name: str,
        alias: str,
        *,
        expected: str | None = None,
        writer: Mapping[str, str] | None = None,
    ) -> AliasRecord:
        """Remove ``alias`` by creating the next numbered record with ``version: None``.

        Like a move it is compare-and-swap (``expected``) and stays in the alias's history;
        setting the alias again afterwards starts from "unset".

        Raises:
            AliasNotFoundError: the alias is not set.
            AliasConflictError: ``expected`` did not hold, or moves kept racing.
        """
        return self._write_alias(name, alias, None, expected, writer)

    def _write_alias(
        self,
        name: str,
        alias: str,
        version: str | None,
        expected: str | None,
        writer: Mapping[str, str] | None,
    ) -> AliasRecord:
        who = actor() if writer is None else writer
        for _ in range(_ALIAS_RETRIES):
            seq = self._latest_alias_seq(name, alias)
            previous = self._current_version(name, alias, seq)
            if version is None and previous is None:
                self.read_alias(name, alias)  # raises AliasNotFoundError, saying why
            if expected is not None and (previous or "") != expected:
                raise AliasConflictError(
                    f"{name}@{alias} points at {previous or 'nothing'},"
                    f" not {expected or 'nothing'};"
                    " someone moved it: check `modelshelf show` and retry"
                )
            record = AliasRecord(
                alias, version, previous, seq + 1, who["user"], who["host"], now_iso()
            )
            key = f"{self._alias_prefix(name, alias)}{seq + 1:08d}.json"
            try:
                self.backend.put(key, record.to_json(), mode="create")
            except ObjectExistsError:
                continue  # another writer took this number; read again
            return record
        raise AliasConflictError(
            f"{name}@{alias} kept moving under us after {_ALIAS_RETRIES} tries; retry later"
        )

    def _current_version(self, name: str, alias: str, seq: int) -> str | None:
        """Where record ``seq`` points, or ``None`` if there is none or it is not valid.

        A forged current record must not block the move that replaces it.
        """
        if not seq:
            return None
        try:
            return self._read_alias_record(name, alias, seq).version
        except UntrustedStoreDataError:
            return None

    def _alias_seqs(self, name: str, alias: str) -> list[int]:
        prefix = self._alias_prefix(name, alias)
        seqs = []
        for meta in self._listed(prefix.rstrip("/")):
            match = _ALIAS_RECORD.match(meta.path[len(prefix) :])
            if match and int(match.group(1)) > 0:
                seqs.append(int(match.group(1)))
        return seqs

    def _latest_alias_seq(self, name: str, alias: str) -> int:
        return max(self._alias_seqs(name, alias), default=0)

    def _read_alias_record(self, name: str, alias: str, seq: int) -> AliasRecord:
        key = f"{self._alias_prefix(name, alias)}{seq:08d}.json"
        raw = self._read_bounded(key, trust.MAX_RECORD_BYTES, "an alias record")
        try:
            fields = trust.check_alias_record(trust.loads_json(raw), alias=alias, seq=seq)
        except (ValueError, RecursionError) as exc:
            hint = f"set the alias again with `modelshelf alias set {name}@{alias} VERSION`"
            raise self._untrusted(key, "alias record", exc, hint) from exc
        return AliasRecord(**fields)
