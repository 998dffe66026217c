"""What ``modelshelf log`` says of each audit record: its event name and its line of text.

Every record kind the code writes (``push``, ``copy``, ``repair``, ``alias`` set or removed,
``remove``, ``label``) has its own line; any other action is store text and prints as itself,
escaped, with the version and message it carries. Records reach here checked by
:func:`modelshelf.trust.check_log_record`; every value is still escaped (:func:`printable`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from modelshelf.cli._common import format_time, printable

__all__ = ["log_event", "log_line"]

Record = Mapping[str, Any]


def _text(record: Record, key: str) -> str:
    value = record.get(key)
    return "" if value is None else printable(value)


def _versioned(record: Record) -> str:
    """``push 1.3``, ``remove 1.3``, or an unknown action with whatever version it names."""
    version = _text(record, "version")
    return f"{_text(record, 'action')} {version}".rstrip()


def _copied(record: Record) -> str:
    """``copy 1.3 from s3://dev/shelf`` (``repair`` alike: blobs copied again)."""
    source = _text(record, "source")
    return _versioned(record) + (f" from {source}" if source else "")


def _alias_set(record: Record) -> str:
    previous = _text(record, "previous") or "unset"
    return f"alias @{_text(record, 'alias')} -> {_text(record, 'version')} (was {previous})"


def _alias_removed(record: Record) -> str:
    previous = _text(record, "previous") or "unset"
    return f"alias @{_text(record, 'alias')} removed (was {previous})"


def _labelled(record: Record) -> str:
    """``label 1.3: gpu, team=nlp (description changed)`` (no version: the asset's own)."""
    version = _text(record, "version")
    labels = _text(record, "labels") or "no labels"
    changed = " (description changed)" if record.get("description_changed") is True else ""
    return f"label{' ' + version if version else ''}: {labels}{changed}"


_LINES: dict[str, Callable[[Record], str]] = {
    "push": _versioned,
    "remove": _versioned,
    "copy": _copied,
    "repair": _copied,
    "alias-set": _alias_set,
    "alias-remove": _alias_removed,
    "label": _labelled,
}


def log_event(record: Record) -> str:
    """The event a record stands for: its action, except that an ``alias`` record is
    ``alias-set`` or ``alias-remove`` (a removal records no version)."""
    action = str(record.get("action"))
    if action == "alias":
        return "alias-set" if record.get("version") is not None else "alias-remove"
    return action


def log_line(record: Record) -> str:
    """``<time>  <user>@<host>  <what>[  <message>]``, one line whatever the store sent."""
    what = _LINES.get(log_event(record), _versioned)(record)
    message = _text(record, "message")
    who = printable(f"{record.get('user')}@{record.get('host')}")
    return f"{format_time(record.get('when'))}  {who}  {what}" + (f"  {message}" if message else "")
