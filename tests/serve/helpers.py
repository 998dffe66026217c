"""Helpers of the serve tests: registering models, running client scripts, reading /metrics."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from tests.servers.serve_process import REPO, ServeProcess, clean_env

import modelshelf
from modelshelf import Runner

Register = Callable[..., str]
"""``register(name, runner_cls, model, version="1")`` -> the exact version registered."""
StartServer = Callable[..., ServeProcess]
"""``start_server(spec, *flags, until="/v2/health/ready")`` -> a server on the test's store."""

CLIENTS = Path(__file__).parent / "clients"
KSERVE_PYTHON = REPO / ".venv-kserve" / "bin" / "python"

OIP_ASSET = "team/oip"  # the shared OIP server's model, served under the protocol name "oip"
OIP_MODEL = "oip"
OIP_VERSION = "1.0"
OIP_FACTOR = 3


def register_in(store_url: str, name: str, runner: type[Runner], model: Any, version: str) -> str:
    """Register ``model`` as ``name:version`` (a major picks the next minor); the exact version."""
    manifest = modelshelf.register_model(
        name, runner, model, version=version, store=store_url, progress=False
    )
    return manifest.version


def run_client(
    python: Path | str, script: str, args: Sequence[str], *, timeout: float = 300.0
) -> dict[str, Any]:
    """Run ``tests/serve/clients/<script>`` with ``python`` to its end; the JSON it printed last."""
    done = subprocess.run(
        [str(python), str(CLIENTS / script), *args],
        capture_output=True, text=True, timeout=timeout, env=clean_env(), cwd=REPO,
    )  # fmt: skip
    return client_result(script, done.returncode, done.stdout, done.stderr)


def client_result(script: str, code: int | None, stdout: str, stderr: str) -> dict[str, Any]:
    """The JSON a client script printed last; fails with its output when it did not succeed."""
    assert code == 0, f"{script} exited with {code}:\n{stdout[-3000:]}\n{stderr[-3000:]}"
    lines = stdout.strip().splitlines()
    assert lines, f"{script} printed nothing; stderr:\n{stderr[-3000:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def request_counts(metrics_text: str, path_part: str) -> dict[str, float]:
    """Per counter family whose name mentions requests: the sum of its samples for a path.

    The metric and label names are the server's choice; a sample counts when one of its label
    values contains ``path_part`` (e.g. ``/predict``). Families with no such sample are left out.
    """
    sums: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.type != "counter" or "request" not in family.name:
            continue
        total = 0.0
        seen = False
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            if any(path_part in str(v) for v in sample.labels.values()):
                total += sample.value
                seen = True
        if seen:
            sums[family.name] = total
    return sums


def wait_for_file(path: Path, *, alive: Callable[[], str | None], timeout: float = 120.0) -> None:
    """Wait until ``path`` exists; ``alive()`` returns a reason to stop waiting (or None)."""
    import time

    deadline = time.monotonic() + timeout
    while not path.exists():
        reason = alive()
        if reason is not None:
            raise AssertionError(f"{path.name} never appeared: {reason}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name} did not appear within {timeout:.0f} s")
        time.sleep(0.02)
