"""The export function: pull a version into the verified cache and hand it to a downloader."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from modelshelf import trust
from modelshelf.downloaders.choose import created, sink_from
from modelshelf.downloaders.folder import FileSystemDownloader
from modelshelf.downloaders.store import StoreDownloader
from modelshelf.downloaders.version import Downloader, PulledVersion
from modelshelf.errors import ExportError, InvalidInputError, ModelshelfError

if TYPE_CHECKING:
    from modelshelf.shelf.resolve import Resolved
    from modelshelf.shelf.shelf import Shelf

__all__ = ["export", "export_resolved"]


def export(
    spec: str,
    to: Downloader | type[Any] | str | os.PathLike[str] = ".",
    *,
    store: str | Shelf | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
) -> str:
    """Pull ``spec`` into the verified cache and hand it to a downloader (sink).

    Args:
        spec: ``NAME``, ``NAME:VERSION`` or ``NAME@ALIAS`` (a whole version, no sub-path).
        to: a :class:`Downloader` (any callable taking a :class:`PulledVersion`; a class is
            created with no arguments, as from ``--to``), or text for
            :func:`sink_from`: a folder (default: the working folder), a store URL, or
            ``package.module:Class``.
        store: the store to pull from: a :class:`~modelshelf.Shelf`, a URL or a config name
            (default: the default store).
        overwrite: for a folder or store URL given as text: replace what holds other content.
        progress: show progress bars while pulling (default: when stderr is a terminal).

    Returns:
        Where the version went, as the sink says (a path or URL).

    Raises:
        ExportError: the sink refused or failed (its message names the sink).
        ModelshelfError: the pull failed (unknown spec, store unreachable, ...).

    Example:
        >>> # modelshelf.export("nlp/sentiment@production", to="./deploy")
    """
    from modelshelf.shelf.shelf import Shelf
    from modelshelf.spec import parse_spec

    target = parse_spec(spec)
    sink: Callable[[PulledVersion], object]
    if isinstance(to, str | os.PathLike):
        sink = sink_from(to, overwrite=overwrite)
    elif callable(to):
        sink = created(to, "to=", getattr(to, "__qualname__", "the sink"))
    else:
        raise InvalidInputError(
            f"the sink {trust.show(to)} is not callable; pass a Downloader, a folder or a store URL"
        )
    shelf = store if isinstance(store, Shelf) else Shelf(store)
    return export_resolved(shelf, shelf.resolve(target), sink, progress=progress)


def export_resolved(
    shelf: Shelf,
    resolved: Resolved,
    sink: Callable[[PulledVersion], object],
    *,
    progress: bool | None = None,
) -> str:
    """:func:`export` for a version already pinned by :meth:`~modelshelf.Shelf.resolve`."""
    if resolved.spec.path:
        raise InvalidInputError(
            f"export takes a whole version (NAME, NAME:VERSION or NAME@ALIAS), not the sub-path"
            f" in {str(resolved.spec)!r}; use `modelshelf pull SPEC -o DIR` for part of one"
        )
    shelf.pull_resolved(resolved, progress=progress)
    manifest = resolved.manifest
    section = manifest.extra.get("model")
    engine = section.get("engine") if isinstance(section, dict) else None
    pulled = PulledVersion(
        name=manifest.name,
        version=manifest.version,
        manifest=manifest,
        snapshot=shelf.cache.snapshot_dir(shelf.store_id, manifest.name, manifest.version),
        engine=engine if isinstance(engine, str) else None,
        cache_root=shelf.cache.root,
    )
    try:
        where = sink(pulled)
    except ModelshelfError:
        raise  # already one line naming what failed (a store error keeps its hint)
    except Exception as exc:
        raise ExportError(
            f"the sink {_label(sink)} failed on {manifest.name}:{manifest.version}:"
            f" {type(exc).__name__}: {exc}",
            sink=_label(sink),
        ) from exc
    if not isinstance(where, str | os.PathLike):
        raise ExportError(
            f"the sink {_label(sink)} returned {trust.show(where)}, not where the version went"
            " (a path or URL as text)",
            sink=_label(sink),
        )
    return os.fspath(where)


def _label(sink: object) -> str:
    """``module:Name`` of a sink function, or of a sink object's class; a built-in's repr."""
    if isinstance(sink, FileSystemDownloader | StoreDownloader):
        return repr(sink)
    kind = sink if inspect.isroutine(sink) or isinstance(sink, type) else type(sink)
    return f"{getattr(kind, '__module__', '?')}:{getattr(kind, '__qualname__', '?')}"
