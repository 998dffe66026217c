"""The facade: ``Shelf`` with push, pull, resolve, aliases, listings and housekeeping, over one
store and the local cache.

Owns:
    :mod:`~modelshelf.shelf.shelf` (``Shelf``, ``push``, ``pull``: the facade itself, its
    methods and their arguments), :mod:`~modelshelf.shelf.opening` (which store a ``Shelf``
    stands on, opened on first use), :mod:`~modelshelf.shelf.push` and its parts (what a push
    sends, compares and reuses), :mod:`~modelshelf.shelf.source` (what a push reads from disk and
    where it came from), :mod:`~modelshelf.shelf.pull` (the files a spec selects, fetching them,
    the pull of a version), :mod:`~modelshelf.shelf.resolve` (pinning a spec to one version),
    :mod:`~modelshelf.shelf.listing` (versions, aliases and log of an asset, an unknown asset
    refused alike), :mod:`~modelshelf.shelf.aliases` (pointing and removing an alias, audited and
    kept in step with the cache), :mod:`~modelshelf.shelf.housekeeping` (verify, rm),
    :mod:`~modelshelf.shelf.repair`, :mod:`~modelshelf.shelf.care` (verify, repair, copy and gc as
    ``Shelf`` methods) and :mod:`~modelshelf.shelf.export` (pulled files into a user's folder).

May import:
    :mod:`modelshelf.store`, :mod:`modelshelf.cache`, :mod:`modelshelf.transfer`,
    :mod:`modelshelf.backends` and the shared vocabulary. Never ``mirror``, ``downloaders``,
    ``models``, ``serve`` or ``cli``.

Exports:
    its modules without a leading underscore; users import ``modelshelf.Shelf``,
    ``modelshelf.push`` and ``modelshelf.pull``.
"""
