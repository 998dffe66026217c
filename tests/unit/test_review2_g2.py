"""Second review of issue 21, the CLI's output: other libraries' log records, deep JSON input,
``--help`` examples at 80 columns, Ctrl-C while the CLI loads, register_model's name advice.

(``serve --json`` log lines: tests/serve/test_review2_g2_serve_json.py.)
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modelshelf
from modelshelf import Runner
from modelshelf.cli.main import cli, main
from modelshelf.errors import InvalidInputError

SRC = Path(modelshelf.__file__).resolve().parents[1]
# A library's warning quoting outside text: an escape sequence and a URL with a password.
FOREIGN = "careful \x1b[31mred\x1b[0m at https://bob:hunter2@example.com/x"


class NoisyRunner(Runner):
    """Predicts the input unchanged, after a warning from a logger that is not modelshelf's."""

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        logging.getLogger("some.library").warning(FOREIGN)
        return data


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def noisy(tmp_path: Path) -> Path:
    """``r/noisy`` registered in the test's store; the path of a JSON input for it."""
    modelshelf.register_model("r/noisy", NoisyRunner, model_instance=[1, 2], progress=False)
    data = tmp_path / "x.json"
    data.write_text("[1, 2]")
    return data


# --- 1. other loggers' records --------------------------------------------------------------


def test_another_loggers_warning_is_a_json_line_under_json(
    noisy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--json", "predict", "r/noisy", "--trust", "--input", str(noisy))
    assert code == 0 and json.loads(out) == [1, 2]
    lines = [json.loads(line) for line in err.splitlines()]  # every line is JSON
    warnings = [line["warning"] for line in lines if "warning" in line]
    assert len(warnings) == 1, err
    assert warnings[0].startswith("some.library: careful \x1b[31mred")  # json escapes it
    assert "hunter2" not in err and "\x1b" not in err


def test_another_loggers_warning_is_an_escaped_warning_line_in_text(
    noisy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "predict", "r/noisy", "--trust", "--input", str(noisy))
    assert code == 0 and json.loads(out) == [1, 2]
    lines = err.splitlines()
    assert [line for line in lines if "careful" in line] == [
        line for line in lines if line.startswith("warning: some.library: careful ")
    ]
    assert any("careful" in line for line in lines), err
    assert "\x1b" not in err and "hunter2" not in err


def test_a_modelshelf_warning_prints_once(capsys: pytest.CaptureFixture[str]) -> None:
    """The root handler does not repeat what the modelshelf logger's handler printed."""
    main(["--json", "ls"])  # installs the handlers
    capsys.readouterr()
    logging.getLogger("modelshelf.test").warning("only once")
    logging.getLogger("other.lib").info("below warning: not shown")
    err = capsys.readouterr().err
    assert err.count("only once") == 1 and "below warning" not in err


# --- 3. deep JSON input ---------------------------------------------------------------------

DEEP = "[" * 5000 + "1" + "]" * 5000


@pytest.mark.parametrize("as_json", [False, True])
def test_predict_input_nested_too_deep_is_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    data = tmp_path / "deep.json"
    data.write_text(DEEP)
    flags = ["--json"] if as_json else []
    code, out, err = run(capsys, *flags, "predict", "r/absent", "--input", str(data))
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    line = json.loads(err)["error"] if as_json else err
    assert "nests too deep to decode" in line and "bug" not in line.lower()
    assert "RecursionError" not in err


def test_predict_stdin_nested_too_deep_is_one_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(DEEP))
    code, _, err = run(capsys, "predict", "r/absent", "--input", "-")
    assert code == 1
    assert err.startswith("error: the input stdin nests too deep to decode")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(depth=st.integers(1, 20000), kind=st.sampled_from(["list", "object"]))
