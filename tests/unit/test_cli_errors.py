"""No exception of any kind reaches a user as a traceback, unless MODELSHELF_DEBUG=1 asks."""

from __future__ import annotations

from datetime import timedelta

import obstore
import pytest
from obstore.store import S3Store

from modelshelf.cli.main import main
from modelshelf.errors import StoreError
from modelshelf.shelf.shelf import Shelf


def _real_panic() -> BaseException:
    """obstore's pyo3 PanicException (a BaseException, not an Exception), raised for real."""
    store = S3Store(
        "b",
        config={"endpoint": "http://", "access_key_id": "a", "secret_access_key": "b"},
        client_options={"allow_http": True},
        retry_config={"max_retries": 0, "retry_timeout": timedelta(seconds=1)},
    )
    try:
        obstore.head(store, "k")
    except BaseException as exc:  # that is the point
        return exc
    raise AssertionError("obstore no longer panics on an empty host")  # pragma: no cover


@pytest.fixture
def panic() -> BaseException:
    exc = _real_panic()
    assert not isinstance(exc, Exception)
    return exc


def _raise_in_assets(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    def boom(self: Shelf, prefix: str = "") -> list[str]:
        raise exc

    monkeypatch.setattr(Shelf, "assets", boom)


@pytest.mark.parametrize(
    "exc",
    [
        "panic",
        RuntimeError("surprise\nsecond line"),
        ValueError("bad"),
        KeyError("k"),
        AssertionError(),
        RecursionError("deep"),
    ],
)
def test_any_exception_is_one_line_and_exit_1(
    exc: BaseException | str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    error = request.getfixturevalue("panic") if exc == "panic" else exc
    assert isinstance(error, BaseException)
    capfd.readouterr()
    _raise_in_assets(monkeypatch, error)
    code = main(["ls"])
    out, err = capfd.readouterr()
    assert code == 1 and out == ""
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    assert "Traceback" not in err and "MODELSHELF_DEBUG=1" in err


def test_debug_shows_the_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MODELSHELF_DEBUG", "1")
    _raise_in_assets(monkeypatch, RuntimeError("surprise"))
    assert main(["ls"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().splitlines()[-1].startswith("error: ")


def test_keyboard_interrupt_is_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _raise_in_assets(monkeypatch, KeyboardInterrupt())
    assert main(["ls"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "error: interrupted"  # one error line, like every other failure


def test_store_text_in_errors_is_escaped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _raise_in_assets(monkeypatch, StoreError("s3://b: NoSuchBucket: \x1b[2Jgone\rhidden"))
    assert main(["ls"]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\r" not in err
    assert err == "error: s3://b: NoSuchBucket: \\x1b[2Jgone\\rhidden\n"


def test_hints_stay_on_their_own_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Our own multi-line messages (hints, the spec caret) keep their shape.
    assert main(["versions", "Bad Name"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: invalid spec") and "\n    Bad Name\n" in err
