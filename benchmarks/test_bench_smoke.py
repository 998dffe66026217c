"""`make bench` end to end in ``--quick`` mode against a real SeaweedFS on 127.0.0.1.

Checks that the run exits 0 and prints every section and the targets; never a time.
Run: ``.venv/bin/python -m pytest benchmarks/test_bench_smoke.py -q -p no:cacheprovider``.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.servers.seaweed import SeaweedServer

from benchmarks.suite import DATA_DIR, main

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def seaweed() -> SeaweedServer:
    return SeaweedServer.shared()  # the session's one, shared with the integration tests


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """Under benchmarks/.data like a real run (creating files in /tmp is slower here)."""
    path = DATA_DIR / f"smoke-{uuid.uuid4().hex[:8]}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_quick_run_prints_every_section_and_the_targets(
    seaweed: SeaweedServer,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in seaweed.env().items():
        monkeypatch.setenv(key, value)
    argv = ["--quick", "--repeat", "1", "--data-dir", str(data_dir), "--endpoint", seaweed.endpoint]
    code = main(argv)
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    for title in ("### W1:", "### W2:", "### W3:", "### W4:", "### W5:", "### W6:",
                  "### Start-up:", "### LOCAL:", "### Targets"):  # fmt: skip
        assert title in out
    assert "FAILED" not in out
    assert "- Machine:" in out and "- Load average before:" in out and "- Tools:" in out
    assert "| W4 only the changed bytes travel |" in out
    assert "| W4 only the changed bytes travel | " in out and "not measured" not in out
    assert not (data_dir / "work").exists()
