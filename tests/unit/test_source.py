"""What a push reads from disk: links followed like ``cp -rL``, nothing dropped silently."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import unicodedata
from pathlib import Path

import pytest

from modelshelf import Shelf
from modelshelf.errors import SourcePathError
from modelshelf.shelf.source import collect_files, public_url

NFC = unicodedata.normalize("NFC", "café.txt")
NFD = unicodedata.normalize("NFD", "café.txt")


def write(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def paths(source: Path) -> list[str]:
    return [f.path for f in collect_files(source)[1]]


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# -- links -----------------------------------------------------------------------------------


def hf_snapshot(root: Path) -> Path:
    """A Hugging Face cache entry: snapshot files are relative links into ../../blobs."""
    blobs = write(root / "blobs", {"aaa": b'{"model": 1}', "bbb": b"weights", "ccc": b"vocab"})
    snap = root / "snapshots" / "0123abcd"
    (snap / "tokenizer").mkdir(parents=True)
    (snap / "config.json").symlink_to(Path("../../blobs/aaa"))
    (snap / "model.safetensors").symlink_to(Path("../../blobs/bbb"))
    (snap / "tokenizer" / "vocab.txt").symlink_to(Path("../../../blobs/ccc"))
    assert (blobs / "aaa").exists()
    return snap


def test_hugging_face_snapshot_is_pushed_with_its_linked_content(tmp_path: Path) -> None:
    snap = hf_snapshot(tmp_path / "models--org--name")
    shelf = Shelf("memory://src")
    shelf.push(snap, "hf/model")
    assert tree(shelf.pull("hf/model:1.0")) == {
        "config.json": b'{"model": 1}',
        "model.safetensors": b"weights",
        "tokenizer/vocab.txt": b"vocab",
    }


def test_symlinked_folder_is_followed(tmp_path: Path) -> None:
    shared = write(tmp_path / "shared", {"vocab.txt": b"v", "sub/merges.txt": b"m"})
    model = write(tmp_path / "model", {"w.bin": b"w"})
    (model / "tokenizer").symlink_to(shared, target_is_directory=True)
    assert paths(model) == ["tokenizer/sub/merges.txt", "tokenizer/vocab.txt", "w.bin"]


def test_link_cycle_is_refused_naming_the_link(tmp_path: Path) -> None:
    model = write(tmp_path / "model", {"w.bin": b"w", "sub/x": b"x"})
    (model / "sub" / "back").symlink_to(model, target_is_directory=True)
    with pytest.raises(SourcePathError, match=r"sub/back.*cycle") as info:
        collect_files(model)
    assert info.value.path == model / "sub" / "back"


def test_self_referencing_link_is_refused_naming_it(tmp_path: Path) -> None:
    model = write(tmp_path / "model", {"w.bin": b"w"})
    (model / "loop").symlink_to(model / "loop")
    with pytest.raises(SourcePathError, match=r"loop.*loop"):
        collect_files(model)


def test_dangling_link_is_an_error_naming_it_and_its_target(tmp_path: Path) -> None:
    model = write(tmp_path / "model", {"w.bin": b"w"})
    (model / "gone.bin").symlink_to(tmp_path / "nowhere")
    with pytest.raises(SourcePathError, match=r"gone\.bin.*nowhere.*does not exist"):
        collect_files(model)


def test_fifo_is_an_error_naming_it(tmp_path: Path) -> None:
    model = write(tmp_path / "model", {"w.bin": b"w"})
    os.mkfifo(model / "pipe")
    with pytest.raises(SourcePathError, match=r"pipe.*FIFO"):
        collect_files(model)


def test_socket_is_an_error_naming_it(tmp_path: Path) -> None:
    model = write(tmp_path / "m", {"w.bin": b"w"})
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(model / "sock"))
        with pytest.raises(SourcePathError, match=r"sock.*socket"):
            collect_files(model)
    finally:
        sock.close()


def test_device_is_an_error_naming_it(tmp_path: Path) -> None:
    model = write(tmp_path / "model", {"w.bin": b"w"})
    (model / "null").symlink_to("/dev/null")
    with pytest.raises(SourcePathError, match=r"null.*device"):
        collect_files(model)


def test_vcs_folders_are_still_skipped_when_linked(tmp_path: Path) -> None:
    repo = write(tmp_path / "repo", {".git/HEAD": b"ref", "w.bin": b"w"})
    model = write(tmp_path / "model", {"a": b"a"})
    (model / ".git").symlink_to(repo / ".git", target_is_directory=True)
    assert paths(model) == ["a"]


# -- empty folders ---------------------------------------------------------------------------


def test_empty_folders_are_named_in_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = write(tmp_path / "model", {"w.bin": b"w", "full/x": b"x"})
    (model / "logs" / "deeper").mkdir(parents=True)
    (model / "cache").mkdir()
    (model / "logs2" / "x").mkdir(parents=True)  # a sibling whose name starts like another
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        assert paths(model) == ["full/x", "w.bin"]
    warned = [r.getMessage() for r in caplog.records if r.name == "modelshelf"]
    assert len(warned) == 1
    assert "cache/, logs/, logs2/" in warned[0] and "empty" in warned[0]
    assert (
        "deeper" not in warned[0] and "x/" not in warned[0]
    )  # the topmost empty folder stands for what it holds


def test_no_warning_without_empty_folders(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = write(tmp_path / "model", {"w.bin": b"w", "sub/x": b"x"})
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        collect_files(model)
    assert caplog.records == []


# -- names -----------------------------------------------------------------------------------


def test_names_are_normalised_to_nfc(tmp_path: Path) -> None:
    model = write(tmp_path / "model", {NFD: b"decomposed", f"dir-{NFD}/x": b"x"})
    assert paths(model) == [NFC, f"dir-{NFC}/x"]
    shelf = Shelf("memory://nfc")
    shelf.push(model, "m")
    assert shelf.pull(f"m:1.0/{NFC}").read_bytes() == b"decomposed"


def test_names_equal_under_nfc_are_refused_naming_both(tmp_path: Path) -> None:
    model = write(tmp_path / "model", {NFC: b"composed", NFD: b"decomposed"})
    if len(list(model.iterdir())) != 2:
        pytest.skip("this filesystem normalises names itself")
    with pytest.raises(SourcePathError, match="NFC") as info:
        collect_files(model)
    assert repr(NFC) in str(info.value) and repr(NFD) in str(info.value)


def test_names_differing_only_in_case_are_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = write(tmp_path / "model", {"Model.bin": b"A", "model.bin": b"a"})
    if len(list(model.iterdir())) != 2:
        pytest.skip("this filesystem ignores case")
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        assert paths(model) == ["Model.bin", "model.bin"]
    text = caplog.text
    assert "Model.bin" in text and "model.bin" in text and "case" in text


def test_sub_path_typed_in_nfd_finds_the_nfc_name(tmp_path: Path) -> None:
    model = write(tmp_path / "model", {NFC: b"composed"})
    shelf = Shelf("memory://nfd-typed")
    shelf.push(model, "m")
    assert shelf.pull(f"m:1.0/{NFD}").read_bytes() == b"composed"


# -- git remote ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("https://user:s3cr3t@example.com/org/repo.git", "https://example.com/org/repo.git"),
        ("https://ghp_TOKEN@github.com/org/repo", "https://github.com/org/repo"),
        ("http://u:p@127.0.0.1:8080/r.git", "http://127.0.0.1:8080/r.git"),
        ("https://example.com/r.git?private_token=s3cr3t", "https://example.com/r.git"),
        ("ssh://git:pw@example.com:2222/org/repo.git", "ssh://git@example.com:2222/org/repo.git"),
        ("ssh://git@example.com/org/repo.git", "ssh://git@example.com/org/repo.git"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("https://example.com/org/repo.git", "https://example.com/org/repo.git"),
        ("/srv/git/repo.git", "/srv/git/repo.git"),
        ("file:///srv/git/repo.git", "file:///srv/git/repo.git"),
    ],
)
def test_public_url_strips_credentials(url: str, public: str) -> None:
    assert public_url(url) == public


def test_git_remote_is_recorded_without_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    repo = write(tmp_path / "repo", {"w.bin": b"w"})
    for args in (
        ["init", "-q"],
        ["remote", "add", "origin", "https://user:s3cr3t@example.com/team/models.git"],
        ["add", "."],
        ["-c", "user.email=t@example.com", "-c", "user.name=T", "-c", "commit.gpgsign=false",
         "commit", "-q", "-m", "initial"],
    ):  # fmt: skip
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)
    manifest = Shelf("memory://git").push(repo, "m")
    assert manifest.source["git_remote"] == "https://example.com/team/models.git"
    assert "s3cr3t" not in manifest.to_json().decode()


# -- names a version could not be read back with ---------------------------------------------


@pytest.mark.parametrize(
    ("files", "named"),
    [
        ({"a\\b.txt": b"x"}, "a\\\\b.txt"),  # a legal Linux name; a path separator elsewhere
        ({NFD: b"file", f"{NFC}/inner": b"folder"}, NFC),  # one name after NFC: file and folder
    ],
    ids=["backslash", "nfc-file-and-folder"],
)
def test_names_a_pull_could_not_read_back_are_refused_before_any_upload(
    tmp_path: Path, files: dict[str, bytes], named: str
) -> None:
    model = write(tmp_path / "model", files)
    shelf = Shelf("memory://unreadable-names")
    with pytest.raises(SourcePathError, match="rename") as info:
        shelf.push(model, "m")
    assert named in str(info.value)
    assert list(shelf.store.blobs()) == []  # refused before hashing and uploading
    assert shelf.store.versions("m") == []


def test_a_manifest_that_could_not_be_read_back_cannot_be_built() -> None:
    from modelshelf.errors import InvalidInputError
    from modelshelf.manifest import FileEntry, Manifest

    sha = "0" * 64
    for bad in (
        (FileEntry("a\\b", 1, sha),),
        (FileEntry("../x", 1, sha),),
        (FileEntry("d", 1, sha), FileEntry("d/x", 1, sha)),
    ):
        with pytest.raises(InvalidInputError, match=r"m:1\.0"):
            Manifest("m", "1.0", "directory", bad, created="now", author="a@b")
