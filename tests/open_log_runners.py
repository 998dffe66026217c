"""A runner whose load makes a library log hostile text, for the serve log tests of issue 21's
open leftovers (tests/unit/test_open_serve_log.py)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from modelshelf import Runner

FORGED = "2001-01-01 00:00:00,000 ERROR modelshelf.serve: forged record"
"""A line a hostile text would like to add to the log as if the server wrote it."""


class LogsHostile(Runner):
    """Loads, after a library warned with control characters and a forged line, and logged an
    exception whose text holds the same (as a library quoting a store's text would)."""

    @staticmethod
    def save_model(model: Any, folder: Path) -> dict[str, str]:
        (folder / "weights.bin").write_bytes(b"0")
        return {"file": "weights.bin"}

    @staticmethod
    def load_model(props: dict[str, str] | None, artifacts: dict[str, Path]) -> Any:
        lib = logging.getLogger("somelib.loader")
        lib.warning("somelib says \x1b[2J\x1b]0;owned\x07 and\n%s", FORGED)
        try:
            raise ValueError(f"bad header \x1b[31mred\u202e\n{FORGED}")
        except ValueError:
            lib.exception("somelib failed \x9b6n reading s3://AKIA:wJalr/secret@host/b")
        warnings.warn(f"deprecated \x1b[5mblink\n{FORGED}", UserWarning, stacklevel=1)
        return {"w": 1}

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        return data
