"""No committed version loses a blob to a concurrent gc (issue 20 review, B4, item 10).

A push or a copy that finds an old orphan present does not send it again; gc may be deleting
that very blob. Every order of the writer's lookup (Lk), commit (C) and post-commit check (P)
against gc's delete (D) and last listing (L) is forced here (tests/gc_schedule.py); in each the
version ends whole, because gc moves a blob to a quarantine before it deletes it for good and
puts back whatever a manifest listed at L uses, while a writer that checks after D restores the
blob itself. A gc that dies midway leaves a quarantine the next gc recovers from.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.gc_schedule import (
    ON_THE_BUCKET,
    ORDERS,
    Gated,
    Schedule,
    Sides,
    ThroughRegistries,
    run_both,
)
from tests.wrapped_backend import WrappedBackend

from modelshelf import Shelf
from modelshelf.backends import Backend, open_backend
from modelshelf.store.bucket import Store
from modelshelf.store.gc import GcReport, collect_garbage

LATER = datetime.now(UTC) + timedelta(days=2)  # every blob written by a test is old by then
WEIGHTS = b"weights, the same in the removed version and the new one"
DIGEST = hashlib.sha256(WEIGHTS).hexdigest()
BLOB_KEY = f"blobs/sha256/{DIGEST[:2]}/{DIGEST}"


@pytest.fixture
def model(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "w.bin").write_bytes(WEIGHTS)
    return folder


def orphaned(url: str, model: Path, cache: Path) -> Shelf:
    """A store where the model's blob is an old orphan: its only version was removed."""
    shelf = Shelf(url, cache_dir=cache)
    shelf.push(model, "old", progress=False)
    shelf.remove("old:1.0")
    return shelf


def quarantine(backend: Backend) -> list[str]:
    return sorted(meta.path for meta in backend.list("gc"))


def race(
    order: str,
    inner: Backend,
    model: Path,
    tmp_path: Path,
    source: Shelf | None,
    sides: Sides = ON_THE_BUCKET,
) -> GcReport:
    """Run gc and the writer (a push of ``model`` as ``new``, or a copy of ``m:1.0`` from
    ``source``), each reaching ``inner`` as ``sides`` say, in the given order of events; check
    the new version is whole and nothing is left in a quarantine; gc's report."""
    schedule = Schedule(order)
    reports: list[GcReport] = []
    with (
        sides.gc_store(Gated(inner, schedule, "gc", BLOB_KEY)) as gc_store,
        sides.writer(
            Gated(inner, schedule, "writer", BLOB_KEY, sides.heads), tmp_path / "cw"
        ) as written,
    ):

        def write() -> None:
            if source is None:
                written.push(model, "new", progress=False)
            else:
                source.copy("m:1.0", written, progress=False)

        errors = run_both(lambda: reports.append(collect_garbage(gc_store, now=LATER)), write)
    assert not errors, errors
    assert not schedule.failures, schedule.failures
    assert schedule.done == len(schedule.order)  # every event happened, in this order
    name = "new" if source is None else "m"
    report = Shelf(inner, cache_dir=tmp_path / "cv").verify(f"{name}:1.0", progress=False)
    assert report.ok, f"{order}: {report}"
    assert quarantine(inner) == []  # nothing left behind
    (collected,) = reports
    return collected


@pytest.mark.parametrize("order", ORDERS)
def test_a_push_racing_gc_keeps_its_blob_in_every_order(
    tmp_path: Path, model: Path, order: str
) -> None:
    url = (tmp_path / "store").as_uri()
    orphaned(url, model, tmp_path / "c0")
    race(order, open_backend(url), model, tmp_path, None)


@pytest.mark.parametrize("order", ORDERS)
def test_a_copy_racing_gc_keeps_its_blob_in_every_order(
    tmp_path: Path, model: Path, order: str
) -> None:
    url = (tmp_path / "prod").as_uri()
    orphaned(url, model, tmp_path / "c0")
    source = Shelf((tmp_path / "dev").as_uri(), cache_dir=tmp_path / "c1")
    source.push(model, "m", progress=False)
    race(order, open_backend(url), model, tmp_path, source)


@pytest.mark.parametrize("order", ["R Lk D Ck L C", "R Lk D Ck C L"])
@pytest.mark.parametrize("writer", ["push", "copy"])
def test_a_blob_gc_deletes_before_the_registry_checks_it_is_sent_again(
    tmp_path: Path, model: Path, order: str, writer: str
) -> None:
    """Through a registry the blob is looked up twice before the commit: by the client (Lk),
    then by the server, which refuses a manifest naming a blob it lacks (Ck). A gc deleting the
    blob between the two leaves the writer to send it again, and commit."""
    url = (tmp_path / "store").as_uri()
    orphaned(url, model, tmp_path / "c0")
    source = None
    if writer == "copy":
        source = Shelf((tmp_path / "dev").as_uri(), cache_dir=tmp_path / "c1")
        source.push(model, "m", progress=False)
    inner = open_backend(url)
    race(order, inner, model, tmp_path, source, ThroughRegistries(inner, heads=("Lk", "Ck")))


