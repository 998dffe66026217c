"""`modelshelf log` prints each action as itself (issue 21, CLI 2: a copy printed as
`alias @None -> 1.1 (was unset)`): push, copy, repair, alias set, alias removal, version
removal, and an action it does not know, which is store text printed safely as itself."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelshelf import Shelf
from modelshelf.cli._log_lines import log_event, log_line
from modelshelf.cli.main import main
from modelshelf.store.bucket import actor
from modelshelf.trust import check_log_record

ME = actor()
WHO = f"{ME['user']}@{ME['host']}"
TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ"


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    root.mkdir()
    (root / "w.bin").write_bytes(b"weights")
    return root


def log_of(capsys: pytest.CaptureFixture[str], store: str, *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["--store", store, "log", "m", *extra])
    out, err = capsys.readouterr()
    assert err == ""
    return code, out


def test_every_action_is_printed_as_itself(
    tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    here = Shelf((tmp_path / "here").as_uri())
    there = Shelf((tmp_path / "there").as_uri())
    here.push(model, "m", progress=False, message="first")
    here.set_alias("m@prod", "1.0")
    here.push(model, "m", progress=False)
    here.set_alias("m@prod", "1.1")
    here.remove_alias("m@prod")
    here.copy("m:1.0", there.url, progress=False)
    # The copy in `there` loses its blob: copying again repairs it (the `repair` record).
    for key in list(there.store.backend.list("blobs")):
        there.store.backend.delete(key.path)
    here.copy("m:1.0", there.url, progress=False)
    here.remove("m:1.1", message="leaked\na token")

    code, out = log_of(capsys, here.url)
    lines = out.splitlines()
    assert code == 0 and all(re.match(rf"{TIME}  {re.escape(WHO)}  ", line) for line in lines)
    what = [line.split("  ", 2)[2] for line in lines]
    assert what == [
        "push 1.0  first",
        "alias @prod -> 1.0 (was unset)",
        "push 1.1",
        "alias @prod -> 1.1 (was 1.0)",
        "alias @prod removed (was 1.1)",
        "remove 1.1  leaked\\na token",
    ]
    code, out = log_of(capsys, there.url)
    what = [line.split("  ", 2)[2] for line in out.splitlines()]
    assert what == [f"copy 1.0 from {here.url}", f"repair 1.0 from {here.url}"]

    code, out = log_of(capsys, here.url, "--json")
    events = [(r["event"], r["action"]) for r in json.loads(out)]
    assert events == [
        ("push", "push"),
        ("alias-set", "alias"),
        ("push", "push"),
        ("alias-set", "alias"),
        ("alias-remove", "alias"),
        ("remove", "remove"),
    ]
    record = json.loads(out)[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", record["when"])  # exact


def test_an_unknown_action_prints_as_itself_escaped(
    tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shelf = Shelf((tmp_path / "s").as_uri())
    shelf.push(model, "m", progress=False)
    shelf.store.append_log("m", "frob\u202enicate", version="1.0", message="\x1b[2Jgone")
    shelf.store.append_log("m", "gc", deleted=3)
    code, out = log_of(capsys, shelf.url)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3 and "\x1b" not in out and "\u202e" not in out
    assert lines[1].endswith("  frob\\u202enicate 1.0  \\x1b[2Jgone")
    assert lines[2].endswith(f"  {WHO}  gc")
    records = json.loads(log_of(capsys, shelf.url, "--json")[1])
    assert [r["event"] for r in records] == ["push", "frob\u202enicate", "gc"]
    assert records[1]["message"] == "\x1b[2Jgone"  # --json prints the store's values exactly


_TEXT = st.text(max_size=30)
_ONE_LINE = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\u2028\u2029"),
    max_size=30,
)


@given(
    action=_ONE_LINE,
    version=st.none() | _ONE_LINE,
    alias=st.none() | _ONE_LINE,
    previous=st.none() | _ONE_LINE,
    message=st.none() | _TEXT,
    source=st.none() | _TEXT,
    when=_ONE_LINE,
)
def test_any_record_the_store_may_send_is_one_safe_line(
    action: str,
    version: str | None,
    alias: str | None,
    previous: str | None,
    message: str | None,
    source: str | None,
    when: str,
) -> None:
    raw = {"action": action, "name": "m", "when": when, "user": "u", "host": "h"}
    for key, value in (("version", version), ("alias", alias), ("previous", previous),
                       ("message", message), ("source", source)):  # fmt: skip
        if value is not None:
            raw[key] = value
    record = check_log_record(raw, name="m")
    line = log_line(record)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]", line)
    assert isinstance(log_event(record), str)
