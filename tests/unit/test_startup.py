"""Start-up stays light: what ``import modelshelf`` and a cache hit load, checked in fresh
processes (issue 15). No wall-clock time is asserted: the modules loaded are what makes it fast."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from modelshelf.cli.main import COMMANDS
from modelshelf.shelf.shelf import Shelf

HEAVY = ("obstore", "rich", "click", "filelock", "numpy", "fastapi", "uvicorn")


def _loaded(code: str, env: dict[str, str] | None = None) -> set[str]:
    """The top-level packages a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def _imported_by_cli(args: list[str], env: dict[str, str]) -> tuple[str, set[str]]:
    """Run ``python -X importtime -m modelshelf ARGS``: its output and every module it imported."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "modelshelf", *args],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    modules = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", out.stderr, re.M))
    assert "modelshelf.cli.main" in modules  # the probe sees imports at all
    return out.stdout, modules


def _top(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@pytest.fixture
def warm(tmp_path: Path) -> dict[str, str]:
    """A file:// store holding demo/x:1.0 and a cache that already holds it, as the CLI's env."""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "w.bin").write_bytes(b"weights" * 1000)
    store = (tmp_path / "store").as_uri()
    shelf = Shelf(store, cache_dir=tmp_path / "cache")
    shelf.push(tmp_path / "model", "demo/x", progress=False)
    shelf.pull("demo/x:1.0", progress=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELSHELF_")}
    env.update(
        MODELSHELF_STORE=store,
        MODELSHELF_CACHE_DIR=str(tmp_path / "cache"),
        MODELSHELF_CONFIG=str(tmp_path / "no-config.toml"),
    )
    return env


def test_import_modelshelf_loads_nothing_heavy() -> None:
    loaded = _top(_loaded("import modelshelf"))
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
    # Nor the layers behind the facade: they load with the first name that needs them.
    full = _loaded("import modelshelf")
    assert not {"modelshelf.shelf.shelf", "modelshelf.models", "modelshelf.cache.cache"} & full


def test_a_public_name_loads_its_module_on_first_use() -> None:
    loaded = _loaded("import modelshelf; modelshelf.parse_spec('a/b:1')")
    assert "modelshelf.spec" in loaded and "modelshelf.shelf.shelf" not in loaded


@pytest.mark.parametrize("url", ["s3://bucket/prefix", "gs://bucket/prefix", "memory://m"])
def test_a_shelf_on_a_cloud_store_opens_nothing_until_used(url: str, tmp_path: Path) -> None:
    # The store id (the cache key) comes from the backend class, which imports obstore only
    # when a store is opened: a cache hit never pays for it, nor asks for credentials.
    code = f"import modelshelf; s = modelshelf.Shelf({url!r}, cache_dir={str(tmp_path)!r})"
    assert "obstore" not in _top(_loaded(code))


def test_a_python_hit_does_not_open_the_store(warm: dict[str, str]) -> None:
    code = (
        "import modelshelf\n"
        "s = modelshelf.Shelf()\n"  # MODELSHELF_STORE and MODELSHELF_CACHE_DIR of `warm`
        "p = s.pull('demo/x:1.0')\n"
        "assert (p / 'w.bin').is_file() and s._store is None, (p, s._store)\n"
    )
    loaded = _loaded(code, warm)
    assert not _top(loaded) & {"obstore", "filelock", "rich", "click"}
    assert "modelshelf.transfer.download" not in loaded and "modelshelf.store.bucket" not in loaded


def test_a_cli_pinned_hit_loads_no_obstore(warm: dict[str, str]) -> None:
    stdout, modules = _imported_by_cli(["pull", "demo/x:1.0"], warm)
    assert stdout.strip().endswith("/demo/x/versions/1.0")
    assert not _top(modules) & {"obstore", "rich", "filelock", "numpy", "fastapi"}
    # Only the command that runs is imported.
    commands = {m for m in modules if m.startswith("modelshelf.cli.")}
    assert commands <= {"modelshelf.cli.main", "modelshelf.cli._common", "modelshelf.cli.pull",
                        "modelshelf.cli._errors", "modelshelf.cli._complete"}  # fmt: skip


def test_a_cli_miss_does_open_the_store(warm: dict[str, str], tmp_path: Path) -> None:
    # The probe would notice the store layout: a pull the cache cannot answer loads it (a
    # file:// store reads through descriptors and no longer loads obstore at all).
    warm["MODELSHELF_CACHE_DIR"] = str(tmp_path / "cold-cache")
    stdout, modules = _imported_by_cli(["pull", "demo/x:1.0"], warm)
    assert {"modelshelf.store.bucket", "modelshelf.transfer.download"} <= modules
    assert (Path(stdout.strip()) / "w.bin").read_bytes() == b"weights" * 1000


def test_help_lists_every_command_with_its_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "modelshelf", "--help"], capture_output=True, text=True, check=True
    ).stdout
    listed = dict(re.findall(r"^  (\S+)\s+(\S.*)$", out.split("Commands:", 1)[1], re.M))
    assert set(listed) == set(COMMANDS)
    assert listed["pull"].startswith("Pull SPEC")
    assert listed["ls"].startswith("List assets")
    assert all(text.strip() for text in listed.values())


def test_a_mistyped_command_is_still_suggested() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "modelshelf", "pul"], capture_output=True, text=True
    )
    assert out.returncode == 2 and "Did you mean 'pull'?" in out.stderr
