"""A push of an explicit list of (local file, path in asset) pairs, and named manifest sections.

Every refusal comes before the first write: a ``NoWrites`` backend records each put, and a
refused push must make none.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from tests.wrapped_backend import WrappedBackend

import modelshelf
from modelshelf import PushSource, Shelf
from modelshelf.backends import open_backend
from modelshelf.backends.base import PutMode
from modelshelf.errors import InvalidInputError, SourcePathError

STORES = ["memory://pairs", "file"]


class NoWrites(WrappedBackend):
    """Records every put; a refused push must make none."""

    def __init__(self, url: str) -> None:
        super().__init__(open_backend(url))
        self.puts: list[str] = []

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        self.puts.append(key)
        self.inner.put(key, data, mode=mode)


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url: str = request.param
    return (tmp_path / "store").as_uri() if url == "file" else url


@pytest.fixture
def backend(store_url: str) -> NoWrites:
    return NoWrites(store_url)


@pytest.fixture
def shelf(backend: NoWrites, tmp_path: Path) -> Shelf:
    return Shelf(backend, cache_dir=tmp_path / "cache")


@pytest.fixture
def work(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    (root / "out").mkdir(parents=True)
    (root / "out" / "model.pt").write_bytes(b"weights" * 1000)
    (root / "out" / "empty.txt").write_bytes(b"")
    (root / "ckpt").mkdir()
    (root / "ckpt" / "1.bin").write_bytes(b"checkpoint one")
    return root


def pairs(work: Path) -> dict[str | os.PathLike[str], str]:
    return {
        work / "out" / "model.pt": "model.pt",
        str(work / "ckpt" / "1.bin"): "checkpoints/1.bin",
        work / "out" / "empty.txt": "extra/empty.txt",
    }


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def expected(work: Path) -> dict[str, bytes]:
    return {target: Path(local).read_bytes() for local, target in pairs(work).items()}


# --- pairs ----------------------------------------------------------------------------------


def test_pairs_pull_back_byte_identical_at_their_paths(shelf: Shelf, work: Path) -> None:
    manifest = shelf.push(PushSource.from_files(pairs(work)), "m/pairs", message="pairs")
    assert manifest.kind == "directory"
    assert [f.path for f in manifest.files] == sorted(expected(work))
    assert manifest.source["path"] == str(work.resolve())  # where the files came from
    assert tree(shelf.pull("m/pairs:1.0")) == expected(work)
    stored = shelf.store.read_manifest("m/pairs", "1.0")
    assert [f.path for f in stored.files] == sorted(expected(work))


def test_a_list_of_pairs_may_send_one_file_to_two_paths(shelf: Shelf, work: Path) -> None:
    local = work / "out" / "model.pt"
    source = PushSource.from_files([(local, "a.pt"), (str(local), "copy/a.pt")])
    assert tree(shelf.pull(f"{shelf.push(source, 'm').name}:1.0")) == {
        "a.pt": local.read_bytes(),
        "copy/a.pt": local.read_bytes(),
    }


def test_a_single_pair_is_a_directory_unless_file_is_asked(shelf: Shelf, work: Path) -> None:
    local = work / "out" / "model.pt"
    folder = shelf.pull(f"{shelf.push(PushSource.from_files({local: 'w/m.pt'}), 'd').name}:1")
    assert tree(folder) == {"w/m.pt": local.read_bytes()}
    single = PushSource.from_files({local: "m.pt"}, kind="file")
    assert shelf.push(single, "f").kind == "file"
    pulled = shelf.pull("f:1.0")
    assert pulled.name == "m.pt" and pulled.read_bytes() == local.read_bytes()


def test_target_names_are_recorded_in_nfc(shelf: Shelf, work: Path) -> None:
    import unicodedata

    nfd = unicodedata.normalize("NFD", "café.bin")
    manifest = shelf.push(PushSource.from_files({work / "out" / "model.pt": nfd}), "m")
    assert manifest.files[0].path == unicodedata.normalize("NFC", nfd)


def test_case_collision_is_a_warning(
    shelf: Shelf, work: Path, caplog: pytest.LogCaptureFixture
) -> None:
    local = work / "out" / "model.pt"
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        shelf.push(PushSource.from_files([(local, "Model.pt"), (local, "model.pt")]), "m")
    assert "differ only in case" in caplog.text


@pytest.mark.parametrize(
    ("targets", "said"),
    [
        (["same.pt", "same.pt"], "'same.pt' is given twice"),
        (["café.pt", "cafe\u0301.pt"], "is given twice"),
        (["a", "a/b"], "'a' is both a file and a folder"),
        (["../x", "ok"], "unsafe path '../x'"),
        (["a\\b", "ok"], "unsafe path"),
        (["/abs", "ok"], "unsafe path"),
        (["", "ok"], "unsafe path"),
    ],
)
def test_bad_targets_are_refused_before_any_read(
    tmp_path: Path, targets: list[str], said: str
) -> None:
    # The local files do not even exist: target paths are checked first, when built.
    with pytest.raises(InvalidInputError, match="path in the asset") as info:
        PushSource.from_files([(tmp_path / f"missing{i}", t) for i, t in enumerate(targets)])
    assert said in str(info.value)


@pytest.mark.parametrize(
    ("arg", "said"),
    [
        ({}, "no files"),
        ([], "no files"),
        ([("a", 3)], "must be text"),
        ([(3, "a")], "local file"),
        ([("a",)], "pairs"),
        ("out/", "PushSource.from_path"),
        (Path("out"), "PushSource.from_path"),
    ],
)
def test_malformed_file_lists_are_refused(arg: Any, said: str) -> None:
    with pytest.raises(InvalidInputError, match=said):
        PushSource.from_files(arg)


def test_file_kind_needs_exactly_one_pair(work: Path) -> None:
    with pytest.raises(InvalidInputError, match="exactly one file"):
        PushSource.from_files(pairs(work), kind="file")
    with pytest.raises(InvalidInputError, match="kind"):
        PushSource.from_files(pairs(work), kind="folder")  # type: ignore[arg-type]


def fifo(work: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    path = work / "pipe"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda w: w / "nope.bin", "no such file"),
        (lambda w: w / "out", "is a folder"),
        (fifo, "FIFO"),
    ],
)
def test_bad_local_files_are_refused_naming_them_before_any_write(
    shelf: Shelf, backend: NoWrites, work: Path, make: Any, said: str
) -> None:
    bad = make(work)
    files = {**pairs(work), bad: "bad.bin"}
    with pytest.raises(SourcePathError, match=said) as info:
        shelf.push(PushSource.from_files(files), "m")
    assert str(bad) in str(info.value)
    assert backend.puts == []


def test_a_dangling_link_is_named(shelf: Shelf, backend: NoWrites, work: Path) -> None:
    link = work / "link.bin"
    link.symlink_to(work / "gone.bin")
    with pytest.raises(SourcePathError, match="does not exist"):
        shelf.push(PushSource.from_files({link: "l.bin"}), "m")
    assert backend.puts == []


def test_links_are_followed(shelf: Shelf, work: Path) -> None:
    link = work / "link.bin"
    link.symlink_to(work / "out" / "model.pt")
    assert tree(shelf.pull(f"{shelf.push(PushSource.from_files({link: 'l'}), 'm').name}:1")) == {
        "l": (work / "out" / "model.pt").read_bytes()
    }


def test_a_path_source_is_the_same_as_a_path(shelf: Shelf, work: Path) -> None:
    manifest = shelf.push(PushSource.from_path(work / "out"), "m")
    assert [f.path for f in manifest.files] == ["empty.txt", "model.pt"]
    assert shelf.push(PushSource.from_path(str(work / "out" / "model.pt")), "f").kind == "file"


def test_a_source_needs_a_path_or_files() -> None:
    with pytest.raises(InvalidInputError, match="a path or files"):
        PushSource(path=None)


def test_lists_from_json_are_pairs_too_and_any_construction_is_nfc(work: Path) -> None:
    local = str(work / "out" / "model.pt")
    assert PushSource.from_files([[local, "m.pt"]]).files == ((Path(local), "m.pt"),)
    built = PushSource(None, ((Path(local), "cafe\u0301"),), "directory")
    assert built.files[0][1] == "caf\u00e9"


# --- sections -------------------------------------------------------------------------------

SECTION = {
    "runner": "pkg.mod:Cls",
    "engine": "torch",
    "requirements": ["torch==2.13.0"],
    "props": {"n": 3, "ratio": 0.25, "ok": True, "none": None, "text": "é\u2028"},
}


def test_sections_round_trip_through_the_store_and_a_fresh_cache(
    shelf: Shelf, backend: NoWrites, work: Path, tmp_path: Path
) -> None:
    manifest = shelf.push(
        PushSource.from_files(pairs(work)), "m/model", sections={"model": SECTION}
    )
    assert manifest.extra == {"model": SECTION}
    fresh = Shelf(NoWrites(backend.url), cache_dir=tmp_path / "fresh-cache")
    assert fresh.store.read_manifest("m/model", "1.0").extra == {"model": SECTION}
    assert tree(fresh.pull("m/model:1.0")) == expected(work)
    cached = fresh.resolve("m/model:1.0", offline=True)  # from the fresh cache's own copy
    assert cached.manifest.extra == {"model": SECTION}


def test_sections_are_copied_and_tuples_read_back_as_lists(shelf: Shelf, work: Path) -> None:
    section: dict[str, Any] = {"requirements": ("a", "b")}
    manifest = shelf.push(PushSource.from_path(work / "out"), "m", sections={"model": section})
    section["requirements"] = "changed later"
    assert manifest.extra == {"model": {"requirements": ["a", "b"]}}
    assert shelf.store.read_manifest("m", "1.0").extra == manifest.extra


class Unserialisable:
    pass


def deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("sections", "said"),
    [
        ({"files": {}}, "'files' is a core field"),
        ({"metadata": {}}, "'metadata' is a core field"),
        ({"model": {"x": Unserialisable()}}, "section 'model': model.x is Unserialisable"),
        ({"model": {"s": {1, 2}}}, "section 'model': model.s is set"),
        ({"model": {1: "a"}}, "section 'model': model has the key 1"),
        ({"model": [float("nan")]}, "section 'model': model[0] is nan"),
        ({"model": {"a": [1, float("inf")]}}, "model.a[1] is inf"),
        ({"model": b"bytes"}, "section 'model': model is bytes"),
        ({"model": deep(100)}, "section 'model' is nested deeper than"),
        ({"model": "x" * (2**20 + 1)}, "sections take"),
        ({3: {}}, "section names must be text"),
        ({"": {}}, "section names must be"),
        ({"bad\nname": {}}, "section names must be"),
    ],
)
def test_bad_sections_are_refused_naming_them_before_any_write(
    shelf: Shelf, backend: NoWrites, work: Path, sections: Any, said: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        shelf.push(PushSource.from_files(pairs(work)), "m", sections=sections)
    assert said in str(info.value)
    assert backend.puts == []


def test_a_circular_section_is_refused(shelf: Shelf, backend: NoWrites, work: Path) -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(InvalidInputError, match="section 'model'"):
        shelf.push(work / "out", "m", sections={"model": loop})
    assert backend.puts == []


def test_sections_must_be_a_mapping(shelf: Shelf, backend: NoWrites, work: Path) -> None:
    with pytest.raises(InvalidInputError, match="sections must be a mapping"):
        shelf.push(work / "out", "m", sections=[("model", {})])  # type: ignore[arg-type]
    assert backend.puts == []


def test_the_module_level_push_takes_a_source(work: Path) -> None:
    manifest = modelshelf.push(
        PushSource.from_files(pairs(work)), "m", store="memory://top", sections={"s": {}}
    )
    assert manifest.extra == {"s": {}}
