"""Issue 15's targets, computed from one run's figures: met / not met and by how much.

Every figure is a median over the repeats (peak RSS: the largest seen). A ratio is the measured
figure over its limit, so 1.00x is exactly at the limit and below is better; a target whose
figures are missing (section not run, tool failed) is "not measured".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmarks.measure import Uploaded
from benchmarks.report import MIB, Row

RSS_LIMIT = 256 * MIB


@dataclass
class Results:
    """What a run measured, as the targets read it."""

    rows: dict[str, dict[str, Row]] = field(default_factory=dict)  # section -> row key -> row
    files: dict[str, int] = field(default_factory=dict)  # workload -> file count
    w4: list[Uploaded] = field(default_factory=list)  # one per repeat
    w4_changed_bytes: int = 0  # size of the one file that changed

    def row(self, section: str, key: str) -> Row | None:
        return self.rows.get(section, {}).get(key)


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    limit: str
    ratio: float | None  # measured / limit; None when not measured
    met: bool | None  # None when not measured

    @property
    def verdict(self) -> str:
        if self.met is None:
            return "not measured"
        return "met" if self.met else "**not met**"


def _missing(name: str, limit: str) -> Target:
    return Target(name, "—", limit, None, None)


def relative(name: str, row: Row | None, base: Row | None, limit: float) -> Target:
    """``row``'s median time at most ``limit`` times ``base``'s."""
    shown = f"≤ {limit:.1f}x {base.tool}" if base else f"≤ {limit:.1f}x"
    if row is None or base is None or row.median is None or base.median is None:
        return _missing(name, shown)
    ratio = row.median / base.median / limit
    measured = f"{row.median:.2f} s vs {base.median:.2f} s = {row.median / base.median:.2f}x"
    return Target(name, measured, shown, ratio, ratio <= 1.0)


def absolute(name: str, row: Row | None, limit_seconds: float) -> Target:
    """``row``'s median time under ``limit_seconds`` (shown in ms)."""
    shown = f"< {limit_seconds * 1000:.0f} ms"
    if row is None or row.median is None:
        return _missing(name, shown)
    ratio = row.median / limit_seconds
    return Target(name, f"{row.median * 1000:.1f} ms", shown, ratio, row.median < limit_seconds)


def peak_rss(name: str, row: Row | None, limit: int = RSS_LIMIT) -> Target:
    shown = f"< {limit / MIB:.0f} MiB"
    if row is None or row.max_rss is None or row.unavailable:
        return _missing(name, shown)
    return Target(
        name, f"{row.max_rss / MIB:.0f} MiB", shown, row.max_rss / limit, row.max_rss < limit
    )


def delta_push(name: str, pushes: list[Uploaded], changed: int) -> Target:
    """Every repeat's push uploaded one blob of exactly the changed file's size."""
    size = f"{changed:,} B" if changed > 0 else "the changed file's size"
    shown = f"blobs = 1 object of {size} (+ manifest/log)"
    if not pushes or changed <= 0:
        return _missing(name, shown)
    worst = max(pushes, key=lambda u: (u.blob_bytes, u.blob_objects))
    other = worst.bytes - worst.blob_bytes
    measured = (
        f"{worst.blob_bytes:,} B in {worst.blob_objects} blob(s)"
        f" + {worst.objects - worst.blob_objects} other object(s) of {other:,} B"
    )
    met = all(u.blob_objects == 1 and u.blob_bytes == changed for u in pushes)
    return Target(name, measured, shown, worst.blob_bytes / changed, met)


def growth(name: str, small: Row | None, large: Row | None, factor: float, *, rss: bool) -> Target:
    """``large`` grows no faster than ``factor`` (the file-count ratio) times ``small``."""
    what = "peak RSS" if rss else "time"
    shown = f"{what} ≤ {factor:.0f}x W3's (linear)"
    if small is None or large is None:
        return _missing(name, shown)
    a, b = (small.max_rss, large.max_rss) if rss else (small.median, large.median)
    if not a or b is None or small.unavailable or large.unavailable:
        return _missing(name, shown)
    grew = b / a
    return Target(name, f"{grew:.2f}x W3's", shown, grew / factor, grew <= factor)


def compute(results: Results) -> list[Target]:
    """Every target of issue 15, in the issue's order."""
    r = results.row
    targets: list[Target] = []
    for w in ("W1", "W2", "W3"):
        pull, s5_sha, s5 = r(w, "ms-pull"), r(w, "s5-sha"), r(w, "s5-down")
        targets.append(relative(f"{w} pull vs s5cmd + openssl", pull, s5_sha, 1.0))
        targets.append(relative(f"{w} pull vs bare s5cmd", pull, s5, 1.3))
    for w in ("W1", "W2", "W3"):
        targets.append(relative(f"{w} push vs s5cmd", r(w, "ms-push"), r(w, "s5-up"), 1.0))
    targets.append(
        delta_push("W4 only the changed bytes travel", results.w4, results.w4_changed_bytes)
    )
    targets.append(absolute("W5 CLI pinned hit, start to exit", r("W5", "cli-hit"), 0.150))
    targets.append(absolute("W5 Python pinned hit", r("W5", "py-hit"), 0.010))
    targets.append(absolute("import modelshelf", r("IMPORT", "import"), 0.060))
    targets.append(peak_rss("W1 (1 GiB) pull peak RSS", r("W1", "ms-pull")))
    targets.append(
        relative("file:// pull vs cp -r", r("LOCAL", "file-pull"), r("LOCAL", "cp"), 1.5)
    )
    n3, n6 = results.files.get("W3"), results.files.get("W6")
    factor = n6 / n3 if n3 and n6 else 10.0
    for rss in (False, True):
        label = "W6 pull peak RSS growth" if rss else "W6 pull time growth"
        targets.append(growth(label, r("W3", "ms-pull"), r("W6", "ms-pull"), factor, rss=rss))
    return targets


def render(targets: list[Target]) -> str:
    lines = [
        "### Targets (issue 15), from this run's figures",
        "",
        "| target | measured | limit | ratio to limit | result |",
        "|---|---|---|--:|---|",
    ]
    for t in targets:
        ratio = f"{t.ratio:.2f}x" if t.ratio is not None else "—"
        lines.append(f"| {t.name} | {t.measured} | {t.limit} | {ratio} | {t.verdict} |")
    met = sum(1 for t in targets if t.met)
    measured = sum(1 for t in targets if t.met is not None)
    lines += ["", f"{met} of {measured} measured targets met ({len(targets)} in all)."]
    return "\n".join(lines)
