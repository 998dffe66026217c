"""How the facade takes its arguments: a spec as text or :class:`~modelshelf.spec.AssetSpec`, and
progress as a flag or a :class:`~modelshelf.transfer.progress.Progress` of the caller's.

Shared by :class:`~modelshelf.shelf.shelf.Shelf` and its base
:class:`~modelshelf.shelf.care.ShelfCare`, so that every method reads them alike.
"""

from __future__ import annotations

from modelshelf.spec import AssetSpec, parse_spec
from modelshelf.transfer.progress import Progress, make_progress

__all__ = ["as_progress", "as_spec"]


def as_spec(spec: str | AssetSpec) -> AssetSpec:
    """``spec``, parsed if it is text."""
    return spec if isinstance(spec, AssetSpec) else parse_spec(spec)


def as_progress(progress: bool | Progress | None) -> Progress:
    """The caller's :class:`Progress`, or bars drawn when ``progress`` says so (``None``: when
    stderr is a terminal)."""
    return progress if isinstance(progress, Progress) else make_progress(progress)
