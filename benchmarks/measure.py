"""Measuring what a bench run needs beyond wall time: a child's peak RSS and CPU, the server's
CPU, what a push put into the store (from the store's own listing), and the machine.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ChildRun:
    """One finished child process: its output and what the kernel says it used."""

    stdout: str
    seconds: float  # wall, from spawn to reaped
    cpu_seconds: float  # user + system of the child (and its reaped children)
    peak_rss: int  # bytes: ru_maxrss of the child


TIME = Path("/usr/bin/time")  # GNU time: reports the peak RSS of the command alone


def run_child(argv: list[str], env: dict[str, str] | None, scratch: Path) -> ChildRun:
    """Run ``argv`` to its end; its wall and CPU time (``wait4``) and its peak RSS.

    The peak RSS comes from GNU ``/usr/bin/time -f %M`` when installed: a child forked from
    this (large) Python process starts with this process's RSS high-water mark, so the child's
    own ``ru_maxrss`` would report at least ours. Output goes to files in ``scratch`` (never a
    pipe that could fill while we wait).

    Raises:
        RuntimeError: the child exited non-zero (the message ends with its stderr).
    """
    scratch.mkdir(parents=True, exist_ok=True)
    out_path, err_path, rss_path = scratch / "child.out", scratch / "child.err", scratch / "rss"
    rss_path.unlink(missing_ok=True)
    command = [str(TIME), "-f", "%M", "-o", str(rss_path), *argv] if TIME.exists() else argv
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = err_path.read_text(errors="replace").strip()[-400:]
        raise RuntimeError(f"{Path(argv[0]).name} exited {proc.returncode}: {tail}")
    peak_kib = usage.ru_maxrss  # Linux: KiB
    if rss_path.is_file():
        lines = rss_path.read_text().split()
        peak_kib = int(lines[-1]) if lines and lines[-1].isdigit() else peak_kib
    return ChildRun(
        out_path.read_text(errors="replace"),
        seconds,
        usage.ru_utime + usage.ru_stime,
        peak_kib * 1024,
    )


def process_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of a running process (the server), from /proc; None if unknown."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14 and 15)


# -- what the store holds ------------------------------------------------------------------------
Snapshot = dict[str, tuple[int, str]]  # key -> (size, etag)


def snapshot(store: Any, prefix: str) -> Snapshot:
    """Every object under ``prefix/`` as the store lists it: key -> (size, etag)."""
    import obstore

    found: Snapshot = {}
    for batch in obstore.list(store, prefix=prefix + "/"):
        for meta in batch:
            found[meta["path"][len(prefix) + 1 :]] = (int(meta["size"]), str(meta.get("e_tag")))
    return found


@dataclass(frozen=True)
class Uploaded:
    """What one push added or replaced in the store, from listings before and after."""

    objects: int
    bytes: int
    blob_objects: int  # content blobs (``blobs/...``): the files' bytes
    blob_bytes: int
    keys: tuple[str, ...]


def uploaded(before: Snapshot, after: Snapshot) -> Uploaded:
    """Objects that are new or changed (size or etag) in ``after``."""
    changed = sorted(k for k, v in after.items() if before.get(k) != v)
    blobs = [k for k in changed if k.startswith("blobs/")]
    return Uploaded(
        objects=len(changed),
        bytes=sum(after[k][0] for k in changed),
        blob_objects=len(blobs),
        blob_bytes=sum(after[k][0] for k in blobs),
        keys=tuple(changed),
    )


# -- the machine -----------------------------------------------------------------------------------
def filesystem_type(path: Path) -> str:
    """The type of the filesystem holding ``path`` (from /proc/self/mounts), e.g. ext4."""
    target = path.resolve()
    best, kind = "", "?"
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return kind
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount = parts[1].replace("\\040", " ")
        inside = target == Path(mount) or Path(mount) in target.parents
        if inside and len(mount) > len(best):
            best, kind = mount, parts[2]
    return kind


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine(data_dir: Path) -> str:
    """One line: CPUs, kernel, memory and the data folder's filesystem."""
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.0f} GiB RAM"
    except OSError:
        pass
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = f" ({line.split(':', 1)[1].strip()})"
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs{model}{memory}, {platform.system()} {platform.release()},"
        f" data folder {data_dir} on {filesystem_type(data_dir)}"
    )


def tool_version(argv: list[str]) -> str:
    """First line a tool prints for its version, or '?'."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    except OSError:
        return "?"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "?"
