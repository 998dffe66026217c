"""Issue 21, CLI 9: settings that name nothing warn instead of being silently ignored.

``MODELSHELF_CONFIG`` pointing at a missing file read as an empty config (every named store
"unknown", the default store the built-in one), and a ``MODELSHELF_ASSET_OVERRIDES`` entry
naming no configured asset overrode nothing: both without a word. Each now warns once per
process through the ``modelshelf`` logger (the CLI prints it as one ``warning:`` line), naming
the variable, its value and the fix. The values are the user's, so they are quoted on one line.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modelshelf
from modelshelf.cli.main import main
from modelshelf.config import load_config
from modelshelf.store.named import resolve_store


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# -- MODELSHELF_CONFIG --------------------------------------------------------------------------
@pytest.fixture
def missing_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "typo" / "confg.toml"
    monkeypatch.setenv("MODELSHELF_CONFIG", str(path))
    monkeypatch.delenv("MODELSHELF_STORE")  # so that the config file is asked
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the built-in store
    return path


def test_a_missing_config_file_warns_once_naming_the_variable_the_value_and_the_fix(
    missing_config: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        resolve_store()
        resolve_store()
        assert load_config().exists is False
    [warning] = warnings_in(caplog)  # once, however often the file is asked for
    assert warning.startswith(f"MODELSHELF_CONFIG={str(missing_config)!r} ")
    assert "does not exist" in warning and "create it" in warning
    assert "fix or unset MODELSHELF_CONFIG" in warning


def test_the_cli_prints_one_warning_line_for_a_missing_config_file(
    missing_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "config", "stores")
    assert code == 0 and "does not exist" in out
    [line] = err.splitlines()
    assert line.startswith(f"warning: MODELSHELF_CONFIG={str(missing_config)!r} names a file")


def test_modelshelf_config_says_it_in_its_output_and_does_not_warn_again(
    missing_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "config")
    assert code == 0 and err == ""
    assert f"config file: {missing_config} (does not exist)" in out
    assert "chosen by MODELSHELF_CONFIG" in out


def test_a_store_name_with_a_missing_config_file_warns_then_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nope.toml"
    monkeypatch.setenv("MODELSHELF_CONFIG", str(path))
    code, _, err = run(capsys, "--store", "prod", "versions", "m")
    warning, error = err.splitlines()
    assert code == 1
    assert warning.startswith(f"warning: MODELSHELF_CONFIG={str(path)!r}")
    assert error.startswith("error: no store named 'prod'")


def test_a_config_path_with_a_tilde_names_both_the_value_and_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELSHELF_CONFIG", "~/modelshelf.tmol")
    monkeypatch.delenv("MODELSHELF_STORE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        resolve_store()
    [warning] = warnings_in(caplog)
    assert "MODELSHELF_CONFIG='~/modelshelf.tmol'" in warning
    assert repr(str(tmp_path / "home" / "modelshelf.tmol")) in warning


def test_no_warning_for_a_config_file_that_exists_or_for_the_default_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[stores.prod]\nurl = "memory://prod"\n')
    monkeypatch.setenv("MODELSHELF_CONFIG", str(path))
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        assert resolve_store("prod").url == "memory://prod"
        # Unset: the user config dir's file, absent on most machines, is no mistake.
        monkeypatch.delenv("MODELSHELF_CONFIG")
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "empty-config-home"))
        assert load_config().exists is False
    assert warnings_in(caplog) == []


_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1
).filter(lambda t: t.strip() and not t.strip().startswith("~"))


@settings(max_examples=50, deadline=None)
@given(value=_TEXT)
def test_any_config_value_warns_on_one_line_without_control_characters(value: str) -> None:
    # Outside text (the environment) in a message: quoted, one line, nothing raw for a terminal.
    code = textwrap.dedent(
        """
        import os, sys
        os.environ["MODELSHELF_CONFIG"] = sys.argv[1]
        from modelshelf.config import load_config
        load_config()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "/nonexistent-modelshelf/" + value],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=60,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("MODELSHELF_CONFIG=")
    assert all(ch == " " or ch.isprintable() for ch in lines[0])


# -- MODELSHELF_ASSET_OVERRIDES -----------------------------------------------------------------
class Vocab(modelshelf.Model):
    CONFIGURATIONS: ClassVar[Any] = {"vocab": {"asset": "nlp/vocab:1"}, "plain": {}}

    def _predict(self, item: Any) -> Any:
        return item


class Other(modelshelf.Model):
    CONFIGURATIONS: ClassVar[Any] = {"other": {"asset": "other/x@prod/sub/file.txt"}}

    def _predict(self, item: Any) -> Any:
        return item


def test_an_override_naming_no_configured_asset_warns_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MODELSHELF_ASSET_OVERRIDES", f"nlp/vocb={tmp_path}")
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        modelshelf.ModelLibrary([Vocab, Other], lazy_loading=True)
        modelshelf.ModelLibrary([Vocab, Other], lazy_loading=True)
    [warning] = warnings_in(caplog)
    assert warning.startswith(f"MODELSHELF_ASSET_OVERRIDES entry {f'nlp/vocb={tmp_path}'!r}")
    assert "their assets: nlp/vocab, other/x" in warning
    assert "fix the asset name or remove the entry" in warning


def test_overrides_of_declared_assets_do_not_warn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # other/x is declared (by a model this library does not require): no typo, no warning.
    monkeypatch.setenv("MODELSHELF_ASSET_OVERRIDES", f"nlp/vocab={tmp_path},other/x={tmp_path}")
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        library = modelshelf.ModelLibrary(
            [Vocab, Other], lazy_loading=True, required_models=["vocab"]
        )
    assert list(library) == ["vocab"]
    assert warnings_in(caplog) == []


def test_the_override_warning_reaches_a_program_as_one_stderr_line(tmp_path: Path) -> None:
    # A program that configured no logging still sees it (logging's last-resort handler).
    code = textwrap.dedent(
        """
        import modelshelf
        class M(modelshelf.Model):
            CONFIGURATIONS = {"m": {"asset": "nlp/vocab"}}
            def _predict(self, item):
                return item
        modelshelf.ModelLibrary([M], lazy_loading=True)
        modelshelf.ModelLibrary([M], lazy_loading=True)
        """
    )
    env = {"PATH": "/usr/bin:/bin", "MODELSHELF_ASSET_OVERRIDES": "nlp/voc=/x\x1b[2J"}
    env["MODELSHELF_CACHE_DIR"] = str(tmp_path / "cache")
    env["MODELSHELF_STORE"] = (tmp_path / "store").as_uri()
    env["MODELSHELF_CONFIG"] = str(tmp_path / "absent.toml")  # never read: the store is set
    env["PYTHONPATH"] = str(Path(modelshelf.__file__).resolve().parents[1])
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("MODELSHELF_ASSET_OVERRIDES entry 'nlp/voc=/x\\x1b[2J' names no asset")
    assert "\x1b" not in line
