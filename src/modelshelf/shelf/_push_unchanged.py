"""What a push that found its content unchanged (``if_changed``) still owes the store.

The version it returns must be pullable: "unchanged" speaks of the manifest, not of the blobs,
which another hand may have deleted (a gc of a removed version, a person, a lifecycle rule).
So its blobs are looked up by name and size, as every push does before it reuses one, and each
one the store lacks is uploaded again from the local file just hashed to it, verified as it is
sent. A blob present at its size with damaged bytes is not seen by a lookup: that is
``repair``'s job (``Shelf.repair``), and the command line says so when anything was put back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from modelshelf import trust
from modelshelf.errors import ModelshelfError, SourcePathError
from modelshelf.manifest import Manifest
from modelshelf.shelf import _push_read as _upload
from modelshelf.shelf.source import SourceFile
from modelshelf.store.api import StoreLayout
from modelshelf.transfer.download import run_concurrently

__all__ = ["put_back_missing"]

logger = logging.getLogger("modelshelf")


def put_back_missing(
    store: StoreLayout,
    version: Manifest,
    files: list[SourceFile],
    known: Mapping[str, str],
    label: str,
) -> tuple[str, ...]:
    """Upload again each blob of ``version`` the store lacks (absent, or not at its size) from
    the local files that ``same_files`` hashed to it (``known``: sha256 by path); return the
    paths of the version that use a blob put back, sorted. Audited as a ``repair``.

    Each upload is verified as it is sent (``put_blob``), so a file changed since it was hashed
    stores nothing and fails the push.

    Raises:
        SourcePathError: a file changed since it was hashed.
    """
    by_digest: dict[str, SourceFile] = {}
    for item in files:
        by_digest.setdefault(known[item.path], item)
    stored = store.blob_finder(len(by_digest))
    missing = run_concurrently(
        lambda pair: pair if not stored(pair[0], pair[1].size) else None, list(by_digest.items())
    )
    gone = {digest: item for digest, item in (m for m in missing if m is not None)}
    if not gone:
        return ()

    budget = _upload.ByteBudget(_upload.MEMORY_BUDGET)

    def upload(pair: tuple[str, SourceFile]) -> None:
        digest, item = pair
        try:
            if item.size > _upload.SINGLE_PASS_MAX:
                store.put_blob(digest, item.local, item.size)  # verified as it is sent
                return
            with budget.hold(item.size):
                content = _upload.read_hashed(item)  # refused if changed since collected
                if content.sha256 != digest:
                    raise SourcePathError(item.local, "it changed while being pushed; push again")
                store.put_blob(digest, content, item.size)
        except OSError as exc:  # the local file: a store's errors are ModelshelfErrors
            if isinstance(exc, ModelshelfError):
                raise
            raise SourcePathError(item.local, f"cannot read it ({exc.strerror})") from exc

    run_concurrently(upload, list(gone.items()))
    paths = tuple(sorted(f.path for f in version.files if f.sha256 in gone))
    logger.info(
        "%s:%s lacked %d blob(s) (%s); uploaded again from %s", version.name, version.version,
        len(gone), ", ".join(trust.show(p) for p in paths), label,
    )  # fmt: skip
    store.append_log(
        version.name,
        "repair",
        version=version.version,
        blobs=len(gone),
        size=sum(item.size for item in gone.values()),
        left=0,
        source=label,
    )
    return paths
