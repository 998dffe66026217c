"""``modelshelf label set|rm|ls`` and ``modelshelf diff``, through the real CLI over a real
``file://`` store: what people read, what scripts read (``--json``), and what is refused."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests.integration.test_s3_shelf import make_tree

from modelshelf import Shelf
from modelshelf.cli.main import main
from modelshelf.store.bucket import actor

WHO = f"{actor()['user']}@{actor()['host']}"
TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ"


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = (tmp_path / "store").as_uri()
    shelf = Shelf(url, cache_dir=tmp_path / "cache")
    shelf.push(
        make_tree(tmp_path / "a", {"w.bin": b"x" * 100, "old/t.txt": b"t", "README.md": b"# M\n"}),
        "nlp/m", progress=False, message="first", metadata={"team": "nlp"},
    )  # fmt: skip
    shelf.push(
        make_tree(tmp_path / "b", {"w.bin": b"y" * 300, "new/t.txt": b"t", "add.txt": b"added",
                                   "README.md": b"# M\nbetter\n"}),
        "nlp/m", progress=False, message="second", metadata={"team": "cv"},
    )  # fmt: skip
    return url


def run(capsys: pytest.CaptureFixture[str], store: str, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--store", store, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_label_set_ls_and_rm(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, store, "label", "set", "nlp/m", "team=nlp", "gpu")
    assert (code, out) == (0, "gpu\nteam=nlp\n")
    assert re.fullmatch(rf"nlp/m: record 1, {TIME} by {re.escape(WHO)}\n", err)
    code, out, _ = run(capsys, store, "label", "set", "nlp/m:1.0", "stage = candidate",
                       "--description", "Distilled.\nNeeds a GPU.")  # fmt: skip
    assert (code, out) == (0, "stage=candidate\n\nDistilled.\nNeeds a GPU.\n")
    code, out, _ = run(capsys, store, "label", "rm", "nlp/m", "gpu")
    assert (code, out) == (0, "team=nlp\n")
    code, out, _ = run(capsys, store, "label", "ls", "nlp/m@latest")  # 1.1: none
    assert (code, out) == (0, "")
    code, out, _ = run(capsys, store, "label", "ls", "nlp/m:1.0", "--json")
    data = json.loads(out)
    assert data["labels"] == {"stage": "candidate"} and data["seq"] == 1
    assert data["description"] == "Distilled.\nNeeds a GPU."
    code, out, _ = run(capsys, store, "label", "ls", "nlp/m", "--history")
    lines = out.splitlines()
    assert re.fullmatch(rf"1  {TIME}  {re.escape(WHO)}  gpu, team=nlp", lines[0])
    assert re.fullmatch(rf"2  {TIME}  {re.escape(WHO)}  team=nlp", lines[1])
    code, out, _ = run(capsys, store, "label", "ls", "nlp/m", "--history", "--json")
    assert [r["seq"] for r in json.loads(out)] == [1, 2]
    code, out, _ = run(capsys, store, "log", "nlp/m")
    assert [line.split("  ", 2)[2] for line in out.splitlines()[2:]] == [
        "label: gpu, team=nlp",
        "label 1.0: stage=candidate (description changed)",
        "label: team=nlp",
    ]


def test_a_set_that_changes_nothing_says_so(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, store, "label", "set", "nlp/m", "team=nlp")
    code, out, err = run(capsys, store, "label", "set", "nlp/m", "team=nlp")
    assert (code, out) == (0, "team=nlp\n") and "nothing changed" in err
    assert len(Shelf(store).notes_history("nlp/m")) == 1


def test_description_file(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    about = tmp_path / "ABOUT.md"
    about.write_text("# About\n\nUse it.\n", encoding="utf-8")
    code, out, _ = run(capsys, store, "label", "set", "nlp/m", "--description-file", str(about))
    assert (code, out) == (0, "# About\n\nUse it.\n")
    about.write_bytes(b"caf\xe9")
    code, _, err = run(capsys, store, "label", "set", "nlp/m", "--description-file", str(about))
    assert code == 1 and "not UTF-8" in err
    about.write_bytes(b"x" * (64 * 1024 + 1))
    code, _, err = run(capsys, store, "label", "set", "nlp/m", "--description-file", str(about))
    assert code == 1 and "over 64 KiB" in err
    code, _, err = run(capsys, store, "label", "set", "nlp/m", "--description-file", "nothere")
    assert code == 1 and "cannot read the description file nothere" in err
    assert Shelf(store).notes("nlp/m").description == "# About\n\nUse it.\n"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["label", "set", "nlp/m", "Team=x"], "its key 'Team' is not"),
        (["label", "set", "nlp/m", "team=a", "team=b"], "given twice"),
        (["label", "set", "nlp/m", "k=" + "x" * 257], "longer than 256"),
        (["label", "set", "nlp/m"], "nothing to set"),
        (["label", "set", "nlp/m", "--description", "a", "--description-file", "f"], "not both"),
        (["label", "set", "nlp/m", "--description", "\x1b[2J"], "control character"),
        (["label", "rm", "nlp/m", "nothere"], "has no label nothere"),
        (["label", "rm", "nlp/m", "Bad"], "no label key"),
        (["label", "set", "nlp/zzz", "a"], "no asset named 'nlp/zzz'"),
        (["label", "set", "nlp/m:9", "a"], "no version matching 9"),
        (["label", "ls", "nlp/m:1.0/w.bin"], "not a file's"),
        (["label", "ls", "NLP/m"], "invalid spec"),
        (["diff", "nlp/m:1.0", "nlp/m:7"], "no version matching 7"),
        (["diff", "nlp/m:1.0/w.bin", "nlp/m"], "whole versions"),
    ],
)
def test_bad_input_is_one_clear_error_and_nothing_is_written(
    store: str, capsys: pytest.CaptureFixture[str], args: list[str], words: str
) -> None:
    code, out, err = run(capsys, store, *args)
    assert code == 1 and out == "" and err.startswith("error: ") and words in err, err
    assert Shelf(store).store.notes_history("nlp/m") == []


def test_label_rm_needs_a_key(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, store, "label", "rm", "nlp/m")
    assert code == 2 and "Missing argument 'KEY...'" in err


def test_store_text_is_escaped(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    Shelf(store).set_notes("nlp/m", set={"team": "a\u202eb"}, description="x\u2028y\u200b")
    code, out, _ = run(capsys, store, "label", "ls", "nlp/m")
    assert code == 0 and out == "team=a\\u202eb\n\nx\\u2028y\\u200b\n"


def test_diff_prints_files_then_sections(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, store, "diff", "nlp/m:1.0", "nlp/m:1.1")
    assert code == 0
    assert err == (
        "nlp/m:1.0 -> nlp/m:1.1: files 2 changed, 1 added, 1 moved, 0 unchanged;"
        " 105 B -> 317 B; metadata, card, message differ\n"
    )
    lines = out.splitlines()
    assert lines[:4] == [
        "+ add.txt (5 B)",
        "~ README.md (4 B -> 11 B, +7 B)",
        "~ w.bin (100 B -> 300 B, +200 B)",
        "> old/t.txt -> new/t.txt",
    ]
    assert "--- nlp/m:1.0 metadata" in lines and '+  "team": "cv"' in lines
    assert "+better" in lines and lines[-2:] == ["-first", "+second"]
    code, out, _ = run(capsys, store, "diff", "nlp/m:1.1", "nlp/m:1.0")
    assert "- add.txt" in out.splitlines() and "> new/t.txt -> old/t.txt" in out.splitlines()
    assert "~ w.bin (300 B -> 100 B, -200 B)" in out.splitlines()


def test_diff_json_and_the_same_version(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, store, "diff", "nlp/m:1.0", "nlp/m@latest", "--json")
    data = json.loads(out)
    assert code == 0 and (data["a"], data["b"]) == ("nlp/m:1.0", "nlp/m:1.1")
    assert [m["new_path"] for m in data["moved"]] == ["new/t.txt"]
    assert [s["name"] for s in data["sections"] if s["lines"]] == ["metadata", "card", "message"]
    code, out, err = run(capsys, store, "diff", "nlp/m", "nlp/m:1.1")
    assert (code, out) == (0, "") and "the same files" in err


def test_diff_needs_two_specs(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, store, "diff", "nlp/m:1.0")
    assert code == 2 and "Missing argument" in err
