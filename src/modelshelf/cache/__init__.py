"""The local cache: content-addressed blobs, snapshots, refs, locks, listings and pruning.

Owns:
    :mod:`~modelshelf.cache.cache` (``Cache``: the folders, atomic writes, placing verified
    files), :mod:`~modelshelf.cache.locks` (per-blob locks), :mod:`~modelshelf.cache.scan` (the
    one scanner of the cache's folders), :mod:`~modelshelf.cache.admin` (``cache ls``/``rm``/
    ``verify``), :mod:`~modelshelf.cache.prune` and :mod:`~modelshelf.cache.listings` (the last
    listings that shell completion reads without a network call).

May import:
    :mod:`modelshelf.transfer`, :mod:`modelshelf.backends` and the shared vocabulary. Never
    ``store``, ``mirror``, ``shelf`` or anything above them: the cache knows blobs and
    manifests, not where they came from.

Exports:
    its modules without a leading underscore; users import ``modelshelf.Cache``.
"""
