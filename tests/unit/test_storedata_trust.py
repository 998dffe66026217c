"""Store records are bounded before memory is spent on them (issue 20, item 9).

A manifest's unknown sections, ``source`` and user metadata are outside input of any shape:
each is bounded in bytes, depth and values, counted before the JSON is decoded, so that no
manifest costs a resolve many times its size. The manifest cap itself is what real manifests
need (a 20,000-file push takes 3.2 MiB), and it is enforced on every read path (the store and
the cache) and on push.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.unit.test_hostile_store import (
    GOOD,
    MANIFEST_KEY,
    SHA,
    DictBackend,
    assert_one_line,
    manifest_dict,
)

from modelshelf import Shelf, _bounds, trust
from modelshelf.backends import Backend, open_backend
from modelshelf.errors import (
    InvalidInputError,
    InvalidManifestError,
    ModelshelfError,
    OfflineError,
    UntrustedStoreDataError,
)
from modelshelf.manifest import FileEntry, Manifest

MiB = 2**20


def _files(count: int) -> list[dict[str, Any]]:
    """File entries as a real push of ``count`` files writes them (38-character paths)."""
    return [
        {"path": f"data/train/shard-{i % 100:03d}/sample-{i:06d}.bin", "size": i, "sha256": SHA}
        for i in range(count)
    ]


def _manifest_bytes(**changes: Any) -> bytes:
    return json.dumps(manifest_dict(**changes), indent=2).encode()


def _bomb(shape: bytes, size: int) -> list[Any]:
    """A JSON list of ``shape`` repeated to about ``size`` bytes, decoded."""
    return json.loads(b"[" + b",".join([shape] * (size // (len(shape) + 1))) + b"]")  # type: ignore[no-any-return]


BOMBS = {
    "empty-objects": b"{}",
    "empty-lists": b"[]",
    "short-strings": b'"ab"',
    "floats": b"0.5",
}


# -- unknown sections, source and metadata: bounded in values, depth and bytes -----------------


@pytest.mark.parametrize("shape", BOMBS.values(), ids=BOMBS)
def test_a_section_that_decodes_to_many_objects_is_refused_before_it_costs_memory(
    shape: bytes,
) -> None:
    # 4 MiB of `[{},{},...]` decoded to ~100 MiB of Python objects (24x); a resolve of a 64 MiB
    # one took 2,115 MiB. The decode must cost no more than a list of files of that size.
    raw = _manifest_bytes(junk=_bomb(shape, 4 * MiB))
    tracemalloc.start()
    try:
        with pytest.raises(InvalidManifestError) as info:
            Manifest.from_json(raw, where="store/m")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "\n" not in str(info.value)
    assert peak < 3 * len(raw), f"decoding took {peak / MiB:.0f} MiB for {len(raw) / MiB:.0f} MiB"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("junk", [[i] for i in range(trust.MAX_SECTION_NODES)]),  # values over the bound
        ("model", {"props": {"labels": ["x" * 1000] * 2000}}),  # 2 MiB of JSON
        ("junk", json.loads("[" * 40 + "]" * 40)),  # nested deeper than 32
        ("source", {"git": [[i] for i in range(trust.MAX_SECTION_NODES)]}),
        ("source", {"path": "x" * (2 * MiB)}),
        ("metadata", {f"k{i}": "v" for i in range(trust.MAX_METADATA_ITEMS + 1)}),
        ("metadata", {"k": "v" * (trust.MAX_TEXT + 1)}),
        ("message", "m" * (trust.MAX_TEXT + 1)),
    ],
    ids=[
        "section-values",
        "section-bytes",
        "section-depth",
        "source-values",
        "source-bytes",
        "metadata-pairs",
        "metadata-value",
        "message",
    ],
)
def test_a_section_source_or_metadata_over_its_bound_is_refused(field: str, value: Any) -> None:
    with pytest.raises(InvalidManifestError) as info:
        Manifest.from_json(_manifest_bytes(**{field: value}), where="store/m")
    assert "\n" not in str(info.value)


def test_sections_within_the_bounds_are_kept() -> None:
    labels = [f"class {i}" for i in range(21_000)]  # ImageNet-21k's labels fit in a section
    model = {"runner": "pkg.mod:Runner", "props": {"labels": labels}}
    manifest = Manifest.from_json(
        _manifest_bytes(model=model, metadata={"team": "nlp", "n": 3}), where="store/m"
    )
    assert manifest.extra["model"] == model
    assert manifest.metadata == {"team": "nlp", "n": "3"}


def test_file_names_full_of_brackets_and_commas_still_read() -> None:
    # The budget counts '[' and ',' before decoding; those inside strings must not count.
    files = [
        {"path": f"odd/[{i}],{',' * 60}{{}}.bin", "size": 1, "sha256": SHA} for i in range(5000)
    ]
    manifest = Manifest.from_json(_manifest_bytes(files=files), where="store/m")
    assert len(manifest.files) == 5000


def test_push_refuses_what_no_reader_would_take(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "w").write_bytes(GOOD)
    shelf = Shelf("memory://storedata-push-bounds", cache_dir=tmp_path / "cache")
    too_many = {"labels": [[i] for i in range(trust.MAX_SECTION_NODES)]}
    with pytest.raises(InvalidInputError, match="values"):
        shelf.push(model, "m", sections={"model": too_many}, progress=False)
    with pytest.raises(InvalidInputError, match="pairs"):
        shelf.push(model, "m", metadata={f"k{i}": "v" for i in range(1001)}, progress=False)
    assert shelf.store.versions("m") == []


# -- the manifest cap: what real manifests need, on every read path and on push ----------------


def test_the_cap_holds_a_100000_file_manifest_with_headroom_and_no_more() -> None:
    big = Manifest(
        name="m",
        version="1.0",
        kind="directory",
        files=tuple(FileEntry(**f) for f in _files(100_000)),
        created="2026-01-01T00:00:00.000000Z",
        author="u@h",
    )
    size = len(big.to_json())  # 16.5 MiB; 20,000 files take 3.2 MiB
    assert size < trust.MAX_MANIFEST_BYTES <= 2 * size
    assert len(Manifest.from_json(big.to_json()).files) == 100_000


def test_the_cap_is_raised_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert trust.manifest_cap() == trust.MAX_MANIFEST_BYTES
    monkeypatch.setenv("MODELSHELF_MAX_MANIFEST_MIB", "100")
    assert trust.manifest_cap() == 100 * MiB


def _pushed(tmp_path: Path, backend: Backend) -> Shelf:
    model = tmp_path / "model"
    model.mkdir(exist_ok=True)
    (model / "w").write_bytes(GOOD)
    shelf = Shelf(backend, cache_dir=tmp_path / "cache")
    shelf.push(model, "m", progress=False)
    return shelf


def test_a_manifest_over_the_cap_is_refused_by_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = open_backend("memory://storedata-cap-read")
    shelf = _pushed(tmp_path, backend)
    raw = _manifest_bytes(message="padding " * 200)  # ~2 KiB, a valid manifest of m:1.1
    backend.put(MANIFEST_KEY, raw)
    monkeypatch.setattr(_bounds, "MAX_MANIFEST_BYTES", len(raw) - 1)
    with pytest.raises(UntrustedStoreDataError) as info:
        shelf.store.read_manifest("m", "1.1")
    assert_one_line(info.value, key=MANIFEST_KEY)
    assert "MODELSHELF_MAX_MANIFEST_MIB" in str(info.value)
    with pytest.raises(UntrustedStoreDataError):
        shelf.pull("m:1.1", progress=False)
    monkeypatch.setattr(_bounds, "MAX_MANIFEST_BYTES", len(raw))  # at the cap: read
    assert shelf.store.read_manifest("m", "1.1").version == "1.1"


class _Counting(DictBackend):
    """Serves objects in 64 KiB pieces and counts the bytes it handed out."""

    served = 0

    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        data = self._object(key)
        for start in range(0, len(data), 65536):
            self.served += len(data[start : start + 65536])
            yield data[start : start + 65536]


def test_the_store_stops_reading_a_manifest_at_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = _Counting()
    shelf = _pushed(tmp_path, backend)
    backend.put(MANIFEST_KEY, _manifest_bytes(message="m" * 60_000) + b" " * (4 * MiB))
    monkeypatch.setattr(_bounds, "MAX_MANIFEST_BYTES", 100_000)
    backend.served = 0
    with pytest.raises(UntrustedStoreDataError) as info:
        shelf.store.read_manifest("m", "1.1")
    assert_one_line(info.value, key=MANIFEST_KEY)
    assert backend.served <= 100_000 + 65536  # not the 4 MiB the store would send


def test_a_cached_manifest_over_the_cap_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shelf = _pushed(tmp_path, open_backend("memory://storedata-cap-cache"))
    shelf.pull("m:1.0", progress=False)
    cached = shelf.cache.load_manifest(shelf.store_id, "m", "1.0")
    assert cached is not None
    size = len(cached.to_json())
    monkeypatch.setattr(_bounds, "MAX_MANIFEST_BYTES", size - 1)
    assert shelf.cache.load_manifest(shelf.store_id, "m", "1.0") is None
    with pytest.raises(InvalidManifestError):
        Manifest.from_json(cached.to_json())
    monkeypatch.setenv("MODELSHELF_OFFLINE", "1")
    with pytest.raises(OfflineError):  # not served from a cached manifest the cap refuses
        shelf.pull("m:1.0", progress=False)
    monkeypatch.setattr(_bounds, "MAX_MANIFEST_BYTES", size)
    assert shelf.pull("m:1.0", progress=False).is_dir()


def test_push_refuses_a_manifest_over_the_cap_with_the_way_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_bounds, "MAX_MANIFEST_BYTES", 300)
    shelf = Shelf("memory://storedata-cap-push", cache_dir=tmp_path / "cache")
    model = tmp_path / "model"
    model.mkdir()
    (model / "w").write_bytes(GOOD)
    with pytest.raises(ModelshelfError, match="MODELSHELF_MAX_MANIFEST_MIB") as info:
        shelf.push(model, "m", progress=False)
    assert "\n" not in str(info.value)
    assert shelf.store.versions("m") == []


# -- writing a large manifest costs about its size, not ten times ------------------------------


def _big(count: int, **changes: Any) -> Manifest:
    fields: dict[str, Any] = {
        "name": "m",
        "version": "1.0",
        "kind": "directory",
        "files": tuple(FileEntry(**f) for f in _files(count)),
        "created": "2026-01-01T00:00:00.000000Z",
        "author": "u@h",
    }
    fields.update(changes)
    return Manifest(**fields)


@pytest.mark.parametrize(
    "manifest",
    [
        _big(3, metadata={"k": "v"}, extra={"model": {"runner": "a:B", "props": [1, {}]}}),
        _big(
            0,
            files=(
                FileEntry("a/[x],{y}", 0, SHA),
                FileEntry('odd "quoted"/é\u2028\x7f', 2**49, SHA),
            ),
            message='files-"x"',
        ),
        _big(1, files=(FileEntry("one", 1, SHA),), kind="file"),
    ],
    ids=["sections", "odd-paths", "one-file"],
)
def test_to_json_writes_what_json_dumps_would(manifest: Manifest) -> None:
    expected = json.dumps(manifest.to_dict(), indent=2).encode() + b"\n"
    assert manifest.to_json() == expected
    assert Manifest.from_json(manifest.to_json()) == manifest


def test_writing_a_large_manifest_costs_about_its_size() -> None:
    manifest = _big(20_000)
    tracemalloc.start()
    try:
        size = len(manifest.to_json())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # json.dumps(indent=2) encodes token by token in Python: ~9 times the text at its peak.
    assert peak < 6 * size, f"{peak / MiB:.0f} MiB to write {size / MiB:.1f} MiB"
