"""Issue 21, CLI items 10 and 13 against a real SeaweedFS: a configured store's name means that
store for ``export --to``, ``copy`` and ``mirror`` alike, opened with the file's settings; and
completion offers what ``ls``/``versions`` listed there, asking the store nothing afterwards.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.servers.seaweed import S3Bucket

from modelshelf.backends import open_backend
from modelshelf.cli.main import cli, main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def prod(s3_bucket: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``[stores.prod]``: the bucket, with its endpoint and keys in the file alone (none in the
    environment); the default store (a local folder) holds ``m:1.0``."""
    env = s3_bucket.env
    path = tmp_path / "config.toml"
    path.write_text(
        f'[stores.prod]\nurl = "{s3_bucket.url}"\nendpoint = "{env["AWS_ENDPOINT_URL"]}"\n'
        f'region = "{env["AWS_REGION"]}"\n'
        f'[stores.prod.options]\naccess_key_id = "{env["AWS_ACCESS_KEY_ID"]}"\n'
        f'secret_access_key = "{env["AWS_SECRET_ACCESS_KEY"]}"\n'
    )
    path.chmod(0o600)
    monkeypatch.setenv("MODELSHELF_CONFIG", str(path))
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(3000))
    assert main(["push", str(weights), "m", "-q"]) == 0
    return path


def _bucket(s3_bucket: S3Bucket) -> object:
    env = s3_bucket.env
    return open_backend(
        f"s3://{s3_bucket.bucket}",
        endpoint=env["AWS_ENDPOINT_URL"],
        region=env["AWS_REGION"],
        access_key_id=env["AWS_ACCESS_KEY_ID"],
        secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def test_export_copy_and_mirror_read_prod_as_the_store(
    prod: Path,
    s3_bucket: S3Bucket,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    Path("prod").mkdir()  # a folder of that name too: the store is used, and a warning says so
    code, out, err = run(capsys, "export", "m:1.0", "--to", "prod")
    assert code == 0, err
    assert out.strip() == f"{s3_bucket.url}/m/1.0"
    assert "names the configured store 'prod'" in err and "write ./prod for the folder" in err
    assert list(Path("prod").iterdir()) == []
    bucket = _bucket(s3_bucket)
    key = f"{s3_bucket.prefix}/m/1.0/weights.bin"
    assert len(bucket.read(key)) == 3000  # type: ignore[attr-defined]

    code, _, err = run(capsys, "copy", "m:1.0", "prod", "-q")
    assert code == 0, err
    assert run(capsys, "--store", "prod", "ls")[1] == "m\n"

    here = tmp_path / "here"
    code, _, err = run(capsys, "mirror", "prod", str(here), "--include", "m/**", "-q")
    assert code == 0, err
    assert (here / s3_bucket.prefix / "m" / "1.0" / "weights.bin").stat().st_size == 3000


def test_completion_offers_what_was_listed_and_asks_the_store_nothing(
    prod: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsys, "copy", "m:1.0", "prod", "-q")[0] == 0
    assert run(capsys, "--store", "prod", "versions", "m")[0] == 0

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("completion opened a store")

    monkeypatch.setattr(sys.modules["modelshelf.backends.registry"], "_open", refuse)
    result = CliRunner().invoke(
        cli,
        prog_name="modelshelf",
        env={
            "_MODELSHELF_COMPLETE": "bash_complete",
            "COMP_WORDS": "modelshelf --store prod pull m",
            "COMP_CWORD": "4",
        },
    )
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["plain,m", "plain,m:1.0"]
