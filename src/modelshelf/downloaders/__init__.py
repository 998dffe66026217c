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

What the package owns, one module per concept:

- :mod:`~modelshelf.downloaders.version`: the :class:`Downloader` protocol and the
  :class:`PulledVersion` handed to it;
- :mod:`~modelshelf.downloaders.file_extension`: the extension a single-file version gets;
- :mod:`~modelshelf.downloaders.folder`: :class:`FileSystemDownloader`;
- :mod:`~modelshelf.downloaders.store`: :class:`StoreDownloader`;
- :mod:`~modelshelf.downloaders.choose`: :func:`sink_from`, the downloader ``--to`` text names;
- :mod:`~modelshelf.downloaders.exporting`: :func:`export` and :func:`export_resolved`.

It may import the facade (:mod:`modelshelf.shelf`) and everything below it (store, cache,
mirror, transfer, backends, the vocabulary), never models, serve or cli. It exports the names
in ``__all__`` below (the public ones are also ``modelshelf.X``).
"""

from modelshelf.downloaders.choose import sink_from
from modelshelf.downloaders.exporting import export, export_resolved
from modelshelf.downloaders.file_extension import ENGINE_EXTENSIONS, SAVED_EXTENSIONS
from modelshelf.downloaders.folder import FileSystemDownloader
from modelshelf.downloaders.store import StoreDownloader
from modelshelf.downloaders.version import Downloader, PulledVersion

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
