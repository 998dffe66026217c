"""``modelshelf.mirror``: copy every object under a bucket prefix to a folder, keeping the key tree.

Any prefix of any store, written by modelshelf or not::

    mirror("s3://models/conduct/secrecy/en/version_1.2", "./ptms")
    # -> ./ptms/conduct/secrecy/en/version_1.2/models/lr/...

The path below DEST is the object's key below the container (bucket), prefix included. A
prefix stops at a folder boundary (``version_1.2`` never matches ``version_1.20``); a URL that
names one object fetches just that object, to the same path. How it runs:

1. **List and plan.** The store's listing (paged by obstore past 1,000 keys) is checked key by
   key (:func:`modelshelf.mirror.plan.check_key`) before anything is written: one key that
   could leave DEST (``..``, absolute, ``C:``, backslash, control characters, empty segments)
   refuses the whole mirror, naming the key; DEST is not even created. DEST is the user's
   folder, written under :mod:`modelshelf.transfer.user_folder`'s policy, planned before anything is
   written: no symbolic link at DEST, on the way or at a name (checked again before each
   rename); a file this mirror wrote (indexed, unchanged since) is replaced when the object
   changed; anything else there is refused unless ``overwrite``, except a file of the object's
   size whose content turns out the same once fetched.
2. **Skip what is there.** ``DEST/.modelshelf-mirror.json`` records, for every file a mirror
   wrote, the store, the object's size and ETag (or its time, when a store gives no ETag), the
   sha256 of the bytes received, and the local file's size and mtime. A file is fetched again
   when the object changed in the store, or the local file changed, went missing or is not in
   the index. ``verify=True`` also re-hashes local files against the recorded sha256.
3. **Fetch.** A bounded pool (``max_workers``, default ``MODELSHELF_MAX_CONCURRENCY``) streams
   objects in 1 MiB+ chunks into a temporary file beside the target, hashing on the way, and renames
   it into place; objects larger than one range go through the ranged, parallel reads of
   :mod:`modelshelf.transfer.download`, one at a time. The index is saved every few seconds and at
   the end, also when interrupted, so a rerun fetches only what is missing. No file is ever seen
   under its final name half written. Listings and sizes are outside input too: a listing is refused
   past ``MODELSHELF_MAX_LIST_KEYS`` keys or ``MODELSHELF_MAX_LIST_MIB`` MiB of key names, and no
   object is read past its listed size (:mod:`modelshelf.mirror.read`).

One index file rather than a sidecar per file: a sidecar doubles the files created (file
creation is what a many-small-objects mirror spends its time on) and litters the tree that the
user's tools read; a lost or damaged index only costs fetching again.

This module is the run, from the URL to the report; its parts live beside it: the plan
(:mod:`~modelshelf.mirror.plan`), the reading side (:mod:`~modelshelf.mirror.read`), the index
(:mod:`~modelshelf.mirror.index`), the fetches (:mod:`~modelshelf.mirror.fetch`) and the report
(:mod:`~modelshelf.mirror.result`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from modelshelf.backends.registry import open_guarded
from modelshelf.errors import UntrustedStoreDataError
from modelshelf.mirror.fetch import Fetches
from modelshelf.mirror.index import load_index, local_stat, reverified
from modelshelf.mirror.plan import GIT_REFUSAL, is_ours, local_judge, make_plan, split_url
from modelshelf.mirror.read import mirror_listing
from modelshelf.mirror.result import MirrorResult
from modelshelf.transfer.user_folder import UserFolder
from modelshelf.trust import show

__all__ = ["mirror"]


def mirror(
    url: str,
    dest: str | os.PathLike[str],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    dry_run: bool = False,
    verify: bool = False,
    max_workers: int | None = None,
    progress: bool | None = False,
    overwrite: bool = False,
    include_git: bool = False,
    **backend_options: Any,
) -> MirrorResult:
    """Copy every object under ``url`` to ``dest``, keeping the key tree below the bucket.

    Args:
        url: ``scheme://container[/prefix]``: ``s3://bucket/a/b``, ``file:///srv/data``,
            ``memory://name/a``, any registered scheme. A trailing ``/`` means a folder only.
        dest: the local folder; created when there is something to write.
        include: globs on the path below the URL's prefix (for one object, its name); ``*``
            also matches ``/``. Kept if any matches (or none given).
        exclude: globs as ``include``; whatever matches one is left out.
        dry_run: plan only: list, check and compare, write nothing.
        verify: also re-hash local files of unchanged objects against the recorded sha256.
        max_workers: objects in flight (default ``MODELSHELF_MAX_CONCURRENCY``, 8).
        progress: draw a progress bar on stderr (``None``: when it is a terminal).
        overwrite: replace what DEST holds that this mirror did not write (or that changed
            since): otherwise such a file is refused before anything is written, unless its
            size matches and its content turns out the same (then kept).
        include_git: also mirror keys inside ``.git`` folders (any case); refused by default,
            since git obeys the config it finds there (``core.fsmonitor`` runs a command).
        **backend_options: settings of the backend (``endpoint``, ``region``, ...).

    Returns:
        The counts and the plan.

    Raises:
        UnsupportedStoreError: an unknown scheme or an unusable URL.
        UntrustedStoreDataError: a listed key could leave DEST or clashes with another;
            nothing was written.
        UserFolderRefusedError: DEST holds a link on the way, or other content at a path,
            and ``overwrite`` is false; nothing was written (or, for content found to differ
            only once fetched, everything else was).
        ObjectNotFoundError: nothing exists at the URL.
        StoreError: the store failed (missing bucket, refused credentials, unreachable), named.

    Example:
        >>> result = mirror("memory://doc-mirror/none/", "/nonexistent", dry_run=True)
        >>> result.fetched, result.skipped
        (0, 0)
    """
    store_url, prefix, folder_only = split_url(url)
    folder = UserFolder(dest, overwrite=overwrite, retry="pick another DEST")
    with folder:  # its root is opened once, closed here
        root = folder.root
        backend = open_guarded(store_url, **backend_options)  # a plugin's own errors: StoreError
        listing, single, prefix = mirror_listing(backend, url, prefix, folder_only)
        index = load_index(folder)
        # Hidden folders this mirror made earlier (its index has files in them) take new files.
        folder.own_folders = {
            key.rsplit("/", i)[0] for key in index for i in range(1, key.count("/") + 1)
        }
        local = {key: local_stat(root, key) for key in index}
        items, refused = make_plan(
            listing,
            source=store_url,
            prefix=prefix,
            single=single,
            include=include,
            exclude=exclude,
            index=index,
            local=local,
            include_git=include_git,
        )
        if refused:
            key, reason = refused[0]
            more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
            git = (
                "; mirror git's files only if you trust the bucket, with {include_git}"
                if reason.startswith(GIT_REFUSAL)
                else ""
            )
            raise UntrustedStoreDataError(
                f"refusing to mirror {url}: the key {show(key, 120)} {reason}{more}; nothing was"
                f" written to {root}",
                store=store_url,
                key=key,
            ).with_fix(git + " (leave such keys out with {exclude} to mirror the rest)")
        if verify:  # reads only: a dry run reports what it finds too
            items = [reverified(root, item, index) for item in items]
        to_fetch = [item for item in items if item.action == "fetch"]
        # Before anything is written, a dry run included: the user-folder policy for every path.
        steps = folder.plan(
            (item.key, local_judge(item), is_ours(item, index, local.get(item.key), store_url))
            for item in to_fetch
        )
        if not dry_run and to_fetch:
            run = Fetches(backend, folder, store_url, index, max_workers, progress)
            run.fetch_all(list(zip(to_fetch, steps, strict=True)))
        skipped = [item for item in items if item.action == "skip"]
        return MirrorResult(
            url=url,
            dest=root,
            fetched=len(to_fetch),
            fetched_bytes=sum(item.size for item in to_fetch),
            skipped=len(skipped),
            skipped_bytes=sum(item.size for item in skipped),
            dry_run=dry_run,
            plan=tuple(items),
        )
