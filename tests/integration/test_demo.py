"""``make demo`` is one of the two commands the README gives: run its script for real.

It pushes, pulls, heals, registers, serves and asks a model on the embedded local store, and
checks its own results (it exits non-zero on any surprise), so a change that breaks the main
job as a new user meets it fails here, not on their machine.

``make demo`` installs only modelshelf and its server extra (issue 21: it used to build the
whole 1.7 GB test virtualenv). The script runs here with torch, scikit-learn, onnx,
onnxruntime and skops made unimportable, as they are in that virtualenv, so a demo that comes to
need one of them fails here too (tests/unit/test_setup_install.py checks what make installs).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "demo.sh"

# Loaded by every Python the demo starts (site imports ``sitecustomize`` from PYTHONPATH):
# the engines and test-only libraries of the full virtualenv are not there for it.
NOT_INSTALLED = """
import sys

BLOCKED = {"torch", "sklearn", "onnx", "onnxruntime", "skops"}


class NotInstalled:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (not in .venv-demo)", name=name)
        return None


sys.meta_path.insert(0, NotInstalled)
"""


def test_the_demo_runs_end_to_end(tmp_path: Path) -> None:
    bin_dir = str(Path(sys.executable).parent)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MODELSHELF_", "AWS_", "GOOGLE_", "AZURE_"))
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    blocker = tmp_path / "not-installed"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(NOT_INSTALLED)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(blocker), env.get("PYTHONPATH")]))
    done = subprocess.run(
        ["bash", str(SCRIPT)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "demo finished" in done.stdout
    assert "must fail: demo_runners is not allowed yet" in done.stdout
    assert "[3, 5, 7]" in done.stdout
