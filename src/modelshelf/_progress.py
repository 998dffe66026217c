"""Progress reporting: silent by default, rich bars on a terminal.

The transfer layer only calls :class:`Progress` methods, from several threads; the rich
implementation is thread-safe because rich's ``Progress`` is.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import TaskID

__all__ = ["Progress", "make_progress"]


class Progress:
    """A no-op progress sink; subclasses draw something."""

    def start(self, description: str, total_bytes: int, total_files: int) -> None:
        """Begin a phase of ``total_files`` files and ``total_bytes`` bytes."""

    def advance(self, nbytes: int) -> None:
        """``nbytes`` more bytes were moved."""

    def file_done(self) -> None:
        """One more file is finished."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop drawing."""


class _RichProgress(Progress):
    """One bar per phase: bytes, speed and time left, with files done in the description."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as RichBar

        self._bar = RichBar(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._lock = threading.Lock()
        self._task: TaskID | None = None
        self._label = ""
        self._files_total = 0
        self._files_done = 0
        self._started = False

    def _describe(self) -> str:
        return f"{self._label} [{self._files_done}/{self._files_total} files]"

    def start(self, description: str, total_bytes: int, total_files: int) -> None:
        with self._lock:
            if not self._started:
                self._bar.start()
                self._started = True
            self._label, self._files_total, self._files_done = description, total_files, 0
            self._task = self._bar.add_task(self._describe(), total=total_bytes)

    def advance(self, nbytes: int) -> None:
        if self._task is not None:
            self._bar.advance(self._task, nbytes)

    def file_done(self) -> None:
        with self._lock:
            self._files_done += 1
            if self._task is not None:
                self._bar.update(self._task, description=self._describe())

    def close(self) -> None:
        with self._lock:
            if self._started:
                self._bar.stop()
                self._started = False


def make_progress(show: bool | None) -> Progress:
    """Rich bars when ``show`` is true, or when ``None`` and stderr is a terminal; else silent."""
    if show is None:
        show = sys.stderr.isatty()
    return _RichProgress() if show else Progress()
