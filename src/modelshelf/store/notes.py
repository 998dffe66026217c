"""Notes: the mutable labels and description of an asset or of one version, as numbered,
create-only records beside its aliases.

```
assets/<name>/notes/asset/00000003.json               the asset's notes, record 3
assets/<name>/notes/versions/1.3/00000001.json        the notes of version 1.3, record 1
```
A manifest never changes, so what people say about a version later (``team=nlp``,
``stage=candidate``, a description in Markdown) lives here. Each write creates the next numbered
record after the one the writer read (``expected_seq``), only if absent: exactly one of two
racing writers gets a number, as with aliases (:mod:`modelshelf.store.aliases`), and the
records are the notes' history. A record holds the whole notes (every label, the description),
so the newest one alone says what they are.

Example:
    >>> from modelshelf.backends.memory import MemoryBackend
    >>> from modelshelf.store.bucket import Store
    >>> store = Store(MemoryBackend("memory://notes-doc"))
    >>> store.read_notes("nlp/sentiment").seq   # never written: empty notes, record 0
    0
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelshelf import trust
from modelshelf.errors import (
    InvalidInputError,
    NotesConflictError,
    ObjectExistsError,
    UntrustedStoreDataError,
)
from modelshelf.spec import Version
from modelshelf.store._shared import actor, now_iso
from modelshelf.store.removal import RemovalLayout

__all__ = ["Notes", "NotesLayout", "checked_notes", "notes_target"]

_NOTES_RECORD = re.compile(r"^(\d{8})\.json$")


@dataclass(frozen=True)
class Notes:
    """The labels and description of an asset or a version, as one record left them.

    Attributes:
        labels: ``{"team": "nlp", "gpu": ""}``, sorted by key; an empty value is a bare label.
        description: Markdown text.
        seq: the record's number (``0``: never written, the notes are empty).
        who: who wrote the record (a user, or a registry token's name).
        host: where it was written from.
        when: when (ISO 8601, UTC).
    """

    labels: dict[str, str] = field(default_factory=dict)
    description: str = ""
    seq: int = 0
    who: str = ""
    host: str = ""
    when: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON writes it (``seq`` first)."""
        return {
            "seq": self.seq,
            "labels": dict(self.labels),
            "description": self.description,
            "who": self.who,
            "host": self.host,
            "when": self.when,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), indent=2).encode() + b"\n"

    def labels_text(self) -> str:
        """The labels as people write them: ``gpu, team=nlp`` (``""`` for none)."""
        return ", ".join(k if not v else f"{k}={v}" for k, v in self.labels.items())


def notes_target(name: str, version: str | None) -> str:
    """``name`` or ``name:version``: whose notes, for messages."""
    return name if version is None else f"{name}:{version}"


def checked_notes(labels: object, description: object, what: str) -> tuple[dict[str, str], str]:
    """Labels and description about to be written, checked as a reader will check them.

    Raises:
        InvalidInputError: either is refused (a label key with upper case, a value over 256
            characters, more than 64 labels, a description over 64 KiB...); nothing is written.
    """
    try:
        return trust.check_labels(labels), trust.check_description(description)
    except ValueError as exc:
        raise InvalidInputError(f"the notes of {what} are refused: {exc}") from None


