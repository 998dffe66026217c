"""Review findings on idempotent pushes and repair (issue 21, round two).

- ``push --if-changed`` answered "unchanged" for a version whose blobs were missing and uploaded
  nothing; it now checks every blob by name and size, as a push does, and puts back the
  missing ones (a damaged blob of the right size stays repair's job, and the output says so).
- ``if_changed`` compared sections with Python ``==`` (``True == 1 == 1.0``); two pushes now
  compare equal only when their JSON, as written, is the same.
- ``repair --from ./nope`` said "cannot push"; ``repair --json`` printed its next step as plain
  text on stderr.
- Push's aftermath (moving aliases) lives below the facade, in ``_push_aliases``.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.wrapped_backend import CountingWrites as Counting

import modelshelf
from modelshelf import Shelf
from modelshelf.backends.registry import open_backend
from modelshelf.cli.main import main
from modelshelf.errors import SourcePathError
from modelshelf.manifest import FileEntry, Manifest, content_of
from modelshelf.shelf import _push_read as _upload
from modelshelf.shelf._push_compare import same_listing

SRC = Path(modelshelf.__file__).parent


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def backend(store_dir: Path) -> Counting:
    return Counting(open_backend(store_dir.as_uri()))


@pytest.fixture
def shelf(backend: Counting, tmp_path: Path) -> Shelf:
    return Shelf(backend, cache_dir=tmp_path / "cache")


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "sub").mkdir(parents=True)
    (root / "weights.bin").write_bytes(os.urandom(5000))
    (root / "sub" / "a.txt").write_bytes(b"same")
    (root / "sub" / "b.txt").write_bytes(b"same")  # one blob for two files
    (root / "config.json").write_text('{"layers": 3}')
    return root


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, store_dir: Path) -> str:
    monkeypatch.setenv("MODELSHELF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MODELSHELF_STORE", store_dir.as_uri())
    return store_dir.as_uri()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def blob_of(manifest: Manifest, path: str) -> str:
    return next(f.sha256 for f in manifest.files if f.path == path)


# -- 1. push --if-changed checks that the blobs are there -------------------------------------


def test_if_changed_puts_back_a_missing_blob(shelf: Shelf, backend: Counting, model: Path) -> None:
    """Failed before the fix: "unchanged", nothing uploaded, verify still failing."""
    first = shelf.push(model, "m", progress=False)
    weights = blob_of(first, "weights.bin")
    backend.delete(shelf.store.blob_key(weights))
    backend.puts.clear()
    report = shelf.push_report(model, "m", if_changed=True, progress=False)
    assert not report.new_version and report.manifest == first
    assert report.reuploaded == ("weights.bin",)
    assert shelf.store.blob_key(weights) in backend.puts
    assert shelf.versions("m") == ["1.0"]  # no new version for it
    assert shelf.verify("m:1.0", progress=False).ok
    assert shelf.log("m")[-1]["action"] == "repair"  # it wrote: audited as a repair
    # Whole again: the next unchanged push writes nothing at all.
    backend.puts.clear()
    again = shelf.push_report(model, "m", if_changed=True, progress=False)
    assert again.reuploaded == () and backend.puts == []


def test_if_changed_puts_back_a_blob_of_the_wrong_size_once_for_two_files(
    shelf: Shelf, backend: Counting, model: Path
) -> None:
    first = shelf.push(model, "m", progress=False)
    shared = blob_of(first, "sub/a.txt")
    backend.inner.put(shelf.store.blob_key(shared), b"truncated!!")  # not its size: missing
    backend.puts.clear()
    report = shelf.push_report(model, "m", if_changed=True, progress=False)
    assert report.reuploaded == ("sub/a.txt", "sub/b.txt")
    assert backend.puts.count(shelf.store.blob_key(shared)) == 1
    assert shelf.verify("m:1.0", progress=False).ok


def test_if_changed_streams_a_large_missing_blob_again(
    shelf: Shelf, backend: Counting, model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_upload, "SINGLE_PASS_MAX", 1024)  # weights.bin is hashed, then streamed
    first = shelf.push(model, "m", progress=False)
    backend.delete(shelf.store.blob_key(blob_of(first, "weights.bin")))
    report = shelf.push_report(model, "m", if_changed=True, progress=False)
    assert report.reuploaded == ("weights.bin",)
    assert shelf.verify("m:1.0", progress=False).ok


def test_if_changed_reuploads_only_the_bytes_it_hashed(
    shelf: Shelf, backend: Counting, model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file changed after the comparison hashed it is never stored under the old name."""
    monkeypatch.setattr(_upload, "SINGLE_PASS_MAX", 1024)
    first = shelf.push(model, "m", progress=False)
    weights = blob_of(first, "weights.bin")
    backend.delete(shelf.store.blob_key(weights))
    from modelshelf.shelf import _push_compare

    real = _push_compare.same_files

    def then_change(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        data = bytearray((model / "weights.bin").read_bytes())
        data[0] ^= 1
        (model / "weights.bin").write_bytes(bytes(data))
        os.utime(model / "weights.bin", ns=(1, 1))
        return found

    monkeypatch.setattr("modelshelf.shelf.push.same_files", then_change)
    with pytest.raises(SourcePathError):
        shelf.push_report(model, "m", if_changed=True, progress=False)
    assert not shelf.store.has_blob(weights)


def test_cli_if_changed_says_what_it_put_back(
    cli_env: str, store_dir: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reviewer's case: push; rm a blob; push --if-changed. Failed before the fix."""
    assert run(capsys, "push", str(model), "y/z")[:2] == (0, "y/z:1.0\n")
    blobs = sorted(p for p in (store_dir / "blobs").rglob("*") if p.is_file())
    victim = max(blobs, key=lambda p: p.stat().st_size)  # weights.bin
    victim.unlink()
    assert run(capsys, "verify", "y/z")[0] == 1
    code, out, err = run(capsys, "push", str(model), "y/z", "--if-changed")
    assert code == 0 and out == "y/z:1.0\n"
    assert (
        "unchanged" in err
        and "lacked the blobs of weights.bin: re-uploaded" in err
        and "weights.bin" in err
    )
    assert "modelshelf repair y/z:1.0" in err  # damaged bytes of the right size: repair's job
    assert run(capsys, "verify", "y/z")[0] == 0
    victim.unlink()
    code, out, _ = run(capsys, "push", str(model), "y/z", "--if-changed", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["new_version"] is False and doc["reuploaded"] == ["weights.bin"]
    victim.unlink()
    code, out, err = run(capsys, "push", str(model), "y/z", "--if-changed", "--quiet")
    assert code == 0 and out == "y/z:1.0\n" and "re-uploaded" in err  # a repair is news
    code, out, err = run(capsys, "push", str(model), "y/z", "--if-changed")
    assert code == 0 and "re-uploaded" not in err and "nothing pushed" in err


# -- 2. if_changed compares the JSON as written ------------------------------------------------


def test_true_one_and_one_point_oh_are_different_sections(shelf: Shelf, model: Path) -> None:
    """The reviewer's a_ifchanged.py. Failed before the fix (it returned 1.0)."""
    shelf.push(model, "x/cfg", sections={"cfg": {"enabled": 1, "lr": 1}}, progress=False)
    second = shelf.push(
        model, "x/cfg", sections={"cfg": {"enabled": True, "lr": 1.0}}, if_changed=True,
        progress=False,
    )  # fmt: skip
    assert second.version == "1.1" and second.extra == {"cfg": {"enabled": True, "lr": 1.0}}
    third = shelf.push(
        model, "x/cfg", sections={"cfg": {"enabled": True, "lr": 1.0}}, if_changed=True,
        progress=False,
    )  # fmt: skip
    assert third.version == "1.1"
    fourth = shelf.push(
        model, "x/cfg", sections={"cfg": {"lr": 1.0, "enabled": True}}, if_changed=True,
        progress=False,
    )  # fmt: skip
    assert fourth.version == "1.1"  # object keys in another order: the same JSON object


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)
tricky = st.sampled_from([0, 1, -1, 0.0, -0.0, 1.0, True, False, None, "1", 2**53, 2.0**53])
sections = st.dictionaries(st.sampled_from(["cfg", "model"]), json_values | tricky, max_size=2)


def written(value: Any) -> str:
    """The JSON a manifest writes for a value (json.dumps, as Manifest.to_json), keys sorted."""
    return json.dumps(value, sort_keys=True, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(first=sections, second=sections)
def test_sections_compare_equal_iff_their_written_json_is_equal(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    files = [FileEntry("a", 1, "0" * 64)]
    same = written(first) == written(second)
    assert (content_of("file", files, {}, first) == content_of("file", files, {}, second)) is same
    stored = Manifest.from_json(
        Manifest("m", "1.0", "file", tuple(files), "t", "a", extra=first).to_json()
    )  # read back as a store gives it
    assert same_listing(stored, "file", [("a", 1)], {}, second) is same


@settings(max_examples=100, deadline=None)
@given(first=st.dictionaries(st.text(max_size=3), tricky | json_values, max_size=3))
def test_a_section_read_back_from_its_manifest_is_the_same(first: dict[str, Any]) -> None:
    files = [FileEntry("a", 1, "0" * 64)]
    extra = {"cfg": first}
    stored = Manifest.from_json(
        Manifest("m", "1.0", "file", tuple(files), "t", "a", extra=extra).to_json()
    )
    assert same_listing(stored, "file", [("a", 1)], {}, extra)
    assert content_of("file", stored.files, {}, stored.extra) == content_of(
        "file", files, {}, extra
    )


# -- 3, 4. repair's words ----------------------------------------------------------------------


def test_repair_from_a_missing_folder_says_repair(
    cli_env: str, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Failed before the fix ("cannot push 'nope'")."""
    assert run(capsys, "push", str(model), "m")[0] == 0
    code, _, err = run(capsys, "repair", "m:1.0", "--from", "./nope")
    assert code == 1 and "cannot repair from 'nope'" in err and "push" not in err
    with pytest.raises(SourcePathError, match="cannot repair from") as caught:
        Shelf(cli_env).repair("m:1.0", ["./nope"], progress=False)
    assert "push" not in str(caught.value)


def test_repair_json_keeps_stderr_json_and_puts_the_next_step_in_the_report(
    cli_env: str, store_dir: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Failed before the fix (a plain "  next: ..." line on stderr, none in the report)."""
    assert run(capsys, "push", str(model), "m")[0] == 0
    for blob in (store_dir / "blobs").rglob("*"):
        if blob.is_file() and blob.stat().st_size == 5000:
            blob.write_bytes(os.urandom(5000))  # damaged in place; no copy of it anywhere
    code, out, err = run(capsys, "repair", "m:1.0", "--json")
    doc = json.loads(out)
    assert code == 1 and doc["ok"] is False and len(doc["broken"]) == 1
    assert "modelshelf repair m:1.0 --from DIR" in doc["next"]
    for line in err.splitlines():  # nothing but JSON on stderr
        json.loads(line)
    code, out, err = run(capsys, "repair", "m:1.0")  # people still read it on stderr
    assert code == 1 and "next: " in err and "modelshelf repair m:1.0 --from DIR" in err
    code, out, _ = run(capsys, "repair", "m:1.0", "--from", str(model), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] is True and doc["next"] is None


# -- 5. the reports are documented for users ---------------------------------------------------


@pytest.mark.parametrize(
    "thing",
    [
        "RepairReport",
        "RepairReport.repaired",
        "RepairReport.broken",
        "RepairReport.ok",
        "RepairReport.next_step",
        "RepairReport.to_dict",
        "BlobRepair.repaired",
        "BlobRepair.to_dict",
        "BlobFault.describe",
        "VerifyReport",
        "VerifyReport.ok",
        "VerifyReport.to_dict",
        "PushReport",
    ],
)
def test_report_members_have_docstrings(thing: str) -> None:
    from modelshelf.shelf import housekeeping as _housekeeping
    from modelshelf.shelf import push as _push
    from modelshelf.shelf import repair as _repair

    owner, _, member = thing.partition(".")
    cls = next(getattr(m, owner) for m in (_repair, _housekeeping, _push) if hasattr(m, owner))
    obj = getattr(cls, member) if member else cls
    doc = (obj.fget if isinstance(obj, property) else obj).__doc__ or ""
    assert len(doc.strip()) > 20, thing
    if not member and owner != "PushReport":
        assert "Attributes:" in doc


# -- 6. alias moves after a push live below the facade ----------------------------------------


def test_alias_moves_after_a_push_live_below_the_facade() -> None:
    shelf_src = (SRC / "shelf/shelf.py").read_text()
    assert "def move_aliases_after_push" not in shelf_src
    assert "def _alias_version" not in shelf_src
    assert len(shelf_src.splitlines()) <= 500
    tree = ast.parse((SRC / "shelf/push_aliases.py").read_text())
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module is not None
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    upward = {"modelshelf.shelf.shelf", "modelshelf.models", "modelshelf.cli", "modelshelf.serve"}
    assert not {m for m in imported if any(m.startswith(u) for u in upward)}
    register = (SRC / "models" / "register.py").read_text()
    assert "from modelshelf.shelf.push_aliases import move_aliases_after_push" in register


def test_an_unchanged_push_still_moves_an_alias(shelf: Shelf, model: Path) -> None:
    shelf.push(model, "m", progress=False)
    shelf.push(model, "m", message="again", progress=False)  # 1.1
    report = shelf.push_report(model, "m:1.0", if_changed=True, aliases=["prod"], progress=False)
    assert report.manifest.version == "1.0" and report.aliases_moved == ("prod",)
    again = shelf.push_report(model, "m:1.0", if_changed=True, aliases=["prod"], progress=False)
    assert again.aliases_kept == ("prod",) and again.aliases_moved == ()


def test_a_source_path_error_pickles_with_its_verb() -> None:
    import pickle

    error = SourcePathError(Path("nope"), "no such file or folder", verb="repair from")
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) and copy.verb == "repair from" and copy.path == Path("nope")


def test_register_model_if_changed_puts_back_missing_blobs(tmp_path: Path) -> None:
    from tests import models_fixtures as fx

    from modelshelf.models import register_model

    store = tmp_path / "models"
    weights = {"x": 2.0, "bias": 0.5}
    first = register_model("demo/linear", fx.LinearRunner, weights, store=store.as_uri())
    for blob in (store / "blobs").rglob("*"):
        if blob.is_file():
            blob.unlink()
    shelf = Shelf(store.as_uri(), cache_dir=tmp_path / "cache")
    assert not shelf.verify("demo/linear:1.0", progress=False).ok
    again = register_model(
        "demo/linear", fx.LinearRunner, weights, store=store.as_uri(), if_changed=True
    )
    assert again == first  # saved from the instance again, into a folder gone by now
    assert shelf.verify("demo/linear:1.0", progress=False).ok
    assert shelf.versions("demo/linear") == ["1.0"]


# -- the same class in copy: "already there" judged by the JSON as written -------------------


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ({"sections": {"cfg": {"on": True}}}, {"sections": {"cfg": {"on": 1}}}),
        ({"sections": {"cfg": 1.0}}, {"sections": {"cfg": 1}}),
        ({"metadata": {"lr": "0.1"}}, {"metadata": {"lr": "0.2"}}),
    ],
)
def test_copy_onto_a_version_written_differently_is_refused(
    tmp_path: Path, model: Path, ours: dict[str, Any], theirs: dict[str, Any]
) -> None:
    from modelshelf.errors import VersionExistsError

    dev = Shelf((tmp_path / "dev").as_uri(), cache_dir=tmp_path / "cache")
    prod = Shelf((tmp_path / "prod").as_uri(), cache_dir=tmp_path / "cache")
    dev.push(model, "m", progress=False, **ours)
    prod.push(model, "m", progress=False, **theirs)
    with pytest.raises(VersionExistsError, match="different content"):
        dev.copy("m:1.0", prod)
    prod.push(model, "m:2.0", progress=False, **ours)
    dev.push(model, "m:2.0", progress=False, **{k: v for k, v in ours.items()})
    assert dev.copy("m:2.0", prod).already_there  # written the same: the same version
