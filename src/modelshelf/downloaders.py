"""Downloaders (sinks): where a pulled version goes after the verified cache.

A :class:`Downloader` is any callable that takes a :class:`PulledVersion` and returns where the
version went, as text (a path or a URL). :func:`export` pulls a spec into the cache, then hands
it to one. Two ship with modelshelf:

- :class:`FileSystemDownloader` (the default): plain, writable files under a folder. A version
  of one file becomes ``ROOT/<name><extension>`` (the extension from how the model was saved or
  its engine: :data:`SAVED_EXTENSIONS`, :data:`ENGINE_EXTENSIONS`; else the file's own plain
  suffix, ``net.onnx`` -> ``.onnx``; else none); a version of several files
  becomes the folder ``ROOT/<name>/`` holding the version's tree. The ``/`` segments of an asset
  name are folders: ``nlp/sentiment`` is ``ROOT/nlp/sentiment.onnx``. The version is not in the
  path (a deployment folder holds one version of each model): exporting another version over it
  is refused unless ``overwrite=True``; the same content again is left as it is.
- :class:`StoreDownloader`: a readable tree ``<prefix>/<name>/<version>/<path>`` in any store.

Your own sink is a class or function; from the command line, ``--to package.module:Class``
names an installed class, instantiated with no arguments. ``--to`` tells its forms apart so:
a word the config file declares (``prod``) is that store, ``scheme://...`` is a store URL,
``pkg.mod:Class`` (ASCII identifiers, one colon) is a class, anything else is a local path
(write ``./prod`` or ``./pkg.mod:Class`` for a folder of that name).

Example:
    >>> import modelshelf
    >>> # modelshelf.export("nlp/sentiment@production", to="./deploy")
    >>> #     -> "deploy/nlp/sentiment.onnx"
    >>> # modelshelf.export("nlp/sentiment:1", to="s3://serving/models")
    >>> #     -> "s3://serving/models/nlp/sentiment/1.3"
    >>> # modelshelf.export("nlp/sentiment:1", to=MySink(), store=shelf)
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from modelshelf import _imports, constants, trust
from modelshelf._dir_fd import copy_fd, create_file, walk
from modelshelf._file_extension import ENGINE_EXTENSIONS, SAVED_EXTENSIONS, extension_of
from modelshelf.backends.base import without_password
from modelshelf.backends.registry import open_guarded
from modelshelf.errors import (
    ExportError,
    InvalidInputError,
    ModelshelfError,
    ObjectExistsError,
    UntrustedStoreDataError,
    UserFolderRefusedError,
)
from modelshelf.manifest import FileEntry, Manifest
from modelshelf.store.named import configured_store, normalize_url
from modelshelf.transfer.user_folder import (
    Step,
    UserFolder,
    hash_regular_file,
    same_content,
    user_path,
)

if TYPE_CHECKING:
    from modelshelf.backends.base import Backend
    from modelshelf.shelf.resolve import Resolved
    from modelshelf.shelf.shelf import Shelf

__all__ = [
    "ENGINE_EXTENSIONS",
    "SAVED_EXTENSIONS",
    "Downloader",
    "FileSystemDownloader",
    "PulledVersion",
    "StoreDownloader",
    "export",
    "export_resolved",
    "sink_from",
]

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_CLASS = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_.]*", re.ASCII)


@dataclass(frozen=True)
class PulledVersion:
    """What a :class:`Downloader` receives: one version, whole and verified in the cache.

    Attributes:
        name: the asset name, e.g. ``nlp/sentiment``.
        version: the exact version, e.g. ``1.3``.
        manifest: the version's manifest (files with sizes and sha256, metadata, sections).
        snapshot: the version's snapshot folder in the cache. Read-only: its files are links to
            the cache's blobs, so copy them out, never write or move them.
        engine: the ``engine`` of the manifest's ``model`` section (``"onnx"``, ``"torch"``,
            ...), or None when the version is not a registered model.
        cache_root: the cache the snapshot is in (a folder sink never writes into it).
    """

    name: str
    version: str
    manifest: Manifest
    snapshot: Path
    engine: str | None = None
    cache_root: Path | None = None

    @property
    def single_file(self) -> FileEntry | None:
        """The version's only file, or None when it holds several."""
        files = self.manifest.files
        return files[0] if len(files) == 1 else None

    def path_of(self, entry: FileEntry) -> Path:
        """The cached file of ``entry`` inside :attr:`snapshot` (checked to stay under it)."""
        return trust.inside(self.snapshot, entry.path)

    @property
    def extension(self) -> str:
        """The extension of a single-file version's file (:func:`extension_of`)."""
        single = self.single_file
        return extension_of(self.manifest, self.engine, single.path if single else None)


@runtime_checkable
class Downloader(Protocol):
    """A sink: stores a pulled version somewhere and returns where (a path or URL, as text).

    Any callable with this signature is one; a class is instantiated by the caller (from
    ``--to package.module:Class``: with no arguments). It must not change ``pulled.snapshot``.
    An exception it raises reaches the caller as an :class:`~modelshelf.errors.ExportError`
    naming the sink; it should leave nothing half written.
    """

    def __call__(self, pulled: PulledVersion) -> str:
        """Store ``pulled`` and return where it went."""
        ...


