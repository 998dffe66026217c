"""Choosing a downloader from ``--to`` text: a configured store name, a store URL, an installed
``package.module:Class`` (imported by the rule of :mod:`modelshelf._imports`), or a folder; and
making a downloader of a class or function given."""

from __future__ import annotations

import os
import re

from modelshelf import _imports, trust
from modelshelf.downloaders.folder import FileSystemDownloader
from modelshelf.downloaders.store import StoreDownloader
from modelshelf.downloaders.version import Downloader
from modelshelf.errors import InvalidInputError, ModelshelfError
from modelshelf.store.named import configured_store, normalize_url

__all__ = ["created", "sink_from"]

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_CLASS = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_.]*", re.ASCII)


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
    # Typed by the user, so any installed package may provide it (no package rule); yet still
    # the rule of modelshelf._imports: never the standard library, the cache or the working
    # folder, and only a class or function defined where it is named (never pkg:os.system).
    module_name, _, qualname = text.partition(":")
    try:
        target = _imports.import_object(
            text, "the sink", expect="a class or function", from_store=False
        )
    except _imports.ImportRefusedError as exc:
        raise InvalidInputError(_refusal(text, module_name, exc)).fix_from(exc) from None
    except ModelshelfError:
        raise  # ours (the cache folder, ...): already says what and where, not the import
    except Exception as exc:
        raise InvalidInputError(
            f"the sink {text}: importing {module_name} failed: {trust.foreign_error(exc)}"
        ) from exc
    return created(target, f"the sink {text}", qualname)


def _refusal(text: str, module_name: str, exc: _imports.ImportRefusedError) -> str:
    """The sink's words for a refusal: ``--to`` users are told of the folder form."""
    if exc.reason == "stdlib":
        return (
            f"the sink {text}: {module_name} is in Python's standard library, which holds no"
            " sinks; name a class of the package that provides your sink"
        )
    if exc.reason == "not installed":
        return (
            f"the sink {text}: no installed module {module_name!r}; install the package that"
            " provides the sink (modelshelf imports sinks only from installed packages, not"
            f" from the working folder), or write ./{text} for a local folder"
        )
    return str(exc.args[0])  # the rule's words already name the sink and its path


def created(target: object, where: str, qualname: str) -> Downloader:
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
