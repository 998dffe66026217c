"""``ls`` takes a glob (issue 21, CLI item 12): ``ls nl`` found nothing and said nothing.

A plain word still selects whole segments; a glob selects by fnmatch rules where ``*`` stops at
``/``; a word that finds nothing where its glob would gets a hint.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import modelshelf
from modelshelf.cli.main import main

NAMES = ["nlp/sentiment", "nlp/sentiment/en", "nlp/topics", "nlu", "vision/detector"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = (tmp_path / "store").as_uri()
    monkeypatch.setenv("MODELSHELF_STORE", url)
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(64))
    shelf = modelshelf.Shelf(url)
    for name in NAMES:
        shelf.push(model, name, progress=False)
    return url


@pytest.mark.parametrize(
    ("pattern", "listed"),
    [
        ("nl*", ["nlp/sentiment", "nlp/sentiment/en", "nlp/topics", "nlu"]),
        ("nlp/*sent*", ["nlp/sentiment", "nlp/sentiment/en"]),
        ("*/topics", ["nlp/topics"]),
        ("**/en", ["nlp/sentiment/en"]),
        ("nlp", ["nlp/sentiment", "nlp/sentiment/en", "nlp/topics"]),
        ("nlp/sentiment", ["nlp/sentiment", "nlp/sentiment/en"]),
        ("n?u", ["nlu"]),
        ("", NAMES),
    ],
)
def test_ls_takes_a_prefix_or_a_glob(
    store: str, capsys: pytest.CaptureFixture[str], pattern: str, listed: list[str]
) -> None:
    code, out, err = run(capsys, "ls", pattern)
    assert (code, out.splitlines(), err) == (0, listed, "")
    assert json.loads(run(capsys, "ls", pattern, "--json")[1]) == listed


def test_a_word_that_finds_nothing_hints_at_its_glob(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "ls", "nl")
    assert (code, out) == (0, "")
    assert err == "no asset under \"nl\"; did you mean ls 'nl*'?\n"
    assert run(capsys, "ls", "nl", "-q")[1:] == ("", "")  # quiet: no chatter
    assert run(capsys, "ls", "zz")[1:] == ("", "")  # its glob finds nothing either
    assert run(capsys, "ls", "zz*")[1:] == ("", "")  # a glob gets no hint


def test_a_hint_quotes_what_the_user_typed_safely(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, err = run(capsys, "ls", "vision/det")
    assert err == "no asset under \"vision/det\"; did you mean ls 'vision/det*'?\n"


def test_the_python_api_takes_the_same_patterns(store: str) -> None:
    shelf = modelshelf.Shelf(store)
    assert shelf.assets("nl*") == ["nlp/sentiment", "nlp/sentiment/en", "nlp/topics", "nlu"]
    assert shelf.assets("nl") == []


def test_help_says_ls_takes_a_glob(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ls", "--help")
    assert code == 0 and "GLOB" in out and "'nl*'" in out and "**" in out
