"""The store: what the keys under a store's root mean, and the seam every store implements.

Owns:
    :mod:`~modelshelf.store.api` (the seam: :class:`~modelshelf.store.api.StoreLayout`, the one
    interface the facade talks to), :mod:`~modelshelf.store.bucket` (``Store``: the layout of
    manifests, blobs, aliases, removals and the audit log over any backend), aliases with
    compare-and-swap, removals (tombstones), garbage collection, committing a version after
    reusing blobs (:mod:`~modelshelf.store.commit`), copies between stores, a store's cache id
    and named stores (which store a ``Shelf`` opens).

May import:
    :mod:`modelshelf.transfer`, :mod:`modelshelf.backends` and the shared vocabulary
    (``errors``, ``spec``, ``manifest``, ``constants``, ``config``, ``trust`` and their private
    helpers). Never ``cache``, ``mirror``, ``shelf`` or anything above them.

Exports:
    its modules without a leading underscore; users import from :mod:`modelshelf` only
    (``modelshelf.Store``, ``modelshelf.AliasRecord``, ``modelshelf.Removal``). A new store kind
    (an HTTP registry, OCI) is a second implementation of ``StoreLayout`` here.
"""
