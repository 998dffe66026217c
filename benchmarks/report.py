"""Measured rows and their Markdown tables."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

MIB = 1024 * 1024

INTRO = """
Seconds are wall time of one operation into an empty destination (cold cache for modelshelf),
after `os.sync()`; **median** and **min** over the repeats, tools interleaved in a rotating order
within each repeat. **MB/s** is 10^6 bytes per second at the median (and at the min) time.
**peak RSS** is the child process's own `ru_maxrss` (`wait4`), for tools run as a process;
in-process tools (boto3, obstore) share the harness's memory and show —. **client CPU** is user +
system seconds of the tool; **server CPU** is what SeaweedFS (same machine) spent meanwhile.
Every copy is checked against the source outside the timed region (sha256 on the first repeat,
sizes after), so a fast but wrong tool cannot win.
"""


@dataclass
class Row:
    """One tool doing one operation, measured once per repeat."""

    key: str  # stable id the targets look up, e.g. "ms-pull"
    tool: str
    operation: str
    checks: str = ""  # what the tool checks about the content it moved
    notes: str = ""
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)  # client CPU (user + system)
    server_cpu: list[float] = field(default_factory=list)
    peak_rss: list[int] = field(default_factory=list)  # bytes
    unavailable: str = ""  # why there is no number (not installed, failed)
    nbytes: int = 0  # bytes the operation moves, when not the table's

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds and not self.unavailable else None

    @property
    def best(self) -> float | None:
        return min(self.seconds) if self.seconds and not self.unavailable else None

    @property
    def max_rss(self) -> int | None:
        return max(self.peak_rss) if self.peak_rss else None


def rate(nbytes: int, seconds: float | None) -> str:
    """MB/s (10^6 bytes) as a table cell."""
    if seconds is None or nbytes <= 0:
        return "—"
    return f"{nbytes / 1e6 / seconds:,.0f}" if seconds > 0 else "∞"


def _median_cell(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "—"


def render(title: str, rows: list[Row], nbytes: int, *, millis: bool = False) -> str:
    """A Markdown section: the title and one table row per measured operation.

    ``millis`` shows times in milliseconds (cache hits, start-up); ``nbytes`` 0 hides MB/s.
    """
    unit = "ms" if millis else "s"
    scale = 1000.0 if millis else 1.0
    lines = [
        f"### {title}",
        "",
        f"| tool | operation | median {unit} | min {unit} | MB/s (median) | MB/s (best)"
        " | peak RSS MiB | client CPU s | server CPU s | verifies content | notes |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    for row in rows:
        median, best = row.median, row.best
        shown = [
            f"{v * scale:.{1 if millis else 2}f}" if v is not None else "—" for v in (median, best)
        ]
        rss = f"{row.max_rss / MIB:.0f}" if row.max_rss is not None else "—"
        notes = "; ".join(n for n in (row.unavailable, row.notes) if n)
        cells = [
            row.tool,
            row.operation,
            *shown,
            rate(row.nbytes or nbytes, median),
            rate(row.nbytes or nbytes, best),
            rss,
            _median_cell(row.cpu_seconds),
            _median_cell(row.server_cpu),
            row.checks,
            notes,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
