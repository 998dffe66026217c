"""``modelshelf mirror`` against a real SeaweedFS: listings past 1,000 keys, hostile key trees
written with a plain S3 client, ranged reads, and the store's errors."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from tests.servers.seaweed import S3Bucket

from modelshelf import constants
from modelshelf.cli.main import main
from modelshelf.errors import (
    ObjectNotFoundError,
    StoreError,
    StoreUnreachableError,
    UntrustedStoreDataError,
    UserFolderRefusedError,
)
from modelshelf.mirror.run import mirror


@pytest.fixture
def bucket(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    for name, value in s3_bucket.env.items():
        monkeypatch.setenv(name, value)
    return s3_bucket


def raw_client() -> Any:
    """A plain S3 client: it writes keys exactly as given, as tools other than ours do."""
    import boto3

    return boto3.client("s3")


def put_all(bucket: S3Bucket, objects: dict[str, bytes]) -> None:
    client = raw_client()
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda kv: client.put_object(Bucket=bucket.bucket, Key=kv[0], Body=kv[1]),
                objects.items(),
            )
        )


def files_under(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.name != ".modelshelf-mirror.json"
    }


def test_more_than_1000_keys_and_folder_boundaries(bucket: S3Bucket, tmp_path: Path) -> None:
    prefix = f"{bucket.prefix}/conduct/en/version_1.2"
    objects = {f"{prefix}/models/lr/{n:05}.bin": f"object {n}".encode() for n in range(1234)}
    others = {
        f"{bucket.prefix}/conduct/en/version_1.20/x": b"sibling",
        f"{prefix}.json": b"sibling file",
    }
    put_all(bucket, {**objects, **others})
    dest = tmp_path / "ptms"
    result = mirror(f"s3://{bucket.bucket}/{prefix}", dest)
    assert (result.fetched, result.skipped) == (1234, 0)
    assert files_under(dest) == objects  # the key below the bucket, prefix included
    again = mirror(f"s3://{bucket.bucket}/{prefix}", dest)
    assert (again.fetched, again.skipped) == (0, 1234)
    # One object changed in the store, one locally: only those two are fetched again, the
    # local edit (the user's now, issue 20 item 3) only with overwrite; without it nothing is.
    put_all(bucket, {f"{prefix}/models/lr/00007.bin": b"changed"})
    (dest / prefix / "models/lr/00008.bin").write_bytes(b"edited")
    with pytest.raises(UserFolderRefusedError, match=r"00008\.bin holds other content"):
        mirror(f"s3://{bucket.bucket}/{prefix}", dest)
    assert (dest / prefix / "models/lr/00007.bin").read_bytes() == b"object 7"
    third = mirror(f"s3://{bucket.bucket}/{prefix}", dest, overwrite=True)
    assert {i.key: i.reason for i in third.plan if i.action == "fetch"} == {
        f"{prefix}/models/lr/00007.bin": "changed in the store",
        f"{prefix}/models/lr/00008.bin": "changed locally",
    }
    assert (dest / prefix / "models/lr/00008.bin").read_bytes() == b"object 8"


def test_one_object_and_a_dry_run(bucket: S3Bucket, tmp_path: Path) -> None:
    key = f"{bucket.prefix}/a/model.onnx"
    put_all(bucket, {key: b"onnx", f"{bucket.prefix}/a/model.onnx.bak": b"other"})
    plan = mirror(f"s3://{bucket.bucket}/{key}", tmp_path, dry_run=True)
    assert [(i.key, i.size, i.action) for i in plan.plan] == [(key, 4, "fetch")]
    assert not (tmp_path / bucket.prefix).exists()
    assert mirror(f"s3://{bucket.bucket}/{key}", tmp_path).fetched == 1
    assert files_under(tmp_path) == {key: b"onnx"}


def test_a_hostile_key_tree_is_refused_before_writing_then_excluded(
    bucket: S3Bucket, tmp_path: Path
) -> None:
    p = f"{bucket.prefix}/tree"
    put_all(
        bucket,
        {
            f"{p}/ok.txt": b"ok",
            f"{p}/C:/Windows/evil": b"drive",
            f"{p}/%2E%2E/literal": b"percent",  # a literal name, never decoded to '..'
            f"{p}/sp ace/f": b"space",
            f"{p}/dir/": b"",  # a console's folder marker
            f"{p}/dir/inner": b"inner",
            f"{p}/a//b": b"double",
        },
    )
    dest = tmp_path / "dest"
    with pytest.raises(UntrustedStoreDataError, match="drive") as caught:
        mirror(f"s3://{bucket.bucket}/{p}", dest)
    assert caught.value.key == f"{p}/C:/Windows/evil"
    assert not dest.exists()

    result = mirror(f"s3://{bucket.bucket}/{p}", dest, exclude=["C:*"])
    got = files_under(dest)
    assert got[f"{p}/ok.txt"] == b"ok"
    assert got[f"{p}/%2E%2E/literal"] == b"percent"
    assert got[f"{p}/sp ace/f"] == b"space"
    assert got[f"{p}/dir/inner"] == b"inner"
    assert b"double" in got.values()  # SeaweedFS stores 'a//b' as 'a/b'
    assert not any("Windows" in path for path in got)
    assert result.fetched == len(got)
    for path in dest.rglob("*"):
        assert dest in path.resolve().parents


def test_large_objects_go_through_ranged_reads(
    bucket: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(constants, "RANGE_SIZE", 1 << 20)
    big = os.urandom((3 << 20) + 123)
    key = f"{bucket.prefix}/big.bin"
    put_all(bucket, {key: big})
    mirror(f"s3://{bucket.bucket}/{bucket.prefix}", tmp_path)
    assert (tmp_path / key).read_bytes() == big


def test_missing_bucket_and_nothing_at_the_prefix(
    bucket: S3Bucket, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(StoreError, match=r"s3://no-such-bucket-here.*NoSuchBucket"):
        mirror("s3://no-such-bucket-here/x", tmp_path / "a")
    with pytest.raises(ObjectNotFoundError, match="nothing to mirror"):
        mirror(f"s3://{bucket.bucket}/{bucket.prefix}/absent", tmp_path / "b")
    assert main(["mirror", "s3://no-such-bucket-here/x", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: s3://no-such-bucket-here") and err.count("\n") == 1
    assert not any((tmp_path / name).exists() for name in "abc")


def test_unreachable_endpoint(
    bucket: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    with pytest.raises(StoreUnreachableError, match=r"cannot reach the store s3://"):
        mirror(f"s3://{bucket.bucket}/x", tmp_path / "a")
    assert not (tmp_path / "a").exists()


def test_cli_json_on_s3(
    bucket: S3Bucket, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put_all(bucket, {f"{bucket.prefix}/m/{n}.txt": b"x" * n for n in range(5)})
    url = f"s3://{bucket.bucket}/{bucket.prefix}/m"
    assert main(["mirror", url, str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["fetched"], data["fetched_bytes"]) == (5, sum(range(5)))
    assert all(item["etag"] for item in data["plan"])


def test_the_cli_takes_backend_settings_for_the_mirrored_store(
    s3_bucket: S3Bucket, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--backend-opt reaches the mirrored store: here it is the only place the endpoint is."""
    from modelshelf.backends import open_backend
    from modelshelf.cli.main import main

    env = s3_bucket.env
    opts = {
        "endpoint": env["AWS_ENDPOINT_URL"],
        "region": env.get("AWS_REGION", "us-east-1"),
        "access_key_id": env["AWS_ACCESS_KEY_ID"],
        "secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
    }
    open_backend(s3_bucket.url, **opts).put("docs/a.txt", b"hello")
    args = [f"--backend-opt={k}={v}" for k, v in opts.items()]
    code = main(["mirror", f"{s3_bucket.url}/docs", str(tmp_path / "out"), *args])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "out" / s3_bucket.prefix / "docs" / "a.txt").read_bytes() == b"hello"
