"""The bench run: make the data, start SeaweedFS, time every tool, print the tables and targets.

See docs/benchmarks.md for what each workload and column means.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path

from benchmarks import peers
from benchmarks.dataset import Dataset, ensure_files
from benchmarks.measure import load_average, machine, tool_version
from benchmarks.report import INTRO, render
from benchmarks.runner import Runner, fresh, log
from benchmarks.scenarios import Section
from benchmarks.targets import Results, compute
from benchmarks.targets import render as render_targets
from benchmarks.workloads import TRANSFER, Workload, parse_only, workloads

DATA_DIR = Path(__file__).resolve().parent / ".data"
W6_REPEAT = 1  # 20,000 files x 7 operations take minutes a repeat here: once by default
W6_SKIP_BOTO3 = (
    "skipped at W6 (--w6-boto3 runs it): at 20,000 files it spends ~180 s of GIL-bound client"
    " CPU here, 4 minutes of the run's 15"
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="modelshelf pull/push/cache hits/start-up beside s5cmd, boto3 and obstore,"
        " same run, same SeaweedFS; prints Markdown tables and issue 15's targets.",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per operation (default 3)")
    parser.add_argument(
        "--w6-repeat",
        type=int,
        default=None,
        help=f"runs of W6 (default min(--repeat, {W6_REPEAT}): it is the slow one)",
    )
    parser.add_argument(
        "--only",
        default=None,
        help="comma-separated sections to run: W1..W6, IMPORT, LOCAL (default all)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument(
        "--w6-boto3",
        action="store_true",
        help="run boto3 at W6 too (default: skipped, ~4 min of GIL-bound client CPU)",
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="default benchmarks/.data")
    parser.add_argument(
        "--endpoint",
        default=None,
        help="use this running S3 server (credentials from AWS_*) instead of starting SeaweedFS",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or (args.w6_repeat is not None and args.w6_repeat < 1):
        parser.error("--repeat and --w6-repeat must be at least 1")
    try:
        args.only = parse_only(args.only)
    except ValueError as exc:
        parser.error(str(exc))
    if args.w6_repeat is None:
        args.w6_repeat = args.repeat if args.quick else min(args.repeat, W6_REPEAT)
    return args


def needed_sets(only: tuple[str, ...]) -> tuple[str, ...]:
    """The data sets the chosen sections read (W4 reads W2's, W5 and LOCAL read W1's)."""
    wanted = {s for s in only if s in TRANSFER}
    if "W4" in only:
        wanted.add("W2")
    if "W5" in only or "LOCAL" in only:
        wanted.add("W1")
    return tuple(k for k in TRANSFER if k in wanted)


def _external_env(endpoint: str | None) -> dict[str, str] | None:
    if endpoint is None:
        return None
    keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION")
    env = {k: os.environ[k] for k in keys if k in os.environ}
    return {**env, "AWS_ENDPOINT_URL": endpoint, "AWS_ALLOW_HTTP": "true"}


def versions(s5cmd: str | None) -> str:
    from tests.servers.seaweed import find_weed

    weed = tool_version([find_weed(), "version"]).split()
    parts = [
        f"Python {platform.python_version()}",
        *(f"{p} {version(p)}" for p in ("modelshelf", "obstore", "boto3")),
        f"SeaweedFS {weed[2] if len(weed) > 2 else '?'}",
        f"s5cmd {peers.s5cmd_version(s5cmd)}" if s5cmd else "s5cmd not installed",
        tool_version(["openssl", "version"]),
        tool_version(["cp", "--version"]),
    ]
    return ", ".join(parts)


def _section_title(key: str, sets: dict[str, Workload], repeat: int) -> tuple[str, int, bool]:
    """Title, bytes moved (for MB/s) and whether times show in ms, for a section's table."""
    if key in TRANSFER:
        w = sets[key]
        return (
            f"{key}: {w.title} ({w.total_bytes / 2**20:,.0f} MiB), {repeat} repeat(s)",
            w.total_bytes,
            False,
        )
    if key == "W4":
        w = sets["W2"]
        size = w.plan[0][1]
        return (
            f"W4: W2 pushed again as version 1.1, one file ({size / 2**20:,.2f} MiB) changed",
            size,
            False,
        )
    if key == "W5":
        return f"W5: cache hit of a pinned version of W1 ({sets['W1'].files} files)", 0, True
    if key == "IMPORT":
        return "Start-up: `import modelshelf`", 0, True
    w = sets["W1"]
    return (
        f"LOCAL: the machine's limits, and a file:// pull of W1 ({w.total_bytes / 2**20:,.0f} MiB)",
        w.total_bytes,
        False,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    # An installed package runs from .pyc files; with PYTHONDONTWRITEBYTECODE set (as on some
    # CI machines) every CLI start would compile modelshelf from source and time that instead.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    compileall.compile_dir(Path(modelshelf_dir()), quiet=1)
    load_before = load_average()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    sets = workloads(quick=args.quick)
    data: dict[str, Dataset] = {}
    for key in needed_sets(args.only):
        data[key], created = ensure_files(args.data_dir, sets[key].name, list(sets[key].plan))
        log(f"{'created' if created else 'reusing'} {data[key].root} ({key})")
    run = Runner(fresh(args.data_dir / "work"), _external_env(args.endpoint))
    s5cmd = peers.find_s5cmd()
    section = Section(run, args.data_dir, s5cmd)
    results = Results(files={k: w.files for k, w in sets.items()})
    samples = 3 if args.quick else max(5, 3 * args.repeat)
    repeats: dict[str, int] = {}
    for key in args.only:
        log(f"section {key} ({time.perf_counter() - started:.0f} s in)")
        if key in TRANSFER:
            repeats[key] = args.w6_repeat if key == "W6" else args.repeat
            skip = W6_SKIP_BOTO3 if key == "W6" and not (args.w6_boto3 or args.quick) else ""
            results.rows[key] = section.transfer(key, data[key], repeats[key], skip)
        elif key == "W4":
            repeats[key] = args.repeat
            results.rows[key] = section.delta_push(data["W2"], args.repeat, results)
        elif key == "W5":
            repeats[key] = samples
            results.rows[key] = section.cache_hit(data["W1"], samples)
        elif key == "IMPORT":
            repeats[key] = samples
            results.rows[key] = section.import_time(samples)
        else:
            repeats[key] = args.repeat
            results.rows[key] = section.local(data["W1"], args.repeat)
    fresh(run.work).rmdir()

    quick = " — quick smoke run, tiny sizes" if args.quick else ""
    shown = " ".join(argv if argv is not None else sys.argv[1:])
    concurrency = os.environ.get("MODELSHELF_MAX_CONCURRENCY", "unset (modelshelf's default)")
    print(f"## modelshelf benchmark (issue 15){quick}\n")
    print(f"- Machine: {machine(args.data_dir)}")
    print(f"- Load average before: {load_before}; after: {load_average()}")
    print(f"- Tools: {versions(s5cmd)}")
    print(f"- Command: benchmarks/run.py {shown}; MODELSHELF_MAX_CONCURRENCY {concurrency}")
    print(INTRO)
    for key in args.only:
        title, nbytes, millis = _section_title(key, sets, repeats[key])
        print(render(title, list(results.rows[key].values()), nbytes, millis=millis))
        print()
    print(render_targets(compute(results)))
    print(f"\nTotal wall time {time.perf_counter() - started:.0f} s.")
    for failure in run.failures:
        print(f"FAILED: {failure}")
    return 1 if run.failures else 0


def modelshelf_dir() -> str:
    """The folder of the modelshelf package that the CLI runs (without importing it here)."""
    import importlib.util

    spec = importlib.util.find_spec("modelshelf")
    assert spec is not None and spec.submodule_search_locations
    return next(iter(spec.submodule_search_locations))
