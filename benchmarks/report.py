"""Measured rows and their Markdown tables."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

INTRO = """
Seconds are wall time of one operation into an empty destination (median of the repeats, after
`sync`); the OS page cache is warm, so sources are read from memory. **client CPU** is user +
system time of the client (this process and its children), not the server's. **content
verified** is what the tool itself checks about the bytes it moved; every copy is also checked
against the source by the harness, outside the timed region.
"""
LOCAL_NOTE = (
    "The warm pull resolves a pinned version from the cache and finds every blob present,"
    " so it moves no data; its MiB/s is nominal."
)
S3_NOTE = (
    "huggingface_hub cannot talk to S3, so *hf-style HTTP* re-creates its plain-HTTP download"
    " path with presigned GET URLs and urllib3. `hf_hub_download` itself checks only the size"
    " of what it received; the sha256 re-read (what `hf cache verify` does) is a separate step,"
    " measured in the same run and shown as its own row. hf-style downloads the objects"
    " uploaded by boto3."
)


@dataclass
class Row:
    """One tool doing one operation, measured once per repeat."""

    tool: str
    operation: str
    checks: str  # what the tool checks about the content it moved
    notes: str = ""
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)  # client CPU (user + system)
    unavailable: str = ""  # why there is no number (not installed, failed)

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None


def _cells(row: Row, mib: float) -> tuple[str, str, str, str]:
    median = row.median
    if row.unavailable or median is None:
        return "—", "—", "—", "—"
    rate = f"{mib / median:,.0f}" if median > 0 else "∞"
    spread = f"{min(row.seconds):.3f} to {max(row.seconds):.3f}" if len(row.seconds) > 1 else ""
    cpu = f"{statistics.median(row.cpu_seconds):.2f}" if row.cpu_seconds else "—"
    return f"{median:.3f}", rate, spread, cpu


def render(title: str, rows: list[Row], mib: float) -> str:
    """A Markdown section: the title and one table row per measured operation."""
    lines = [
        f"### {title}",
        "",
        "| tool | operation | seconds (median) | MiB/s | range (s) | client CPU (s)"
        " | content verified | notes |",
        "|---|---|--:|--:|--:|--:|---|---|",
    ]
    for row in rows:
        seconds, rate, spread, cpu = _cells(row, mib)
        notes = "; ".join(n for n in (row.unavailable, row.notes) if n)
        lines.append(
            f"| {row.tool} | {row.operation} | {seconds} | {rate} | {spread} | {cpu}"
            f" | {row.checks} | {notes} |"
        )
    return "\n".join(lines)