class NotesLayout(RemovalLayout):
    """Reading and writing notes (compare-and-swap on the record number).

    Needs :meth:`versions` of the layout it is mixed into (:class:`~modelshelf.store.bucket.Store`)
    to say which versions a write may target.
    """

    def versions(self, name: str) -> list[Version]:
        raise NotImplementedError("'versions' must be implemented")

    @staticmethod
    def _notes_prefix(name: str, version: str | None) -> str:
        where = "asset" if version is None else f"versions/{version}"
        return f"assets/{name}/notes/{where}/"

    def read_notes(self, name: str, version: str | None = None) -> Notes:
        """The current notes of asset ``name`` (``version=None``) or of ``name:version``.

        Notes never written are empty (``seq == 0``).

        Raises:
            UntrustedStoreDataError: the newest record is not what modelshelf writes.
        """
        seq = max(self._notes_seqs(name, version), default=0)
        return self._read_notes_record(name, version, seq) if seq else Notes()

    def noted_versions(self, name: str) -> list[str]:
        """The versions of ``name`` that have notes (one listing; removed versions included)."""
        prefix = f"assets/{name}/notes/versions/"
        found = set()
        for meta in self._listed(prefix.rstrip("/")):
            version, _, rest = meta.path[len(prefix) :].partition("/")
            if _NOTES_RECORD.match(rest) and trust.listed_version(version) is not None:
                found.add(version)
        return sorted(found)

    def notes_history(self, name: str, version: str | None = None) -> list[Notes]:
        """Every record of the notes, oldest first (empty if never written).

        Raises:
            UntrustedStoreDataError: a record is not what modelshelf writes, or the records
                take more than :data:`~modelshelf.trust.MAX_LOG_BYTES` together (a history is
                refused whole, never cut short).
        """
        seqs = sorted(self._notes_seqs(name, version))
        records, total = [], 0
        for seq in seqs:
            record = self._read_notes_record(name, version, seq)
            total += len(record.to_json())
            if total > trust.MAX_LOG_BYTES:
                raise UntrustedStoreDataError(
                    f"the notes history of {notes_target(name, version)} in {self.url} holds"
                    f" more than {trust.MAX_LOG_BYTES} bytes of records, more than modelshelf"
                    f" reads at once; move its oldest records ({self._notes_prefix(name, version)},"
                    " lowest numbers first, keeping the newest) to an archive",
                    store=self.url,
                )
            records.append(record)
        return records

    def notes_record(self, name: str, version: str | None, seq: int) -> Notes:
        """Record number ``seq`` of the notes (the registry's audit compares it with the next).

        Raises:
            ObjectNotFoundError: there is no such record.
            UntrustedStoreDataError: it is not what modelshelf writes.
        """
        return self._read_notes_record(name, version, seq)

    def write_notes(
        self,
        name: str,
        version: str | None,
        *,
        labels: Mapping[str, str],
        description: str,
        expected_seq: int,
        writer: Mapping[str, str] | None = None,
    ) -> Notes:
        """Replace the notes with ``labels`` and ``description``: create record
        ``expected_seq + 1``, only if ``expected_seq`` is the newest record now.

        Args:
            version: ``None`` for the asset's own notes, else a live version's.
            expected_seq: the number of the record the new notes were made from (``0``: none).
            writer: ``user`` and ``host`` to record as who wrote them (default: this process's
                :func:`~modelshelf.store._shared.actor`); the registry passes the token's name.

        Raises:
            NotesConflictError: another record was written since ``expected_seq`` (its
                ``current`` says the newest number).
            AssetNotFoundError, VersionNotFoundError: no such asset, or the version is not live.
            InvalidInputError: the labels or description are refused; nothing was written.
        """
        what = notes_target(name, version)
        if type(expected_seq) is not int or expected_seq < 0:
            raise InvalidInputError(
                f"expected_seq {trust.show(expected_seq)} for the notes of {what} is not a"
                " record number (0 or more)"
            )
        checked_labels, checked_text = checked_notes(dict(labels), description, what)
        self._check_notes_target(name, version)
        current = max(self._notes_seqs(name, version), default=0)
        if current != expected_seq:
            raise self._notes_conflict(name, version, current, expected_seq)
        who = actor() if writer is None else writer
        record = Notes(
            checked_labels, checked_text, expected_seq + 1, who["user"], who["host"], now_iso()
        )
        body = record.to_json()
        if len(body) > trust.MAX_RECORD_BYTES:  # every reader would refuse it: never write it
            raise InvalidInputError(
                f"the notes of {what} take {len(body)} bytes, over the {trust.MAX_RECORD_BYTES}"
                " a record may take; shorten the description or the labels"
            )
        key = f"{self._notes_prefix(name, version)}{record.seq:08d}.json"
        try:
            self.backend.put(key, body, mode="create")
        except ObjectExistsError:
            latest = max(self._notes_seqs(name, version), default=record.seq)
            raise self._notes_conflict(name, version, latest, expected_seq) from None
        return record

    def _check_notes_target(self, name: str, version: str | None) -> None:
        """Notes go on an asset with a live version, or on a live version."""
        if (
            version is not None
            and self.removal(name, version) is None
            and self.backend.exists(self.manifest_key(name, version))
        ):
            return
        live = self.versions(name)
        if version is None and live:
            return
        raise self.version_not_found(name, None if version is None else Version.parse(version),
                                     live)  # fmt: skip

    def _notes_conflict(
        self, name: str, version: str | None, current: int, expected: int
    ) -> NotesConflictError:
        what = notes_target(name, version)
        return NotesConflictError(
            f"the notes of {what} in {self.url} are at record {current}, not {expected}: someone"
            f" changed them meanwhile; read them again (`modelshelf label ls {what}`) and retry",
            name=name,
            version=version or "",
            current=current,
            expected=expected,
        )

    def _notes_seqs(self, name: str, version: str | None) -> list[int]:
        prefix = self._notes_prefix(name, version)
        seqs = []
        for meta in self._listed(prefix.rstrip("/")):
            match = _NOTES_RECORD.match(meta.path[len(prefix) :])
            if match and int(match.group(1)) > 0:
                seqs.append(int(match.group(1)))
        return seqs

    def _read_notes_record(self, name: str, version: str | None, seq: int) -> Notes:
        key = f"{self._notes_prefix(name, version)}{seq:08d}.json"
        raw = self._read_bounded(key, trust.MAX_RECORD_BYTES, "a notes record")
        try:
            fields = trust.check_notes_record(trust.loads_json(raw), seq=seq)
        except (ValueError, RecursionError) as exc:
            what = notes_target(name, version)
            hint = (
                f"delete that key, then set the notes again with `modelshelf label set {what}"
                " KEY[=VALUE]`"
            )
            raise self._untrusted(key, "notes record", exc, hint) from exc
        return Notes(**fields)
