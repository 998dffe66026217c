"""Issue 21, set-up weight: each install holds what it runs, and torch only where it is needed.

``make demo`` built the 1.7 GB test virtualenv (torch, scikit-learn, onnx, the test tools) for
a demo that uses none of them; it now installs modelshelf with its server extra into
``.venv-demo``. torch 2.13.0 from public PyPI is the CUDA build on Linux x86_64 (several GB of
nvidia-* packages): ``make test TORCH_INDEX=...`` takes it from the PyTorch index instead. The
Makefile is read with ``make -n`` (commands printed, none run).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {"torch", "scikit-learn", "onnx", "onnxruntime", "skops"}
TEST_TOOLS = {"pytest", "hypothesis", "mypy", "ruff"}
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def extras() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found: dict[str, list[str]] = project["optional-dependencies"]
    return found


def pulled(extra: str) -> set[str]:
    """The distributions ``modelshelf[extra]`` names, through ``modelshelf[...]`` in it."""
    names: set[str] = set()
    todo, seen = [extra], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in extras()[name]:
            req = Requirement(text)
            if req.name == "modelshelf":
                todo += sorted(req.extras)
            else:
                names.add(req.name.lower())
    return names


def make_n(*args: str) -> list[list[str]]:
    """The commands ``make -n ARGS`` would run, each split as the shell would."""
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [shlex.split(line) for line in done.stdout.splitlines() if line.strip()]


def pip_installs(commands: list[list[str]]) -> list[list[str]]:
    return [c for c in commands if "pip" in c and "install" in c and "--upgrade" not in c]


def test_torch_comes_only_with_the_torch_and_test_extras() -> None:
    with_torch = {name for name in extras() if "torch" in pulled(name)}
    assert with_torch == {"torch", "test"}
    for light in ("serve", "bench"):
        assert pulled(light) & HEAVY == set(), light


@needs_make
def test_make_demo_installs_modelshelf_and_its_server_only_into_its_own_venv() -> None:
    commands = make_n("demo")
    [install] = pip_installs(commands)
    assert install[0] == ".venv-demo/bin/python"
    assert install[install.index("-e") + 1] == ".[serve]"
    assert not any(".[test" in word for command in commands for word in command)
    [run] = [c for c in commands if "scripts/demo.sh" in c]
    assert run[0] == f"PATH={ROOT}/.venv-demo/bin:$PATH"
    assert pulled("serve") & (HEAVY | TEST_TOOLS) == set()


@needs_make
def test_make_test_still_installs_everything_and_torch_from_pypi_by_default() -> None:
    [install] = pip_installs(make_n("venv"))
    assert install[0] == ".venv/bin/python"
    assert install[install.index("-e") + 1] == ".[test]"
    assert "--extra-index-url" not in install and "--index-url" not in install
    assert pulled("test") >= HEAVY | TEST_TOOLS


@needs_make
@pytest.mark.parametrize("target", ["venv", "bench", "bench-mirror"])
def test_the_readmes_torch_index_reaches_pip_for_every_install_with_torch(target: str) -> None:
    # The README's own words: what it tells a user to type must reach pip.
    readme = (ROOT / "README.md").read_text()
    [index] = set(re.findall(r"make test TORCH_INDEX=(\S+?)`", readme))
    assert index == "https://download.pytorch.org/whl/cpu"
    with_test = [
        install
        for install in pip_installs(make_n(target, f"TORCH_INDEX={index}"))
        if any(".[test" in word for word in install)
    ]
    assert with_test
    for install in with_test:
        assert install[install.index("--extra-index-url") + 1] == index
    # ... and never to the demo's install.
    [demo] = pip_installs(make_n("demo", f"TORCH_INDEX={index}"))
    assert index not in demo
