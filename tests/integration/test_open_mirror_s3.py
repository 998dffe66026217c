"""Mirror keys with invisible characters on a real SeaweedFS (issue 21, open leftover 1): keys a
plain S3 client wrote with a zero-width space, a bidi override or a soft hyphen refuse the mirror
before anything is written, are named escaped, and ``--exclude`` leaves them out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.servers.seaweed import S3Bucket

from modelshelf.cli.main import main
from modelshelf.errors import UntrustedStoreDataError
from modelshelf.mirror.run import mirror

HOSTILE = ["read\u200bme.txt", "invoice\u202etxt.exe", "soft\u00adhyphen.bin", "tag\U000e0041.bin"]


@pytest.fixture
def bucket(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    for name, value in s3_bucket.env.items():
        monkeypatch.setenv(name, value)
    return s3_bucket


def raw_client() -> Any:
    """A plain S3 client: it writes keys exactly as given, as tools other than ours do."""
    import boto3

    return boto3.client("s3")


@pytest.mark.parametrize("name", HOSTILE)
def test_an_invisible_character_in_a_key_refuses_the_mirror(
    bucket: S3Bucket, tmp_path: Path, name: str
) -> None:
    p = f"{bucket.prefix}/tree"
    client = raw_client()
    client.put_object(Bucket=bucket.bucket, Key=f"{p}/ok.txt", Body=b"ok")
    client.put_object(Bucket=bucket.bucket, Key=f"{p}/{name}", Body=b"spoofed")
    listed = [o["Key"] for o in client.list_objects_v2(Bucket=bucket.bucket, Prefix=p)["Contents"]]
    assert f"{p}/{name}" in listed  # the store kept the character: the test is about it

    dest = tmp_path / "dest"
    with pytest.raises(UntrustedStoreDataError, match="control characters") as caught:
        mirror(f"s3://{bucket.bucket}/{p}", dest)
    assert caught.value.key == f"{p}/{name}"
    hidden = next(c for c in name if not c.isprintable())
    assert hidden not in str(caught.value) and f"U+{ord(hidden):04X}" in str(caught.value)
    assert not dest.exists()

    result = mirror(f"s3://{bucket.bucket}/{p}", dest, exclude=[f"*{hidden}*"])
    assert result.fetched == 1
    written = sorted(q.name for q in dest.rglob("*") if q.is_file())
    assert written == [".modelshelf-mirror.json", "ok.txt"]


def test_the_cli_names_the_key_escaped_in_one_line(
    bucket: S3Bucket, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = f"{bucket.prefix}/cli"
    client = raw_client()
    for name in HOSTILE:
        client.put_object(Bucket=bucket.bucket, Key=f"{p}/{name}", Body=b"x")
    url = f"s3://{bucket.bucket}/{p}"
    assert main(["mirror", url, str(tmp_path / "d")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: refusing to mirror") and err.count("\n") == 1
    assert err.isascii() and f"(and {len(HOSTILE) - 1} more)" in err and "--exclude" in err
    assert main(["mirror", url, str(tmp_path / "d"), "--json"]) == 1
    error = json.loads(capsys.readouterr().err)
    assert "control characters" in error["error"] and error["exit"] == 1
    assert not (tmp_path / "d").exists()
