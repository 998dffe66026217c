"""Server time of each page of the registry's pages over a store of 10,000 versions on SeaweedFS.

Run from the project root (``make bench-pages``)::

    .venv/bin/python benchmarks/pages_bench.py [--assets 200] [--versions 50] [--rounds 20]
        [--quick]

Starts SeaweedFS on 127.0.0.1 (tests/servers/seaweed.py) and fills one bucket prefix straight
through the Store: ``--assets`` assets of ``--versions`` versions each (the manifests, their
audit records, two aliases moved a few times, labels and a description on each asset; every
version names the same few small blobs and a README.md, which is all a page reads of them).
Then runs ``modelshelf registry serve`` over it, measures how long its catalog takes to be built
(from the server's start until ``/api/v1/search`` stops saying ``indexing``), and requests each
kind of page ``--rounds`` times with an admin token, reading the server's own
``Server-Timing: app;dur=<ms>`` (time spent in the server, not on the wire). Prints a Markdown
table: page, median, p90 and max in ms. Nothing here is asserted: it is a figure for the notes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# The project root, so that `benchmarks` and `tests.servers` import as packages.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORK_DIR = Path(__file__).resolve().parent / ".data" / "pages"
BUCKET = "pages-bench"
SETTLE_SECONDS = 35.0
CARD = (
    b"# A model\n\nTrained on reviews; see the *metrics* below.\n\n"
    b"| metric | value |\n|---|---|\n| f1 | 0.91 |\n"
)


def _log(message: str) -> None:
    print(f"[bench-pages] {message}", file=sys.stderr, flush=True)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fill(url: str, assets: int, versions: int) -> int:
    """Write ``assets`` x ``versions`` manifests (and their records) into the store at ``url``."""
    from modelshelf.backends.registry import open_backend
    from modelshelf.manifest import FileEntry, Manifest
    from modelshelf.store.bucket import Store
    from modelshelf.transfer.verified_upload import HashedBytes

    store = Store(open_backend(url))
    blobs = []
    for path, data in [
        ("README.md", CARD),
        ("model/weights.bin", b"w" * 4096),
        ("model/config.json", b"{}"),
        ("tokenizer/vocab.txt", b"a\nb\n"),
    ]:
        hashed = HashedBytes(data)
        store.put_blob(hashed.sha256, hashed)
        blobs.append(FileEntry(path, len(data), hashed.sha256))
    engines = ("sklearn", "torch", "onnx", "safetensors")

    def one_asset(n: int) -> None:
        name = f"team-{n % 10}/model-{n:04d}"
        for v in range(1, versions + 1):
            manifest = Manifest(
                name=name,
                version=f"1.{v}",
                kind="directory",
                files=tuple(blobs),
                created=f"2026-11-{1 + v % 28:02d}T{n % 24:02d}:00:{v % 60:02d}.{n:06d}Z",
                author="bench@machine",
                message=f"retrained on batch {v} of {name}",
                source={"git_commit": f"{n:08x}{v:08x}", "path": "/src"},
                metadata={"dataset": f"reviews-{v}"},
                extra={"model": {"engine": engines[n % 4], "runner": "pkg.mod:Runner"}},
            )
            store.commit_manifest(manifest)
            store.append_log(
                name,
                "push",
                version=manifest.version,
                message=manifest.message,
                files=len(blobs),
                size=manifest.size,
            )
        for alias, targets in (
            ("production", (versions - 2, versions - 1)),
            ("staging", (versions,)),
        ):
            for target in targets:
                if target >= 1:
                    record = store.set_alias(name, alias, f"1.{target}")
                    store.append_log(
                        name,
                        "alias",
                        alias=alias,
                        version=record.version,
                        previous=record.previous,
                        seq=record.seq,
                    )
        store.write_notes(
            name,
            None,
            labels={"team": f"team-{n % 10}", "tier": str(n % 3)},
            description="",
            expected_seq=0,
        )

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        for done, _ in enumerate(pool.map(one_asset, range(assets)), 1):
            if done % 20 == 0:
                _log(f"filled {done} of {assets} assets ({time.monotonic() - started:.0f} s)")
    return assets * versions


def _get(url: str, token: str) -> tuple[float, int]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        answer.read()
        timing = answer.headers.get("Server-Timing", "app;dur=nan")
        return float(timing.split("dur=")[1]), answer.status


def main(argv: list[str] | None = None) -> int:
    from tests.servers.seaweed import SeaweedServer

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assets", type=int, default=200)
    parser.add_argument("--versions", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="4 assets x 5 versions, 3 rounds")
    parser.add_argument("--work-dir", type=Path, default=WORK_DIR)
    args = parser.parse_args(argv)
    if args.quick:
        args.assets, args.versions, args.rounds = 4, 5, 3
    work = args.work_dir
    shutil.rmtree(work, ignore_errors=True)
    (work / "seaweed").mkdir(parents=True)
    server = SeaweedServer(base_dir=str(work / "seaweed"))
    server.start()
    registry: subprocess.Popen[bytes] | None = None
    environment = dict(os.environ)  # put back at the end: the store's settings go in it
    try:
        server.create_bucket(BUCKET)
        env = {**os.environ, **server.env()}
        os.environ.update(server.env())
        store_url = f"s3://{BUCKET}/pages"
        started = time.monotonic()
        total = fill(store_url, args.assets, args.versions)
        fill_ended = time.monotonic()
        fill_seconds = fill_ended - started
        _log(f"{total} versions written in {fill_seconds:.0f} s")
        from modelshelf.backends.registry import open_backend
        from modelshelf.registry.tokens import TokenBook
        from modelshelf.store.bucket import Store

        token, _ = TokenBook(Store(open_backend(store_url))).create(
            "bench", ["admin:*"], None, created_by="bench"
        )
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        argv_serve = [
            sys.executable,
            "-m",
            "modelshelf",
            "--store",
            store_url,
            "registry",
            "serve",
            "--port",
            str(port),
        ]
        started = time.monotonic()
        with (work / "registry.log").open("wb") as log_file:  # the child keeps its own copy
            registry = subprocess.Popen(
                argv_serve, env=env, stdout=log_file, stderr=subprocess.STDOUT
            )
        _wait_for_catalog(base, token, registry, work)
        catalog_seconds = time.monotonic() - started
        # The store's log re-reads the records of its last 30 s (its settle window) on every
        # poll: right after a burst of 10,000 writes that is seconds of work each time. Pages
        # are measured in the steady state, once the fill's records have settled.
        settle = fill_ended + SETTLE_SECONDS - time.monotonic()
        if settle > 0 and not args.quick:
            _log(f"waiting {settle:.0f} s for the fill's log records to settle")
            time.sleep(settle)
        rows = _measure(base, token, args)
    finally:
        if registry is not None:
            registry.terminate()
            registry.wait(timeout=30)
        server.stop()
        shutil.rmtree(work / "seaweed", ignore_errors=True)
        os.environ.clear()
        os.environ.update(environment)
    print(
        f"\nPages over {total:,} versions ({args.assets} assets x {args.versions}) on SeaweedFS;"
        f" server time from Server-Timing, {args.rounds} requests each.\n"
    )
    print(
        f"catalog built (server start to index ready): {catalog_seconds:.1f} s;"
        f" store filled in {fill_seconds:.0f} s\n"
    )
    print("| page | median ms | p90 ms | max ms |")
    print("|---|---|---|---|")
    for page, times in rows:
        ordered = sorted(times)
        p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
        print(f"| {page} | {statistics.median(ordered):.1f} | {p90:.1f} | {ordered[-1]:.1f} |")
    return 0


def _wait_for_catalog(base: str, token: str, registry: subprocess.Popen[bytes], work: Path) -> None:
    import json

    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        if registry.poll() is not None:
            raise SystemExit(f"the registry exited: {(work / 'registry.log').read_text()[-800:]}")
        try:
            request = urllib.request.Request(
                f"{base}/api/v1/search", headers={"Authorization": f"Bearer {token}"}
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                if json.loads(answer.read())["indexing"] is None:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("the catalog was not built in 30 minutes")


def _measure(base: str, token: str, args: argparse.Namespace) -> list[tuple[str, list[float]]]:
    name = "team-3/model-0003"
    newest, older = f"1.{args.versions}", f"1.{max(1, args.versions - 5)}"
    pages = {
        "front page (/)": "/",
        "search by name glob (/?q=team-3/*)": "/?q=team-3/*",
        "search by label (/?label=tier=1)": "/?label=tier=1",
        "search by text, page 2 (/?text=batch&page=2)": "/?text=batch&page=2",
        "search JSON twin (/api/v1/search)": "/api/v1/search",
        f"asset ({args.versions} versions, 2 aliases)": f"/a/{name}",
        "version": f"/a/{name}/-/v/{newest}",
        "diff": f"/a/{name}/-/diff/{older}...{newest}",
        "audit log (/log)": "/log",
        "audit log of one asset": f"/log?asset={name}",
        "asset overview JSON twin": f"/api/v1/assets/{name}/-/overview",
    }
    rows = []
    for page, path in pages.items():
        times = []
        for _ in range(args.rounds):
            ms, status = _get(base + path, token)
            if status != 200:
                raise SystemExit(f"{path} answered {status}")
            times.append(ms)
        rows.append((page, times))
        _log(f"{page}: median {statistics.median(times):.1f} ms")
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
