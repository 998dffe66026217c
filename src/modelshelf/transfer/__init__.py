"""Moving bytes: hashed downloads, verified uploads, local and store-to-store copies of blobs, and
writing into a user's folder.

Owns:
    :mod:`~modelshelf.transfer.download` (concurrent, hashed downloads into local files),
    :mod:`~modelshelf.transfer.verified_upload` (uploads that can only store a blob under its own
    content key), :mod:`~modelshelf.transfer.local_copy` (``file://`` blobs copied verified),
    :mod:`~modelshelf.transfer.blob_copy` (one store to another in ranges),
    :mod:`~modelshelf.transfer.progress` (progress bars) and
    :mod:`~modelshelf.transfer.user_folder`: the one policy for writing into a folder the user
    owns (``pull -o``, ``export``, mirrors): never replace different content without
    ``overwrite``, never through a link already there.

May import:
    :mod:`modelshelf.backends` and the shared vocabulary only. It knows objects, bytes and
    folders; not assets, versions, stores or caches.

Exports:
    its modules without a leading underscore (``_folder_*`` are the user-folder writer's parts).
"""
