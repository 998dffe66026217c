"""The notes (labels and description) of an asset or a version, over the registry's API: the
client side of ``registry/notes_routes.py``, a base of :class:`~modelshelf.store.http.HttpStore`.

```
GET {asset}/-/notes                      the asset's notes        {seq, labels, description, ...}
GET {asset}/-/notes/history              every record             {"history": [...]}
PUT {asset}/-/notes                      {labels, description, expected_seq} -> the new record
    {asset}/-/versions/{version}/notes   the same for one version
```
Every answer is outside input: each record passes :func:`modelshelf.trust.check_notes_record`
as a bucket store's records do, and a history must come oldest first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelshelf import trust
from modelshelf.store._http_listings import MAX_LISTING, RegistryRequests
from modelshelf.store.http_protocol import asset_path
from modelshelf.store.notes import Notes, notes_target

__all__ = ["NotesRequests", "notes_path"]


def notes_path(name: str, version: str | None, *rest: str) -> str:
    """The API path of the notes of ``name`` (``version=None``) or ``name:version``.

    Example:
        >>> notes_path("nlp/sentiment", "1.3", "history")
        '/api/v1/assets/nlp/sentiment/-/versions/1.3/notes/history'
    """
    where = ("notes",) if version is None else ("versions", version, "notes")
    return asset_path(name, *where, *rest)


class NotesRequests(RegistryRequests):
    """Reading and writing notes through the registry (it checks scopes, the compare-and-swap
    and audits each write as the caller's token)."""

    def read_notes(self, name: str, version: str | None = None) -> Notes:
        """The current notes (``seq == 0``: never written)."""
        what = f"the notes of {notes_target(name, version)}"
        answer = self._get(notes_path(name, version), what=what, limit=trust.MAX_RECORD_BYTES)
        return self._notes_record(answer)

    def notes_history(self, name: str, version: str | None = None) -> list[Notes]:
        """Every record of the notes, oldest first."""
        what = f"the notes history of {notes_target(name, version)}"
        answer = self._get(notes_path(name, version, "history"), what=what, limit=MAX_LISTING)
        listed = answer.get("history")
        if not isinstance(listed, list):
            raise self._transport.untrusted(f"{what} is not a list")
        records = [self._notes_record(item, written=True) for item in listed]
        if [r.seq for r in records] != sorted({r.seq for r in records}):
            raise self._transport.untrusted(f"{what} is out of order")
        return records

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
        """Replace the notes (compare-and-swap on ``expected_seq``: NotesConflictError).

        ``writer`` is not sent: the registry records its caller's token as who wrote them.
        """
        answer = self._transport.json(
            "PUT",
            notes_path(name, version),
            payload={
                "labels": dict(labels),
                "description": description,
                "expected_seq": expected_seq,
            },
            limit=trust.MAX_RECORD_BYTES,
            what="a notes record",
            ok=(200, 201),
        )
        record = self._notes_record(answer, written=True)
        if record.seq != expected_seq + 1:
            raise self._transport.untrusted(
                f"the write of the notes of {notes_target(name, version)} answered record"
                f" {record.seq}, not {expected_seq + 1}"
            )
        return record

    def _notes_record(self, data: object, *, written: bool = False) -> Notes:
        """A record of the answer, checked; ``written``: a record that exists (seq 1 or more)."""
        seq: Any = data.get("seq") if isinstance(data, dict) else None
        valid = type(seq) is int and (seq > 0 or (seq == 0 and not written))
        fields = self._checked(
            trust.check_notes_record, data, "notes record", seq=seq if valid else -1
        )
        return Notes(**fields)
