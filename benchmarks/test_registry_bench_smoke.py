"""`make bench-registry` end to end in ``--quick`` mode: its own SeaweedFS and two registry
servers on 127.0.0.1, every step of the table run and verified; never a time."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.registry_bench import WORK_DIR, main

pytestmark = pytest.mark.integration


@pytest.fixture
def work_dir() -> Iterator[Path]:
    """Under benchmarks/.data like a real run (creating files in /tmp is slower here)."""
    path = WORK_DIR.parent / f"smoke-registry-{uuid.uuid4().hex[:8]}"
    yield path / "work"
    shutil.rmtree(path, ignore_errors=True)


def test_quick_run_prints_every_step(work_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--quick", "--clients", "2", "--client-mib", "2", "--work-dir", str(work_dir)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for workload in ("W1", "W3"):
        for step in ("push | straight to SeaweedFS", "pull | straight to SeaweedFS",
                     "push | registry, streamed", "pull | registry, streamed",
                     "pull | registry, redirected"):  # fmt: skip
            assert f"| {workload} | {step} |" in out, out
    assert "| 2 clients x 2 MiB | push | registry, streamed |" in out
    assert "| 2 clients x 2 MiB | pull | registry, streamed |" in out
    assert not (work_dir / "seaweed").exists() and not (work_dir / "clients").exists()
