"""What `make bench` measures: the workloads (W1-W6) and the extra sections, full and quick sizes.

=====  ======================================================================================
W1     1 GiB in 65 files: one 768 MiB file + 64 x 4 MiB (the project's original bench set)
W2     64 x 16 MiB
W3     2,000 x 64 KiB
W4     W2 pushed again as a new version with one 16 MiB file changed (bytes that travel)
W5     a cache hit of a pinned version of W1: the CLI (fresh process) and Python (in-process)
W6     W3 at 20,000 files: time and peak RSS beside W3's
=====  ======================================================================================

Two more sections run unless ``--only`` leaves them out: ``IMPORT`` (``import modelshelf``) and
``LOCAL`` (the machine's limits: ``cp -r`` and sha256 throughput, and a ``file://`` pull).
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.dataset import MIB, layout, uniform_layout

KIB = 1024
TRANSFER = ("W1", "W2", "W3", "W6")  # the workloads every transfer tool moves
SECTIONS = ("W1", "W2", "W3", "W4", "W5", "W6", "IMPORT", "LOCAL")


@dataclass(frozen=True)
class Workload:
    """One set of files to move: its key, a title for the table, and its (path, size) plan."""

    key: str
    title: str
    name: str  # folder name under the data dir
    plan: tuple[tuple[str, int], ...]

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.plan)

    @property
    def files(self) -> int:
        return len(self.plan)


def _uniform(key: str, count: int, size: int, unit: str) -> Workload:
    shown = f"{size // MIB} MiB" if unit == "MiB" else f"{size // KIB} KiB"
    return Workload(
        key,
        f"{count:,} x {shown}",
        f"{key.lower()}-{count}x{size}",
        tuple(uniform_layout(count, size)),
    )


def workloads(*, quick: bool = False) -> dict[str, Workload]:
    """The data sets of W1, W2, W3 and W6 (W4 reuses W2's, W5 reuses W1's).

    ``quick`` gives tiny sizes with the same shapes (W6 still has ten times W3's files), for a
    smoke run.
    """
    if quick:
        w1 = Workload("W1", "8 MiB in 9 files", "w1-quick", tuple(layout(8, 8)))
        sets = [w1, _uniform("W2", 8, MIB // 2, "KiB"), _uniform("W3", 20, 16 * KIB, "KiB")]
        sets.append(_uniform("W6", 200, 16 * KIB, "KiB"))
    else:
        w1 = Workload(
            "W1", "1 GiB in 65 files (768 MiB + 64 x 4 MiB)", "w1", tuple(layout(1024, 64))
        )
        sets = [w1, _uniform("W2", 64, 16 * MIB, "MiB"), _uniform("W3", 2000, 64 * KIB, "KiB")]
        sets.append(_uniform("W6", 20_000, 64 * KIB, "KiB"))
    return {w.key: w for w in sets}


def parse_only(text: str | None) -> tuple[str, ...]:
    """``--only W1,w3,import`` -> ("W1", "W3", "IMPORT") in run order; None/empty -> all.

    Raises:
        ValueError: a name that is not a section.
    """
    if not text or not text.strip():
        return SECTIONS
    asked = {part.strip().upper() for part in text.split(",") if part.strip()}
    unknown = sorted(asked - set(SECTIONS))
    if unknown:
        raise ValueError(f"unknown section {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    return tuple(s for s in SECTIONS if s in asked)
