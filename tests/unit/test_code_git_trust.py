"""git never runs a command a pulled or mirrored folder chose, and no version carries ``.git``.

``push`` asks git where its folder came from (commit, dirty, remote). The folder may have come
from a bucket (``mirror``) or a store (``pull -o``), and git obeys the folder's ``.git/config``:
``core.fsmonitor``, clean filters (``filter.<x>.clean`` with ``.gitattributes``), long-running
filter processes, hooks (``post-index-change``, or any via ``core.hooksPath``) and a bare
repository's own ``config`` are all commands. Each test plants them with a marker file that the
command would create, runs push, and checks that no marker exists while the commit is still
recorded. ``.git`` path segments (any case, and the names Windows and macOS read as ``.git``)
are refused in manifests, skipped by push and refused by mirror unless asked for.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from modelshelf import PushSource, Shelf, trust
from modelshelf.errors import InvalidManifestError, UntrustedStoreDataError
from modelshelf.manifest import Manifest
from modelshelf.mirror.run import mirror
from modelshelf.shelf.source import collect_files, git_source

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

MARKERS = ("fsmonitor", "clean", "process", "hook", "hookspath", "bare")


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def committed(repo: Path) -> Path:
    repo.mkdir(parents=True)
    (repo / "w.bin").write_bytes(b"weights")
    (repo / ".gitattributes").write_text("* filter=evil\n*.bin filter=evilproc\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "-c", "user.email=t@example.com", "-c", "user.name=T", "-c",
        "commit.gpgsign=false", "commit", "-q", "-m", "initial")  # fmt: skip
    return repo


def plant(repo: Path, marks: Path) -> None:
    """Every command a hostile .git/config can make ``git status`` run, each touching a marker."""
    marks.mkdir(exist_ok=True)

    def touch(name: str) -> str:
        return f"touch {marks / name}"

    config = repo / ".git" / "config"
    hooks = repo / "planted-hooks"
    hooks.mkdir()
    for folder in (repo / ".git" / "hooks", hooks):
        name = "hook" if folder.name == "hooks" else "hookspath"
        for hook in ("post-index-change", "post-checkout", "pre-commit", "reference-transaction"):
            (folder / hook).write_text(f"#!/bin/sh\n{touch(name)}\n")
            (folder / hook).chmod(0o755)
    with config.open("a") as out:
        out.write(
            f'[core]\n\tfsmonitor = "{touch("fsmonitor")}; false"\n'
            f'[filter "evil"]\n\tclean = "{touch("clean")}; cat"\n\trequired = true\n'
            f'[filter "evilproc"]\n\tprocess = "{touch("process")}"\n'
        )
    # Stat data that no longer matches the index: git must compare contents (through filters).
    os.utime(repo / "w.bin", (2_000_000_000, 2_000_000_000))
    os.utime(repo / ".gitattributes", (2_000_000_000, 2_000_000_000))


def test_git_source_runs_no_command_a_planted_git_config_names(tmp_path: Path) -> None:
    repo = committed(tmp_path / "repo")
    plant(repo, tmp_path / "marks")
    info = git_source(repo)
    assert sorted(p.name for p in (tmp_path / "marks").iterdir()) == []
    assert len(info["git_commit"]) == 40


def test_a_hookspath_in_the_folder_runs_nothing(tmp_path: Path) -> None:
    repo = committed(tmp_path / "repo")
    plant(repo, tmp_path / "marks")
    git(repo, "config", "core.hooksPath", str(repo / "planted-hooks"))
    Shelf("memory://git-hooks").push(repo, "m")
    assert list((tmp_path / "marks").iterdir()) == []


def test_push_of_a_planted_repository_runs_nothing_and_records_the_commit(
    tmp_path: Path,
) -> None:
    repo = committed(tmp_path / "repo")
    plant(repo, tmp_path / "marks")
    manifest = Shelf("memory://git-push").push(repo, "m")
    assert list((tmp_path / "marks").iterdir()) == []
    assert len(manifest.source["git_commit"]) == 40
    assert ".git/config" not in {f.path for f in manifest.files}


def test_dirty_is_still_told_without_filters(tmp_path: Path) -> None:
    repo = committed(tmp_path / "plain")
    (repo / ".gitattributes").write_text("")
    git(repo, "-c", "user.email=t@example.com", "-c", "user.name=T", "commit", "-qam", "x")
    assert git_source(repo)["git_dirty"] is False
    (repo / "w.bin").write_bytes(b"changed")
    assert git_source(repo)["git_dirty"] is True


def test_a_folder_that_is_a_bare_repository_runs_nothing(tmp_path: Path) -> None:
    """A store's files named HEAD, config, objects/ and refs/ make a git directory that git
    finds from inside the folder (no ``.git`` segment at all); its ``config`` is theirs."""
    repo = committed(tmp_path / "repo")
    folder = tmp_path / "pulled"
    shutil.copytree(repo / ".git", folder)
    shutil.copy(repo / "w.bin", folder / "w.bin")
    marks = tmp_path / "marks"
    marks.mkdir()
    with (folder / "config").open("a") as out:
        out.write(
            f"[core]\n\tbare = false\n\tworktree = {folder}\n"
            f'\tfsmonitor = "touch {marks / "bare"}; false"\n'
        )
    os.utime(folder / "w.bin", (2_000_000_000, 2_000_000_000))
    git_source(folder)
    Shelf("memory://git-bare").push(folder, "m")
    assert list(marks.iterdir()) == []


@pytest.mark.parametrize("name", [".git", ".GIT", ".Git"])
def test_push_skips_git_folders_and_files_in_any_case(tmp_path: Path, name: str) -> None:
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "w.bin").write_bytes(b"w")
    (model / name).mkdir()
    (model / name / "config").write_text("[core]\n")
    (model / "sub" / ".git").write_text("gitdir: ../../elsewhere\n")  # a worktree's pointer
    assert [f.path for f in collect_files(model)[1]] == ["w.bin"]


GIT_PATHS = [
    ".git/config",
    ".GIT/config",
    "a/.Git/hooks/post-checkout",
    ".git",
    "sub/.git",
    "git~1/config",
    "GIT~1/config",
    ".git./config",
    ".git /config",
    ".g\u200cit/config",
    "\ufeff.git/config",
]


@pytest.mark.parametrize("path", GIT_PATHS)
def test_a_git_segment_is_refused_in_every_store_path(path: str) -> None:
    with pytest.raises(ValueError, match=r"\.git"):
        trust.check_relative_path(path)


@pytest.mark.parametrize(
    "path", [".gitignore", ".github/workflows/x.yml", "a.git/b", "git/x", "x.git"]
)
def test_names_that_only_look_like_git_pass(path: str) -> None:
    assert trust.check_relative_path(path) == path


def test_a_manifest_naming_git_files_is_refused_and_pull_writes_nothing(tmp_path: Path) -> None:
    url = (tmp_path / "store").as_uri()
    shelf = Shelf(url, cache_dir=tmp_path / "w")
    manifest = shelf.push(PushSource.from_files({_file(tmp_path): "w.bin"}), "m")
    raw = manifest.to_json().decode().replace('"w.bin"', '".git/config"').replace('"1.0"', '"1.1"')
    forged = tmp_path / "store" / "assets" / "m" / "versions" / "1.1.json"
    forged.write_text(raw)
    with pytest.raises(InvalidManifestError, match=r"\.git"):
        Manifest.from_json(raw.encode())
    out = tmp_path / "out"
    with pytest.raises(UntrustedStoreDataError, match=r"\.git"):
        Shelf(url, cache_dir=tmp_path / "r").pull("m:1.1", output=out)
    assert not (out / ".git").exists()


def test_push_of_git_paths_from_a_file_list_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"\.git"):
        Shelf("memory://git-list").push(
            PushSource.from_files({_file(tmp_path): ".git/config"}), "m"
        )


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "w.bin"
    path.write_bytes(b"weights")
    return path


def test_mirror_refuses_git_keys_unless_asked(tmp_path: Path) -> None:
    bucket = tmp_path / "bucket"
    (bucket / "p" / ".git").mkdir(parents=True)
    (bucket / "p" / ".git" / "config").write_text("[core]\n\tfsmonitor = x\n")
    (bucket / "p" / "w.bin").write_bytes(b"w")
    dest = tmp_path / "dest"
    with pytest.raises(UntrustedStoreDataError, match=r"\.git.*include_git=True"):
        mirror(f"{bucket.as_uri()}/p", dest)
    assert not dest.exists()
    mirror(f"{bucket.as_uri()}/p", dest, include_git=True)
    assert (dest / bucket.relative_to("/") / "p" / ".git" / "config").is_file()
