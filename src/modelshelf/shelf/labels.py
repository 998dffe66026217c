"""Labels and descriptions from the facade: whose notes a spec names, changing them without
losing a concurrent change, and the ``KEY[=VALUE]`` text people write labels in.

A spec ``name`` names the asset's own notes; ``name:1.3``, ``name:1`` (the newest 1.x) or
``name@alias`` the notes of the version it resolves to. A change is read, changed, written
with the number of the record read (compare-and-swap) and, when another write won meanwhile,
done again on what that write left: two people adding different labels at once both keep
theirs. Each write is audited (``label``) in the asset's log; a registry audits its own.

Example:
    >>> parse_label("team=nlp"), parse_label("gpu")
    (('team', 'nlp'), ('gpu', ''))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from modelshelf import trust
from modelshelf.errors import InvalidInputError, NotesConflictError
from modelshelf.shelf.listing import live_versions

if TYPE_CHECKING:
    from modelshelf.spec import AssetSpec
    from modelshelf.store.api import MaintainedStore
    from modelshelf.store.notes import Notes

__all__ = [
    "NOTES_RETRIES",
    "change_notes",
    "checked_change",
    "notes_target",
    "parse_label",
    "parse_labels",
    "read_asset_notes",
]

NOTES_RETRIES = 8
"""Tries of a change of the notes that keeps meeting concurrent changes, before it gives up."""


def notes_target(target: AssetSpec, resolve: Callable[[AssetSpec], str]) -> tuple[str, str | None]:
    """``(name, None)`` for a spec ``name`` (the asset's notes), else ``(name, version)`` with
    the version ``resolve`` pins it to.

    Raises:
        InvalidInputError: the spec names a path inside a version (notes are the version's).
    """
    if target.path:
        raise InvalidInputError(
            f"notes are an asset's or a version's, not a file's: give {target.name} or"
            f" {target.name}:VERSION, not {str(target)!r}"
        )
    if target.version is None and target.alias is None:
        return target.name, None
    return target.name, resolve(target)


def parse_label(text: str) -> tuple[str, str]:
    """``KEY[=VALUE]`` as ``(key, value)``; a bare ``KEY`` is a label with an empty value.

    Spaces around the key and the value are dropped; the value may hold ``=``.

    Raises:
        InvalidInputError: the key is not 1 to 63 of ``a-z 0-9 . _ / -`` (lower case, starting
            with a letter or a digit), or the value is not one line of at most 256 characters.

    Example:
        >>> parse_label("k8s.io/arch = arm64=v8")
        ('k8s.io/arch', 'arm64=v8')
    """
    key, _, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not trust.LABEL_KEY.fullmatch(key):
        raise InvalidInputError(
            f"the label {trust.show(text)} is refused: its key {trust.show(key)} is not 1 to 63"
            " of a-z 0-9 . _ / - (lower case, starting with a letter or digit); write"
            " KEY=VALUE, or KEY alone for a bare label"
        )
    try:
        trust.check_text(value, f"the value of the label {key}", limit=trust.MAX_LABEL_VALUE)
    except ValueError as exc:
        raise InvalidInputError(f"the label {trust.show(text)} is refused: {exc}") from None
    return key, value


def parse_labels(texts: Iterable[str]) -> dict[str, str]:
    """Each ``KEY[=VALUE]`` of ``texts`` (see :func:`parse_label`), as one mapping.

    Raises:
        InvalidInputError: one is refused, or a key is given twice with two values.
    """
    labels: dict[str, str] = {}
    for text in texts:
        key, value = parse_label(text)
        if labels.get(key, value) != value:
            raise InvalidInputError(
                f"the label {key} is given twice, as {trust.show(labels[key])} and"
                f" {trust.show(value)}; give it once"
            )
        labels[key] = value
    return labels


def checked_change(
    what: str,
    set_labels: Mapping[str, str] | None,
    remove: Iterable[str] | None,
    description: str | None,
) -> tuple[dict[str, str], list[str]]:
    """The labels to set and the keys to remove, checked before the store is asked.

    Raises:
        InvalidInputError: a label or the description is refused, or a key is both set and
            removed.
    """
    try:
        labels = trust.check_labels(dict(set_labels or {}))
        if description is not None:
            trust.check_description(description)
    except ValueError as exc:
        raise InvalidInputError(f"the notes of {what} are refused: {exc}") from None
    keys = list(dict.fromkeys(remove or ()))
    for key in keys:
        if not isinstance(key, str) or not trust.LABEL_KEY.fullmatch(key):
            raise InvalidInputError(f"{trust.show(key)} is no label key to remove from {what}")
    both = sorted(set(keys) & labels.keys())
    if both:
        raise InvalidInputError(f"the labels {', '.join(both)} are both set and removed; choose")
    return labels, keys


def change_notes(
    store: MaintainedStore,
    name: str,
    version: str | None,
    *,
    set_labels: Mapping[str, str] | None = None,
    remove: Iterable[str] | None = None,
    description: str | None = None,
) -> Notes:
    """Set and remove labels and replace the description of ``name`` (``version=None``) or
    ``name:version``, retrying on a concurrent change; audit the write.

    Nothing is written when nothing changes (the current notes are returned).

    Raises:
        InvalidInputError: a label or description is refused, or a label to remove is not
            there; nothing was written.
        NotesConflictError: concurrent changes kept winning for :data:`NOTES_RETRIES` tries.
        AssetNotFoundError, VersionNotFoundError: no such asset, or the version is not live.
    """
    what = name if version is None else f"{name}:{version}"
    labels, keys = checked_change(what, set_labels, remove, description)
    conflict: NotesConflictError | None = None
    for attempt in range(NOTES_RETRIES):
        current = store.read_notes(name, version)
        if attempt == 0 and version is None and current.seq == 0:
            live_versions(store, name)  # AssetNotFoundError for an unknown asset, said first
        missing = [k for k in keys if k not in current.labels]
        if attempt == 0 and missing:  # on a retry, a concurrent change may have removed it
            has = ", ".join(current.labels) or "none"
            raise InvalidInputError(
                f"{what} has no label {', '.join(missing)} to remove (it has {has});"
                f" list them with `modelshelf label ls {what}`"
            )
        wanted = {k: v for k, v in {**current.labels, **labels}.items() if k not in keys}
        text = current.description if description is None else description
        if wanted == current.labels and text == current.description:
            return current
        try:
            record = store.write_notes(
                name, version, labels=wanted, description=text, expected_seq=current.seq
            )
        except NotesConflictError as exc:
            conflict = exc
            continue
        audited = {} if version is None else {"version": version}
        store.append_log(
            name,
            "label",
            **audited,
            seq=record.seq,
            labels=record.labels_text(),
            description_changed=text != current.description,
        )
        return record
    assert conflict is not None
    raise NotesConflictError(
        f"the notes of {what} kept changing under us after {NOTES_RETRIES} tries ({conflict});"
        " retry later",
        name=name,
        version=version or "",
        current=conflict.current,
        expected=conflict.expected,
    )


def read_asset_notes(store: MaintainedStore, name: str) -> Notes:
    """The asset's own notes; an asset that never had a version is refused."""
    notes = store.read_notes(name)
    if notes.seq == 0:
        live_versions(store, name)  # AssetNotFoundError for an unknown asset
    return notes
