"""``modelshelf repair`` / ``Shelf.repair``: damaged and missing blobs put back from good copies.

A push reuses a blob present at the right size, so pushing the same files again never mends a
blob damaged in place; repair does, from the cache or the folders given, and only with bytes that
hash to the blob's name.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from tests.wrapped_backend import CountingWrites as Counting

from modelshelf import Shelf
from modelshelf.backends.registry import open_backend
from modelshelf.cli.main import main
from modelshelf.errors import SourcePathError
from modelshelf.manifest import Manifest


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
    (root / "weights.bin").write_bytes(os.urandom(3000))
    (root / "sub" / "a.txt").write_bytes(b"same")
    (root / "sub" / "b.txt").write_bytes(b"same")  # one blob for two files
    (root / "config.json").write_text('{"layers": 3}')
    return root


def blob_of(manifest: Manifest, path: str) -> str:
    return next(f.sha256 for f in manifest.files if f.path == path)


def corrupt(shelf: Shelf, digest: str, data: bytes | None = None) -> None:
    key = shelf.store.blob_key(digest)
    size = shelf.store.backend.head(key).size
    shelf.store.backend.put(key, data if data is not None else os.urandom(size))


def test_a_damaged_blob_is_repaired_from_the_original_folder(
    shelf: Shelf, backend: Counting, model: Path
) -> None:
    manifest = shelf.push(model, "m", progress=False)
    weights = blob_of(manifest, "weights.bin")
    corrupt(shelf, weights)  # same size: only a full verify sees it
    assert [f.problem for f in shelf.verify("m:1.0", progress=False).faults] == ["sha256"]
    # Pushing the same files again does not mend it (the blob is present at its size) ...
    shelf.push(model, "m", progress=False)
    assert not shelf.verify("m:1.0", progress=False).ok
    backend.puts = []
    report = shelf.repair("m:1.0", [model], progress=False)
    assert report.ok and [r.fault.path for r in report.repaired] == ["weights.bin"]
    assert report.repaired[0].source == str(model / "weights.bin")
    assert shelf.verify("m:1.0", progress=False).ok
    # Only the damaged blob was written (and one audit record): a good blob is never touched.
    assert [k for k in backend.puts if k.startswith("blobs/")] == [shelf.store.blob_key(weights)]
    record = shelf.log("m")[-1]
    assert (record["action"], record["version"], record["blobs"], record["left"]) == (
        "repair", "1.0", 1, 0,
    )  # fmt: skip


def test_a_missing_blob_and_a_truncated_one_are_put_back(shelf: Shelf, model: Path) -> None:
    manifest = shelf.push(model, "m", progress=False)
    shelf.store.backend.delete(shelf.store.blob_key(sha(b"same")))
    corrupt(shelf, blob_of(manifest, "weights.bin"), b"short")
    faults = shelf.verify("m", progress=False).faults
    assert sorted(f.problem for f in faults) == ["missing", "missing", "size"]
    report = shelf.repair("m", [model], progress=False)
    assert report.ok and len(report.repaired) == 2
    same = next(r for r in report.repaired if r.fault.sha256 == sha(b"same"))
    assert same.paths == ("sub/a.txt", "sub/b.txt")
    assert shelf.verify("m", progress=False).ok


def test_the_cache_is_a_source(shelf: Shelf, model: Path) -> None:
    manifest = shelf.push(model, "m", progress=False)
    shelf.pull("m:1.0", progress=False)  # the cache holds every blob, verified
    corrupt(shelf, blob_of(manifest, "weights.bin"))
    report = shelf.repair("m:1.0", progress=False)
    assert report.ok and report.repaired[0].source == "the cache"
    assert shelf.verify("m:1.0", progress=False).ok


def test_a_file_with_the_right_name_and_size_but_other_bytes_is_not_used(
    shelf: Shelf, backend: Counting, model: Path, tmp_path: Path
) -> None:
    manifest = shelf.push(model, "m", progress=False)
    weights = blob_of(manifest, "weights.bin")
    damage = os.urandom(3000)
    corrupt(shelf, weights, damage)
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    (decoy / "weights.bin").write_bytes(os.urandom(3000))  # right name and size, wrong bytes
    backend.puts = []
    report = shelf.repair("m:1.0", [decoy], progress=False)
    assert not report.ok and not report.repaired
    (left,) = report.broken
    assert left.fault.path == "weights.bin" and left.fault.problem == "sha256"
    assert any("weights.bin: its bytes hash to" in why for why in left.tried)
    assert backend.puts == []  # nothing written, not even an audit record
    assert (tmp_path / "store" / shelf.store.blob_key(weights)).read_bytes() == damage
    # The good bytes under any other name are found by hashing (names are not trusted).
    (decoy / "renamed.dat").write_bytes((model / "weights.bin").read_bytes())
    report = shelf.repair("m:1.0", [decoy], progress=False)
    assert report.ok and report.repaired[0].source == str(decoy / "renamed.dat")


def test_a_single_file_source_and_a_single_file_asset(shelf: Shelf, tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(os.urandom(1000))
    manifest = shelf.push(model, "m", progress=False)
    shelf.store.backend.delete(shelf.store.blob_key(manifest.files[0].sha256))
    elsewhere = tmp_path / "copy-of-model.bin"
    elsewhere.write_bytes(model.read_bytes())
    report = shelf.repair("m", [elsewhere], progress=False)
    assert report.ok and report.repaired[0].source == str(elsewhere)


def test_nothing_to_repair_writes_nothing(shelf: Shelf, backend: Counting, model: Path) -> None:
    shelf.push(model, "m", progress=False)
    backend.puts = []
    report = shelf.repair("m", [model], progress=False)
    assert report.ok and report.repairs == () and backend.puts == []


def test_a_missing_source_is_refused_before_anything(
    shelf: Shelf, model: Path, tmp_path: Path
) -> None:
    shelf.push(model, "m", progress=False)
    with pytest.raises(SourcePathError, match=r"cannot repair from .*: no such file or folder"):
        shelf.repair("m", [tmp_path / "nope"], progress=False)


def test_hostile_source_entries_are_skipped_not_followed_forever(
    shelf: Shelf, model: Path, tmp_path: Path
) -> None:
    manifest = shelf.push(model, "m", progress=False)
    corrupt(shelf, blob_of(manifest, "weights.bin"))
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    os.mkfifo(hostile / "weights.bin")  # where the file is expected: must not hang the repair
    (hostile / "loop").symlink_to(hostile)  # a cycle of links
    (hostile / "dangling").symlink_to(tmp_path / "absent")
    report = shelf.repair("m:1.0", [hostile], progress=False)
    assert not report.ok
    assert any("not a regular file" in why for why in report.broken[0].tried)
    (hostile / "deep").mkdir()
    (hostile / "deep" / "x").write_bytes((model / "weights.bin").read_bytes())
    assert shelf.repair("m:1.0", [hostile], progress=False).ok


def test_a_missing_blob_in_a_gc_quarantine_is_put_back_from_it(shelf: Shelf, model: Path) -> None:
    manifest = shelf.push(model, "m", progress=False)
    weights = blob_of(manifest, "weights.bin")
    shelf.store.quarantine_blob(weights, "20261207T000000Z-0123456789ab")  # a stopped gc
    report = shelf.repair("m", progress=False)
    assert report.ok and "gc/20261207T000000Z-0123456789ab" in (report.repaired[0].source or "")
    assert shelf.verify("m", progress=False).ok


# -- the command line ------------------------------------------------------------------------
@pytest.fixture
def cli_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Shelf:
    monkeypatch.setenv("MODELSHELF_STORE", (tmp_path / "clistore").as_uri())
    monkeypatch.setenv("MODELSHELF_CACHE_DIR", str(tmp_path / "clicache"))
    return Shelf((tmp_path / "clistore").as_uri(), cache_dir=tmp_path / "othercache")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_verify_advice_names_repair(
    cli_store: Shelf, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = cli_store.push(model, "m", progress=False)
    corrupt(cli_store, blob_of(manifest, "weights.bin"))
    code, _, err = run(capsys, "verify", "m:1.0")
    assert code == 1
    assert "modelshelf repair m:1.0 --from DIR" in err and "push the same files" not in err


def test_cli_repair_text_json_and_exit_codes(
    cli_store: Shelf, model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = cli_store.push(model, "m", progress=False)
    weights = blob_of(manifest, "weights.bin")
    corrupt(cli_store, weights)
    cli_store.store.backend.delete(cli_store.store.blob_key(sha(b"same")))
    empty = tmp_path / "empty"
    empty.mkdir()
    # Nothing repairable: exit 1, each blob named, and the next step.
    code, out, err = run(capsys, "repair", "m:1.0", "--from", str(empty))
    assert code == 1
    assert "weights.bin" in out and "sub/a.txt" in out and weights in out
    assert "modelshelf repair m:1.0 --from DIR" in err
    code, out, _ = run(capsys, "repair", "m:1.0", "--from", str(empty), "--json")
    doc = json.loads(out)
    assert code == 1 and not doc["ok"] and len(doc["broken"]) == 2 and doc["repaired"] == []
    # From the original folder: both repaired, exit 0; then verify passes.
    code, out, err = run(capsys, "repair", "m:1.0", "--from", str(empty), "--from", str(model))
    assert code == 0 and out.count("repaired") == 2 and "2 repaired, 0 left" in err
    assert run(capsys, "verify", "m:1.0")[0] == 0
    code, out, err = run(capsys, "repair", "m:1.0")
    assert code == 0 and "nothing to repair" in err
    assert "repair" in run(capsys, "--help")[1]


def test_a_large_file_is_hashed_then_verified_again_as_it_is_sent(
    shelf: Shelf, model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelshelf.shelf import _push_read as _upload

    manifest = shelf.push(model, "m", progress=False)
    corrupt(shelf, blob_of(manifest, "weights.bin"))
    monkeypatch.setattr(_upload, "SINGLE_PASS_MAX", 1000)  # weights.bin (3000 B) streams
    sent: list[object] = []
    real = shelf.store.put_blob

    def watch(digest: str, content: object, size: int | None = None) -> None:
        sent.append(content)
        real(digest, content, size)  # type: ignore[arg-type]

    monkeypatch.setattr(shelf.store, "put_blob", watch)
    assert shelf.repair("m", [model], progress=False).ok
    assert sent == [model / "weights.bin"]  # the path: uploaded through the verifying reader
    assert shelf.verify("m", progress=False).ok


def test_each_file_under_the_folders_is_hashed_once_whatever_it_could_be(
    shelf: Shelf, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelshelf.shelf import repair as _repair

    (model / "twin.bin").write_bytes(os.urandom(3000))  # two blobs of one size
    manifest = shelf.push(model, "m", progress=False)
    for path in ("weights.bin", "twin.bin"):
        corrupt(shelf, blob_of(manifest, path))
    decoys = tmp_path / "decoys"
    decoys.mkdir()
    for name in ("a.dat", "b.dat", "c.dat"):
        (decoys / name).write_bytes(os.urandom(3000))
    hashed: list[int] = []
    real = _repair.HashedBytes

    def counting(data: bytes) -> object:
        hashed.append(len(data))
        return real(data)

    monkeypatch.setattr(_repair, "HashedBytes", counting)
    report = shelf.repair("m", [decoys], progress=False)
    assert len(report.broken) == 2 and len(hashed) == 3  # not 6: one hash per file
    assert all("3 other file(s) of its size" in r.tried[-1] for r in report.broken)


def test_a_manifest_that_lies_about_a_size_never_gets_a_good_blob_replaced(
    shelf: Shelf, backend: Counting, model: Path, tmp_path: Path
) -> None:
    manifest = shelf.push(model, "m", progress=False)
    weights = blob_of(manifest, "weights.bin")
    doc = json.loads(manifest.to_json())
    doc["version"] = "1.1"
    for entry in doc["files"]:
        if entry["path"] == "weights.bin":
            entry["size"] = 2999  # a hostile writer's manifest: the blob looks truncated
    backend.inner.put("assets/m/versions/1.1.json", json.dumps(doc).encode(), mode="create")
    (tmp_path / "short.bin").write_bytes((model / "weights.bin").read_bytes()[:2999])
    backend.puts = []
    report = shelf.repair("m:1.1", [model, tmp_path], progress=False)
    (left,) = report.broken
    assert left.fault.problem == "size" and backend.puts == []
    assert (tmp_path / "store" / shelf.store.blob_key(weights)).read_bytes() == (
        model / "weights.bin"
    ).read_bytes()  # the good blob is as it was; 1.0 still verifies
    assert shelf.verify("m:1.0", progress=False).ok
