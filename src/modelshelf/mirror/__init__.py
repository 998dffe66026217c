"""``modelshelf mirror``: copy every object under a bucket prefix to a folder, keeping the key tree.

Owns:
    :mod:`~modelshelf.mirror.run` (the run: listing, downloads, the resumable index),
    :mod:`~modelshelf.mirror.plan` (which keys become which paths, and which are refused) and
    :mod:`~modelshelf.mirror.read` (the reading side: the listing and each object's bytes,
    bounded).

May import:
    :mod:`modelshelf.transfer`, :mod:`modelshelf.backends` and the shared vocabulary. A mirror
    knows objects and keys, never assets or versions: never ``store``, ``cache`` or ``shelf``.

Exports:
    its modules without a leading underscore; users call ``modelshelf.mirror(...)`` (the function
    of that name on the top-level package, which is why this package's ``__init__`` stays empty).
"""
