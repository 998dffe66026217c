"""Prometheus metrics that stay right across ``--workers`` processes.

With several workers, each scrape reaches one of them; a per-process registry would then show one
worker's counts per scrape. ``modelshelf serve`` therefore sets ``PROMETHEUS_MULTIPROC_DIR`` to a
fresh folder before any worker starts: every worker writes its values into files there, and each
scrape sums the files of all workers (prometheus_client's multiprocess mode). An app made with
:func:`~modelshelf.serve.create_app` outside ``modelshelf serve`` keeps its own registry unless that
variable is set.

prometheus_client picks its storage when first imported, so it is imported here only when a
server is built (``modelshelf serve`` sets the variable before that).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

__all__ = ["CONTENT_TYPE", "ServeMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
_ROWS_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServeMetrics:
    """The server's counters; :meth:`render` gives the exposition text of every worker."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values

        # Decided by how prometheus_client was imported, not by the variable now: a mismatch
        # would read an empty folder.
        self.multiprocess = values.ValueClass is not values.MutexValue
        self._registry: Any = CollectorRegistry(auto_describe=True)
        registry = self._registry
        self.requests = Counter(
            "modelshelf_requests",
            "HTTP requests answered, by route and status code.",
            ["route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "modelshelf_request_seconds",
            "Time from request to response, by route.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.batch_rows = Histogram(
            "modelshelf_batch_rows",
            "Rows in each call of the runner's predict.",
            buckets=_ROWS_BUCKETS,
            registry=registry,
        )
        self.batch_requests = Histogram(
            "modelshelf_batch_requests",
            "Requests merged into each call of the runner's predict.",
            buckets=_ROWS_BUCKETS,
            registry=registry,
        )
        # livemax: a version shows 1 while any live worker serves it.
        self.active_version = Gauge(
            "modelshelf_active_version",
            "1 for the version each worker answers with, 0 for one it swapped out.",
            ["model", "version"],
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.swap_failures = Counter(
            "modelshelf_swap_failures",
            "New versions of a followed alias that failed to load and were not swapped in.",
            ["model"],
            registry=registry,
        )

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def observe_batch(self, rows: int, requests: int) -> None:
        """Count one call of the runner."""
        self.batch_rows.observe(rows)
        self.batch_requests.observe(requests)

    def swapped(self, model: str, old: str | None, new: str) -> None:
        """Record that ``new`` replaced ``old``."""
        if old is not None:
            self.active_version.labels(model, old).set(0)
        self.active_version.labels(model, new).set(1)

    def render(self) -> bytes:
        """The Prometheus text exposition, summed over every worker in multiprocess mode."""
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        if self.multiprocess:
            _forget_dead_workers()
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self._registry)


_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+_(\d+)\.db")


def _forget_dead_workers() -> None:
    """Drop the live-gauge files of workers that died (uvicorn restarts them), so that only
    live workers say which version is active. Counters and histograms keep their counts."""
    from prometheus_client import multiprocess

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return
    pids = set()
    for path in Path(folder).glob("gauge_live*.db"):
        found = _LIVE_GAUGE_FILE.fullmatch(path.name)
        if found:
            pids.add(int(found.group(1)))
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]
        except PermissionError:  # alive, another user's
            continue
