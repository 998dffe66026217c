"""Serving benchmark: ``modelshelf serve`` against MLServer and in-process calls, same run.

Run from the project root (``make bench-serve`` builds both environments and installs wrk)::

    .venv/bin/python benchmarks/serve_bench.py [--seconds 10] [--warmup 2] [--connections 16]

One scikit-learn LogisticRegression (4 features, synthetic iris-like data, fixed seed) is saved
for MLServer (joblib + model-settings.json, its sklearn runtime, in its own virtualenv) and
registered with modelshelf in a ``file://`` store under ``benchmarks/.data/serve``. Each server
runs on 127.0.0.1 on a free port; after one checked request and a warm-up, ``wrk -t1 -cN -dSs
--latency`` POSTs a one-row FP32 Open Inference Protocol request to ``/v2/models/iris/infer``.
Prints one Markdown table and the machine; exits 1 when any run failed or had failed requests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The project root, so that `benchmarks` imports as a package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.serve_procs import HOST, ServerError, free_port, post_json, running
from benchmarks.serve_wrk import WrkReportError, WrkResult, run_wrk

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(__file__).resolve().parent / ".data" / "serve"
ASSET = "bench/iris"
MODEL = "iris"  # the OIP model name: the last segment of the asset, and MLServer's model name
ROW = [5.1, 3.5, 1.4, 0.2]
BODY = json.dumps(
    {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32", "data": ROW}]},
    separators=(",", ":"),
)
BATCH_SIZE = 32
BATCH_DELAY_MS = 5.0


@dataclass
class Row:
    """One line of the table: a server setting under one load, or an in-process loop."""

    server: str
    workers: str
    batching: str
    connections: str
    result: WrkResult | None = None
    error: str = ""


# -- the model --------------------------------------------------------------------------------
def train() -> Any:
    """A LogisticRegression on 150 iris-like rows (3 classes, 4 features), seed 0."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    centres = np.array([[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]])
    x = np.concatenate([c + rng.normal(0.0, 0.3, size=(50, 4)) for c in centres])
    y = np.repeat(np.arange(3), 50)
    return LogisticRegression(max_iter=1000).fit(x, y)


def write_mlserver_repo(folder: Path, model: Any, *, port: int, batching: bool) -> None:
    """An MLServer folder: settings.json (ports, 127.0.0.1) and iris/ with the joblib model."""
    import joblib

    model_dir = folder / MODEL
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / "model.joblib")
    settings: dict[str, Any] = {
        "name": MODEL,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": "1"},
    }
    if batching:
        settings |= {"max_batch_size": BATCH_SIZE, "max_batch_time": BATCH_DELAY_MS / 1e3}
    (model_dir / "model-settings.json").write_text(json.dumps(settings, indent=2))
    server = {
        "host": HOST,
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": 1,
        "debug": False,
    }
    (folder / "settings.json").write_text(json.dumps(server, indent=2))


# -- in process -------------------------------------------------------------------------------
SLICES = 6  # the in-process loops take turns, so that other work on the machine hits both alike


def call_loop(fn: Callable[[], object], seconds: float, samples: list[int]) -> float:
    """Call ``fn`` in a loop for ``seconds``; each call's nanoseconds go to ``samples``."""
    clock = time.perf_counter_ns
    start = now = clock()
    stop = start + int(seconds * 1e9)
    while now < stop:
        fn()
        after = clock()
        samples.append(after - now)
        now = after
    return (now - start) / 1e9


