"""Idempotent pushes: ``push --if-changed`` (``if_changed=True``) and the "same content" note.

A push whose files (paths, sizes, sha256) and sections (metadata, model section, ...) equal
those of the latest version in scope creates nothing and returns that version; the default push
still creates a version and says which one it repeats. Message, source, time and author
describe the push, not its content, and never count.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests import models_fixtures as fx
from tests.wrapped_backend import CountingWrites as Counting

from modelshelf import Shelf
from modelshelf.backends.registry import open_backend
from modelshelf.cli.main import main
from modelshelf.errors import InvalidInputError, VersionExistsError
from modelshelf.models import register_model


@pytest.fixture
def backend(tmp_path: Path) -> Counting:
    return Counting(open_backend((tmp_path / "store").as_uri()))


@pytest.fixture
def shelf(backend: Counting, tmp_path: Path) -> Shelf:
    return Shelf(backend, cache_dir=tmp_path / "cache")


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "sub").mkdir(parents=True)
    (root / "weights.bin").write_bytes(os.urandom(5000))
    (root / "sub" / "config.json").write_text('{"layers": 3}')
    return root


def keys(folder: Path) -> dict[str, tuple[int, int]]:
    """Every object of a local store with its size and modification time."""
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            info = path.stat()
            found[str(path.relative_to(folder))] = (info.st_size, info.st_mtime_ns)
    return found


def test_an_unchanged_push_returns_the_latest_and_writes_nothing(
    shelf: Shelf, backend: Counting, model: Path, tmp_path: Path
) -> None:
    first = shelf.push(model, "m", metadata={"lr": "0.1"}, progress=False)
    before, backend.puts = keys(tmp_path / "store"), []
    report = shelf.push_report(
        model, "m", metadata={"lr": "0.1"}, message="again", if_changed=True, progress=False
    )
    assert not report.new_version and report.same_as == "1.0"
    assert report.manifest == first  # the stored version, with its own message and time
    assert backend.puts == [] and backend.deletes == []
    assert keys(tmp_path / "store") == before
    assert shelf.versions("m") == ["1.0"]
    # Shelf.push gives the manifest, as it always did.
    assert shelf.push(model, "m", metadata={"lr": "0.1"}, if_changed=True, progress=False) == first


def test_one_byte_changed_makes_a_new_version(shelf: Shelf, model: Path) -> None:
    shelf.push(model, "m", progress=False)
    data = bytearray((model / "weights.bin").read_bytes())
    data[2500] ^= 1  # same size, same names: only the hash tells
    (model / "weights.bin").write_bytes(bytes(data))
    report = shelf.push_report(model, "m", if_changed=True, progress=False)
    assert report.new_version and report.manifest.version == "1.1" and report.same_as is None
    pulled = shelf.pull("m:1.1", progress=False)
    assert (pulled / "weights.bin").read_bytes() == bytes(data)


@pytest.mark.parametrize(
    "change",
    [
        {"metadata": {"lr": "0.2"}},
        {"metadata": {}},
        {"sections": {"model": {"engine": "x"}}},
        {"rename": True},
        {"add": True},
    ],
)
def test_metadata_sections_and_names_count(
    shelf: Shelf, backend: Counting, model: Path, change: dict[str, Any]
) -> None:
    shelf.push(model, "m", metadata={"lr": "0.1"}, progress=False)
    kwargs: dict[str, Any] = {"metadata": {"lr": "0.1"}}
    if "metadata" in change:
        kwargs["metadata"] = change["metadata"]
    if "sections" in change:
        kwargs["sections"] = change["sections"]
    if change.get("rename"):
        (model / "weights.bin").rename(model / "weights2.bin")
    if change.get("add"):
        (model / "extra.txt").write_text("more")
    backend.puts = []
    report = shelf.push_report(model, "m", if_changed=True, progress=False, **kwargs)
    assert report.new_version and report.manifest.version == "1.1"
    assert any("/versions/1.1.json" in key for key in backend.puts)


def test_message_and_source_do_not_count(shelf: Shelf, model: Path, tmp_path: Path) -> None:
    shelf.push(model, "m", message="first", progress=False)
    copy = tmp_path / "elsewhere"
    copy.mkdir()
    for path in model.rglob("*"):
        target = copy / path.relative_to(model)
        if path.is_dir():
            target.mkdir()
        else:
            target.write_bytes(path.read_bytes())
    report = shelf.push_report(copy, "m", message="second", if_changed=True, progress=False)
    assert not report.new_version and report.manifest.version == "1.0"
    assert report.manifest.message == "first"


def test_a_default_push_still_creates_and_says_what_it_repeats(shelf: Shelf, model: Path) -> None:
    shelf.push(model, "m", progress=False)
    report = shelf.push_report(model, "m", progress=False)
    assert report.new_version and report.manifest.version == "1.1" and report.same_as == "1.0"
    (model / "extra.txt").write_text("more")
    report = shelf.push_report(model, "m", progress=False)
    assert report.new_version and report.manifest.version == "1.2" and report.same_as is None


def test_the_spec_names_the_version_to_compare_with(
    shelf: Shelf, model: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.bin"
    other.write_bytes(b"another model")
    shelf.push(model, "m", progress=False)  # 1.0
    shelf.push(other, "m", major=True, progress=False)  # 2.0
    # NAME:MAJOR compares with the latest MAJOR.x, and takes the next MAJOR.x when it differs.
    same = shelf.push_report(model, "m:1", if_changed=True, progress=False)
    assert (same.new_version, same.manifest.version) == (False, "1.0")
    new = shelf.push_report(other, "m:1", if_changed=True, progress=False)
    assert (new.new_version, new.manifest.version) == (True, "1.1")
    assert (
        shelf.push_report(other, "m:2", if_changed=True, progress=False).manifest.version == "2.0"
    )
    # Without the flag NAME:MAJOR stays refused as ambiguous (test_shelf pins it).
    with pytest.raises(InvalidInputError, match="2-part versions"):
        shelf.push(other, "m:2", progress=False)
    (tmp_path / "other.bin").write_bytes(b"another model, retrained")
    assert shelf.push(other, "m:2", if_changed=True, progress=False).version == "2.1"
    # An exact version: itself when equal, refused when different, pushed when absent.
    assert shelf.push_report(model, "m:1.0", if_changed=True, progress=False).new_version is False
    with pytest.raises(VersionExistsError):
        shelf.push(other, "m:1.0", if_changed=True, progress=False)
    # An absent exact version is pushed; the note compares it with the latest (2.1).
    absent = shelf.push_report(other, "m:3.0", if_changed=True, progress=False)
    assert (absent.new_version, absent.manifest.version, absent.same_as) == (True, "3.0", "2.1")


def test_a_removed_latest_version_is_not_compared(shelf: Shelf, model: Path) -> None:
    shelf.push(model, "m", progress=False)
    (model / "extra.txt").write_text("more")
    shelf.push(model, "m", progress=False)
    shelf.remove("m:1.1", message="bad")
    report = shelf.push_report(model, "m", if_changed=True, progress=False)
    assert report.new_version and report.manifest.version == "1.2"  # 1.1 is gone; 1.0 differs


def test_a_first_push_with_the_flag_creates_the_version(shelf: Shelf, model: Path) -> None:
    report = shelf.push_report(model, "m", if_changed=True, progress=False)
    assert report.new_version and report.manifest.version == "1.0" and report.same_as is None


def test_a_hostile_latest_manifest_is_not_trusted_as_the_same(
    shelf: Shelf, backend: Counting, model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shelf.push(model, "m", progress=False)
    backend.inner.put("assets/m/versions/1.1.json", b'{"format": 1, "name": "m", "files": [[[')
    report = shelf.push_report(model, "m", if_changed=True, progress=False)
    assert report.new_version and report.manifest.version == "1.2"
    assert "cannot be compared" in caplog.text and "1.1" in caplog.text


def test_unchanged_push_moves_its_aliases_by_compare_and_swap(
    shelf: Shelf, backend: Counting, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.bin"
    other.write_bytes(b"another model")
    shelf.push(other, "m", progress=False)  # 1.0
    shelf.push(model, "m", progress=False)  # 1.1
    shelf.set_alias("m@prod", "1.0")
    calls: list[tuple[str, str | None]] = []
    real = Shelf.set_alias

    def spy(self: Shelf, spec: str, version: str, *, expected: str | None = None) -> Any:
        calls.append((str(spec), expected))
        return real(self, spec, version, expected=expected)

    monkeypatch.setattr(Shelf, "set_alias", spy)
    report = shelf.push_report(model, "m", aliases=["prod", "new"], if_changed=True, progress=False)
    assert not report.new_version and report.aliases_moved == ("prod", "new")
    assert calls == [("m@prod", "1.0"), ("m@new", "")]  # moved only from what was read
    assert shelf.aliases("m")["prod"].version == "1.1"
    assert [r["action"] for r in shelf.log("m")][-2:] == ["alias", "alias"]
    # Again: every alias is there already, so nothing at all is written.
    backend.puts = []
    again = shelf.push_report(model, "m", aliases=["prod"], if_changed=True, progress=False)
    assert again.aliases_moved == () and again.aliases_kept == ("prod",) and backend.puts == []


def test_racing_pushes_of_the_same_content_make_one_version(
    shelf: Shelf, backend: Counting, model: Path
) -> None:
    shelf.push(model, "m", progress=False)
    (model / "extra.txt").write_text("more")
    backend.barrier = threading.Barrier(2)  # both compare with 1.0, then commit together
    results: list[Any] = []

    def push() -> None:
        results.append(shelf.push_report(model, "m", if_changed=True, progress=False))

    threads = [threading.Thread(target=push) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    backend.barrier = None
    assert sorted(r.new_version for r in results) == [False, True]
    assert {r.manifest.version for r in results} == {"1.1"}
    assert shelf.versions("m") == ["1.1", "1.0"]


def test_racing_pushes_of_different_content_both_create(
    shelf: Shelf, backend: Counting, model: Path, tmp_path: Path
) -> None:
    shelf.push(model, "m", progress=False)
    other = tmp_path / "other.bin"
    other.write_bytes(b"another model")
    backend.barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def push(path: Path) -> None:
        results[path.name] = shelf.push_report(path, "m", if_changed=True, progress=False)

    threads = [threading.Thread(target=push, args=(p,)) for p in (model / "sub", other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    backend.barrier = None
    assert {r.manifest.version for r in results.values()} == {"1.1", "1.2"}
    for path_name, report in results.items():
        stored = shelf.store.read_manifest("m", report.manifest.version)
        assert stored == report.manifest and report.new_version
        assert ("other.bin" in [f.path for f in stored.files]) == (path_name == "other.bin")


# -- the command line ------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("MODELSHELF_STORE", (tmp_path / "clistore").as_uri())
    monkeypatch.setenv("MODELSHELF_CACHE_DIR", str(tmp_path / "clicache"))
    yield tmp_path / "clistore"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_if_changed_text_and_json(
    store: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "push", str(model), "m")[:2] == (0, "m:1.0\n")
    before = keys(store)
    code, out, err = run(capsys, "push", str(model), "m", "--if-changed")
    assert (code, out) == (0, "m:1.0\n")
    assert "unchanged" in err and "m:1.0" in err and keys(store) == before
    code, out, _ = run(capsys, "push", str(model), "m", "--if-changed", "--json")
    doc = json.loads(out)
    assert (doc["spec"], doc["new_version"], doc["same_as"], doc["version"]) == (
        "m:1.0",
        False,
        "1.0",
        "1.0",
    )
    # Without the flag: a new version, and the output says it repeats 1.0.
    code, out, err = run(capsys, "push", str(model), "m")
    assert (code, out) == (0, "m:1.1\n") and "same content as m:1.0" in err
    code, out, _ = run(capsys, "push", str(model), "m", "--json")
    doc = json.loads(out)
    assert (doc["new_version"], doc["same_as"], doc["version"]) == (True, "1.1", "1.2")


def test_cli_if_changed_moves_aliases_and_says_so(
    store: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "push", str(model), "m")
    code, out, err = run(capsys, "push", str(model), "m", "--if-changed", "-a", "prod")
    assert (code, out) == (0, "m:1.0\n") and "m@prod -> 1.0" in err
    code, out, err = run(capsys, "push", str(model), "m", "--if-changed", "-a", "prod")
    assert code == 0 and "m@prod is at 1.0 already" in err
    code, out, _ = run(capsys, "push", str(model), "m", "--if-changed", "-a", "prod", "--json")
    doc = json.loads(out)
    assert (
        doc["aliases"] == ["prod"]
        and doc["aliases_moved"] == []
        and doc["aliases_kept"] == ["prod"]
    )


# -- register_model and the engine helpers ---------------------------------------------------
def test_register_model_if_changed(tmp_path: Path) -> None:
    url = (tmp_path / "models").as_uri()
    weights = {"x": 2.0, "bias": 0.5}
    first = register_model("demo/linear", fx.LinearRunner, weights, store=url)
    again = register_model("demo/linear", fx.LinearRunner, weights, store=url, if_changed=True)
    assert again == first
    changed = register_model(
        "demo/linear", fx.LinearRunner, {**weights, "bias": 1.0}, store=url, if_changed=True
    )
    assert changed.version == "1.1"
    assert Shelf(url).versions("demo/linear") == ["1.1", "1.0"]


def test_an_engine_helper_takes_if_changed(tmp_path: Path) -> None:
    from modelshelf.models.engine_helpers import register_pickle_model

    url = (tmp_path / "models").as_uri()
    first = register_pickle_model("demo/pk", {"w": [1.0, 2.0]}, store=url)
    assert register_pickle_model("demo/pk", {"w": [1.0, 2.0]}, store=url, if_changed=True) == first
    changed = register_pickle_model("demo/pk", {"w": [1.0, 3.0]}, store=url, if_changed=True)
    assert changed.version == "1.1"
