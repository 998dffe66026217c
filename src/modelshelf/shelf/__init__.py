"""The facade: ``Shelf`` with push, pull, resolve, aliases, listings and housekeeping, over one
store and the local cache.

Owns:
    :mod:`~modelshelf.shelf.shelf` (``Shelf``, ``push``, ``pull``), :mod:`~modelshelf.shelf.push`
    and its parts (what a push sends, compares and reuses), :mod:`~modelshelf.shelf.source` (what a
    push reads from disk and where it came from), :mod:`~modelshelf.shelf.pull`,
    :mod:`~modelshelf.shelf.resolve` (pinning a spec to one version), housekeeping (verify, rm),
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