def test_predict_input_of_any_depth_is_read_or_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], depth: int, kind: str
) -> None:
    open_, close = ("[", "]") if kind == "list" else ('{"a":', "}")
    data = tmp_path / "in.json"
    data.write_text(open_ * depth + "1" + close * depth)
    code, out, err = run(capsys, "predict", "r/absent", "--input", str(data))
    assert code == 1 and out == ""
    first = err.splitlines()[0]
    assert first.startswith("error: ") and "bug" not in err.lower()
    # Read, it gets as far as the store (no model there); else refused as too deep.
    assert "nests too deep" in first or "the input" not in first
    if depth <= 200:  # well within what json decodes
        assert "the input" not in first


def test_config_file_nested_too_deep_is_one_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    monkeypatch.setenv("MODELSHELF_CONFIG", str(config))
    code, _, err = run(capsys, "config", "stores")
    assert code == 1 and "nests too deep to decode" in err and "bug" not in err.lower()
    assert str(config) in err


# --- 4. --help examples at 80 columns -------------------------------------------------------


def _commands() -> list[tuple[list[str], click.Command]]:
    """Every command and subcommand with its path of names."""
    ctx = click.Context(cli)
    found: list[tuple[list[str], click.Command]] = []
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None
        found.append(([name], command))
        if isinstance(command, click.Group):
            for sub in command.list_commands(ctx):
                found.append(([name, sub], command.commands[sub]))
    return found


def _example_lines(command: click.Command) -> list[str]:
    epilog = command.epilog or ""
    _, _, rest = epilog.partition("Examples:")
    return [line.strip() for line in rest.splitlines() if line.strip() not in ("", "\b")]


@pytest.mark.parametrize(("path", "command"), _commands(), ids=lambda v: str(v))
def test_help_examples_stay_whole_at_80_columns(path: list[str], command: click.Command) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    shown = {line.strip() for line in result.output.splitlines()}
    for example in _example_lines(command):
        assert example in shown, f"{path}: {example!r} is re-wrapped:\n{result.output}"


def test_every_command_shows_examples() -> None:
    """The test above has something to check: the commands with examples."""
    with_examples = {" ".join(path) for path, cmd in _commands() if _example_lines(cmd)}
    assert {"alias", "export", "predict", "push", "serve", "pull", "ls"} <= with_examples


def test_push_help_says_if_changed_uploads_the_missing_blobs() -> None:
    result = CliRunner().invoke(cli, ["push", "--help"], terminal_width=200)
    text = " ".join(result.output.split())
    assert "upload nothing" not in text
    assert "upload only blobs the store lacks" in text


# --- 5. Ctrl-C while the CLI loads ----------------------------------------------------------


def _in_the_package_import(err: str) -> bool:
    """Whether Ctrl-C landed while Python imported the ``modelshelf`` package itself (its
    ``__init__``: errors, _secrets; some 20-40 ms), before any entry point can run: the one
    window left, as Python's ``-m`` and console scripts import the package first."""
    frames = [line for line in err.splitlines() if line.strip().startswith("File ")]
    ours = [f for f in frames if "modelshelf" in f]
    return bool(ours) and all(
        f.split('"')[1].endswith(("modelshelf/__init__.py", "errors.py", "_secrets.py"))
        for f in ours
    )


@pytest.mark.parametrize("as_json", [False, True])
@pytest.mark.parametrize("delay", [0.05, 0.1, 0.15, 0.25, 0.4, 0.7])
def test_ctrl_c_at_start_up_is_one_line_never_a_traceback(
    tmp_path: Path, delay: float, as_json: bool
) -> None:
    store = tmp_path / "store"
    store.mkdir()
    env = {**os.environ, "PYTHONPATH": str(SRC), "MODELSHELF_STORE": store.as_uri()}
    flags = ["--json"] if as_json else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelshelf", *flags, "ls"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=tmp_path,
    )  # fmt: skip
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1].decode(errors="replace")
    if "Traceback" in err and _in_the_package_import(err):
        return  # the known residual window: see _in_the_package_import
    assert "Traceback" not in err, err
    if proc.returncode == 0:  # it finished first
        return
    expected = (
        {"error": "interrupted", "type": "KeyboardInterrupt", "exit": 130}
        if as_json
        else "error: interrupted"
    )
    if proc.returncode == -signal.SIGINT:
        # Killed by the signal (a shell shows 130 too): before Python answers Ctrl-C nothing is
        # printed; on a loaded machine the line may already be out when the process ends so.
        assert err == "" or (json.loads(err) if as_json else err.strip()) == expected, err
        return
    assert proc.returncode == 130, err
    assert (json.loads(err) if as_json else err.strip()) == expected, err


