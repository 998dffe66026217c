"""``modelshelf mirror``: copy every object under a bucket prefix to a folder, keeping the key tree.

Owns:
    :mod:`~modelshelf.mirror.run` (the run: from the URL through the plan and the fetches to the
    report), :mod:`~modelshelf.mirror.plan` (which keys become which paths, and which are
    refused), :mod:`~modelshelf.mirror.read` (the reading side: the listing and each object's
    bytes, bounded), :mod:`~modelshelf.mirror.index` (the resumable index in DEST),
    :mod:`~modelshelf.mirror.fetch` (the pool that writes each object and checkpoints the index)
    and :mod:`~modelshelf.mirror.result` (``MirrorResult``, the report).

May import:
    :mod:`modelshelf.transfer`, :mod:`modelshelf.backends` and the shared vocabulary. A mirror
    knows objects and keys, never assets or versions: never ``store``, ``cache`` or ``shelf``.

Exports:
    its modules without a leading underscore; users call ``modelshelf.mirror(...)`` (the function
    of that name on the top-level package, which is why this package's ``__init__`` stays empty).
"""
