"""The user-folder writer, round four (issue 20, third review breaks 12 and 11).

- 12: the class of "another writer of DIR puts a file (or a folder) at a name that was free
  when the plan was made": a ``create`` is renamed into place only if the name is still free
  (``renameat2(RENAME_NOREPLACE)``, else ``linkat``), never over what appeared; the refusal is
  one line naming the path and ``--overwrite``.
- 11: the class of "a write refused at the last step still destroys what it was to replace":
  the temporary name's identity is checked before the user's folder is moved aside; on any
  failure after that it is renamed back, and it is removed only once the new one is in place.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from modelshelf import Shelf, _dir_fd, export
from modelshelf.errors import ExportError, UserFolderRefusedError
from modelshelf.transfer._folder_slot import Slot

MINE = b"the user's own file\n"


def _before(monkeypatch: pytest.MonkeyPatch, method: str, act: Callable[[Slot], None]) -> list[str]:
    """Run ``act(slot)`` (the other writer) right before ``Slot.<method>``: after the plan
    and the fill, in the window the rename closes."""
    original = getattr(Slot, method)
    acted: list[str] = []

    def wrapped(self: Slot) -> None:
        act(self)
        acted.append(self.step.path.name)
        original(self)

    monkeypatch.setattr(Slot, method, wrapped)
    return acted


def _model(tmp_path: Path, *, folder: bool) -> Shelf:
    shelf = Shelf()
    src = tmp_path / "src" / "model"
    src.mkdir(parents=True)
    for i in range(3 if folder else 1):
        (src / f"part{i}.bin").write_bytes(os.urandom(64 << 10))
    shelf.push(src if folder else src / "part0.bin", "team/model", progress=False)
    shelf.pull("team/model", progress=False)
    return shelf


# -- 12: a name taken after the plan --------------------------------------------------------------
@pytest.mark.parametrize("what", ["file", "folder", "link"])
@pytest.mark.parametrize("link", ["copy", "hardlink", "symlink"])
def test_a_file_put_at_the_name_after_the_plan_is_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, what: str, link: str
) -> None:
    # review3 w/atname.py: the user wrote out/sub/big.bin while the pull copied it; the
    # "create" step's os.replace overwrote it silently, without --overwrite.
    shelf = _model(tmp_path, folder=False)
    out = tmp_path / "out"
    out.mkdir()
    final = out / "part0.bin"

    def user_writes(slot: Slot) -> None:
        if what == "file":
            final.write_bytes(MINE)
        elif what == "folder":
            final.mkdir()
            (final / "mine.txt").write_bytes(MINE)
        else:
            final.symlink_to(tmp_path / "elsewhere")

    acted = _before(monkeypatch, "commit", user_writes)
    with pytest.raises(UserFolderRefusedError) as caught:
        shelf.pull("team/model", output=out, link=link, progress=False)  # type: ignore[arg-type]
    assert acted == ["part0.bin"]
    message = str(caught.value)
    assert "\n" not in message and "part0.bin" in message
    assert "overwrite=True" in message or (what == "link" and "symbolic link" in message)
    if what == "file":
        assert final.read_bytes() == MINE
    elif what == "folder":
        assert (final / "mine.txt").read_bytes() == MINE
    else:
        assert final.is_symlink() and final.readlink() == tmp_path / "elsewhere"
    assert [p.name for p in out.iterdir()] == ["part0.bin"]  # no temporary name left


def test_a_folder_put_at_a_trees_name_after_the_plan_is_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shelf = _model(tmp_path, folder=True)
    out = tmp_path / "out"
    final = out / "team" / "model"

    def user_writes(slot: Slot) -> None:
        final.mkdir()
        (final / "mine.txt").write_bytes(MINE)

    acted = _before(monkeypatch, "swap_tree", user_writes)
    with pytest.raises(ExportError, match="overwrite=True"):
        export("team/model", to=out, store=shelf)
    assert acted == ["model"]
    assert sorted(p.name for p in final.iterdir()) == ["mine.txt"]
    assert [p.name for p in final.parent.iterdir()] == ["model"]


# -- 11: a refused write keeps what it was to replace ---------------------------------------------
def _swap_temp(slot: Slot) -> None:
    """The other writer renames the temporary name away and puts its own of the same kind."""
    temp = Path(f"/proc/self/fd/{slot.fd}/{slot.temp}")
    theirs = temp.rename(f"{temp}.theirs")
    if theirs.is_dir():
        temp.mkdir()
    else:
        temp.write_bytes(b"theirs\n")


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reaches the temp by /proc")
def test_a_refused_tree_swap_keeps_the_users_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # review3 fd2/export_tree_swap_ow.py: export --overwrite moved the user's folder aside,
    # then refused the swapped temp folder, and the slot's cleanup removed the user's folder.
    shelf = _model(tmp_path, folder=True)
    out = tmp_path / "out"
    mine = out / "team" / "model"
    mine.mkdir(parents=True)
    for i in range(3):
        (mine / f"mine{i}.txt").write_bytes(MINE)
    acted = _before(monkeypatch, "swap_tree", _swap_temp)
    with pytest.raises(ExportError, match="replaced by something else"):
        export("team/model", to=out, store=shelf, overwrite=True)
    assert acted == ["model"]
    assert sorted(p.name for p in mine.iterdir()) == [f"mine{i}.txt" for i in range(3)]
    assert all((mine / f"mine{i}.txt").read_bytes() == MINE for i in range(3))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reaches the temp by /proc")
def test_a_refused_file_over_a_folder_keeps_the_users_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same in Slot.commit: a folder where the file goes (allowed by --overwrite) was
    # removed before the temporary file's identity was checked.
    shelf = _model(tmp_path, folder=False)
    out = tmp_path / "out"
    mine = out / "part0.bin"
    mine.mkdir(parents=True)
    (mine / "mine.txt").write_bytes(MINE)
    acted = _before(monkeypatch, "commit", _swap_temp)
    with pytest.raises(UserFolderRefusedError):
        shelf.pull("team/model", output=out, overwrite=True, progress=False)
    assert acted == ["part0.bin"]
    assert (mine / "mine.txt").read_bytes() == MINE


def test_an_allowed_overwrite_still_replaces_and_leaves_nothing_aside(tmp_path: Path) -> None:
    shelf = _model(tmp_path, folder=True)
    out = tmp_path / "out"
    mine = out / "team" / "model"
    mine.mkdir(parents=True)
    (mine / "mine.txt").write_bytes(MINE)
    export("team/model", to=out, store=shelf, overwrite=True)
    assert sorted(p.name for p in mine.iterdir()) == [f"part{i}.bin" for i in range(3)]
    assert [p.name for p in mine.parent.iterdir()] == ["model"]
    file_out = tmp_path / "file_out"
    (file_out / "part0.bin").mkdir(parents=True)
    shelf.pull("team/model", output=file_out, overwrite=True, progress=False)
    assert (file_out / "part0.bin").is_file()
    assert sorted(p.name for p in file_out.iterdir()) == [f"part{i}.bin" for i in range(3)]


@pytest.mark.parametrize("native", [True, False])
def test_rename_noreplace_never_replaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, native: bool
) -> None:
    if not native:  # the linkat / check-then-rename fallback where renameat2 is missing
        monkeypatch.setattr(_dir_fd, "_renameat2", None)
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "b").write_bytes(b"b")
    (tmp_path / "d").mkdir()
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for src, dst in (("a", "b"), ("d", "b"), ("a", "d")):
            with pytest.raises(FileExistsError):
                _dir_fd.rename_noreplace(src, dst, fd)
        _dir_fd.rename_noreplace("a", "c", fd)
        _dir_fd.rename_noreplace("d", "e", fd)
    finally:
        os.close(fd)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "c", "e"]
    assert (tmp_path / "b").read_bytes() == b"b" and (tmp_path / "c").read_bytes() == b"a"


def test_a_users_folder_that_cannot_go_back_is_kept_aside_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The other writer takes the name between the move aside and the rename: the user's
    # folder cannot be renamed back, so it stays under its aside name, never removed.
    shelf = _model(tmp_path, folder=True)
    out = tmp_path / "out"
    mine = out / "team" / "model"
    mine.mkdir(parents=True)
    (mine / "mine.txt").write_bytes(MINE)
    original = Slot._rename

    def taken_then_rename(self: Slot, *, replace: bool) -> None:
        mine.write_bytes(b"theirs\n")
        original(self, replace=replace)

    monkeypatch.setattr(Slot, "_rename", taken_then_rename)
    with pytest.raises(ExportError, match="kept as") as caught:
        export("team/model", to=out, store=shelf, overwrite=True)
    aside = [p for p in mine.parent.iterdir() if p.name.startswith(".model.")]
    assert len(aside) == 1 and (aside[0] / "mine.txt").read_bytes() == MINE
    assert str(aside[0]) in str(caught.value)
    assert mine.read_bytes() == b"theirs\n"
