"""The CLI tried as a new user would: options anywhere, the same failures, the same times,
and store text that cannot take over a terminal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest

from modelshelf.cli._common import format_time, printable
from modelshelf.cli.main import cli, main
from modelshelf.shelf.shelf import Shelf


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # If a check regresses (pull -o ""), files land here, not in the worktree.
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "sub").mkdir(parents=True)
    (root / "w.bin").write_bytes(b"weights")
    (root / "sub" / "v.txt").write_text("v")
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _subcommand(group: click.Group, name: str) -> click.Command:
    # get_command: the root group imports a command's module on first use.
    command = group.get_command(click.Context(group), name)
    assert command is not None, name
    return command


def _leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name in group.list_commands(click.Context(group)):
        command = _subcommand(group, name)
        if isinstance(command, click.Group):
            found += _leaf_commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


# -- --store, --json and --quiet before or after the subcommand -----------------------------


@pytest.mark.parametrize("path", _leaf_commands(cli))
def test_every_command_takes_the_common_options(path: tuple[str, ...]) -> None:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = _subcommand(command, name)
    flags = {flag for param in command.params for flag in getattr(param, "opts", [])}
    assert {"--store", "--json", "--quiet"} <= flags, path


def test_store_after_the_subcommand(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = (tmp_path / "other").as_uri()
    assert run(capsys, "push", str(model), "m", "-q", "--store", other)[0] == 0
    assert run(capsys, "versions", "m", "--store", other)[1] == "1.0\t@latest\n"
    assert run(capsys, "versions", "m", "-s", other)[1] == "1.0\t@latest\n"
    assert run(capsys, "--store", other, "versions", "m")[1] == "1.0\t@latest\n"
    assert run(capsys, "alias", "set", "m@prod", "1.0", "--store", other)[0] == 0
    assert run(capsys, "alias", "ls", "m", "--store", other)[1].startswith("@prod\t1.0\t")
    code, _, err = run(capsys, "versions", "m")  # the default store was never made
    assert code == 1 and "no store at" in err


def test_store_given_twice_differently_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = (tmp_path / "a").as_uri(), (tmp_path / "b").as_uri()
    (tmp_path / "a").mkdir()
    code, out, err = run(capsys, "--store", a, "ls", "--store", b)
    assert code in (1, 2) and out == "" and "--store" in err
    assert run(capsys, "--store", a, "ls", "--store", a)[0] == 0


def test_json_and_quiet_before_the_subcommand(
    model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--json", "--quiet", "push", str(model), "m")
    assert code == 0 and json.loads(out)["version"] == "1.0" and err == ""
    assert json.loads(run(capsys, "--json", "versions", "m")[1])["versions"] == ["1.0"]
    assert json.loads(run(capsys, "--json", "ls")[1]) == ["m"]
    assert json.loads(run(capsys, "--json", "show", "m")[1])["name"] == "m"
    assert json.loads(run(capsys, "--json", "log", "m")[1])[0]["action"] == "push"
    assert json.loads(run(capsys, "-q", "--json", "pull", "m")[1])["version"] == "1.0"
    assert "path" in json.loads(run(capsys, "--json", "cache", "info")[1])


# -- the same failure for the same mistake ----------------------------------------------------


def test_show_of_a_missing_path_fails_like_pull(
    model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "push", str(model), "m", "-q")
    pulled = run(capsys, "pull", "m:1.0/nope")
    shown = run(capsys, "show", "m:1.0/nope")
    assert pulled[0] == shown[0] == 1 and shown[1] == ""
    assert shown[2] == pulled[2] and "has no file or folder 'nope'" in shown[2]
    code, out, _ = run(capsys, "show", "m:1.0/sub")
    assert code == 0 and "sub/v.txt" in out and "w.bin" not in out


@pytest.mark.parametrize(
    "args",
    [
        ["versions", "ghost"],
        ["log", "ghost"],
        ["alias", "ls", "ghost"],
        ["alias", "history", "ghost@prod"],
    ],
)
def test_unknown_assets_fail_like_versions(
    model: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    run(capsys, "push", str(model), "m", "-q")
    code, out, err = run(capsys, *args)
    assert code == 1 and out == ""
    assert err.startswith("error: no asset named 'ghost'") and "modelshelf ls" in err


def test_history_of_an_unknown_alias_names_it(
    model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "push", str(model), "m", "-q")
    code, out, err = run(capsys, "alias", "history", "m@prod")
    assert code == 1 and out == "" and "has no alias 'prod'" in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["versions", "m:1.0"], "versions takes NAME"),
        (["versions", "m@prod"], "versions takes NAME"),
        (["log", "m@prod"], "log takes NAME"),
        (["log", "m:1"], "log takes NAME"),
        (["alias", "ls", "m:1"], "alias ls takes NAME"),
        (["alias", "history", "m:1.0"], "alias history takes NAME@ALIAS"),
        (["alias", "history", "m@prod/x"], "alias history takes NAME@ALIAS"),
        (["alias", "set", "m:1.0", "1.0"], "alias set takes NAME@ALIAS"),
        (["alias", "set", "m@prod/x", "1.0"], "alias set takes NAME@ALIAS"),
        (["pull", "m", "-o", ""], "-o"),
        (["pull", "m", "--link", "symlink"], "--link"),
    ],
)
def test_arguments_that_mean_nothing_are_errors(
    model: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    run(capsys, "push", str(model), "m", "-q", "-a", "prod")
    code, out, err = run(capsys, *args)
    assert code in (1, 2) and out == ""
    assert needle in err, err


def test_prune_dry_run_says_would(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "push", str(model), "m", "-q")
    run(capsys, "pull", "m", "-q")
    code, out, _ = run(capsys, "cache", "prune", "--max-size", "0", "--dry-run")
    assert code == 0 and out and all(line.startswith("would ") for line in out.splitlines())
    assert run(capsys, "pull", "m", "-q")[0] == 0


# -- one time format everywhere ------------------------------------------------------------

_TIME = re.compile(r"\b\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\b")


def test_times_look_the_same_everywhere(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "push", str(model), "m", "-q", "-a", "prod")
    outputs = {
        "versions -l": run(capsys, "versions", "m", "-l")[1],
        "log": run(capsys, "log", "m")[1],
        "alias ls": run(capsys, "alias", "ls", "m")[1],
        "alias history": run(capsys, "alias", "history", "m@prod")[1],
        "show": run(capsys, "show", "m")[1],
    }
    run(capsys, "pull", "m", "-q")
    outputs["cache ls"] = run(capsys, "cache", "ls")[1]
    for where, text in outputs.items():
        assert _TIME.search(text), (where, text)
        assert not re.search(r"\d\d:\d\d:\d\d\.\d", text), (where, text)  # no fractions
        assert not re.search(r"\dT\d", text), (where, text)  # no ISO 'T'


def test_format_time() -> None:
    assert format_time("2026-11-30T16:47:04.123456Z") == "2026-11-30 16:47:04Z"
    assert format_time("2026-11-30T17:47:04+01:00") == "2026-11-30 16:47:04Z"
    assert format_time("2026-11-30T16:47:04") == "2026-11-30 16:47:04Z"
    assert format_time("not a time\x1b[2J") == "not a time\\x1b[2J"


# -- store text never reaches the terminal raw -----------------------------------------------


def test_printable_escapes_controls_and_keeps_text() -> None:
    assert printable("plain café 模型 [bold]") == "plain café 模型 [bold]"
    assert printable("a\x1b[31mb") == "a\\x1b[31mb"
    assert printable("1\n2\r3\t4\x00\x7f\x9b") == "1\\n2\\r3\\t4\\x00\\x7f\\x9b"
    assert printable("evil\u202etxt.exe\u2066\u2028") == "evil\\u202etxt.exe\\u2066\\u2028"


HOSTILE = "ok\x1b[2J\x1b]0;owned\x07\nforged 9.9\tline\r\u202eevil"


def _hostile_push(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(capsys, "push", str(model), "m", "-q", "-m", HOSTILE, "--meta", f"k={HOSTILE}")
    assert code == 0
    assert run(capsys, "alias", "set", "m@prod", "1.0")[0] == 0


@pytest.mark.parametrize(
    "args",
    [
        ["versions", "m", "-l"],
        ["log", "m"],
        ["show", "m"],
        ["alias", "ls", "m"],
        ["alias", "history", "m@prod"],
    ],
)
def test_hostile_text_is_escaped_on_output(
    model: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    _hostile_push(model, capsys)
    code, out, err = run(capsys, *args)
    assert code == 0
    for bad in ("\x1b", "\x07", "\r", "\u202e"):
        assert bad not in out + err, (args, bad)
    if args[0] in ("versions", "log"):
        assert len(out.splitlines()) == {"versions": 1, "log": 2}[args[0]], out
        assert "\\x1b[2J" in out and "\\nforged 9.9\\tline" in out


def test_hostile_alias_record_fields_are_escaped(
    model: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Who and host come from the pusher's machine: they are written escaped, so the records
    # stay readable (a forged record with control characters is refused on read instead).
    # (Not an ANSI CSI sequence: click strips those when stdout is no terminal, so they
    # would vanish here but not at a real terminal.)
    monkeypatch.setenv("USER", "eve\rmallory\x07")
    monkeypatch.setenv("LOGNAME", "eve\rmallory\x07")
    run(capsys, "push", str(model), "m", "-q", "-a", "prod")
    for args in (["alias", "ls", "m"], ["alias", "history", "m@prod"], ["log", "m"]):
        out = run(capsys, *args)[1]
        assert "\r" not in out and "\x07" not in out, args
        assert "eve\\rmallory\\x07" in out, args


def test_json_output_stays_exact(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _hostile_push(model, capsys)
    shown = json.loads(run(capsys, "show", "m", "--json")[1])
    assert shown["message"] == HOSTILE and shown["metadata"] == {"k": HOSTILE}
    logged = json.loads(run(capsys, "log", "m", "--json")[1])
    assert logged[0]["message"] == HOSTILE
    assert Shelf().manifest("m").message == HOSTILE
