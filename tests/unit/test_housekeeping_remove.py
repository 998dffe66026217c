"""Taking versions and aliases back: `rm` and `alias rm`, over memory:// and file:// stores."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelshelf import Shelf
from modelshelf.cli.main import main
from modelshelf.errors import (
    AliasConflictError,
    AliasNotFoundError,
    InvalidInputError,
    OfflineError,
    VersionExistsError,
    VersionNotFoundError,
    VersionRemovedError,
)
from modelshelf.store.bucket import actor
from modelshelf.trust import show_time

ME = actor()
SECRET = b"AWS_SECRET=hunter2\n"


@pytest.fixture(params=["memory", "file"])
def shelf(request: pytest.FixtureRequest, tmp_path: Path) -> Shelf:
    url = "memory://housekeeping" if request.param == "memory" else (tmp_path / "s").as_uri()
    return Shelf(url, cache_dir=tmp_path / "cache")


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    root.mkdir()
    (root / "weights.bin").write_bytes(os.urandom(2048))
    (root / "leaked.env").write_bytes(SECRET)
    return root


def push(shelf: Shelf, model: Path, spec: str = "m", **kwargs: object) -> str:
    return shelf.push(model, spec, progress=False, **kwargs).version  # type: ignore[arg-type]


def raw(shelf: Shelf, key: str) -> bytes:
    return shelf.store.backend.read(key)


# -- rm: the version is gone, its number is not -------------------------------------------------


def test_removed_version_leaves_listings_and_its_manifest_content_is_gone(
    shelf: Shelf, model: Path
) -> None:
    push(shelf, model)
    manifest = shelf.push(model, "m", progress=False)
    assert raw(shelf, "assets/m/versions/1.1.json").count(b"leaked.env") == 1
    removal = shelf.remove("m:1.1", message="leaked a token")
    assert (removal.name, removal.version, removal.message) == ("m", "1.1", "leaked a token")
    assert (removal.who, removal.host) == (ME["user"], ME["host"])
    assert shelf.versions("m") == ["1.0"]
    body = raw(shelf, "assets/m/versions/1.1.json")
    for leaked in [b"leaked.env", b"weights.bin", *(f.sha256.encode() for f in manifest.files)]:
        assert leaked not in body  # nothing of the manifest survives in the store
    record = json.loads(raw(shelf, "assets/m/versions/1.1.removed"))
    assert record["message"] == "leaked a token" and record["who"] == ME["user"]
    assert shelf.resolve("m").version == "1.0"  # latest is the newest live version


def test_reading_a_removed_version_says_who_removed_it_and_when(shelf: Shelf, model: Path) -> None:
    push(shelf, model)
    push(shelf, model)
    removal = shelf.remove("m:1.0", message="bad model")
    with pytest.raises(VersionNotFoundError, match=r"m:1\.0 was removed by") as info:
        shelf.resolve("m:1.0")
    # The time as every message shows one (issue 21), not the record's raw ISO text.
    assert show_time(removal.when) in str(info.value) and "bad model" in str(info.value)
    with pytest.raises(VersionNotFoundError, match="removed by"):
        shelf.store.read_manifest("m", "1.0")


def test_a_removed_number_is_never_reused(shelf: Shelf, model: Path) -> None:
    push(shelf, model)
    push(shelf, model)
    shelf.remove("m:1.1")
    assert push(shelf, model) == "1.2"  # auto-versioning skips past the removed newest
    with pytest.raises(VersionRemovedError, match="never reused") as info:
        push(shelf, model, "m:1.1")
    assert isinstance(info.value, VersionExistsError)  # callers catching that keep working
    assert "removed by" in str(info.value)
    assert shelf.versions("m") == ["1.2", "1.0"]


def test_the_commit_of_a_removed_number_keeps_failing(shelf: Shelf, model: Path) -> None:
    # A pusher that listed the versions before the removal still cannot take the number.
    manifest = shelf.push(model, "m", progress=False)
    shelf.remove("m:1.0")
    with pytest.raises(VersionRemovedError):
        shelf.store.commit_manifest(manifest)


def test_major_push_after_removing_every_version_starts_after_them(
    shelf: Shelf, model: Path
) -> None:
    push(shelf, model)
    shelf.remove("m:1.0")
    assert shelf.assets() == []  # no live version: the asset is not listed
    assert shelf.versions("m") == []  # but it is known: its numbers stay taken (issue 21)
    assert push(shelf, model) == "1.1"


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("m:1", "not a full version"),  # matches 1.0 and 1.1: never "the latest 1.x"
        ("m", "exact version"),
        ("m@prod", "exact version"),
        ("m:1.0/weights.bin", "exact version"),
    ],
)
def test_rm_takes_only_the_exact_version(shelf: Shelf, model: Path, spec: str, why: str) -> None:
    push(shelf, model)
    push(shelf, model)
    shelf.set_alias("m@prod", "1.0")
    with pytest.raises(InvalidInputError, match=why):
        shelf.remove(spec)
    assert shelf.versions("m") == ["1.1", "1.0"]


def test_rm_of_a_missing_or_removed_version_fails(shelf: Shelf, model: Path) -> None:
    push(shelf, model)
    with pytest.raises(VersionNotFoundError, match="does not exist"):
        shelf.remove("m:1.5")
    shelf.remove("m:1.0")
    with pytest.raises(VersionNotFoundError, match="already removed by"):
        shelf.remove("m:1.0")


def test_an_interrupted_removal_is_finished_by_running_it_again(shelf: Shelf, model: Path) -> None:
    push(shelf, model)
    store = shelf.store
    store.remove_version("m", "1.0", "first try")
    manifest_key = "assets/m/versions/1.0.json"
    # As if the remover died after the .removed record, before the tombstone:
    store.backend.put(manifest_key, shelf.push(model, "x", progress=False).to_json())
    assert shelf.store.versions("m") == []  # the record alone already hides the version
    again = shelf.remove("m:1.0")
    assert again.message == "first try"  # the first removal's record stands
    assert b"leaked.env" not in raw(shelf, manifest_key)


def test_rm_dry_run_writes_nothing(shelf: Shelf, model: Path) -> None:
    push(shelf, model)
    before = sorted(m.path for m in shelf.store.backend.list(""))
    removal = shelf.remove("m:1.0", message="why", dry_run=True)
    assert (removal.version, removal.message) == ("1.0", "why")
    assert sorted(m.path for m in shelf.store.backend.list("")) == before
    with pytest.raises(InvalidInputError):
        shelf.remove("m:1", dry_run=True)


def test_rm_is_in_the_audit_log(shelf: Shelf, model: Path) -> None:
    push(shelf, model)
    shelf.remove("m:1.0", message="leaked a token")
    last = shelf.store.log("m")[-1]
    assert (last["action"], last["version"], last["message"]) == ("remove", "1.0", "leaked a token")


def test_an_alias_on_a_removed_version_names_the_alias_and_the_removal(
    shelf: Shelf, model: Path
) -> None:
    push(shelf, model)
    push(shelf, model)
    shelf.set_alias("m@prod", "1.0")
    shelf.pull("m@prod", progress=False)  # its manifest is now cached on this machine
    shelf.remove("m:1.0", message="bad")
    with pytest.raises(VersionNotFoundError, match=r"m@prod points at 1\.0, which was removed by"):
        shelf.resolve("m@prod")
    with pytest.raises(VersionNotFoundError, match="removed by"):
        shelf.set_alias("m@staging", "1.0")  # nor can an alias be pointed at it
    shelf.set_alias("m@prod", "1.1")
    assert shelf.resolve("m@prod").version == "1.1"


def test_a_pinned_version_already_pulled_stays_served_from_this_cache(
    shelf: Shelf, model: Path
) -> None:
    # Decision (docs/design-notes.md): an exact pin that is cached needs no network call, so a
    # removal cannot reach it; `cache rm` removes the local copy. Online resolution refuses.
    push(shelf, model)
    push(shelf, model)
    pulled = shelf.pull("m:1.0", progress=False)
    shelf.remove("m:1.0")
    assert shelf.pull("m:1.0", progress=False) == pulled
    fresh = Shelf(shelf.store.backend, cache_dir=pulled.parents[5] / "other-cache")
    with pytest.raises(VersionNotFoundError, match="removed by"):
        fresh.pull("m:1.0", progress=False)


def test_racing_removers_one_wins(shelf: Shelf, model: Path) -> None:
    push(shelf, model)
    shelf.store.remove_version("m", "1.0", "a")
    with pytest.raises(VersionNotFoundError, match="already removed"):
        shelf.store.remove_version("m", "1.0", "b")
    assert json.loads(raw(shelf, "assets/m/versions/1.0.removed"))["message"] == "a"


# -- alias rm -----------------------------------------------------------------------------------


def test_removed_alias_is_gone_but_stays_in_its_history(shelf: Shelf, model: Path) -> None:
    push(shelf, model)
    push(shelf, model)
    shelf.set_alias("m@prod", "1.0")
    shelf.set_alias("m@staging", "1.1")
    record = shelf.remove_alias("m@prod")
    assert (record.version, record.previous, record.seq) == (None, "1.0", 2)
    with pytest.raises(AliasNotFoundError, match="removed by"):
        shelf.resolve("m@prod")
    assert list(shelf.aliases("m")) == ["staging"]
    history = shelf.store.alias_history("m", "prod")
    assert [r.version for r in history] == ["1.0", None]
    last = shelf.store.log("m")[-1]
    assert (last["action"], last["alias"], last["version"], last["previous"]) == (
        "alias",
        "prod",
        None,
        "1.0",
    )


def test_an_alias_can_be_set_again_after_its_removal(shelf: Shelf, model: Path) -> None:
    push(shelf, model)
    shelf.set_alias("m@prod", "1.0")
    shelf.remove_alias("m@prod")
    record = shelf.set_alias("m@prod", "1.0", expected="")  # unset, as for a new alias
    assert (record.version, record.previous, record.seq) == ("1.0", None, 3)
    assert shelf.resolve("m@prod").version == "1.0"


def test_alias_rm_is_compare_and_swap(shelf: Shelf, model: Path) -> None:
    push(shelf, model)
    push(shelf, model)
    shelf.set_alias("m@prod", "1.1")
    with pytest.raises(AliasConflictError, match=r"points at 1\.1, not 1\.0"):
        shelf.remove_alias("m@prod", expected="1.0")
    assert shelf.resolve("m@prod").version == "1.1"
    assert shelf.remove_alias("m@prod", expected="1.1").previous == "1.1"


def test_alias_rm_of_an_unset_or_removed_alias_fails(shelf: Shelf, model: Path) -> None:
    push(shelf, model)
    with pytest.raises(AliasNotFoundError):
        shelf.remove_alias("m@prod")
    shelf.set_alias("m@prod", "1.0")
    shelf.remove_alias("m@prod")
    with pytest.raises(AliasNotFoundError, match="removed by"):
        shelf.remove_alias("m@prod")
    assert len(shelf.store.alias_history("m", "prod")) == 2  # nothing more was written


@pytest.mark.parametrize("spec", ["m", "m:1.0", "m@latest", "m@prod/x"])
def test_alias_rm_takes_name_at_alias(shelf: Shelf, model: Path, spec: str) -> None:
    push(shelf, model)
    with pytest.raises(InvalidInputError, match="NAME@ALIAS"):
        shelf.remove_alias(spec)


# -- CLI ----------------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_rm_cli(shelf: Shelf, model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    push(shelf, model)
    shelf.set_alias("m@prod", "1.0")
    code, out, err = run(capsys, "-s", shelf.url, "rm", "m:1.0", "-m", "why", "--dry-run")
    assert (code, out) == (0, "would remove m:1.0; m would have no versions left\n")
    assert "@prod points at it" in err
    assert shelf.versions("m") == ["1.0"]
    code, out, err = run(capsys, "-s", shelf.url, "rm", "m:1.0", "-m", "why", "--json")
    record = json.loads(out)
    assert (code, record["version"], record["aliases"], record["dry_run"]) == (
        0,
        "1.0",
        ["prod"],
        False,
    )
    code, _, err = run(capsys, "-s", shelf.url, "rm", "m:1.0")
    assert code == 1 and "already removed by" in err and "Traceback" not in err
    code, _, err = run(capsys, "-s", shelf.url, "pull", "m@prod")
    assert code == 1 and "m@prod points at 1.0, which was removed by" in err
    code, out, _ = run(capsys, "-s", shelf.url, "log", "m")
    assert "remove 1.0  why" in out


def test_alias_rm_cli(shelf: Shelf, model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    push(shelf, model)
    shelf.set_alias("m@prod", "1.0")
    code, out, _ = run(capsys, "-s", shelf.url, "alias", "rm", "m@prod", "--expect", "1.0")
    assert (code, out) == (0, "removed m@prod (was 1.0)\n")
    assert run(capsys, "-s", shelf.url, "alias", "ls", "m")[:2] == (0, "")
    code, out, _ = run(capsys, "-s", shelf.url, "alias", "history", "m@prod")
    assert [line.split("\t")[1] for line in out.splitlines()] == ["1.0", "(removed)"]
    code, out, _ = run(capsys, "-s", shelf.url, "log", "m")
    assert "alias @prod removed (was 1.0)" in out
    code, _, err = run(capsys, "-s", shelf.url, "alias", "rm", "m@prod")
    assert code == 1 and "removed by" in err


def test_a_removal_record_without_a_manifest_still_claims_the_number(
    shelf: Shelf, model: Path
) -> None:
    push(shelf, model)
    shelf.store.backend.put("assets/m/versions/1.1.removed", b"{}")  # written by hand
    shelf.remove("m:1.1")  # writes the tombstone, so the create-only commit of 1.1 fails
    manifest = shelf.push(model, "m", progress=False)
    assert manifest.version == "1.2"
    with pytest.raises(VersionRemovedError):
        shelf.store.commit_manifest(manifest.__class__(**{**manifest.__dict__, "version": "1.1"}))


def test_rm_dry_run_works_where_rm_is_the_remedy_an_unreadable_version(
    shelf: Shelf, model: Path
) -> None:
    push(shelf, model)
    shelf.store.backend.put("assets/m/versions/1.0.json", b"{not a manifest")
    removal = shelf.remove("m:1.0", message="broken", dry_run=True)
    assert removal.version == "1.0"
    assert shelf.store.removal("m", "1.0") is None  # nothing written
    shelf.remove("m:1.0", message="broken")
    with pytest.raises(VersionNotFoundError, match="already removed"):
        shelf.remove("m:1.0", dry_run=True)


def test_a_huge_object_under_a_removed_manifest_key_is_replaced_unread(
    shelf: Shelf, model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelshelf import trust

    push(shelf, model)
    shelf.store.remove_version("m", "1.0", "first try")
    # As if someone put a huge object where the tombstone belongs:
    huge = b"x" * (trust.MAX_RECORD_BYTES + 1)
    shelf.store.backend.put("assets/m/versions/1.0.json", huge)
    backend = shelf.store.backend
    reads: list[str] = []
    real_get = backend.get

    def counting_get(key: str, chunk_size: int) -> Iterator[bytes]:
        reads.append(key)
        return real_get(key, chunk_size)

    monkeypatch.setattr(backend, "get", counting_get)
    shelf.remove("m:1.0")  # finishes the removal: the tombstone replaces the object
    assert "assets/m/versions/1.0.json" not in reads
    assert b"modelshelf-removed" in raw(shelf, "assets/m/versions/1.0.json")


def test_alias_rm_forgets_the_cached_resolution(
    shelf: Shelf, model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    push(shelf, model)
    shelf.set_alias("m@prod", "1.0")
    shelf.pull("m@prod")
    shelf.remove_alias("m@prod")
    monkeypatch.setenv("MODELSHELF_OFFLINE", "1")
    with pytest.raises(OfflineError):
        shelf.resolve("m@prod")  # offline must not keep serving a removed alias
