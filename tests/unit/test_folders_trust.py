"""A user's folder under one policy (issue 20 items 3, 4, 13, 14): ``pull -o``, ``export`` and
``mirror`` keep the same content, create what is absent, refuse anything else before any write
unless overwrite, never write through a symbolic link, work from a relative root, take names
of any length in bytes, and expand only a ``~`` the user typed first."""

from __future__ import annotations

import hashlib
import os
import pwd
import stat
from pathlib import Path

import pytest

from modelshelf import Shelf, export
from modelshelf._paths import user_path
from modelshelf.cli.main import main
from modelshelf.downloaders import FileSystemDownloader
from modelshelf.errors import ExportError, InvalidInputError, UserFolderRefusedError
from modelshelf.mirror.run import mirror
from modelshelf.transfer.user_folder import (
    MAX_NAME_BYTES,
    Slot,
    UserFolder,
    same_content,
    temp_name,
)

TREE = {"w.bin": b"w" * 3000, "src": b"a file named src", "tok/vocab.txt": b"a\nb\n"}
LONG = "日" * 83 + "a"  # 250 bytes in UTF-8: a valid name, but 84 characters
assert len(LONG.encode()) == 250


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def snapshot(root: Path) -> dict[str, object]:
    """Everything under ``root`` as lstat sees it: kinds, bytes, link targets (not followed)."""
    found: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                found[rel] = ("link", str(path.readlink()))
            elif stat.S_ISDIR(info.st_mode):
                found[rel] = "dir"
            else:
                found[rel] = ("file", path.read_bytes(), info.st_ino)
    return found


@pytest.fixture
def shelf(tmp_path: Path) -> Shelf:
    """The default store of the isolated environment (the CLI finds it), holding ``m``."""
    s = Shelf()
    s.push(make_tree(tmp_path / "version", TREE), "m", progress=False)
    return s


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# -- item 3: nothing replaced or deleted without overwrite ---------------------------------------
def test_a_file_named_like_a_users_folder_does_not_delete_it(shelf: Shelf, tmp_path: Path) -> None:
    out = make_tree(tmp_path / "repo", {"src/main.py": b"print('mine')"})
    before = snapshot(out)
    with pytest.raises(UserFolderRefusedError, match=r"repo/src is a folder where a file goes"):
        shelf.pull("m", output=out)
    assert snapshot(out) == before  # planned first: not even w.bin was written
    shelf.pull("m", output=out, overwrite=True)
    assert (out / "src").read_bytes() == TREE["src"]


def test_a_pulled_file_never_replaces_a_users_file(shelf: Shelf, tmp_path: Path) -> None:
    # The class of `.git/config` written into a repository with -o "$PWD": any file of the
    # user's that a version also holds.
    out = make_tree(tmp_path / "repo", {"tok/vocab.txt": b"the user's own settings"})
    before = snapshot(out)
    with pytest.raises(UserFolderRefusedError, match=r"vocab\.txt exists and does not hold m:1\.0"):
        shelf.pull("m", output=out)
    assert snapshot(out) == before


def test_a_file_where_a_folder_goes_is_refused(shelf: Shelf, tmp_path: Path) -> None:
    out = make_tree(tmp_path / "o", {"tok": b"a file where the version has a folder"})
    with pytest.raises(UserFolderRefusedError, match=r"o/tok is a file where a folder goes"):
        shelf.pull("m", output=out)
    assert snapshot(out) == {"tok": ("file", b"a file where the version has a folder", ANY)}
    shelf.pull("m", output=out, overwrite=True)
    assert (out / "tok/vocab.txt").read_bytes() == TREE["tok/vocab.txt"]


class _Any:
    def __eq__(self, other: object) -> bool:
        return True


ANY = _Any()


def test_the_same_content_is_kept_untouched(shelf: Shelf, tmp_path: Path) -> None:
    out = tmp_path / "o"
    shelf.pull("m", output=out)
    before = snapshot(out)
    shelf.pull("m", output=out)  # no overwrite needed, nothing rewritten (same inodes)
    assert snapshot(out) == before


