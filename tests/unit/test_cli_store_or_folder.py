"""A word that names a configured store means that store everywhere (issue 21, CLI item 10).

``export --to prod`` wrote a folder ``./prod`` while ``copy SPEC prod`` meant the store ``prod``.
Every argument that takes a store or a folder (``--store``, ``copy DEST``, ``export --to``, and
``mirror URL``, which takes a store) now reads a word through one function
(:func:`modelshelf.store.named.configured_store`): a configured name is that store, ``./prod`` or an
absolute path is the folder; when both exist the store is used and a warning says how to name
the folder. Arguments that take only a folder (``pull -o``, ``mirror DEST``, ``push PATH``) keep
taking a word as a folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import modelshelf
from modelshelf.cli.main import main
from modelshelf.downloaders import FileSystemDownloader, StoreDownloader, sink_from
from modelshelf.store.named import configured_store


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def prod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config file declaring the store ``prod`` (a folder outside the working folder) and a
    default store holding ``m:1.0`` (one file)."""
    where = tmp_path / "prod-store"
    config = tmp_path / "config.toml"
    config.write_text(f'[stores.prod]\nurl = "{where.as_uri()}"\n')
    monkeypatch.setenv("MODELSHELF_CONFIG", str(config))
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(256))
    modelshelf.Shelf().push(weights, "m", progress=False)
    return where


WARNING = (
    "warning: \"prod\" names the configured store 'prod' ({url}), which is used; a folder"
    " ./prod exists too: write ./prod for the folder\n"
)


def test_export_to_a_configured_name_writes_into_that_store(
    prod: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "export", "m:1.0", "--to", "prod")
    assert (code, err) == (0, ""), err
    assert out.strip() == f"{prod.as_uri()}/m/1.0"
    assert (prod / "m" / "1.0" / "weights.bin").is_file()
    assert not Path("prod").exists()  # no folder ./prod


def test_dot_slash_or_an_absolute_path_is_the_folder(
    prod: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "export", "m:1.0", "--to", "./prod")
    assert code == 0, err
    assert Path("prod/m.bin").is_file() and not prod.exists()  # the file keeps its suffix
    code, _, err = run(capsys, "export", "m:1.0", "--to", str(tmp_path / "abs"))
    assert code == 0 and (tmp_path / "abs" / "m.bin").is_file()


def test_a_word_no_store_has_is_still_a_folder_for_export(
    prod: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "export", "m:1.0", "--to", "deploy")
    assert (code, err) == (0, "")
    assert Path("deploy/m.bin").is_file()


def test_a_name_that_is_also_a_folder_uses_the_store_and_says_so(
    prod: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("prod").mkdir()
    code, _, err = run(capsys, "export", "m:1.0", "--to", "prod")
    assert code == 0
    assert err == WARNING.format(url=prod.as_uri())
    assert (prod / "m" / "1.0" / "weights.bin").is_file()
    assert list(Path("prod").iterdir()) == []  # the folder was left alone
    code, _, err = run(capsys, "copy", "m:1.0", "prod", "-q")
    assert code == 0 and err == WARNING.format(url=prod.as_uri())
    assert run(capsys, "--store", "prod", "ls")[1] == "m\n"


def test_copy_takes_the_same_words_as_export(
    prod: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "copy", "m:1.0", "prod", "-q")[:2] == (0, "m:1.0 -> " + prod.as_uri()
                                                             + ": 1 blob (256 B) copied, 0"
                                                             " already there\n")  # fmt: skip
    assert run(capsys, "copy", "m:1.0", "./here", "-q")[0] == 0  # a folder: a file:// store
    assert modelshelf.Shelf(str(Path.cwd() / "here")).assets() == ["m"]
    code, _, err = run(capsys, "copy", "m:1.0", "nowhere")
    assert code == 1 and "no store named 'nowhere'" in err and "./folder" in err


def test_mirror_takes_a_configured_name_for_its_store(
    prod: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "copy", "m:1.0", "prod", "-q")
    # (blobs/ left out: a file at a cache blob's name is refused in any DEST)
    here = str(tmp_path / "here")
    code, _, err = run(capsys, "mirror", "prod", here, "--exclude", "blobs/*", "-q")
    assert code == 0, err
    below = tmp_path / "here" / prod.relative_to("/") / "assets" / "m" / "versions"
    assert (below / "1.0.json").is_file()


def test_the_python_api_reads_a_word_the_same_way(prod: Path) -> None:
    sink = sink_from("prod")
    assert isinstance(sink, StoreDownloader) and sink.url == prod.as_uri()
    assert isinstance(sink_from("./prod"), FileSystemDownloader)
    assert isinstance(sink_from(Path("prod")), FileSystemDownloader)  # a Path is a folder
    assert isinstance(sink_from("deploy"), FileSystemDownloader)
    assert modelshelf.export("m:1.0", to="prod") == f"{prod.as_uri()}/m/1.0"


def test_configured_store_is_the_one_rule(prod: Path) -> None:
    found = configured_store("prod")
    assert found is not None and found.name == "prod" and found.url == prod.as_uri()
    for text in ("./prod", "/abs/prod", "file:///x", "pkg.mod:Class", "deploy", "", "a/b"):
        assert configured_store(text) is None, text


def test_folder_only_arguments_keep_a_word_as_a_folder(
    prod: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "pull", "m:1.0", "-o", "prod")
    assert (code, err) == (0, "")
    assert Path("prod/weights.bin").is_file() and not prod.exists()
