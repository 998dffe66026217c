"""Progress: silent off a terminal, bars of bytes and files when asked for."""

from __future__ import annotations

import pytest

from modelshelf.transfer.progress import Progress, make_progress


def test_off_a_terminal_progress_is_silent(capsys: pytest.CaptureFixture[str]) -> None:
    with make_progress(None) as progress:  # pytest's stderr is not a terminal
        assert type(progress) is Progress
        task = progress.task("pull x", 10, 1)
        task.advance(10)
        task.file_done()
    assert capsys.readouterr() == ("", "")


def test_bars_show_bytes_and_files_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with make_progress(True) as progress:
        hashing = progress.task("hash model", 2048, 2)
        upload = progress.task("upload m", 2048, 2)
        for task in (hashing, upload):
            task.advance(1024)
            task.file_done()
            task.advance(1024)
            task.file_done()
    out, err = capsys.readouterr()
    assert out == ""  # stdout stays clean for the path or JSON a command prints
    assert "hash model [2/2 files]" in err and "upload m [2/2 files]" in err
    assert "2.0/2.0 kB" in err or "2.0/2.0 KB" in err or "2048/2048" in err