class FileSystemDownloader:
    """Plain, writable copies under ``root``; see the module docstring for the layout.

    ``root`` is the user's folder, written under :mod:`modelshelf.transfer.user_folder`'s policy:
    the same content is left as it is, nothing else is replaced unless ``overwrite``, and nothing is
    written through a symbolic link already there. A file goes to a temporary name beside its target
    and is renamed into place; a version of several files is assembled in a temporary folder and
    swapped in whole.

    Args:
        root: the folder to write under (created if missing); only a ``~`` typed first is
            expanded.
        overwrite: replace a file or folder that holds something else; otherwise refuse.
    """

    def __init__(self, root: str | os.PathLike[str] = ".", *, overwrite: bool = False) -> None:
        self.root = user_path(root, "folder to export to")
        self.overwrite = overwrite

    def __repr__(self) -> str:
        return f"FileSystemDownloader({str(self.root)!r}, overwrite={self.overwrite})"

    def __call__(self, pulled: PulledVersion) -> str:
        """Copy ``pulled`` under :attr:`root`; returns the file or folder written."""
        try:
            with UserFolder(
                self.root,
                overwrite=self.overwrite,
                retry="choose another destination ({to})",
                label=f"{pulled.name}:{pulled.version}",
                caches=() if pulled.cache_root is None else (pulled.cache_root,),
            ) as folder:
                step = self._write(folder, pulled)
        except UserFolderRefusedError as exc:
            raise ExportError(exc.args[0], sink=repr(self)).fix_from(exc) from None
        return str(step.path)

    @staticmethod
    def _write(folder: UserFolder, pulled: PulledVersion) -> Step:
        single = pulled.single_file
        if single is not None:
            rel = pulled.name + pulled.extension
            step = folder.plan([(rel, same_content(single.size, single.sha256), False)])[0]
            source = pulled.path_of(single)
            folder.place(step, lambda slot: slot.copy_from(source, mode=0o644, reflink=False))
            return step
        step = folder.tree_step(
            pulled.name, lambda found: _tree_holds(found, pulled.manifest.files)
        )
        folder.place_tree(step, lambda inner: _fill_tree(pulled, inner))
        return step


def _fill_tree(pulled: PulledVersion, inner: int) -> None:
    """Copy every file of ``pulled`` into the new, empty (0700) folder open as ``inner``: each
    folder made and opened relative to it without following links, each file created
    ``O_EXCL | O_NOFOLLOW`` and written through its own descriptor."""
    for entry in pulled.manifest.files:
        *parts, name = trust.inside(Path("/"), entry.path).parts[1:]  # refused if unsafe
        folder = walk(inner, parts, make=True)
        try:
            out = create_file(name, folder)
        finally:
            os.close(folder)
        try:
            copy_fd(pulled.path_of(entry), out, reflink=False)
            os.fchmod(out, 0o644)
        finally:
            os.close(out)


class StoreDownloader:
    """A readable tree ``<prefix>/<name>/<version>/<path>`` in any store, streamed from the cache.

    An object already there with the same content is kept; one with other content is refused
    unless ``overwrite``. If a write fails, the objects this export created are deleted again.

    Args:
        url: the store URL, e.g. ``s3://serving/models`` (its prefix is the tree's root).
        overwrite: replace objects that hold other content.
        **backend_options: settings for the backend, as for :class:`~modelshelf.Shelf`.
    """

    def __init__(self, url: str, *, overwrite: bool = False, **backend_options: Any) -> None:
        self.url = url.rstrip("/") if not url.endswith("://") else url
        self._shown = without_password(self.url)
        self.overwrite = overwrite
        self._options = backend_options

    def __repr__(self) -> str:
        return f"StoreDownloader({self._shown!r}, overwrite={self.overwrite})"

    def __call__(self, pulled: PulledVersion) -> str:
        """Upload every file of ``pulled``; returns the URL of ``<url>/<name>/<version>``."""
        backend = open_guarded(self.url, **self._options)
        backend.create_store()  # an export may start a store (a file:// folder)
        base = _key(pulled.name, pulled.version)
        keys = [_key(base, entry.path) for entry in pulled.manifest.files]  # all, before writing
        created: list[str] = []
        try:
            for key, entry in zip(keys, pulled.manifest.files, strict=True):
                if self._put(backend, key, pulled.path_of(entry), entry):
                    created.append(key)
        except BaseException:
            for key in created:
                with contextlib.suppress(Exception):
                    backend.delete(key)
            raise
        return f"{self._shown}{'' if self._shown.endswith('/') else '/'}{base}"

    def _put(self, backend: Backend, key: str, source: Path, entry: FileEntry) -> bool:
        """Write one object; False when an equal one was there already."""
        try:
            backend.put(key, source, mode="overwrite" if self.overwrite else "create")
            return True
        except ObjectExistsError:
            if (
                backend.head(key).size == entry.size
                and _stored_sha256(backend, key) == entry.sha256
            ):
                return False
            raise ExportError(f"{self._shown}/{key} exists with other content").with_fix(
                "; pass {overwrite} to replace it"
            ) from None


