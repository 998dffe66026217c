"""The import rules in pyproject.toml ([tool.importlinter]) hold, and they bite.

``lint-imports`` runs as ``make lint`` does; the second test plants an upward import in a copy of
the package and checks that the layers contract fails naming it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import modelshelf

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(modelshelf.__file__).resolve().parent  # the tree under test (src/ or an install)
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(package_parent: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the project's contracts over the package in ``package_parent``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(package_parent), str(cwd)])}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_import_contracts_are_kept(tmp_path: Path) -> None:
    done = _lint_imports(PACKAGE.parent, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 3 kept, 0 broken." in done.stdout


def test_an_upward_import_breaks_the_layers_contract(tmp_path: Path) -> None:
    copy = tmp_path / "src" / "modelshelf"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    api = copy / "store" / "api.py"
    api.write_text(api.read_text(encoding="utf-8") + "\nimport modelshelf.cli.main\n", "utf-8")

    done = _lint_imports(copy.parent, tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "Packages import only the layers below them BROKEN" in done.stdout
    assert "modelshelf.store is not allowed to import modelshelf.cli" in done.stdout
    assert "modelshelf.store.api -> modelshelf.cli.main" in done.stdout


def test_a_vocabulary_module_that_imports_a_package_breaks_its_contract(tmp_path: Path) -> None:
    copy = tmp_path / "src" / "modelshelf"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    spec = copy / "spec.py"
    spec.write_text(spec.read_text(encoding="utf-8") + "\nimport modelshelf.backends\n", "utf-8")
    gc = copy / "store" / "gc.py"
    gc.write_text(gc.read_text(encoding="utf-8") + "\nimport modelshelf\n", "utf-8")

    done = _lint_imports(copy.parent, tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "The vocabulary modules import no package BROKEN" in done.stdout
    assert "modelshelf.spec is not allowed to import modelshelf.backends" in done.stdout
    assert "Only cli and serve import the package root BROKEN" in done.stdout
    assert "modelshelf.store.gc is not allowed to import modelshelf" in done.stdout
