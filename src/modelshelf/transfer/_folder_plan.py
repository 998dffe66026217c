"""What the plan of a write into a user's folder decides at each path.

The vocabulary shared by the planner (:class:`~modelshelf.transfer.user_folder.UserFolder`), the
writer (:class:`~modelshelf.transfer._folder_slot.Slot`), the opened root and the callers that judge
what a path already holds (pull -o, export, mirror). Pure: no I/O.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["Action", "Judge", "Step", "Verdict"]

Verdict = Literal["keep", "same", "other", "maybe"]
"""What a file already at a path holds, as a caller judges it against what goes there:
``keep`` it is what goes there; ``same`` the same content in another form (replaced freely);
``other`` different content; ``maybe`` the same size, content known only after the fetch."""

Judge = Callable[[Path, os.stat_result], Verdict]
"""Judges the regular file or symbolic link at a path (its ``lstat``) against what goes there."""

Action = Literal["keep", "create", "replace", "compare"]


@dataclass(frozen=True)
class Step:
    """What the plan does at one path.

    Attributes:
        rel: the ``/``-joined path below the folder's root.
        path: the absolute path.
        action: ``keep`` (nothing to write), ``create``, ``replace`` (allowed: the same
            content, ours, or ``overwrite``), or ``compare`` (a file of the same size that is
            not ours: written only if its content turns out equal, see :meth:`UserFolder.settle`).
        clear: what ``overwrite`` removes first: a folder at the name, files on the way.
    """

    rel: str
    path: Path
    action: Action
    clear: tuple[Path, ...] = ()
