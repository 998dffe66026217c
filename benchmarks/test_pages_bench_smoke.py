"""`make bench-pages` end to end, tiny: its own SeaweedFS and registry on 127.0.0.1, a store of
4 x 5 versions, every page kind requested and reported; never a time."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.pages_bench import WORK_DIR, main

pytestmark = pytest.mark.integration


@pytest.fixture
def work_dir() -> Iterator[Path]:
    """Under benchmarks/.data like a real run (creating files in /tmp is slower here)."""
    path = WORK_DIR.parent / f"smoke-pages-{uuid.uuid4().hex[:8]}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_quick_run_reports_every_page(work_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick", "--work-dir", str(work_dir)]) == 0
    out = capsys.readouterr().out
    assert "catalog built (server start to index ready):" in out
    for page in (
        "front page (/)",
        "asset (5 versions, 2 aliases)",
        "| version |",
        "| diff |",
        "audit log (/log)",
        "search JSON twin",
    ):
        assert page in out, out
    assert not (work_dir / "seaweed").exists()
