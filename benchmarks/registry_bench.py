"""Push and pull through the registry server beside the same straight to SeaweedFS, same run.

Run from the project root (``make bench-registry``)::

    .venv/bin/python benchmarks/registry_bench.py [--quick] [--repeat 1] [--clients 8]
        [--client-mib 1024]

Starts SeaweedFS on 127.0.0.1 (tests/servers/seaweed.py) and two ``modelshelf registry serve``
processes over one bucket prefix: one that redirects blob downloads to presigned URLs (the
default) and one with ``--no-redirect`` (every byte through the server). Then, for W1 (1 GiB in
65 files) and W3 (2,000 x 64 KiB), each a new CLI process as a user runs it:

- push and pull (into a cold cache) straight to the bucket (``s3://``);
- push through the registry, pull through it streamed, and pull through it redirected.

Last, ``--clients`` processes at once each push a file of ``--client-mib`` MiB of their own
through the streaming server, then each pull another's (cold cache). The server's peak RSS
(``VmHWM``, reset before each step through ``/proc/PID/clear_refs``) is reported for every
step. Every pull is verified by modelshelf itself (sha256 of every file).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

# The project root, so that `benchmarks` and `tests.servers` import as packages.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.dataset import MIB, ensure_files, write_random
from benchmarks.measure import run_child
from benchmarks.runner import fresh
from benchmarks.workloads import workloads

WORK_DIR = Path(__file__).resolve().parent / ".data" / "registry"
BUCKET = "registry-bench"


def _log(message: str) -> None:
    print(f"[bench-registry] {message}", file=sys.stderr, flush=True)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Registry:
    """One ``registry serve`` process and its URL."""

    proc: subprocess.Popen[bytes]
    url: str

    def reset_peak(self) -> None:
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")

    def peak_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")


def _start_registry(
    modelshelf: str, store: str, env: dict[str, str], log: Path, *extra: str
) -> Registry:
    port = _free_port()
    argv = [modelshelf, "--store", store, "registry", "serve", "--port", str(port), *extra]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"bench-registry: {' '.join(argv)} exited: {log.read_text()[-800:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/v1", timeout=2):
                return Registry(proc, url)
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"bench-registry: the registry at {url} did not answer in 30 s")


def _admin_token(modelshelf: str, store: str, env: dict[str, str]) -> str:
    argv = [modelshelf, "--store", store, "registry", "token", "create", "bench"]
    done = subprocess.run(
        [*argv, "--scope", "admin:*"], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def _step(
    argv: list[str], env: dict[str, str], scratch: Path, server: Registry | None
) -> tuple[float, float, float]:
    """Run one CLI step: (seconds, client peak RSS MiB, server peak RSS MiB or nan)."""
    if server is not None:
        server.reset_peak()
    subprocess.run(["sync"], check=True)
    run = run_child(argv, env, scratch)
    peak = server.peak_mib() if server is not None else float("nan")
    return run.seconds, run.peak_rss / MIB, peak


def main(argv: list[str] | None = None) -> int:
    from tests.servers.seaweed import SeaweedServer

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, same shapes")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--client-mib", type=int, default=1024)
    parser.add_argument("--work-dir", type=Path, default=WORK_DIR)
    args = parser.parse_args(argv)

    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    for stale in ("seaweed", "caches", "scratch", "clients"):
        fresh(work / stale)
    modelshelf = str(Path(sys.executable).parent / "modelshelf")
    sets = workloads(quick=args.quick)
    server = SeaweedServer(base_dir=str(work / "seaweed"))
    server.start()
    registries: list[Registry] = []
    rows: list[tuple[str, str, str, float, float, float]] = []
    try:
        server.create_bucket(BUCKET)
        env = {**os.environ, **server.env()}
        backing = f"s3://{BUCKET}/registry"
        token = _admin_token(modelshelf, backing, env)
        streamed = _start_registry(modelshelf, backing, env, work / "streamed.log", "--no-redirect")
        redirected = _start_registry(modelshelf, backing, env, work / "redirected.log")
        registries += [streamed, redirected]
        client_env = {**env, "MODELSHELF_TOKEN": token}
        targets = {
            "straight to SeaweedFS": (f"s3://{BUCKET}/direct", None, None),
            "registry, streamed": (streamed.url, streamed, streamed),
            "registry, redirected": (redirected.url, None, redirected),
        }
        for key in ("W1", "W3"):
            load = sets[key]
            data, _ = ensure_files(work.parent, f"registry-{load.name}", list(load.plan))
            for r in range(args.repeat):
                pushed: dict[str, str] = {}
                for target, (url, push_via, pull_via) in targets.items():
                    if target == "registry, redirected":
                        url_pushed = pushed["registry, streamed"]  # pushes do not redirect
                    else:
                        name = f"{key.lower()}-{r}-{len(pushed)}"
                        url_pushed = f"{name}:1.0"
                        pushed[target] = url_pushed
                        secs, crss, srss = _step(
                            [modelshelf, "--store", url, "push", str(data.root), url_pushed, "-q"],
                            client_env, work / "scratch", push_via,
                        )  # fmt: skip
                        rows.append((key, "push", target, secs, crss, srss))
                        _log(f"{key} push {target}: {secs:.2f} s")
                    cache = fresh(work / "caches" / "pull")
                    secs, crss, srss = _step(
                        [modelshelf, "--store", url, "pull", url_pushed, "-q"],
                        {**client_env, "MODELSHELF_CACHE_DIR": str(cache)}, work / "scratch",
                        pull_via,
                    )  # fmt: skip
                    rows.append((key, "pull", target, secs, crss, srss))
                    _log(f"{key} pull {target}: {secs:.2f} s")
            shutil.rmtree(work / "caches", ignore_errors=True)
        if args.clients:
            rows += _concurrent(
                modelshelf, streamed, client_env, work, args.clients, args.client_mib
            )
    finally:
        for registry in registries:
            registry.proc.terminate()
            registry.proc.wait(timeout=30)
        server.stop()
        for stale in ("seaweed", "caches", "scratch", "clients"):
            shutil.rmtree(work / stale, ignore_errors=True)
    _report(rows, args)
    return 0


def _concurrent(
    modelshelf: str, registry: Registry, env: dict[str, str], work: Path, clients: int, mib: int
) -> list[tuple[str, str, str, float, float, float]]:
    """``clients`` processes push their own ``mib`` MiB at once, then pull another's at once."""
    folders = []
    for n in range(clients):
        folder = fresh(work / "clients" / f"c{n}")
        write_random(folder / "model.bin", mib * MIB)
        folders.append(folder)
    label = f"{clients} clients x {mib} MiB"
    rows = []
    for action in ("push", "pull"):

        def one(n: int, action: str = action) -> float:
            if action == "push":
                argv = [
                    modelshelf,
                    "--store",
                    registry.url,
                    "push",
                    str(folders[n]),
                    f"c{n}:1.0",
                    "-q",
                ]
                run_env = env
            else:
                cache = fresh(work / "caches" / f"c{n}")
                argv = [
                    modelshelf,
                    "--store",
                    registry.url,
                    "pull",
                    f"c{(n + 1) % clients}:1.0",
                    "-q",
                ]
                run_env = {**env, "MODELSHELF_CACHE_DIR": str(cache)}
            return run_child(argv, run_env, work / "scratch" / f"c{n}").seconds

        registry.reset_peak()
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(one, range(clients)))
        seconds = time.perf_counter() - start
        rows.append(
            (label, action, "registry, streamed", seconds, float("nan"), registry.peak_mib())
        )
        _log(f"{label} {action}: {seconds:.2f} s, server peak {registry.peak_mib():.0f} MiB")
    shutil.rmtree(work / "clients", ignore_errors=True)
    return rows


def _report(
    rows: list[tuple[str, str, str, float, float, float]], args: argparse.Namespace
) -> None:
    print(
        f"## registry vs straight to the bucket: SeaweedFS on 127.0.0.1, {os.cpu_count()} CPUs,"
        f" {'quick sizes' if args.quick else 'full sizes'}, {args.repeat} run(s) each\n"
    )
    print("| workload | step | path | seconds | client peak RSS MiB | server peak RSS MiB |")
    print("|---|---|---|---:|---:|---:|")
    for key, step, target, secs, crss, srss in rows:
        client = "—" if crss != crss else f"{crss:.0f}"  # nan: not measured
        server = "—" if srss != srss else f"{srss:.0f}"
        print(f"| {key} | {step} | {target} | {secs:.2f} | {client} | {server} |")
    print(
        "\nEach step is a new CLI process (start-up included); pulls go into a cold cache and"
        " verify every file's sha256. Server RSS is the registry process's VmHWM during the"
        " step. Pushes through the redirecting server are the same as through the streaming"
        " one (only downloads redirect), so they are not repeated."
    )


if __name__ == "__main__":
    sys.exit(main())