def test_the_console_script_is_the_entry_point_that_answers_ctrl_c() -> None:
    import tomllib

    project = tomllib.loads((SRC.parent / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["modelshelf"] == "modelshelf.cli:run"


def test_the_entry_point_prints_the_one_line_when_the_imports_are_interrupted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Deterministic twin of the signal test: the CLI's import itself raises KeyboardInterrupt."""
    from modelshelf import cli as entry

    monkeypatch.setattr(sys, "argv", ["modelshelf", "ls", "--json"])

    real_import = __import__

    def interrupted_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "modelshelf.cli.main":
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr("builtins.__import__", interrupted_import)
    with pytest.raises(SystemExit) as exited:
        entry.run()
    assert exited.value.code == 130
    assert json.loads(capsys.readouterr().err) == {
        "error": "interrupted",
        "type": "KeyboardInterrupt",
        "exit": 130,
    }


# --- 6. register_model's advice on a bad name -----------------------------------------------


class R(Runner):
    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        return data


def test_bad_name_without_a_version_gets_no_version_advice() -> None:
    with pytest.raises(InvalidInputError) as raised:
        modelshelf.register_model("r/log", R, model_instance=[1, 2], store="memory://g2")
    text = str(raised.value)
    assert "'log' is reserved" in text
    assert "version=" not in text and ".;" not in text


@pytest.mark.parametrize("name", ["r/model:2", "r/model@prod"])
def test_a_version_or_alias_in_the_name_gets_the_advice(name: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        modelshelf.register_model(name, R, model_instance=[1, 2], store="memory://g2")
    text = str(raised.value)
    assert "register_model takes the name alone, and the version as version='2'" in text
    assert ".;" not in text


@pytest.mark.parametrize("as_json", [False, True])
def test_ctrl_c_in_a_command_is_the_one_line_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    """click printed an empty line before its Abort: under --json a line that is not JSON."""
    from modelshelf.shelf.shelf import Shelf

    def interrupted(self: Shelf, *args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(Shelf, "assets", interrupted)
    code, out, err = run(capsys, *(["--json"] if as_json else []), "ls")
    assert code == 130 and out == ""
    expected = (
        '{"error": "interrupted", "type": "KeyboardInterrupt", "exit": 130}\n'
        if as_json
        else "error: interrupted\n"
    )
    assert err == expected


def test_a_mirror_index_nested_too_deep_is_ignored_and_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """DEST's index is another writer's file: nested 5000 deep, it is ignored (a warning), not
    an unexpected RecursionError."""
    from modelshelf.backends import open_backend
    from modelshelf.mirror.run import mirror

    open_backend("memory://g2-mirror").put("m/a.bin", b"weights")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / ".modelshelf-mirror.json").write_text(DEEP)
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        result = mirror("memory://g2-mirror/m", dest)
    assert "ignoring the mirror index" in caplog.text
    assert result.fetched == 1 and (dest / "m/a.bin").read_bytes() == b"weights"


@pytest.mark.parametrize("as_json", [False, True])
def test_ctrl_c_wrapped_by_python_while_a_command_loads_is_the_interrupt_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    """Ctrl-C in a class's ``__set_name__`` reaches us as a RuntimeError caused by it."""
    from modelshelf.shelf.shelf import Shelf

    def wrapped(self: Shelf, *args: Any, **kwargs: Any) -> Any:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise RuntimeError("Error calling __set_name__ on '_lru_cache_wrapper'") from exc

    monkeypatch.setattr(Shelf, "assets", wrapped)
    code, _, err = run(capsys, *(["--json"] if as_json else []), "ls")
    assert code == 130
    assert err == (
        '{"error": "interrupted", "type": "KeyboardInterrupt", "exit": 130}\n'
        if as_json
        else "error: interrupted\n"
    )
