"""Review of issue 21: `modelshelf serve` of a spec that resolves but cannot load fails before
uvicorn starts: one `error:` line (one JSON line with --json) naming CLI flags, exit 1, no log
lines. What only the load itself can find (after the port opened, for /health during a long
load) is logged in the CLI's words too. Run as the real command (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.review_fserve_runners import RefusesLate
from tests.runner_contract_fixtures import PredictOnly, Scaler
from tests.servers.serve_process import REPO, free_port, server_env

from modelshelf import Shelf, register_model

SRC = Path(__import__("modelshelf").__file__).parents[1]
PYTHON_WORDS = ("trust=True", "allowed_hook_packages=", "ignore_requirements=True", "loader=")


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = (tmp_path / "store").as_uri()
    shelf = Shelf(url, cache_dir=tmp_path / "cache")
    register_model("demo/plain", PredictOnly, Scaler(2.0), store=shelf, version="1")
    register_model(
        "demo/needs",
        PredictOnly,
        Scaler(2.0),
        store=shelf,
        version="1",
        requirements=["no-such-distribution-here>=1"],
    )
    register_model("demo/late", RefusesLate, {"w": 1}, store=shelf, version="1")
    readme = tmp_path / "notes.txt"
    readme.write_text("not a model\n")
    shelf.push(readme, "demo/text")
    return url


def serve(
    tmp_path: Path, store: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = server_env(tmp_path / "cache", env)
    environ["PYTHONPATH"] = os.pathsep.join([str(SRC), str(REPO)])
    return subprocess.run(
        [sys.executable, "-m", "modelshelf", "--store", store, "serve", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


CASES = {
    "pickle without --trust": ("demo/plain", {}, "--trust"),
    "unmet requirements": ("demo/needs", {}, "--ignore-requirements"),
    "a runner not allowed": (
        "demo/plain",
        {"MODELSHELF_ALLOWED_HOOK_PACKAGES": ""},
        "--allow-hook-package tests",
    ),
    "not a model": ("demo/text", {}, "load_model(..., loader="),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_spec_that_cannot_load_is_one_error_line_before_uvicorn(
    tmp_path: Path, store: str, case: str
) -> None:
    spec, env, flag = CASES[case]
    done = serve(tmp_path, store, spec, "--port", str(free_port()), env=env)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error: "), done.stderr
    assert "uvicorn.error" not in done.stderr and " INFO " not in done.stderr, done.stderr
    assert flag in done.stderr, done.stderr
    assert not any(word in done.stderr for word in PYTHON_WORDS if word not in flag), done.stderr
    if case != "not a model":  # detection lists each file it tried on its own line
        assert len(done.stderr.splitlines()) == 1, done.stderr


@pytest.mark.parametrize("case", list(CASES))
def test_with_json_it_is_one_json_line(tmp_path: Path, store: str, case: str) -> None:
    spec, env, flag = CASES[case]
    done = serve(tmp_path, store, spec, "--port", str(free_port()), "--json", env=env)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    error = json.loads(done.stderr)
    assert error["exit"] == 1 and flag in error["error"], error


def test_a_local_pickle_without_trust_fails_before_uvicorn(tmp_path: Path, store: str) -> None:
    import pickle

    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"w": 1}, protocol=4))
    done = serve(tmp_path, store, str(path), "--port", str(free_port()))
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("error: ") and "--trust" in done.stderr, done.stderr


def test_a_load_that_fails_after_the_port_opened_is_logged_in_cli_words(
    tmp_path: Path, store: str
) -> None:
    done = serve(tmp_path, store, "demo/late", "--port", str(free_port()))
    assert done.returncode == 1, done.stderr
    assert "weights.bin needs more than tensors; pass --trust to allow it" in done.stderr
    assert "trust=True" not in done.stderr, done.stderr
    assert done.stderr.splitlines()[-1].startswith("error: "), done.stderr