def summary(samples: list[int], seconds: float) -> WrkResult:
    """Rate and latency percentiles of calls timed in ``samples`` over ``seconds``."""
    ordered = sorted(samples)
    return WrkResult(
        requests=len(ordered),
        seconds=seconds,
        requests_per_second=len(ordered) / seconds,
        p50_ms=ordered[len(ordered) // 2] / 1e6,
        p99_ms=ordered[min(len(ordered) - 1, (len(ordered) * 99) // 100)] / 1e6,
    )


def in_process_rows(spec: str, store: str, cache: Path, model: Any, args: Any) -> list[Row]:
    """The same row through ``load_model(...).predict`` and sklearn's ``predict``, in turns."""
    import numpy as np

    from modelshelf import Shelf, load_model

    row = np.array([ROW], dtype=np.float32)
    loaded = load_model(spec, store=Shelf(store, cache_dir=cache), progress=False)
    expected = model.predict(row)
    if list(loaded.predict(row)) != list(expected):
        raise RuntimeError(f"load_model predicts {loaded.predict(row)}, sklearn {expected}")
    loops: list[tuple[str, Callable[[], object]]] = [
        ("in process: load_model().predict", lambda: loaded.predict(row)),
        ("in process: sklearn model.predict", lambda: model.predict(row)),
    ]
    print(f"... in process: {args.inprocess_seconds:g} s each, in turns", file=sys.stderr)
    samples: list[list[int]] = [[] for _ in loops]
    seconds = [0.0 for _ in loops]
    for _, fn in loops:
        call_loop(fn, 0.5, [])  # warm-up
    for _ in range(SLICES):
        for i, (_, fn) in enumerate(loops):
            seconds[i] += call_loop(fn, args.inprocess_seconds / SLICES, samples[i])
    return [
        Row(label, "—", "—", "1 caller", summary(samples[i], seconds[i]))
        for i, (label, _) in enumerate(loops)
    ]


# -- servers ----------------------------------------------------------------------------------
def check_answer(server: Any, expected: int) -> None:
    """One infer request: 200 and the class the model predicts in process."""
    status, answer = post_json(server, f"/v2/models/{MODEL}/infer", json.loads(BODY))
    try:
        got = answer["outputs"][0]["data"][0] if status == 200 else None
    except (KeyError, IndexError, TypeError):
        got = None
    if got != expected:
        raise ServerError(f"{server.label}: infer answered {status} {str(answer)[:300]}")


def measure(server: Any, connections: Sequence[int], args: Any) -> list[WrkResult]:
    url = f"{server.base_url}/v2/models/{MODEL}/infer"
    results = []
    for conns in connections:
        if args.warmup > 0:
            run_wrk(url, BODY, connections=conns, seconds=args.warmup)
        print(f"... {server.label}: -c{conns} -d{args.seconds:g}s", file=sys.stderr, flush=True)
        results.append(run_wrk(url, BODY, connections=conns, seconds=args.seconds))
    return results


@dataclass(frozen=True)
class Setting:
    """One server start: how it is started and the loads it is measured under."""

    server: str
    workers: int
    batching: bool
    connections: tuple[int, ...]
    options: tuple[str, ...] = ()  # more command-line options


def server_rows(
    setting: Setting,
    start: Callable[[Setting, int, Path], Any],
    expected: int,
    log: Path,
    args: Any,
) -> list[Row]:
    """Start the server, check one answer, run wrk for each load; errors become the rows' note."""
    batching = f"on ({BATCH_SIZE}, {BATCH_DELAY_MS:g} ms)" if setting.batching else "off"
    rows = [
        Row(setting.server, str(setting.workers), batching, str(c)) for c in setting.connections
    ]
    port = free_port()
    try:
        command, env = start(setting, port, log.parent)
        confirm = 4 * setting.workers  # several workers share the port: let each get ready
        with running(
            setting.server, command, port=port, log=log, env=env, confirm=confirm
        ) as server:
            check_answer(server, expected)
            for row, result in zip(rows, measure(server, setting.connections, args), strict=True):
                row.result = result
    except (ServerError, WrkReportError, OSError, subprocess.SubprocessError) as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        first = lines[0] if lines else type(exc).__name__
        if first.endswith("its log:") and len(lines) > 1:
            first = f"{first.removesuffix(' its log:')} last log line: {lines[-1]}"
        print(
            f"!!! {setting.server} ({setting.workers} workers, {batching}): {exc}", file=sys.stderr
        )
        for row in rows:
            if row.result is None:
                row.error = first[:200].replace("|", "/")
    return rows


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELSHELF_", "MLSERVER_"))}
    env |= extra
    return env


# -- table ------------------------------------------------------------------------------------
def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 1 else f"{value:.1f}" if value >= 100 else f"{value:.2f}"


def render(rows: Sequence[Row]) -> str:
    lines = [
        "| server | workers | batching | connections | req/s | p50 ms | p99 ms | failed |",
        "|---|--:|---|--:|--:|--:|--:|---|",
    ]
    for row in rows:
        r = row.result
        if r is None:
            cells = ["—", "—", "—", f"**not measured**: {row.error}"]
        else:
            failed = (
                f"**{r.failed} FAILED** (non-2xx {r.non_2xx}, socket {r.socket_errors})"
                if r.failed
                else "0"
            )
            cells = [f"{r.requests_per_second:,.0f}", _ms(r.p50_ms), _ms(r.p99_ms), failed]
        lines.append(
            f"| {row.server} | {row.workers} | {row.batching} | {row.connections} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def versions(python: str | Path, dists: Sequence[str]) -> str:
    code = (
        "import importlib.metadata as m, sys\n"
        "for d in sys.argv[1:]:\n"
        "    try: print(f'{d} {m.version(d)}')\n"
        "    except m.PackageNotFoundError: print(f'{d} (not installed)')\n"
    )
    try:
        out = subprocess.run(
            [str(python), "-c", code, *dists], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"(unknown: {exc})"
    return ", ".join(out.split("\n")[:-1])


def machine(mlserver_python: Path) -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    words = (wrk.stdout or wrk.stderr).split()
    wrk_version = " ".join(words[:2]) if words else "wrk (version unknown)"
    ours = ("modelshelf", "fastapi", "uvicorn", "uvloop", "scikit-learn", "numpy")
    theirs = ("mlserver", "mlserver-sklearn", "fastapi", "uvicorn", "uvloop", "scikit-learn")
    return "\n".join(
        [
            f"- machine: nproc {os.cpu_count()} (usable {len(os.sched_getaffinity(0))}), {cpu};"
            f" Linux {platform.release()}; Python {platform.python_version()}",
            f"- load tool: {wrk_version} on the same cores as the servers",
            f"- modelshelf env: {versions(sys.executable, ours)}",
            f"- MLServer env: {versions(mlserver_python, theirs)}",
        ]
    )


# -- the run ----------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="wrk -d per run (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="wrk warm-up seconds (2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk -c under load (16)")
    parser.add_argument(
        "--inprocess-seconds", type=float, default=3.0, help="in-process loop seconds (3)"
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="where data goes")
    parser.add_argument(
        "--mlserver-venv", type=Path, default=ROOT / ".venv-mlserver", help="MLServer's venv"
    )
    parser.add_argument(
        "--only",
        choices=("mlserver", "modelshelf", "inprocess"),
        action="append",
        help="run only these parts (repeatable; default all)",
    )
    return parser.parse_args(argv)


def _fresh(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    parts = set(args.only or ("mlserver", "modelshelf", "inprocess"))
    if shutil.which("wrk") is None and parts - {"inprocess"}:
        print("wrk is not installed: apt-get install -y wrk (make bench-serve does it)")
        return 2
    mlserver = args.mlserver_venv / "bin" / "mlserver"
    if "mlserver" in parts and not mlserver.exists():
        print(f"{mlserver} is missing: run `make bench-serve`, which builds that environment")
        return 2

    import numpy as np

    from modelshelf import Shelf, register_sklearn_model

    load_before = os.getloadavg()
    data = _fresh(args.data_dir.resolve())
    store = f"file://{data / 'store'}"
    cache = data / "cache"
    model = train()
    expected = int(model.predict(np.array([ROW], dtype=np.float32))[0])
    manifest = register_sklearn_model(
        ASSET, model, store=Shelf(store, cache_dir=cache), progress=False
    )
    spec = f"{ASSET}:{manifest.version}"
    print(f"... registered {spec} in {store}; the model predicts {expected}", file=sys.stderr)

    def start_mlserver(
        setting: Setting, port: int, folder: Path
    ) -> tuple[list[str], dict[str, str]]:
        repo = _fresh(folder / "repo")
        write_mlserver_repo(repo, model, port=port, batching=setting.batching)
        return [str(mlserver), "start", str(repo)], clean_env()

    def start_modelshelf(
        setting: Setting, port: int, folder: Path
    ) -> tuple[list[str], dict[str, str]]:
        batch = [str(BATCH_SIZE), "--max-batch-delay-ms", f"{BATCH_DELAY_MS:g}"]
        command = [
            str(Path(sys.executable).parent / "modelshelf"),
            "serve",
            spec,
            "--store",
            store,
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            str(setting.workers),
            "--max-batch-size",
            *(batch if setting.batching else ["1"]),
            *setting.options,
        ]
        return command, clean_env(MODELSHELF_CACHE_DIR=str(cache))

    load, one = args.connections, 1
    plans: list[tuple[str, Setting, Callable[..., Any]]] = []
    if "mlserver" in parts:
        plans += [
            ("mlserver", Setting("MLServer", 1, False, (load, one)), start_mlserver),
            ("mlserver", Setting("MLServer", 1, True, (load,)), start_mlserver),
        ]
    if "modelshelf" in parts:
        quiet = "modelshelf serve --no-access-log"  # like MLServer with debug off
        plans += [
            ("modelshelf", Setting("modelshelf serve", 1, False, (load, one)), start_modelshelf),
            ("modelshelf", Setting("modelshelf serve", 1, True, (load,)), start_modelshelf),
            ("modelshelf", Setting("modelshelf serve", 2, False, (load,)), start_modelshelf),
            ("modelshelf", Setting("modelshelf serve", 2, True, (load,)), start_modelshelf),
            (
                "modelshelf",
                Setting(quiet, 1, False, (load,), ("--no-access-log",)),
                start_modelshelf,
            ),
        ]
    rows: list[Row] = []
    for i, (part, setting, start) in enumerate(plans):
        folder = data / f"run-{i}-{part}"
        rows += server_rows(setting, start, expected, folder / "server.log", args)
    rows.sort(key=lambda r: (r.connections != str(load), r.server))
    if "inprocess" in parts:
        rows += in_process_rows(spec, store, cache, model, args)

    print(
        f"\n### One-row FP32 OIP infer of a scikit-learn LogisticRegression"
        f" (wrk -t1 -d{args.seconds:g}s --latency after a {args.warmup:g} s warm-up)\n"
    )
    print(render(rows))
    print()
    print(machine(args.mlserver_venv / "bin" / "python"))
    after = os.getloadavg()
    print(
        f"- 1-minute load average: {load_before[0]:.1f} before the run, {after[0]:.1f} after"
        " (other work on the machine shows here)"
    )
    print(
        "- MLServer runs with parallel_workers 1 (one inference process beside the HTTP one) and"
        " debug off (no access log); modelshelf serve with its defaults (a JSON access line per"
        " request, here to a file) unless the row says --no-access-log;"
        f" in-process rows are one caller in a loop, {args.inprocess_seconds:g} s each, the two"
        f" taking {SLICES} turns. The load tool, the servers and other work share the"
        " cores, so figures are noisy; compare rows of the same run."
    )
    bad = [r for r in rows if r.result is None or r.result.failed]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
