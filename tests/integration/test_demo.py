"""``make demo`` is one of the two commands the README gives: run its script for real.

It pushes, pulls, heals, registers, serves and asks a model on the embedded local store, and
checks its own results (it exits non-zero on any surprise), so a change that breaks the main
job as a new user meets it fails here, not on their machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "demo.sh"


def test_the_demo_runs_end_to_end(tmp_path: Path) -> None:
    bin_dir = str(Path(sys.executable).parent)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MODELSHELF_", "AWS_", "GOOGLE_", "AZURE_"))
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        ["bash", str(SCRIPT)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "demo finished" in done.stdout
    assert "must fail: demo_runners is not allowed yet" in done.stdout
    assert "[3, 5, 7]" in done.stdout
