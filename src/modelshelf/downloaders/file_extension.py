"""The extension an exported single-file version gets: how it was saved, its engine, or its own.

``export --to DIR`` writes a version of one file as ``DIR/<name><extension>``. The extension is,
first, that of the format a default-saved instance was written in (the model section's
``saved_as``: :data:`SAVED_EXTENSIONS`); else that of the runner's engine
(:data:`ENGINE_EXTENSIONS`, ``.joblib`` for a joblib sklearn); else the file's own suffix when it
is a plain one (:data:`SUFFIX`; the path is store text); else none. Pure: no I/O.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from modelshelf.manifest import Manifest

__all__ = ["ENGINE_EXTENSIONS", "SAVED_EXTENSIONS", "SUFFIX", "extension_of"]

ENGINE_EXTENSIONS = {
    "onnx": ".onnx",
    "torch": ".pt",
    "torchscript": ".pt",
    "sklearn": ".skops",
    "skops": ".skops",
    "joblib": ".joblib",
    "pickle": ".pkl",
    "safetensors": ".safetensors",
}
"""File extension of a single-file model, by the engine in its manifest's ``model`` section
(the names the engine runners record; a ``sklearn`` model saved with joblib gets ``.joblib``)."""

SAVED_EXTENSIONS = {
    "skops": ".skops",
    "torchscript": ".pt",
    "torch-state-dict": ".pt",
    "onnx": ".onnx",
    "pickle": ".pkl",
}
"""File extension of an instance saved by engine, by its ``saved_as`` (the default save of
``register_model``: :mod:`modelshelf.models.saved`)."""
SUFFIX = re.compile(r"\.[A-Za-z0-9][A-Za-z0-9_-]{0,15}", re.ASCII)
"""A file's own suffix used as an exported file's extension: a dot and at most 16 ASCII letters,
digits, ``_`` or ``-`` (it comes from the store: no second dot, space, control or separator)."""


def extension_of(manifest: Manifest, engine: str | None, path: str | None) -> str:
    """The extension of the version's one file at ``path`` (see the module docstring)."""
    section = manifest.extra.get("model")
    section = section if isinstance(section, dict) else {}
    saved_as = section.get("saved_as")
    if isinstance(saved_as, str) and saved_as in SAVED_EXTENSIONS:
        return SAVED_EXTENSIONS[saved_as]
    props = section.get("props")
    if engine == "sklearn" and isinstance(props, dict) and props.get("format") == "joblib":
        return ".joblib"
    if engine in ENGINE_EXTENSIONS:
        return ENGINE_EXTENSIONS[engine]
    suffix = PurePosixPath(path).suffix if path is not None else ""
    return suffix if SUFFIX.fullmatch(suffix) else ""
