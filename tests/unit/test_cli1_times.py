"""One time format in every text output (issue 21, CLI 6: `removed by ... at
2026-12-07T13:15:06.099717Z` still showed): `2026-11-30 16:47:04Z`, from one helper;
--json keeps the full ISO 8601 UTC time the store holds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelshelf import Shelf
from modelshelf._text import show_time
from modelshelf.cli._common import format_time, printable
from modelshelf.cli.main import main

RAW_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")  # any ISO time as the store keeps it
SHOWN = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ")


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    root.mkdir()
    (root / "w.bin").write_bytes(b"weights")
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out + err


def test_no_text_output_shows_a_raw_iso_time(
    tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = (tmp_path / "other").as_uri()
    steps: list[tuple[list[str], int, bool]] = [
        # (arguments, exit code, whether the output shows a time)
        (["push", str(model), "m"], 0, False),
        (["push", str(model), "m"], 0, False),
        (["alias", "set", "m@prod", "1.0"], 0, False),
        (["alias", "set", "m@gone", "1.1"], 0, False),
        (["alias", "rm", "m@gone"], 0, False),
        (["alias", "ls", "m"], 0, True),
        (["alias", "history", "m@prod"], 0, True),
        (["alias", "history", "m@gone"], 0, True),
        (["versions", "m"], 0, False),
        (["versions", "-l", "m"], 0, True),
        (["show", "m:1.0"], 0, True),
        (["log", "m"], 0, True),
        (["pull", "m:1.1"], 0, False),
        (["cache", "ls"], 0, True),
        (["cache", "info"], 0, False),
        (["copy", "m:1.0", other], 0, False),
        (["verify", "m:1.0"], 0, False),
        (["rm", "m:1.0", "-m", "why"], 0, False),
        (["rm", "m:1.0"], 1, True),  # already removed by ... at <time>
        (["pull", "m@prod"], 1, True),  # points at 1.0, which was removed by ... at <time>
        (["pull", "m@gone"], 1, True),  # no alias 'gone' (removed by ... at <time>)
        (["push", str(model), "m:1.0"], 1, True),  # 1.0 was removed by ... at <time>
        (["gc", "--grace", "0"], 0, False),
        (["log", "m"], 0, True),
    ]
    for args, code, timed in steps:
        got, text = run(capsys, *args)
        assert got == code, (args, text)
        assert not RAW_ISO.search(text), (args, text)
        assert bool(SHOWN.search(text)) == timed, (args, text)


def test_json_keeps_the_full_iso_time(
    tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "push", str(model), "m", "-q")
    run(capsys, "alias", "set", "m@prod", "1.0")
    full = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
    assert full.fullmatch(json.loads(run(capsys, "show", "m", "--json")[1])["created"])
    assert full.fullmatch(json.loads(run(capsys, "log", "m", "--json")[1])[0]["when"])
    aliases = json.loads(run(capsys, "alias", "ls", "m", "--json")[1])
    assert full.search(json.dumps(aliases))


def test_library_messages_use_the_same_format(tmp_path: Path, model: Path) -> None:
    shelf = Shelf((tmp_path / "s").as_uri())
    shelf.push(model, "m", progress=False)
    removal = shelf.remove("m:1.0", message="why")
    assert SHOWN.search(removal.describe()) and not RAW_ISO.search(removal.describe())
    assert format_time(removal.when) == show_time(removal.when)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2026-11-30T16:47:04.123456Z", "2026-11-30 16:47:04Z"),
        ("2026-11-30T18:47:04+02:00", "2026-11-30 16:47:04Z"),
        ("2026-11-30T16:47:04", "2026-11-30 16:47:04Z"),  # naive: the store writes UTC
        ("unknown time", "unknown time"),  # not a time: shown as it is
        ("\x1b[2J", "\\x1b[2J"),  # escaped
    ],
)
def test_show_time(value: str, shown: str) -> None:
    assert show_time(value) == format_time(value) == shown


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_at_the_edge_of_the_calendar_prints_as_it_is(value: str) -> None:
    # A store's record may hold any ISO text; moving it to UTC must not crash `log`.
    assert show_time(value) == value


@given(st.text(max_size=40) | st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()))
def test_any_time_text_from_a_store_shows_as_one_safe_line(value: str) -> None:
    shown = show_time(value)
    assert SHOWN.fullmatch(shown) or shown == printable(value)
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", shown)
