"""`modelshelf serve`'s pre-flight checks a model section's ``props`` and artifact names, as the
load does, before uvicorn starts (issue 21, open leftover 2): a hostile section is one
``error:`` line and exit 1, not a port that opens and a background load that fails. Names
only: nothing is pulled. The property over every field: tests/unit/test_split.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.servers.serve_process import REPO, free_port, server_env

from modelshelf import PushSource, Shelf, load_model
from modelshelf.errors import UntrustedStoreDataError
from modelshelf.models._preflight import check_loadable

SRC = Path(__import__("modelshelf").__file__).parents[1]
LOADABLE: dict[str, Any] = {
    "runner": "tests.code_trust_fixtures:EchoRunner",
    "requirements": [],
    "artifacts": [],
}
HOSTILE: dict[str, tuple[dict[str, Any], str]] = {
    "props not a mapping": ({"props": ["file", "x"]}, "props are not a mapping of text to text"),
    "a prop that is not text": ({"props": {"file": 7}}, "props are not a mapping of text"),
    "props null inside": ({"props": {"file": None}}, "props are not a mapping of text"),
    "artifacts not a list": ({"artifacts": {"model": "x"}}, "artifact names are not a list"),
    "artifacts null": ({"artifacts": None}, "artifact names are not a list"),
    "an artifact climbing out": ({"artifacts": ["../../../etc/passwd"]}, "unsafe path"),
    "an absolute artifact": ({"artifacts": ["/etc/passwd"]}, "unsafe path"),
    "an artifact in .git": ({"artifacts": [".git/config"]}, "inside a .git folder"),
    "an artifact with escapes": ({"artifacts": ["\x1b[2J/../x"]}, "unsafe path"),
    "an artifact that is not text": ({"artifacts": [3]}, "a path must be text"),
}


def push_section(tmp_path: Path, name: str, section: dict[str, Any]) -> str:
    url = (tmp_path / "store").as_uri()
    model = tmp_path / "f.txt"
    model.write_text("x")
    shelf = Shelf(url, cache_dir=tmp_path / "writer")
    source = PushSource.from_files({model: "f.txt"})
    shelf.push(source, name, sections={"model": LOADABLE | section}, progress=False)
    return url


def refusal(call: Any) -> str:
    with pytest.raises(UntrustedStoreDataError) as caught:
        call()
    return str(caught.value)


@pytest.mark.parametrize("case", list(HOSTILE))
def test_the_preflight_refuses_as_the_load_does_without_a_pull(tmp_path: Path, case: str) -> None:
    section, reason = HOSTILE[case]
    url = push_section(tmp_path, "open/hostile", section)
    cold = Shelf(url, cache_dir=tmp_path / "preflight")
    before = refusal(lambda: check_loadable("open/hostile", store=cold))
    assert reason in before and before.startswith("open/hostile:1.0 in ")
    assert "\n" not in before and "\x1b" not in before
    assert not (tmp_path / "preflight" / "snapshots").exists()  # names only: nothing pulled
    after = refusal(
        lambda: load_model("open/hostile", store=Shelf(url, cache_dir=tmp_path / "load"))
    )
    assert after == before  # the same check, in the same words


def test_a_loadable_section_still_passes_the_preflight(tmp_path: Path) -> None:
    section = {"props": {"file": "f.txt"}, "artifacts": ["f.txt", "sub/dir/x.bin"]}
    url = push_section(tmp_path, "open/fine", section)
    check_loadable("open/fine", store=Shelf(url, cache_dir=tmp_path / "a"))


def serve(tmp_path: Path, store: str, *args: str) -> subprocess.CompletedProcess[str]:
    environ = server_env(tmp_path / "cache")
    environ["PYTHONPATH"] = os.pathsep.join([str(SRC), str(REPO)])
    return subprocess.run(
        [sys.executable, "-m", "modelshelf", "--store", store, "serve", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "case", ["a prop that is not text", "an artifact climbing out", "an artifact with escapes"]
)
def test_serve_of_a_hostile_section_is_one_error_line_before_uvicorn(
    tmp_path: Path, case: str
) -> None:
    section, reason = HOSTILE[case]
    url = push_section(tmp_path, "open/hostile", section)
    done = serve(tmp_path, url, "open/hostile", "--port", str(free_port()))
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error: open/hostile:1.0 in "), done.stderr
    assert reason in done.stderr and "\x1b" not in done.stderr, done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr  # no uvicorn or log line before it
    assert not (tmp_path / "cache" / "snapshots").exists()  # refused before any pull

    done = serve(tmp_path, url, "open/hostile", "--port", str(free_port()), "--json")
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    error = json.loads(done.stderr)
    assert reason in error["error"] and error["exit"] == 1, error
