"""With ``--json``, every failure is one JSON line on stderr (issue 21, CLI 7):
``{"error": ..., "type": ..., "exit": ...}``, the exit code unchanged, stdout empty."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from modelshelf.cli.main import cli, main
from modelshelf.shelf.shelf import Shelf


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    root.mkdir()
    (root / "w.bin").write_bytes(b"weights")
    assert main(["push", str(root), "m", "-q"]) == 0
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


FAILURES = [
    # (arguments, exit code, error type, a piece of the message)
    (["--json", "versions", "ghost"], 1, "AssetNotFoundError", "no asset named 'ghost'"),
    (["versions", "ghost", "--json"], 1, "AssetNotFoundError", "no asset named 'ghost'"),
    (["show", "m:9.9", "--json"], 1, "VersionNotFoundError", "m has no version matching 9.9"),
    (["pull", "m:1.0/nope", "--json"], 1, "PathNotInVersionError", "nope"),
    (["pull", "Bad//Name", "--json"], 1, "InvalidSpecError", "invalid spec"),
    (["--json", "alias", "set", "m@prod", "7.0"], 1, "VersionNotFoundError", "7.0"),
    (["--json", "rm", "m"], 1, "InvalidInputError", "exact version"),
    (["gc", "--grace", "soon", "--json"], 1, "InvalidInputError", "grace 'soon'"),
    (["push", "/no/such/folder", "m", "--json"], 1, "SourcePathError", "/no/such/folder"),
    # usage errors from click, wherever --json was given
    (["versions", "--json"], 2, "MissingParameter", "Missing argument 'NAME'"),
    (["--json", "versions"], 2, "MissingParameter", "Missing argument 'NAME'"),
    (["--json", "nosuchcommand"], 2, "NoSuchCommand", "No such command 'nosuchcommand'"),
    (["ls", "--bogus", "--json"], 2, "NoSuchOption", "No such option '--bogus'"),
    (["gc", "--json", "--grace"], 2, "BadOptionUsage", "'--grace' requires an argument"),
    (["serve", "m", "--port", "99999", "--json"], 2, "BadParameter", "99999"),
    (["--json", "--profile", "p", "--anonymous", "ls"], 2, "UsageError", "--profile or"),
]


@pytest.mark.parametrize(("args", "code", "kind", "piece"), FAILURES, ids=lambda v: str(v))
def test_every_failure_is_one_json_line(
    model: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    kind: str,
    piece: str,
) -> None:
    got, out, err = run(capsys, *args)
    assert got == code and out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    error = json.loads(err)
    assert set(error) <= {"error", "type", "exit", "hint"}
    assert (error["type"], error["exit"]) == (kind, code)
    assert piece in error["error"]


@pytest.mark.parametrize(("args", "code", "kind", "piece"), FAILURES[:3], ids=lambda v: str(v))
def test_without_json_the_error_stays_text(
    model: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    kind: str,
    piece: str,
) -> None:
    got, _, err = run(capsys, *[a for a in args if a != "--json"])
    assert got == code and err.startswith("error: ") and piece in err


def test_an_unexpected_error_is_json_and_says_it_is_a_bug(
    model: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Shelf, name: str) -> list[str]:
        raise RuntimeError("boom\x1b[2J")

    monkeypatch.setattr(Shelf, "versions", broken)
    code, out, err = run(capsys, "versions", "m", "--json")
    error = json.loads(err)
    assert code == 1 and out == "" and err.count("\n") == 1
    assert error["type"] == "RuntimeError" and error["exit"] == 1
    assert "boom" in error["error"] and "This is a bug" in error["error"]
    assert "\x1b" not in err  # json.dumps escapes controls: nothing raw reaches a terminal


def test_an_interrupt_is_json_with_exit_130(
    model: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(self: Shelf, name: str) -> list[str]:
        raise KeyboardInterrupt

    monkeypatch.setattr(Shelf, "versions", interrupted)
    code, out, err = run(capsys, "--json", "versions", "m")
    assert (code, out) == (130, "")
    # click writes an empty line when it catches Ctrl-C; the one line that says something:
    assert [json.loads(line) for line in err.splitlines() if line] == [
        {"error": "interrupted", "type": "KeyboardInterrupt", "exit": 130}
    ]


def test_a_multi_line_message_stays_one_json_line(
    model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An invalid spec's message spans lines (a caret under the spec); a hint is its own field
    # (it was appended to "error" before the review of issue 21).
    code, _, err = run(capsys, "--json", "show", "m:9.9")
    error = json.loads(err)
    assert code == 1 and err.count("\n") == 1
    assert "modelshelf versions m" in error["hint"] and "hint" not in error["error"]


def test_json_after_a_message_option_value_is_still_the_flag(
    model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "rm", "m:3.0", "-m", "why", "--json")
    assert code == 1 and json.loads(err)["type"] == "VersionNotFoundError"


def test_warnings_before_a_json_error_are_json_lines_too(
    model: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, "pull", "m", "-q")
    monkeypatch.setenv("MODELSHELF_OFFLINE", "1")
    code, out, err = run(capsys, "pull", "m", "--json", "-q")  # warns: the cached resolution
    lines = [json.loads(line) for line in err.splitlines()]
    assert code == 0 and json.loads(out)["version"] == "1.0"
    assert lines and all(set(line) == {"warning"} for line in lines)
    assert "cached resolution" in lines[0]["warning"]
    code, _, err = run(capsys, "pull", "never-pulled", "--json")
    lines = [json.loads(line) for line in err.splitlines()]
    assert code == 1 and lines[-1]["type"] == "OfflineError" and lines[-1]["exit"] == 1
    code, _, err = run(capsys, "pull", "m", "-q")  # and text again without --json
    assert code == 0 and err.startswith("warning: ")


def _leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name in group.list_commands(click.Context(group)):
        command = group.get_command(click.Context(group), name)
        assert command is not None
        if isinstance(command, click.Group):
            found += _leaf_commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("path", _leaf_commands(cli), ids=" ".join)
def test_every_command_gives_a_usage_error_as_json(
    capsys: pytest.CaptureFixture[str], path: tuple[str, ...]
) -> None:
    code, out, err = run(capsys, *path, "--no-such-flag", "--json")
    assert (code, out) == (2, "") and err.count("\n") == 1, err
    assert json.loads(err) == {
        "error": "No such option '--no-such-flag'.",
        "type": "NoSuchOption",
        "exit": 2,
    }
