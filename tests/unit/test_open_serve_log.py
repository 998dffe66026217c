"""`modelshelf serve`'s text log escapes control characters as ``--json`` does (issue 21, open
leftover 3): a message or an exception's text (a library's, quoting a store's) cannot drive the
terminal, forge a record on a line of its own, or show a secret. Tracebacks keep their lines."""

from __future__ import annotations

import logging
import logging.config
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.open_log_runners import FORGED, LogsHostile
from tests.servers.serve_process import ServeProcess

from modelshelf import Shelf, register_model
from modelshelf.serve._log_config import log_config
from modelshelf.trust import find_hidden


def text_formatter() -> logging.Formatter:
    """The formatter ``serve`` configures for text lines (not ``--json``), built from its config
    as dictConfig builds it, without configuring this process's logging."""
    config = log_config(access_log=False, as_json=False)
    formatter: logging.Formatter = logging.config.DictConfigurator(config).configure_formatter(
        config["formatters"]["lines"]
    )
    return formatter


def record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    info = sys.exc_info() if exc else None
    return logging.LogRecord("somelib", logging.WARNING, __file__, 1, message, args, info)


def test_a_message_is_one_escaped_line() -> None:
    line = text_formatter().format(record("lib says \x1b[2J %s\u2028%s", "\x07", FORGED))
    assert "\n" not in line and "\x1b" not in line and "\x07" not in line
    assert "\u2028" not in line and find_hidden(line) is None
    assert line.endswith(f"WARNING somelib: lib says \\x1b[2J \\x07\\u2028{FORGED}")


def test_an_exception_keeps_its_traceback_lines_and_escapes_its_text() -> None:
    formatter = text_formatter()
    try:
        raise ValueError(f"bad \x1b[31m\u202e\n{FORGED}")
    except ValueError:
        line = formatter.format(record("somelib failed \x9b6n", exc=True))
    lines = line.splitlines()
    assert find_hidden(line.replace("\n", "")) is None
    assert lines[0].endswith("somelib failed \\x9b6n")
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == f"ValueError: bad \\x1b[31m\\u202e\\n{FORGED}"
    assert not any(text.startswith(FORGED) for text in lines)


def test_secrets_are_cut_as_in_json_lines() -> None:
    line = text_formatter().format(record("reading s3://AKIA:wJalr/secret@host/bucket"))
    assert "wJalr" not in line and "secret@" not in line and "host/bucket" in line


@given(st.text(max_size=60), st.text(max_size=60))
def test_any_message_is_one_line_with_nothing_hidden(message: str, arg: str) -> None:
    line = FORMATTER.format(record(message.replace("%", "%%") + " %s", arg))
    assert "\n" not in line and "\r" not in line and find_hidden(line) is None


FORMATTER = text_formatter()


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = (tmp_path / "store").as_uri()
    register_model(
        "demo/hostile-log", LogsHostile, {"w": 1}, store=Shelf(url, cache_dir=tmp_path / "c")
    )
    return url


@pytest.mark.integration  # a real `modelshelf serve` process
def test_serve_text_log_of_a_hostile_library(tmp_path: Path, store: str) -> None:
    with ServeProcess("demo/hostile-log", store=store, workdir=tmp_path / "srv") as server:
        pass
    log = server.log()
    lines = log.splitlines()
    assert "somelib says \\x1b[2J\\x1b]0;owned\\x07 and\\n" + FORGED in log, log
    assert "somelib failed \\x9b6n reading s3://AKIA@host/b" in log, log  # the secret cut
    assert "ValueError: bad header \\x1b[31mred\\u202e\\n" + FORGED in log, log
    assert "deprecated \\x1b[5mblink\\n" + FORGED in log, log
    assert "Traceback (most recent call last):" in lines, log  # still one line per frame
    assert "\x1b" not in log and "\x07" not in log and "\x9b" not in log and "\u202e" not in log
    assert not any(line.startswith(FORGED) for line in lines), log
    assert "wJalr" not in log, log


def test_a_traceback_another_handler_cached_unescaped_is_escaped_again() -> None:
    try:
        raise ValueError(f"cached \x1b[2J\n{FORGED}")
    except ValueError:
        hostile = record("lib failed", exc=True)
    logging.Formatter().format(hostile)  # a library's own handler ran first: exc_text is set
    assert hostile.exc_text is not None and "\x1b" in hostile.exc_text
    line = FORMATTER.format(hostile)
    assert "\x1b" not in line and not any(text.startswith(FORGED) for text in line.splitlines())
    hostile.exc_info = None  # a record that holds only the text (from another process)
    line = FORMATTER.format(hostile)
    assert "\x1b" not in line and "cached \\x1b[2J" in line
