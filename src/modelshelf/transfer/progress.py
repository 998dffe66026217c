"""Progress reporting: silent by default, rich bars on a terminal.

The transfer layer only calls :class:`ProgressTask` methods, from several threads at once; the
rich implementation is thread-safe because rich's ``Progress`` is.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress as RichBar
    from rich.progress import TaskID

__all__ = ["Progress", "ProgressTask", "make_progress"]


class ProgressTask:
    """One phase (hashing, uploading, pulling): a no-op here; subclasses draw."""

    def advance(self, nbytes: int) -> None:
        """``nbytes`` more bytes were moved."""

    def file_done(self) -> None:
        """One more file is finished."""


class Progress:
    """A no-op progress display; :func:`make_progress` gives a drawing one on a terminal."""

    def task(self, description: str, total_bytes: int, total_files: int) -> ProgressTask:
        """Begin a phase of ``total_files`` files and ``total_bytes`` bytes."""
        return ProgressTask()

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


class _RichTask(ProgressTask):
    """A bar with bytes, speed and time left; files done in its description."""

    def __init__(self, bar: RichBar, label: str, total_bytes: int, total_files: int) -> None:
        self._bar, self._label, self._files_total = bar, label, total_files
        self._files_done = 0
        self._lock = threading.Lock()
        self._id: TaskID = bar.add_task(self._describe(), total=total_bytes)

    def _describe(self) -> str:
        return f"{self._label} [{self._files_done}/{self._files_total} files]"

    def advance(self, nbytes: int) -> None:
        self._bar.advance(self._id, nbytes)

    def file_done(self) -> None:
        with self._lock:
            self._files_done += 1
            self._bar.update(self._id, description=self._describe())


class _RichProgress(Progress):
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
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._lock = threading.Lock()
        self._started = False

    def task(self, description: str, total_bytes: int, total_files: int) -> ProgressTask:
        with self._lock:
            if not self._started:
                self._bar.start()
                self._started = True
        return _RichTask(self._bar, description, total_bytes, total_files)

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