@pytest.mark.parametrize("overwrite", [False, True])
def test_nothing_is_written_through_a_link_on_the_way_or_at_the_name(
    shelf: Shelf, tmp_path: Path, overwrite: bool
) -> None:
    outside = make_tree(tmp_path / "outside", {"vocab.txt": b"outside", "w.bin": b"outside"})
    before = snapshot(outside)
    out = tmp_path / "o"
    out.mkdir()
    (out / "tok").symlink_to(outside, target_is_directory=True)  # a folder on the way
    with pytest.raises(UserFolderRefusedError, match=r"o/tok is a symbolic link"):
        shelf.pull("m", output=out, overwrite=overwrite)
    (out / "tok").unlink()
    (out / "w.bin").symlink_to(outside / "w.bin")  # at the final name
    with pytest.raises(UserFolderRefusedError, match=r"o/w\.bin is a symbolic link"):
        shelf.pull("m", output=out, overwrite=overwrite)
    assert snapshot(outside) == before
    assert sorted(p.name for p in out.iterdir()) == ["w.bin"]  # nothing else written


def test_the_folder_itself_may_not_be_a_link(shelf: Shelf, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    with pytest.raises(UserFolderRefusedError, match=r"link is a symbolic link"):
        shelf.pull("m", output=tmp_path / "link", overwrite=True)
    assert list(real.iterdir()) == []


def test_a_link_made_after_the_plan_is_refused_before_the_rename(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = UserFolder(tmp_path / "o", overwrite=True)
    data = b"payload"
    [step] = folder.plan(
        [("a/f", same_content(len(data), hashlib.sha256(data).hexdigest()), False)]
    )

    def fill(slot: Slot) -> None:  # another process swaps the folder for a link meanwhile
        out = slot.create_file()
        os.write(out, data)
        os.close(out)
        (tmp_path / "o/a").rename(tmp_path / "moved")
        (tmp_path / "o/a").symlink_to(outside, target_is_directory=True)

    with pytest.raises(UserFolderRefusedError, match=r"o/a is a symbolic link"):
        folder.place(step, fill)
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("link", ["hardlink", "symlink"])
def test_link_outputs_follow_the_same_policy(shelf: Shelf, tmp_path: Path, link: str) -> None:
    out = make_tree(tmp_path / "o", {"w.bin": b"the user's"})
    with pytest.raises(UserFolderRefusedError, match=r"w\.bin exists and does not hold"):
        shelf.pull("m", output=out, link=link)  # type: ignore[arg-type]
    assert snapshot(out) == {"w.bin": ("file", b"the user's", ANY)}
    (out / "w.bin").unlink()
    shelf.pull("m", output=out)  # plain copies first: the same content in another form
    shelf.pull("m", output=out, link=link)  # type: ignore[arg-type]  # replaced, no overwrite
    again = snapshot(out)
    shelf.pull("m", output=out, link=link)  # type: ignore[arg-type]  # now kept as it is
    assert snapshot(out) == again
    blob = shelf.cache.blob_path(shelf.manifest("m").file("w.bin").sha256)  # type: ignore[union-attr]
    if link == "symlink":
        assert (out / "w.bin").resolve() == blob.resolve()
    else:
        assert os.path.samefile(out / "w.bin", blob)


def test_cli_refusal_is_one_line_naming_the_path_and_overwrite(
    shelf: Shelf, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = make_tree(tmp_path / "o", {"src/x": b"mine"})
    code, _, err = run(capsys, "pull", "m", "-o", str(out))
    assert code == 1 and err.count("\n") == 1
    assert f"{out}/src is a folder where a file goes" in err and "--overwrite" in err
    assert (out / "src/x").read_bytes() == b"mine"
    code, _, err = run(capsys, "pull", "m", "-o", str(out), "--overwrite")
    assert (code, err) == (0, "") and (out / "src").read_bytes() == TREE["src"]
    code, _, err = run(capsys, "pull", "m", "--overwrite")
    assert code == 1 and "--overwrite applies to -o only" in err


def test_cli_export_refuses_other_content_as_one_line(
    shelf: Shelf, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy = make_tree(tmp_path / "d", {"m/w.bin": b"another version's"})
    code, _, err = run(capsys, "export", "m", "--to", str(deploy))
    assert code == 1 and err.count("\n") == 1 and "--overwrite" in err
    assert (deploy / "m/w.bin").read_bytes() == b"another version's"


def test_export_never_writes_through_a_link_on_the_way(shelf: Shelf, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    deploy = tmp_path / "d"
    deploy.mkdir()
    (deploy / "nlp").symlink_to(outside, target_is_directory=True)
    Shelf().push(make_tree(tmp_path / "v2", {"a": b"1"}), "nlp/x", progress=False)
    with pytest.raises(ExportError, match=r"d/nlp is a symbolic link"):
        export("nlp/x", to=deploy, overwrite=True)
    assert list(outside.iterdir()) == []


def below(dest: Path, store: Path) -> Path:
    """Where a mirror of the ``file://`` folder ``store`` puts its tree: its path below ``/``."""
    return dest / store.relative_to(store.anchor)


def test_mirror_cli_takes_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = make_tree(tmp_path / "bucket", {"p/a.txt": b"from the bucket"})
    dest = tmp_path / "dest"
    mine = make_tree(below(dest, store), {"p/a.txt": b"the user's"}) / "p/a.txt"
    url = store.as_uri() + "/p"
    code, _, err = run(capsys, "mirror", url, str(dest))
    assert code == 1 and err.count("\n") == 1 and "a.txt holds other content" in err
    assert mine.read_bytes() == b"the user's"
    code, _, err = run(capsys, "mirror", url, str(dest), "--overwrite")
    assert code == 0 and mine.read_bytes() == b"from the bucket"


def test_mirror_keeps_a_same_size_file_of_other_content_and_names_it(tmp_path: Path) -> None:
    store = make_tree(tmp_path / "bucket", {"p/a.txt": b"AAAA", "p/b.txt": b"bbbb"})
    dest = tmp_path / "dest"
    tree = make_tree(below(dest, store), {"p/a.txt": b"mine"})  # same size, other bytes
    with pytest.raises(UserFolderRefusedError, match=r"a\.txt holds other content.*everything"):
        mirror(store.as_uri() + "/p", dest)
    assert (tree / "p/a.txt").read_bytes() == b"mine"
    assert (tree / "p/b.txt").read_bytes() == b"bbbb"
    assert sorted(p.name for p in (tree / "p").iterdir()) == ["a.txt", "b.txt"]  # no temp left
    make_tree(tree, {"p/a.txt": b"AAAA"})  # the same content: kept, indexed, no refusal
    assert mirror(store.as_uri() + "/p", dest).fetched == 1
    assert mirror(store.as_uri() + "/p", dest).skipped == 2


# -- item 4: a relative root ----------------------------------------------------------------------
def test_pull_into_the_working_folder(
    shelf: Shelf,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, out, err = run(capsys, "pull", "m", "-o", ".")
    assert (code, err) == (0, "")
    assert Path(out.strip()) == work.resolve()
    assert (work / "tok/vocab.txt").read_bytes() == TREE["tok/vocab.txt"]
    code, out, err = run(capsys, "pull", "m:1.0/tok/vocab.txt", "-o", "sub/..")
    assert (code, out, err) == (0, f"{work.resolve()}/vocab.txt\n", "")
    assert shelf.pull("m", output=Path()) == work.resolve()


def test_export_with_the_default_folder(
    shelf: Shelf,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, out, err = run(capsys, "export", "m")
    assert (code, out, err) == (0, f"{work.resolve()}/m\n", "")
    assert (work / "m/w.bin").read_bytes() == TREE["w.bin"]
    assert Path(export("m")).resolve() == (work / "m").resolve()  # the API's default too


# -- item 13: long names, counted in bytes --------------------------------------------------------
def test_temp_names_stay_under_name_max_in_bytes() -> None:
    names = {temp_name(LONG) for _ in range(50)} | {temp_name(LONG, owner="o" * 40, tag="x")}
    for name in names:
        assert name.startswith(".") and len(name.encode()) <= MAX_NAME_BYTES
        assert name.encode().decode() == name  # cut on a character boundary
    assert len(names) == 51  # unique
    assert temp_name("short").startswith(".short.")


def test_mirror_takes_a_250_byte_name_on_a_file_store(tmp_path: Path) -> None:
    store = make_tree(tmp_path / "bucket", {f"p/{LONG}": b"long", "p/x": b"x"})
    dest = tmp_path / "dest"
    assert mirror(store.as_uri() + "/p", dest).fetched == 2
    assert (below(dest, store) / "p" / LONG).read_bytes() == b"long"
    assert mirror(store.as_uri() + "/p", dest).skipped == 2


@pytest.mark.parametrize("link", ["copy", "hardlink", "symlink"])
def test_pull_and_export_take_a_250_byte_name(tmp_path: Path, link: str) -> None:
    s = Shelf()
    s.push(make_tree(tmp_path / "v", {f"d/{LONG}": b"long", "e": b"e"}), "long", progress=False)
    out = tmp_path / "o"
    s.pull("long", output=out, link=link)  # type: ignore[arg-type]
    assert (out / "d" / LONG).read_bytes() == b"long"
    export("long", to=tmp_path / "x")
    assert (tmp_path / "x/long/d" / LONG).read_bytes() == b"long"


# -- item 14: only a ~ the user typed -------------------------------------------------------------
def test_only_a_leading_tilde_is_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_path("~") == tmp_path / "home"
    assert user_path("~/x") == tmp_path / "home/x"
    assert user_path("./~root") == Path("~root")
    assert user_path("./~") == Path("~")
    assert user_path("a/~root") == Path("a/~root")
    assert user_path(Path("~root")) == Path("~root")  # a Path is taken as it is
    with pytest.raises(InvalidInputError, match=r"names no home folder.*\./~no-such-user-here"):
        user_path("~no-such-user-here/x")
    assert FileSystemDownloader("./~root").root == Path("~root")


def test_a_dot_slash_tilde_folder_stays_in_the_working_folder(
    shelf: Shelf,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A user "victim" whose home is in tmp_path: a regression writes there, not into a real home.
    home = tmp_path / "victims-home"
    home.mkdir()
    real_getpwnam = pwd.getpwnam

    def getpwnam(name: str) -> pwd.struct_passwd:
        if name != "victim":
            return real_getpwnam(name)
        fields = list(real_getpwnam(pwd.getpwuid(os.getuid()).pw_name))
        fields[5] = str(home)
        return pwd.struct_passwd(fields)

    monkeypatch.setattr(pwd, "getpwnam", getpwnam)
    assert Path("~victim").expanduser() == home  # the stand-in works
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert run(capsys, "export", "m", "--to", "./~victim") == (0, f"{work}/~victim/m\n", "")
    assert run(capsys, "pull", "m", "-o", "./~victim/pulled")[0] == 0
    store = make_tree(tmp_path / "bucket", {"p/a": b"a"})
    assert run(capsys, "mirror", store.as_uri() + "/p", "./~victim/mirrored")[0] == 0
    assert (work / "~victim/m/w.bin").read_bytes() == TREE["w.bin"]
    assert (work / "~victim/pulled/w.bin").read_bytes() == TREE["w.bin"]
    assert (below(work / "~victim/mirrored", store) / "p/a").read_bytes() == b"a"
    assert list(home.iterdir()) == []