def test_gc_says_it_put_back_the_blob_of_a_version_committed_before_its_last_listing(
    tmp_path: Path, model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = (tmp_path / "store").as_uri()
    orphaned(url, model, tmp_path / "c0")
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        # The review's order: only gc can repair it.
        report = race("R Lk C P D L", open_backend(url), model, tmp_path, None)
    assert report.deleted == () and report.restored == ("new:1.0",) and report.broken == ()
    assert "new:1.0 was committed while gc ran" in caplog.text
    assert "put it back" in caplog.text
    assert "its push restores" not in caplog.text  # the old, untrue promise


# -- a gc that dies midway ----------------------------------------------------------------------


class DiesBeforeLastListing(WrappedBackend):
    """A gc killed (``kill`` raised) after its moves, before its last listing; a push commits
    meanwhile."""

    def __init__(
        self, inner: Backend, during_delete: object, kill: type[BaseException] = KeyboardInterrupt
    ) -> None:
        super().__init__(inner)
        self.asset_lists = 0
        self.during_delete = during_delete
        self.kill = kill

    def delete(self, key: str) -> None:
        if key.startswith("blobs/") and callable(self.during_delete):
            hook, self.during_delete = self.during_delete, None
            hook()  # the review's order: the writer commits and checks before the delete
        self.inner.delete(key)

    def list(self, prefix: str):  # type: ignore[no-untyped-def]
        if prefix == "assets":
            self.asset_lists += 1
            if self.asset_lists == 3:
                raise self.kill  # killed
        return self.inner.list(prefix)


@contextlib.contextmanager
def killed_gc(
    inner: Backend, model: Path, tmp_path: Path, sides: Sides = ON_THE_BUCKET
) -> Iterator[Shelf]:
    """Kill a gc of ``inner`` after its moves, before its last listing, while a push of
    ``model`` as ``new`` commits; yields the writer's shelf, which sees the version as the
    quarantine left it."""
    with sides.writer(inner, tmp_path / "cw") as writer:
        dying = DiesBeforeLastListing(
            inner, lambda: writer.push(model, "new", progress=False), sides.kill
        )
        with sides.gc_store(dying) as gc_store, pytest.raises(sides.killed):
            collect_garbage(gc_store, now=LATER)
        yield writer


def test_the_next_gc_restores_a_blob_a_killed_gc_left_in_quarantine(
    tmp_path: Path, model: Path
) -> None:
    url = (tmp_path / "store").as_uri()
    orphaned(url, model, tmp_path / "c0")
    inner = open_backend(url)
    with killed_gc(inner, model, tmp_path) as shelf:
        (fault,) = shelf.verify("new:1.0", progress=False).faults  # the blob is in quarantine
        assert fault.problem == "missing" and "/gc/" in fault.actual
        assert "modelshelf gc" in fault.actual
        assert len(quarantine(inner)) == 1
        report = collect_garbage(Store(inner), now=LATER + timedelta(days=2))
        assert report.deleted == () and report.restored == ("new:1.0",)
        assert shelf.verify("new:1.0", progress=False).ok
    assert quarantine(inner) == []  # recovered, then dropped: the killed gc is long gone


def test_a_recent_quarantine_is_restored_from_but_kept_for_the_gc_that_may_still_run(
    tmp_path: Path, model: Path
) -> None:
    url = (tmp_path / "store").as_uri()
    orphaned(url, model, tmp_path / "c0")
    inner = open_backend(url)
    with killed_gc(inner, model, tmp_path) as shelf:
        report = collect_garbage(Store(inner), now=datetime.now(UTC))  # minutes later, not days
        assert report.restored == ("new:1.0",)
        assert shelf.verify("new:1.0", progress=False).ok
    assert len(quarantine(inner)) == 1  # another gc may still be using it


def test_a_planted_quarantine_object_never_becomes_a_blob(
    tmp_path: Path, model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Quarantine keys are store input like any other: what is put back is verified."""
    url = (tmp_path / "store").as_uri()
    shelf = Shelf(url, cache_dir=tmp_path / "c0")
    shelf.push(model, "m", progress=False)
    inner = open_backend(url)
    inner.delete(BLOB_KEY)  # the version lacks its blob; someone offers one
    inner.put(f"gc/20260101T000000Z-0123456789ab/sha256/{DIGEST[:2]}/{DIGEST}", b"evil" * 14)
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        collect_garbage(Store(inner), now=LATER)
    assert not inner.exists(BLOB_KEY)
    assert "could not put back" in caplog.text


# -- copy: a version already there is checked, not trusted ---------------------------------------


def test_copying_again_repairs_a_destination_version_that_lost_a_blob(
    tmp_path: Path, model: Path
) -> None:
    source = Shelf((tmp_path / "dev").as_uri(), cache_dir=tmp_path / "c1")
    source.push(model, "m", progress=False)
    destination = Shelf((tmp_path / "prod").as_uri(), cache_dir=tmp_path / "c2")
    source.copy("m:1.0", destination, progress=False)
    destination.store.backend.delete(BLOB_KEY)
    assert not destination.verify("m:1.0", progress=False).ok
    again = source.copy("m:1.0", destination, progress=False)
    assert again.already_there and again.blobs_copied == 1
    assert destination.verify("m:1.0", progress=False).ok
    third = source.copy("m:1.0", destination, progress=False)
    assert third.already_there and third.blobs_copied == 0 and third.blobs_present == 1


def test_a_copy_the_service_refuses_is_streamed_instead(monkeypatch: pytest.MonkeyPatch) -> None:
    """S3 copies at most 5 GiB in one request: a refused server-side copy falls back to get+put;
    a missing source is still 'not found'."""
    from obstore import exceptions as obx

    from modelshelf.backends import _obstore
    from modelshelf.errors import ObjectNotFoundError

    backend = open_backend("memory://gc-copy-fallback")
    backend.put("blobs/big", b"large object")

    def refuse(*args: object, **kwargs: object) -> None:
        raise obx.GenericError("EntityTooLarge: the copy source is larger than 5 GiB")

    monkeypatch.setattr(_obstore.obstore, "copy", refuse)
    backend.copy("blobs/big", "gc/big")
    assert backend.read("gc/big") == b"large object"
    with pytest.raises(ObjectNotFoundError):
        backend.copy("blobs/absent", "gc/absent")
