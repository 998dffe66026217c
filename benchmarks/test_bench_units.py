"""The pure parts of `make bench`: workloads, arguments, tables, targets, store diffs.

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_units.py -q -p no:cacheprovider``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from benchmarks import peers, targets
from benchmarks.dataset import MIB
from benchmarks.measure import run_child, uploaded
from benchmarks.report import Row, rate, render
from benchmarks.suite import needed_sets, parse_args
from benchmarks.targets import Results, compute
from benchmarks.workloads import SECTIONS, parse_only, workloads

KIB = 1024


def _row(key: str, *seconds: float, rss: int | None = None, tool: str = "t") -> Row:
    row = Row(key, tool, "op", seconds=list(seconds))
    if rss is not None:
        row.peak_rss.append(rss)
    return row


# -- workloads ---------------------------------------------------------------------------------
def test_full_workloads_have_the_issue_sizes() -> None:
    sets = workloads()
    assert (sets["W1"].files, sets["W1"].total_bytes) == (65, 1024 * MIB)
    assert max(size for _, size in sets["W1"].plan) == 768 * MIB
    assert {size for _, size in sets["W2"].plan} == {16 * MIB} and sets["W2"].files == 64
    assert {size for _, size in sets["W3"].plan} == {64 * KIB} and sets["W3"].files == 2000
    assert {size for _, size in sets["W6"].plan} == {64 * KIB} and sets["W6"].files == 20_000


@pytest.mark.parametrize("quick", [False, True])
def test_workloads_keep_their_shape_and_unique_paths(quick: bool) -> None:
    sets = workloads(quick=quick)
    assert sets["W6"].files == 10 * sets["W3"].files
    assert sets["W6"].plan[0][1] == sets["W3"].plan[0][1]
    for w in sets.values():
        paths = [p for p, _ in w.plan]
        assert len(set(paths)) == len(paths)
    assert len({w.name for w in sets.values()}) == len(sets)


def test_quick_workloads_are_tiny() -> None:
    assert sum(w.total_bytes for w in workloads(quick=True).values()) < 32 * MIB


def test_parse_only() -> None:
    assert parse_only(None) == SECTIONS
    assert parse_only("w3, W1,import") == ("W1", "W3", "IMPORT")
    with pytest.raises(ValueError, match="W7"):
        parse_only("W1,W7")


def test_needed_sets_follow_what_sections_read() -> None:
    assert needed_sets(("W4",)) == ("W2",)
    assert needed_sets(("W5", "IMPORT")) == ("W1",)
    assert needed_sets(("LOCAL", "W6")) == ("W1", "W6")
    assert needed_sets(("IMPORT",)) == ()


# -- arguments ---------------------------------------------------------------------------------
def test_parse_args_defaults(tmp_path: Path) -> None:
    args = parse_args([])
    assert args.repeat == 3 and args.w6_repeat == 1 and args.only == SECTIONS
    assert not args.quick and args.endpoint is None and not args.w6_boto3
    args = parse_args(["--quick", "--repeat", "2", "--only", "W2", "--data-dir", str(tmp_path)])
    assert (args.repeat, args.w6_repeat, args.only, args.data_dir) == (2, 2, ("W2",), tmp_path)
    assert parse_args(["--repeat", "5", "--w6-repeat", "3"]).w6_repeat == 3


@pytest.mark.parametrize("argv", [["--repeat", "0"], ["--only", "W9"], ["--w6-repeat", "0"]])
def test_parse_args_refuses(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)


# -- tables ------------------------------------------------------------------------------------
def test_rate_is_decimal_megabytes_per_second() -> None:
    assert rate(2_000_000_000, 2.0) == "1,000"
    assert rate(0, 1.0) == "—" and rate(10, None) == "—"


def test_render_gives_median_min_rates_and_rss() -> None:
    row = _row("ms-pull", 3.0, 1.0, 2.0, rss=100 * MIB, tool="modelshelf")
    failed = Row("x", "boto3", "download", unavailable="failed: boom")
    text = render("W9: test", [row, failed], 1_000_000_000)
    lines = text.splitlines()
    assert lines[0] == "### W9: test"
    cells = [c.strip() for c in lines[4].split("|")]
    assert cells[1:8] == ["modelshelf", "op", "2.00", "1.00", "500", "1,000", "100"]
    assert "failed: boom" in lines[5] and lines[5].count("—") >= 6


def test_render_in_milliseconds_without_rates() -> None:
    text = render("W5", [_row("cli-hit", 0.1234)], 0, millis=True)
    assert "median ms" in text and "| 123.4 |" in text


# -- targets -----------------------------------------------------------------------------------
def test_relative_target_ratio_and_verdict() -> None:
    t = targets.relative("pull", _row("a", 2.6), _row("b", 2.0, tool="s5cmd"), 1.3)
    assert t.ratio == pytest.approx(1.0) and t.met is True and "1.30x" in t.measured
    t = targets.relative("pull", _row("a", 3.0), _row("b", 2.0), 1.0)
    assert t.ratio == pytest.approx(1.5) and t.met is False and t.verdict == "**not met**"
    assert targets.relative("pull", None, _row("b", 1.0), 1.0).verdict == "not measured"


def test_absolute_and_rss_targets() -> None:
    assert targets.absolute("hit", _row("a", 0.149), 0.150).met is True
    assert targets.absolute("hit", _row("a", 0.150), 0.150).met is False
    assert targets.peak_rss("rss", _row("a", 1.0, rss=128 * MIB)).ratio == pytest.approx(0.5)
    assert targets.peak_rss("rss", _row("a", 1.0, rss=300 * MIB)).met is False


def test_delta_push_needs_exactly_the_changed_blob() -> None:
    one = uploaded(
        {"blobs/a": (10, "x")}, {"blobs/a": (10, "x"), "blobs/b": (7, "y"), "m": (3, "z")}
    )
    assert (one.objects, one.bytes, one.blob_objects, one.blob_bytes) == (2, 10, 1, 7)
    assert targets.delta_push("w4", [one], 7).met is True
    assert targets.delta_push("w4", [one], 8).met is False
    assert targets.delta_push("w4", [], 7).met is None


def test_uploaded_counts_rewritten_objects() -> None:
    up = uploaded({"log": (5, "a"), "blobs/x": (4, "b")}, {"log": (9, "c"), "blobs/x": (4, "b")})
    assert up.keys == ("log",) and up.bytes == 9 and up.blob_objects == 0


def test_growth_is_judged_against_the_file_ratio() -> None:
    small, large = _row("a", 1.0, rss=100), _row("b", 12.0, rss=150)
    assert targets.growth("t", small, large, 10.0, rss=False).met is False
    rss = targets.growth("r", small, large, 10.0, rss=True)
    assert rss.met is True and rss.ratio == pytest.approx(0.15)


def test_compute_lists_every_target_of_the_issue() -> None:
    results = Results(files={"W3": 2000, "W6": 20000})
    for w in ("W1", "W2", "W3"):
        results.rows[w] = {
            "ms-pull": _row("ms-pull", 1.0, rss=64 * MIB),
            "s5-sha": _row("s5-sha", 1.0),
            "s5-down": _row("s5-down", 1.0),
            "ms-push": _row("ms-push", 2.0),
            "s5-up": _row("s5-up", 1.0),
        }
    names = [t.name for t in compute(results)]
    assert len(names) == 17 and len(set(names)) == 17
    by_name = {t.name: t for t in compute(results)}
    assert by_name["W2 pull vs s5cmd + openssl"].met is True
    assert by_name["W2 push vs s5cmd"].met is False
    assert by_name["W1 (1 GiB) pull peak RSS"].met is True
    assert by_name["import modelshelf"].met is None
    text = targets.render(compute(results))
    assert "| W2 push vs s5cmd |" in text and "of 10 measured targets met" in text


# -- measuring (real processes, no store) --------------------------------------------------------
def test_openssl_digests_match_hashlib(tmp_path: Path) -> None:
    files = {"a.bin": b"a" * 1000, "sub/b.bin": b"", "sub/deep/c.bin": b"c" * 70_000}
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    got = peers.openssl_sha256_tree(tmp_path, processes=2)
    assert got == {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def test_run_child_reports_output_and_its_own_peak_rss(tmp_path: Path) -> None:
    done = run_child(["sh", "-c", "echo hello"], None, tmp_path)
    assert done.stdout.strip() == "hello" and done.seconds >= 0
    assert 0 < done.peak_rss < 64 * MIB  # sh's own, not this Python process's
    with pytest.raises(RuntimeError, match="exited 3: oops"):
        run_child(["sh", "-c", "echo oops >&2; exit 3"], None, tmp_path)
