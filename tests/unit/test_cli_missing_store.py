"""A mistyped ``file://`` store (or plain folder path): reads fail and create nothing.

Issue 21, CLI item 5: ``ls``, ``versions``, ``show``, ``log``, ``pull`` (and every other command
that only reads) on a folder that does not exist created it and reported an empty store. A read
now fails with one line, exit 1, and the folder stays absent; a write (push, copy to it, export
to it) still makes it. The Python API raises :class:`StoreNotFoundError`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import modelshelf
from modelshelf.backends.local import LocalBackend
from modelshelf.cli.main import main
from modelshelf.errors import StoreError, StoreNotFoundError


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    root.mkdir()
    (root / "weights.bin").write_bytes(os.urandom(1024))
    return root


def _message(url: str) -> str:
    return (
        f"error: no store at {url} (the folder does not exist): check the path, or push to"
        " create it"
    )


READS = [
    ["ls"],
    ["ls", "nlp"],
    ["versions", "m"],
    ["show", "m"],
    ["show", "m:1.0"],
    ["log", "m"],
    ["pull", "m"],
    ["pull", "m@prod"],
    ["verify", "m:1.0"],
    ["export", "m", "--to", "OUT"],
    ["alias", "ls", "m"],
    ["alias", "history", "m@prod"],
    ["alias", "set", "m@prod", "1.0"],
    ["rm", "m:1.0"],
    ["gc", "--dry-run"],
]


@pytest.mark.parametrize("args", READS, ids=lambda a: " ".join(a))
@pytest.mark.parametrize("spelling", ["url", "path"])
def test_a_read_of_a_missing_store_fails_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], spelling: str
) -> None:
    missing = tmp_path / "typo" / "shelf"
    given = missing.as_uri() if spelling == "url" else str(missing)
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    code, out, err = run(capsys, "--store", given, *args)
    assert code == 1, err
    assert out == ""
    assert err.strip().splitlines()[0] == _message(missing.as_uri())
    assert not (tmp_path / "typo").exists()
    assert not (tmp_path / "out").exists()


def test_a_relative_path_is_named_as_the_folder_it_means(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--store", "./nope", "ls")
    assert code == 1
    assert err.strip() == _message((Path.cwd() / "nope").as_uri())
    assert not Path("nope").exists()


def test_a_file_where_the_store_folder_should_be_is_no_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("x")
    code, _, err = run(capsys, "--store", str(tmp_path / "afile"), "ls")
    assert code == 1
    assert err.startswith(f"error: no store at {(tmp_path / 'afile').as_uri()} (not a folder)")


def test_a_push_creates_the_store_and_then_it_reads(
    tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = (tmp_path / "new" / "shelf").as_uri()
    assert run(capsys, "--store", url, "push", str(model), "m", "-q")[:2] == (0, "m:1.0\n")
    assert (tmp_path / "new" / "shelf").is_dir()
    assert run(capsys, "--store", url, "ls")[:2] == (0, "m\n")


def test_an_empty_existing_folder_is_an_empty_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    assert run(capsys, "--store", str(tmp_path / "empty"), "ls")[:2] == (0, "")


def test_copy_and_export_create_their_destination_store(
    tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "push", str(model), "m", "-q")
    airgap = tmp_path / "airgap"
    code, _, err = run(capsys, "copy", "m:1.0", airgap.as_uri(), "-q")
    assert code == 0, err
    assert run(capsys, "--store", airgap.as_uri(), "ls")[:2] == (0, "m\n")
    serving = tmp_path / "serving"
    code, _, err = run(capsys, "export", "m:1.0", "--to", serving.as_uri())
    assert code == 0, err
    assert (serving / "m" / "1.0" / "weights.bin").read_bytes() == (
        model / "weights.bin"
    ).read_bytes()


def test_copy_from_a_missing_store_fails_and_creates_neither(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = tmp_path / "src", tmp_path / "dst"
    code, _, err = run(capsys, "--store", str(source), "copy", "m:1.0", str(target))
    assert code == 1 and err.startswith(_message(source.as_uri()))
    assert not source.exists() and not target.exists()


def test_the_python_api_raises_store_not_found(tmp_path: Path, model: Path) -> None:
    missing = tmp_path / "nope"
    shelf = modelshelf.Shelf(missing.as_uri())
    for read in (
        lambda: shelf.assets(),
        lambda: shelf.versions("m"),
        lambda: shelf.resolve("m"),
        lambda: shelf.pull("m:1.0"),
        lambda: shelf.log("m"),
    ):
        with pytest.raises(StoreNotFoundError) as caught:
            read()
        assert str(caught.value) == _message(missing.as_uri()).removeprefix("error: ")
        assert isinstance(caught.value, StoreError) and caught.value.store == missing.as_uri()
    assert not missing.exists()
    assert shelf.push(model, "m").version == "1.0"
    assert shelf.assets() == ["m"]


def test_the_backend_makes_its_folder_only_when_asked_or_written(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "b")
    assert not (tmp_path / "b").exists()
    with pytest.raises(StoreNotFoundError):
        list(backend.list(""))
    with pytest.raises(StoreNotFoundError):
        backend.head("k")
    with pytest.raises(StoreNotFoundError):
        b"".join(backend.get("k", 10))
    backend.delete("k")  # nothing to delete: no error, and nothing made
    assert not (tmp_path / "b").exists()
    backend.put("a/k", b"x")  # a write makes the folder
    assert backend.read("a/k") == b"x"
    other = LocalBackend(tmp_path / "c")
    other.create_store()
    assert list(other.list("")) == []


def test_a_named_store_at_a_missing_folder_names_its_declaration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    missing = tmp_path / "shared"
    config.write_text(f'[stores.team]\nurl = "{missing.as_uri()}"\n')
    monkeypatch.setenv("MODELSHELF_CONFIG", str(config))
    code, _, err = run(capsys, "--store", "team", "versions", "m")
    assert code == 1
    assert err.strip().splitlines() == [
        _message(missing.as_uri()),
        f"  hint: the store 'team' is declared in {config} (modelshelf config stores)",
    ]
    assert not missing.exists()


def test_a_memory_store_is_empty_not_missing(capsys: pytest.CaptureFixture[str]) -> None:
    # A memory:// store lives as long as its process: each command line starts it empty.
    assert run(capsys, "--store", "memory://scratch", "ls")[:2] == (0, "")


def test_the_built_in_store_is_made_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nobody typed its path: a fresh user's `modelshelf ls` lists an empty store.
    monkeypatch.delenv("MODELSHELF_STORE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert run(capsys, "ls")[:2] == (0, "")
    assert (tmp_path / "data" / "modelshelf" / "store").is_dir()
