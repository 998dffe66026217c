"""The user-folder writer, round three (issue 20, second review breaks A, B, C).

- A: the class of "another writer of DIR swaps the temporary file (or a tree's temporary folder)
  for a link while it is filled": the temporary file is created ``O_EXCL | O_NOFOLLOW`` relative
  to its folder and written, copied and chmod-ed only through its own descriptor; right before
  the rename, the name must still hold the very file made, else the write is refused.
- B: the class of "a parent of the (resolved) root is swapped for a link between the plan and
  the writes": the root is opened once, from ``/`` without following links, and kept.
- C: the class of "a second cache inside DIR takes a file placed by ``pull -o`` as a verified
  blob": every cache root holds a ``CACHEDIR.TAG``, and no user folder is written in one.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import platform
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from modelshelf import Shelf, constants, export
from modelshelf.cache.cache import Cache
from modelshelf.errors import ModelshelfError, UserFolderRefusedError
from modelshelf.manifest import FileEntry, Manifest
from modelshelf.mirror.run import mirror
from modelshelf.transfer.user_folder import UserFolder, same_content

linux = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.machine() not in ("x86_64", "aarch64"),
    reason="renameat2(RENAME_EXCHANGE) through ctypes: Linux only",
)
_SYS_RENAMEAT2 = {"x86_64": 316, "aarch64": 276}.get(platform.machine(), -1)
_LIBC = ctypes.CDLL(None, use_errno=True)
SECRET = b"private, mode 0600\n"


def exchange(a: str, b: str) -> bool:
    """``renameat2(a, b, RENAME_EXCHANGE)``: both names swap their files, atomically."""
    return _LIBC.syscall(_SYS_RENAMEAT2, -100, a.encode(), -100, b.encode(), 2) == 0


@contextmanager
def attacker(folder: Path, prefix: str, act: Callable[[str], bool]) -> Iterator[list[str]]:
    """A writer of ``folder`` that, as soon as a temporary name starting with ``prefix``
    appears there, calls ``act(path)`` on it until it reports success (once per block)."""
    stop = threading.Event()
    done: list[str] = []

    def loop() -> None:
        while not stop.is_set() and not done:
            try:
                names = os.listdir(folder)  # noqa: PTH208 - names only, fast
            except OSError:
                continue
            for name in names:
                if name.startswith(prefix) and name.endswith(".tmp") and act(f"{folder}/{name}"):
                    done.append(name)
                    return

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield done
    finally:
        stop.set()
        thread.join()


def secret_file(path: Path) -> Path:
    path.write_bytes(SECRET)
    path.chmod(0o600)
    return path


def untouched(secret: Path) -> bool:
    return secret.read_bytes() == SECRET and secret.stat().st_mode & 0o777 == 0o600


# -- A: the temporary file ------------------------------------------------------------------------
@linux
@pytest.mark.parametrize("how", ["pull-copy", "export"])
def test_a_temp_file_swapped_for_a_link_changes_nothing_outside(tmp_path: Path, how: str) -> None:
    # review2 fd/export_file_chmod.py: RENAME_EXCHANGE of the temporary file with a link to a
    # private file while it is copied; the chmod, the copy and the rename followed the link.
    shelf = Shelf()
    src = tmp_path / "src"
    src.mkdir()
    (src / "model.bin").write_bytes(os.urandom(8 << 20))
    shelf.push(src / "model.bin", "x/m", progress=False)
    shelf.pull("x/m", progress=False)
    broken: list[str] = []
    attacks = 0
    for round_ in range(12):
        out = tmp_path / f"out{round_}"
        target = out / "x" if how == "export" else out
        target.mkdir(parents=True)
        secret = secret_file(tmp_path / f"secret{round_}")
        link = f"{target}/evil"

        def swap(temp: str, secret: Path = secret, link: str = link) -> bool:
            with contextlib.suppress(FileExistsError):
                os.symlink(  # noqa: PTH211 - the attacker's own call
                    secret, link
                )
            return exchange(link, temp)

        with attacker(target, ".m", swap) as acted, contextlib.suppress(ModelshelfError):
            if how == "export":
                export("x/m", to=out, store=shelf)
            else:
                shelf.pull("x/m", output=out, link=how[5:], progress=False)  # type: ignore[arg-type]
        attacks += bool(acted)
        final = target / ("m" if how == "export" else "model.bin")
        if not untouched(secret) or final.is_symlink():
            broken.append(f"round {round_}: secret changed or {final.name} is the link")
    assert broken == []
    assert attacks > 0  # the attacker did get at the temporary name: the test can fail


@linux
def test_a_link_planted_at_the_temp_name_is_never_written_through(tmp_path: Path) -> None:
    # review2 fd/pull_copy_overwrite.py: the copy unlinked its temporary file and reopened it
    # by name (no FICLONE on ext4): a link planted in that gap was followed and its target
    # overwritten. Now the name is made once, O_EXCL, and never unlinked while filled.
    shelf = Shelf()
    src = tmp_path / "src"
    src.mkdir()
    (src / "model.bin").write_bytes(b"MODEL BYTES\n" * 200_000)
    shelf.push(src / "model.bin", "x/m", progress=False)
    shelf.pull("x/m", progress=False)
    broken: list[int] = []
    attacks = 0
    for round_ in range(15):
        out = tmp_path / f"out{round_}"
        out.mkdir()
        secret = secret_file(tmp_path / f"secret{round_}")

        def plant(temp: str, secret: Path = secret) -> bool:
            for _ in range(20_000):  # keep trying while the name is taken
                try:
                    os.symlink(  # noqa: PTH211 - the attacker's own call
                        secret, temp
                    )
                    return True
                except FileExistsError:
                    continue
            return True

        with attacker(out, ".model.bin", plant) as acted, contextlib.suppress(ModelshelfError):
            shelf.pull("x/m", output=out, progress=False)
        attacks += bool(acted)
        if not untouched(secret) or (out / "model.bin").is_symlink():
            broken.append(round_)
    assert broken == []
    assert attacks > 0  # the attacker did get at the temporary name: the test can fail


@linux
def test_a_tree_exports_temp_folder_swapped_for_a_link_fills_nothing_outside(
    tmp_path: Path,
) -> None:
    # review2 fd/export_tree_swap.py: the temporary folder was filled through its name; swapped
    # for a link to a victim folder, the victim's files were overwritten, then a raw ValueError.
    shelf = Shelf()
    src = tmp_path / "src" / "model"
    src.mkdir(parents=True)
    for i in range(30):
        (src / f"part{i:02}.bin").write_bytes(os.urandom(256 << 10))
    shelf.push(src, "team/model", progress=False)
    shelf.pull("team/model", progress=False)
    broken: list[str] = []
    attacks = 0
    for round_ in range(6):
        out = tmp_path / f"out{round_}"
        (out / "team").mkdir(parents=True)
        victim = tmp_path / f"victim{round_}"
        victim.mkdir()
        for i in range(30):
            (victim / f"part{i:02}.bin").write_bytes(b"the victim's own file\n")
        link = f"{out}/team/evil"

        def swap(temp: str, victim: Path = victim, link: str = link) -> bool:
            with contextlib.suppress(FileExistsError):
                os.symlink(  # noqa: PTH211 - the attacker's own call
                    victim, link, target_is_directory=True
                )
            return exchange(link, temp)

        try:
            with attacker(out / "team", ".model", swap) as acted:
                export("team/model", to=out, store=shelf)
        except ModelshelfError as exc:
            assert "\n" not in str(exc)  # a one-line refusal, not a raw ValueError
        attacks += bool(acted)
        changed = [p.name for p in victim.iterdir() if p.read_bytes() != b"the victim's own file\n"]
        if changed or sorted(p.name for p in victim.iterdir()) != [
            f"part{i:02}.bin" for i in range(30)
        ]:
            broken.append(f"round {round_}: {len(changed)} victim files changed")
        if (out / "team" / "model").is_symlink():
            broken.append(f"round {round_}: team/model is the attacker's link")
    assert broken == []
    assert attacks > 0  # the attacker did get at the temporary name: the test can fail


# -- B: the root's parents ----------------------------------------------------------------------
@pytest.mark.parametrize("link", ["copy", "hardlink", "symlink"])
def test_a_parent_of_the_root_swapped_after_the_plan_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, link: str
) -> None:
    # review2 fd/ancestor_swap_plan.py: `shared/proj` swapped for a link to `victim` once the
    # plan was made; the root was reopened by path for every file, following the link.
    shelf = Shelf()
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        (src / f"f{i}.bin").write_bytes(f"file {i}\n".encode())
    shelf.push(src, "x/m", progress=False)
    shelf.pull("x/m", progress=False)
    out = tmp_path / "shared" / "proj" / "out"
    out.mkdir(parents=True)
    (tmp_path / "victim" / "out").mkdir(parents=True)
    real_plan = UserFolder.plan

    def plan_then_swap(self: UserFolder, wanted: object) -> object:
        steps = real_plan(self, wanted)  # type: ignore[arg-type]
        (tmp_path / "shared" / "proj").rename(tmp_path / "shared" / "moved")
        (tmp_path / "shared" / "proj").symlink_to(tmp_path / "victim", target_is_directory=True)
        return steps

    monkeypatch.setattr(UserFolder, "plan", plan_then_swap)
    with contextlib.suppress(ModelshelfError):
        shelf.pull("x/m", output=out, link=link, progress=False)  # type: ignore[arg-type]
    assert list((tmp_path / "victim" / "out").iterdir()) == []


def test_a_mirrors_root_parent_swapped_after_the_plan_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same for mirror, its index included (it was written by path at the root).
    store = tmp_path / "store"
    store.mkdir()
    for i in range(5):
        (store / f"f{i}.txt").write_text(f"object {i}\n")
    dest = tmp_path / "shared" / "proj" / "dest"
    dest.mkdir(parents=True)
    (tmp_path / "victim" / "dest").mkdir(parents=True)
    real_plan = UserFolder.plan

    def plan_then_swap(self: UserFolder, wanted: object) -> object:
        steps = real_plan(self, wanted)  # type: ignore[arg-type]
        (tmp_path / "shared" / "proj").rename(tmp_path / "shared" / "moved")
        (tmp_path / "shared" / "proj").symlink_to(tmp_path / "victim", target_is_directory=True)
        return steps

    monkeypatch.setattr(UserFolder, "plan", plan_then_swap)
    with contextlib.suppress(ModelshelfError):
        mirror(store.as_uri() + "/", dest, max_workers=2)
    assert list((tmp_path / "victim" / "dest").iterdir()) == []
    written = [p for p in (tmp_path / "shared" / "moved" / "dest").rglob("*") if p.is_file()]
    assert len(written) == 6  # the 5 objects and the index, in the folder planned


@linux
def test_a_parent_of_the_root_being_swapped_is_never_followed(tmp_path: Path) -> None:
    # The same as a race, bounded: `shared/proj` and a link to the victim exchange places as
    # fast as a thread can while pull -o writes into shared/proj/out.
    shelf = Shelf()
    src = tmp_path / "src"
    src.mkdir()
    for i in range(30):
        (src / f"f{i:02}.bin").write_bytes(f"file {i}\n".encode())
    shelf.push(src, "x/m", progress=False)
    shelf.pull("x/m", progress=False)
    leaked: list[int] = []
    for round_ in range(15):
        shared, victim = tmp_path / f"shared{round_}", tmp_path / f"victim{round_}"
        (shared / "proj" / "out").mkdir(parents=True)
        (victim / "out").mkdir(parents=True)
        (shared / "alt").symlink_to(victim, target_is_directory=True)
        stop = threading.Event()

        def loop(shared: Path = shared, stop: threading.Event = stop) -> None:
            while not stop.is_set():
                exchange(f"{shared}/proj", f"{shared}/alt")

        with contextlib.suppress(ModelshelfError, OSError):
            if (shared / "proj").is_symlink():
                exchange(f"{shared}/proj", f"{shared}/alt")
            out = shared / "proj" / "out"
            folder = UserFolder(out)  # resolved and opened before the race starts
            thread = threading.Thread(target=loop, daemon=True)
            thread.start()
            try:
                data = b"payload\n"
                sha = hashlib.sha256(data).hexdigest()
                try:
                    steps = folder.plan(
                        [(f"f{i:02}", same_content(len(data), sha), False) for i in range(30)]
                    )
                    for step in steps:
                        folder.place(step, _write(data))
                finally:
                    getattr(folder, "close", lambda: None)()  # (before round three: none)
            finally:
                stop.set()
                thread.join()
        if list((victim / "out").iterdir()):
            leaked.append(round_)
    assert leaked == []


def _write(data: bytes) -> Callable[[object], None]:
    def fill(slot: object) -> None:
        if isinstance(slot, Path):  # the interface before round three (to see this test fail)
            slot.write_bytes(data)
            return
        out = slot.create_file()  # type: ignore[attr-defined]
        try:
            os.write(out, data)
        finally:
            os.close(out)

    return fill


# -- C: a second cache inside DIR ------------------------------------------------------------------
def test_a_second_cache_inside_dir_is_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # review2 c1/two_caches.sh: a project keeps its own cache in proj/cacheB; the attacker's
    # version has a file at cacheB's blob name of an honest asset, placed as a hard link to a
    # genuine 0444 blob of cache A: project B then served the attacker's bytes.
    store = tmp_path / "store"
    honest = b"honest weights 0001\n"
    sha = hashlib.sha256(honest).hexdigest()
    monkeypatch.setenv("MODELSHELF_CACHE_DIR", str(tmp_path / "cacheA"))
    shelf_a = Shelf(store.as_uri())
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "weights.bin").write_bytes(honest)
    shelf_a.push(tmp_path / "h" / "weights.bin", "team/honest", progress=False)
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "other.bin").write_bytes(b"other\n")
    shelf_a.push(tmp_path / "o" / "other.bin", "team/other", progress=False)
    proj = tmp_path / "proj"
    shelf_b = Shelf(store.as_uri(), cache_dir=proj / "cacheB")
    shelf_b.pull("team/other", progress=False)  # project B's cache exists, without honest
    evil = tmp_path / "evil"
    planted = evil / "cacheB" / "blobs" / "sha256" / sha[:2] / sha
    planted.parent.mkdir(parents=True)
    planted.write_bytes(b"EVIL!! weights 6666\n")  # the same size
    (evil / "README.md").write_text("readme\n")
    shelf_a.push(evil, "x/tools", progress=False)
    with pytest.raises(UserFolderRefusedError, match=r"cacheB holds a CACHEDIR\.TAG"):
        shelf_a.pull("x/tools", output=proj, link="hardlink", progress=False)
    assert not (proj / "cacheB" / "blobs" / "sha256" / sha[:2] / sha).exists()
    got = Path(Shelf(store.as_uri(), cache_dir=proj / "cacheB").pull("team/honest", progress=False))
    assert got.read_bytes() == honest


def test_a_file_at_a_blobs_name_is_not_placed_where_a_cache_may_be_made_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # review2 c1/two_caches.sh as written: proj/cacheB does not exist yet (no CACHEDIR.TAG to
    # refuse); the pull made it, and project B's Shelf(cache_dir=proj/cacheB) adopted it.
    store = tmp_path / "store"
    honest = b"honest weights 0001\n"
    sha = hashlib.sha256(honest).hexdigest()
    monkeypatch.setenv("MODELSHELF_CACHE_DIR", str(tmp_path / "cacheA"))
    shelf_a = Shelf(store.as_uri())
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / "weights.bin").write_bytes(honest)
    shelf_a.push(tmp_path / "h" / "weights.bin", "team/honest", progress=False)
    evil = tmp_path / "evil"
    planted = evil / "cacheB" / "blobs" / "sha256" / sha[:2] / sha
    planted.parent.mkdir(parents=True)
    planted.write_bytes(b"EVIL!! weights 6666\n")
    (evil / "README.md").write_text("readme\n")
    shelf_a.push(evil, "x/tools", progress=False)
    proj = tmp_path / "proj"
    for link in ("hardlink", "copy", "symlink"):
        with pytest.raises(UserFolderRefusedError, match=r"the name of a blob"):
            shelf_a.pull("x/tools", output=proj, link=link, overwrite=True, progress=False)  # type: ignore[arg-type]
    assert not (proj / "cacheB").exists()
    got = Path(Shelf(store.as_uri(), cache_dir=proj / "cacheB").pull("team/honest", progress=False))
    assert got.read_bytes() == honest


def test_every_cache_root_is_marked_and_a_root_inside_one_is_refused(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    assert not (tmp_path / "c").exists()  # nothing made by opening a cache that is not there
    entry = FileEntry("w.bin", 1, "0" * 64)
    cache.save_manifest(
        "s", Manifest("nlp/m", "1.0", "file", (entry,), "2024-01-01T00:00:00.000000Z", "a@b")
    )
    tag = (tmp_path / "c" / constants.CACHEDIR_TAG).read_bytes()
    assert tag.startswith(b"Signature: 8a477f597d28d172789f06886806bc55")
    for inside in (tmp_path / "c", tmp_path / "c" / "deeper" / "still"):
        with pytest.raises(UserFolderRefusedError, match=r"CACHEDIR\.TAG"):
            UserFolder(inside, overwrite=True)
    # a cache root already there (an older modelshelf's) is marked when opened
    (tmp_path / "old").mkdir()
    Cache(tmp_path / "old")
    assert (tmp_path / "old" / constants.CACHEDIR_TAG).read_bytes() == tag


def test_a_folder_on_the_way_marked_as_a_cache_is_refused_even_with_overwrite(
    tmp_path: Path,
) -> None:
    (tmp_path / "out" / "sub").mkdir(parents=True)
    (tmp_path / "out" / "sub" / constants.CACHEDIR_TAG).write_bytes(constants.CACHEDIR_SIGNATURE)
    folder = UserFolder(tmp_path / "out", overwrite=True)
    with folder, pytest.raises(UserFolderRefusedError, match=r"sub holds a CACHEDIR\.TAG"):
        folder.plan([("sub/deep/x.bin", same_content(1, "0" * 64), False)])
    with folder, pytest.raises(UserFolderRefusedError, match=r"sub holds a CACHEDIR\.TAG"):
        folder.plan([("sub", same_content(1, "0" * 64), False)])  # replacing it whole
    assert [p.name for p in (tmp_path / "out" / "sub").iterdir()] == [constants.CACHEDIR_TAG]


@pytest.mark.parametrize("refused", [(), ("copy_file_range",), ("copy_file_range", "sendfile")])
def test_a_copy_through_descriptors_takes_every_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refused: tuple[str, ...]
) -> None:
    from modelshelf._dir_fd import copy_file

    def refuse(*_: object) -> int:
        raise OSError(18, "refused here")  # EXDEV

    for name in refused:
        monkeypatch.setattr(os, name, refuse)
    data = os.urandom(3 << 20 | 123)
    (tmp_path / "src").write_bytes(data)
    copy_file(tmp_path / "src", tmp_path / "dst", reflink=True)
    assert (tmp_path / "dst").read_bytes() == data
    assert (tmp_path / "dst").stat().st_mode & 0o777 == 0o644
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(FileExistsError):  # a new file only: never through a link
        copy_file(tmp_path / "src", tmp_path / "link", reflink=False)
    assert not (tmp_path / "elsewhere").exists()