def _key(*parts: str) -> str:
    """``parts`` joined by ``/``, refused unless a safe relative key (no ``..``, ``//``, ...)."""
    try:
        return trust.check_relative_path("/".join(parts))
    except ValueError as exc:
        raise UntrustedStoreDataError(f"refusing the object key: {exc}") from None


def _stored_sha256(backend: Backend, key: str) -> str:
    import hashlib

    digest = hashlib.sha256()
    for chunk in backend.get(key, chunk_size=1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def _tree_holds(folder: Path, entries: tuple[FileEntry, ...]) -> bool:
    """True if ``folder`` holds exactly ``entries``' files with their content, as regular
    files (a link anywhere in it, or any other file, and it does not)."""
    present: set[str] = set()
    pending = [("", str(folder))]
    try:
        while pending:
            prefix, path = pending.pop()
            with os.scandir(path) as items:
                for item in items:
                    if item.is_dir(follow_symlinks=False):
                        pending.append((f"{prefix}{item.name}/", item.path))
                    else:
                        present.add(prefix + item.name)
    except OSError:
        return False
    if present != {e.path for e in entries}:
        return False
    return all(hash_regular_file(trust.inside(folder, e.path), e.size) == e.sha256 for e in entries)


def sink_from(to: str | os.PathLike[str], *, overwrite: bool = False) -> Downloader:
    """The sink a ``--to`` value names.

    A word the config file declares (``prod``) is that store, with its settings
    (:func:`~modelshelf.store.named.configured_store`: every command's rule; a ``Path`` is a
    folder). ``scheme://...`` is a store URL (:class:`StoreDownloader`); ``pkg.mod:Class``
    (ASCII identifiers joined by dots, one colon) is an installed class, instantiated with no
    arguments (``overwrite`` does not apply to it); anything else is a local folder
    (:class:`FileSystemDownloader`). A class is imported only from an installed module, never
    from the modelshelf cache or the working folder.

    Raises:
        InvalidInputError: the class cannot be imported, or it or its instance is not callable.

    Example:
        >>> sink_from("./deploy")
        FileSystemDownloader('deploy', overwrite=False)
    """
    text = os.fspath(to)
    named = configured_store(text) if isinstance(to, str) else None
    if named is not None:
        return StoreDownloader(normalize_url(named.url), overwrite=overwrite, **named.options)
    if _URL.match(text):
        return StoreDownloader(text, overwrite=overwrite)
    if _CLASS.fullmatch(text):
        return _instantiate(text)
    return FileSystemDownloader(text, overwrite=overwrite)


def _instantiate(text: str) -> Downloader:
    try:
        module_name, qualname = trust.check_import_path(text)
    except ValueError as exc:
        raise InvalidInputError(f"the sink {text}: {exc}") from None
    top = module_name.split(".")[0]
    if top in sys.stdlib_module_names or top == "builtins":
        raise InvalidInputError(
            f"the sink {text}: {module_name} is in Python's standard library, which holds no sinks;"
            " name a class of the package that provides your sink"
        )
    if not _imports.installed(module_name, constants.cache_dir()):
        raise InvalidInputError(
            f"the sink {text}: no installed module {module_name!r}; install the package that"
            " provides the sink (modelshelf imports sinks only from installed packages, not"
            f" from the working folder), or write ./{text} for a local folder"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise InvalidInputError(
            f"the sink {text}: importing {module_name} failed: {trust.foreign_error(exc)}"
        ) from exc
    try:
        # Typed by the user, yet still only a class or function defined where it is named:
        # never a walk through a module it imported (pkg:os.system).
        target = _imports.defined_object(
            module,
            module_name,
            qualname,
            "the sink",
            trust.show(text),
            "a class or function",
        )
    except _imports.ImportRefusedError as exc:
        raise InvalidInputError(f"the sink {text}: {exc.args[0]}").fix_from(exc) from None
    return _created(target, f"the sink {text}", qualname)


def _created(target: object, where: str, qualname: str) -> Downloader:
    """``target`` itself, or an instance when it is a class (created with no arguments)."""
    if isinstance(target, type):
        try:
            target = target()
        except Exception as exc:
            raise InvalidInputError(
                f"{where}: {qualname}() failed: {trust.foreign_error(exc)}; a sink class is"
                " created with no arguments"
            ) from exc
        if not callable(target):
            raise InvalidInputError(
                f"{where}: {qualname} instances are not callable; give the class a"
                " __call__(self, pulled) that returns where the version went"
            )
    return _as_downloader(target)


def _as_downloader(target: object) -> Downloader:
    return target  # type: ignore[return-value]  # checked callable; the Protocol is structural


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
        sink = _created(to, "to=", getattr(to, "__qualname__", "the sink"))
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
