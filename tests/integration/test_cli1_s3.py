"""The CLI rough edges of issue 21 (rm of the last version, log lines, one time format, JSON
errors) against a real SeaweedFS S3 server on loopback."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from tests.servers.seaweed import S3Bucket

from modelshelf import Shelf
from modelshelf.cli.main import main

RAW_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


@pytest.fixture
def shelf(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Shelf:
    for name, value in s3_bucket.env.items():
        monkeypatch.setenv(name, value)
    return Shelf(s3_bucket.url, cache_dir=tmp_path / "cache")


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    root.mkdir()
    (root / "weights.bin").write_bytes(os.urandom(4096))
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_rm_of_the_last_version_then_log_and_errors(
    shelf: Shelf, model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = ["--store", shelf.url]
    assert run(capsys, *s, "push", str(model), "m", "-q")[0] == 0
    assert run(capsys, *s, "alias", "set", "m@prod", "1.0")[0] == 0
    assert run(capsys, *s, "copy", "m:1.0", (tmp_path / "other").as_uri(), "-q")[0] == 0
    code, out, err = run(capsys, *s, "rm", "m:1.0", "-m", "why")
    assert code == 0 and out == "removed m:1.0; m has no versions left\n", err
    code, out, err = run(capsys, *s, "versions", "m")
    assert (code, out) == (0, "") and "m has no versions left" in err
    code, out, _ = run(capsys, *s, "log", "m")
    what = [line.split("  ", 2)[2] for line in out.splitlines()]
    assert what == ["push 1.0", "alias @prod -> 1.0 (was unset)", "remove 1.0  why"]
    code, _, err = run(capsys, *s, "pull", "m@prod")
    assert code == 1 and "removed by" in err and not RAW_ISO.search(err)
    code, _, err = run(capsys, *s, "pull", "m", "--json")
    error = json.loads(err)
    assert (code, error["type"], error["exit"]) == (1, "AssetNotFoundError", 1)
    assert "m has no versions left" in error["error"] and "1.0" in error["error"]
    code, out, _ = run(capsys, "--store", (tmp_path / "other").as_uri(), "log", "m")
    assert code == 0 and out.splitlines()[0].endswith(f"copy 1.0 from {shelf.url}")
