"""Hostile-store conformance: forged alias records, manifests and audit records.

A store may be shared, writable by others, or a custom backend, so everything it sends is outside
input. For every forged record below, the library raises one ``ModelshelfError`` of one line that
names the store and the key, the CLI exits 1 with one ``error:`` line and no traceback, and
nothing is written outside the cache folder.

:class:`HostileStoreConformance` is reused by every backend: a subclass supplies a ``backend``
fixture (an empty store) and ``store_url`` (the URL the CLI can open, or ``None``). This module
runs it on memory, local-folder and a permissive custom backend; ``tests/integration`` runs it on
S3 (SeaweedFS).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from modelshelf import Shelf
from modelshelf.backends import Backend, ObjectMeta, PutMode, open_backend
from modelshelf.cli.main import main
from modelshelf.errors import (
    IntegrityError,
    ModelshelfError,
    ObjectExistsError,
    ObjectNotFoundError,
)

GOOD = b"hello"
SHA = hashlib.sha256(GOOD).hexdigest()
ALIAS_KEY = "assets/m/aliases/prod/00000001.json"
MANIFEST_KEY = "assets/m/versions/1.1.json"
LOG_KEY = "assets/m/log/20990101T000000.000000Z-forged.json"
# The cache sits this deep under tmp_path, so that a forged '../' climbs into tmp_path, where the
# test can see whatever lands there, instead of somewhere else on the machine.
CACHE_PARTS = ("a", "b", "cache")
ESCAPE = "../" * 7 + "escaped"  # from <cache>/manifests/<store-id>/m/versions/ up to tmp_path
ABSOLUTE = "/ABSOLUTE/escaped"  # replaced by tmp_path + this: stays inside the test's folder


def alias_record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "alias": "prod",
        "version": "1.0",
        "previous": None,
        "seq": 1,
        "who": "u",
        "host": "h",
        "when": "2026-01-01T00:00:00.000000Z",
    }
    record.update(changes)
    return record


def manifest_dict(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "format": 1,
        "name": "m",
        "version": "1.1",
        "kind": "directory",
        "size": 5,
        "created": "2026-01-01T00:00:00.000000Z",
        "author": "u@h",
        "message": "",
        "source": {},
        "metadata": {},
        "files": [{"path": "w", "size": 5, "sha256": SHA}],
    }
    data.update(changes)
    return data


def file_entry(**changes: Any) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {"path": "w", "size": 5, "sha256": SHA}
    entry.update(changes)
    return [entry]


def log_record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "action": "push",
        "name": "m",
        "when": "2026-01-01T00:00:00.000000Z",
        "user": "u",
        "host": "h",
        "version": "1.0",
        "message": "",
    }
    record.update(changes)
    return record


def raw(value: Any) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value).encode()


DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE = "x" * 2_000_000

FORGED_ALIAS_RECORDS: dict[str, Any] = {
    "version-absolute": alias_record(version=ABSOLUTE),
    "version-traversal": alias_record(version=ESCAPE),
    "version-dotdot-only": alias_record(version="../../.."),
    "version-under-traversal": alias_record(version="1.0/../../../x"),
    "version-empty": alias_record(version=""),
    "version-newline": alias_record(version="1.0\n"),
    "version-leading-zero": alias_record(version="01.0"),
    "version-nul": alias_record(version="1.0\x00"),
    "version-float": alias_record(version=1.0),
    "version-list": alias_record(version=["1.0"]),
    "alias-mismatch": alias_record(alias="other"),
    "seq-mismatch": alias_record(seq=7),
    "seq-text": alias_record(seq="1"),
    "seq-bool": alias_record(seq=True),
    "previous-traversal": alias_record(previous="../x"),
    "who-not-text": alias_record(who=5),
    "who-huge": alias_record(who=HUGE),
    "missing-version": {k: v for k, v in alias_record().items() if k != "version"},
    "not-json": b"not json",
    "not-utf8": b"\xff\xfe\x00",
    "json-list": [1, 2],
    "json-string": "1.0",
    "json-null": None,
    "deeply-nested": DEEP,
}

FORGED_MANIFESTS: dict[str, Any] = {
    "name-other": manifest_dict(name="other"),
    "name-traversal": manifest_dict(name="../../x"),
    "name-not-text": manifest_dict(name=5),
    "version-mismatch": manifest_dict(version="1.0"),
    "version-traversal": manifest_dict(version=ESCAPE),
    "version-float": manifest_dict(version=1.1),
    "path-traversal": manifest_dict(files=file_entry(path=ESCAPE)),
    "path-absolute": manifest_dict(files=file_entry(path=ABSOLUTE)),
    "path-inner-traversal": manifest_dict(files=file_entry(path="a/../../../../escaped")),
    "path-backslash": manifest_dict(files=file_entry(path="a\\..\\..\\x")),
    "path-nul": manifest_dict(files=file_entry(path="a\x00b")),
    "path-empty": manifest_dict(files=file_entry(path="")),
    "path-dot": manifest_dict(files=file_entry(path=".")),
    "path-not-text": manifest_dict(files=file_entry(path=["w"])),
    "size-huge": manifest_dict(files=file_entry(size=2**62)),
    "size-negative": manifest_dict(files=file_entry(size=-1)),
    "size-text": manifest_dict(files=file_entry(size="5")),
    "size-bool": manifest_dict(files=file_entry(size=True)),
    "size-float": manifest_dict(files=file_entry(size=5.0)),
    "sha-short": manifest_dict(files=file_entry(sha256="ab")),
    "sha-upper": manifest_dict(files=file_entry(sha256=SHA.upper())),
    "sha-traversal": manifest_dict(files=file_entry(sha256="../" * 21 + "x")),
    "sha-not-text": manifest_dict(files=file_entry(sha256=int(SHA, 16))),
    "files-empty": manifest_dict(files=[]),
    "files-dict": manifest_dict(files={"w": SHA}),
    "files-entry-text": manifest_dict(files=["w"]),
    "files-missing": {k: v for k, v in manifest_dict().items() if k != "files"},
    "files-duplicate": manifest_dict(files=file_entry() * 2),
    "file-and-folder": manifest_dict(files=file_entry() + file_entry(path="w/x")),
    "kind-unknown": manifest_dict(kind="symlink"),
    "kind-file-with-two-files": manifest_dict(
        kind="file", files=file_entry() + file_entry(path="v")
    ),
    "format-future": manifest_dict(format=2),
    "format-bool": manifest_dict(format=True),
    "created-list": manifest_dict(created=["x"]),
    "author-null": manifest_dict(author=None),
    "message-object": manifest_dict(message={"a": 1}),
    "metadata-list": manifest_dict(metadata=["a"]),
    "metadata-nested": manifest_dict(metadata={"a": {"b": 1}}),
    "source-list": manifest_dict(source=["x"]),
    "not-json": b"{not json",
    "not-utf8": b"\xff\xfe\x00",
    "json-list": [manifest_dict()],
    "json-string": "manifest",
    "deeply-nested": DEEP,
}

FORGED_LOG_RECORDS: dict[str, Any] = {
    "not-json": b"not json",
    "json-list": [log_record()],
    "json-string": "push",
    "json-number": 5,
    "json-null": None,
    "deeply-nested": DEEP,
    "value-object": log_record(extra={"a": 1}),
    "value-list": log_record(files=["a", "b"]),
    "user-escape-codes": log_record(user="\x1b[2J\x1b[31mroot"),
    "when-newline": log_record(when="2026\nforged line"),
    "action-carriage-return": log_record(action="push\rok"),
    "message-huge": log_record(message=HUGE),
    "when-not-text": log_record(when=5),
    "user-null": log_record(user=None),
    "action-missing": {k: v for k, v in log_record().items() if k != "action"},
    "name-other": log_record(name="other"),
}


def absolute(value: Any, tmp_path: Path) -> Any:
    """The forged record with its ``ABSOLUTE`` placeholders pointing into ``tmp_path``."""
    if isinstance(value, bytes):
        return value
    text = json.dumps(value).replace(ABSOLUTE, str(tmp_path) + ABSOLUTE)
    return json.loads(text)


def assert_one_line(exc: BaseException, *, key: str | None) -> None:
    message = str(exc)
    assert isinstance(exc, ModelshelfError), repr(exc)
    assert "\n" not in message and "\r" not in message, message
    assert len(message) < 800, message
    if key is not None:
        assert key in message, message


def outside_files(tmp_path: Path, *roots: Path) -> set[Path]:
    """Everything under ``tmp_path`` except the cache and the store: what must not change."""
    return {p for p in tmp_path.rglob("*") if not any(p.is_relative_to(r) for r in roots)}


class DictBackend(Backend):
    """A permissive custom backend: any string is a key, as a third-party backend may allow.

    obstore refuses keys with '..' or empty segments; a custom backend need not, so only the
    library's own checks stand between a forged version and the local filesystem.
    """

    def __init__(self, url: str = "dict://hostile") -> None:
        self.url = url
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        if mode == "create" and key in self.objects:
            raise ObjectExistsError(f"{self.url}/{key} already exists")
        if isinstance(data, Path):
            data = data.read_bytes()
        self.objects[key] = data if isinstance(data, bytes) else data.read()

    def _object(self, key: str) -> bytes:
        try:
            return self.objects[key]
        except KeyError:
            raise ObjectNotFoundError(f"{self.url}/{key} does not exist") from None

    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        yield self._object(key)

    def get_range(self, key: str, start: int, end: int) -> bytes:
        return self._object(key)[start:end]

    def head(self, key: str) -> ObjectMeta:
        return ObjectMeta(key, len(self._object(key)))

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        for key, data in list(self.objects.items()):
            if not prefix or key.startswith(prefix.rstrip("/") + "/"):
                yield ObjectMeta(key, len(data))

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)


class HostileStoreConformance:
    """Every forged record gives one line of error and writes nothing outside the cache."""

    @pytest.fixture
    def backend(self) -> Backend:
        raise NotImplementedError("a subclass supplies an empty store")

    @pytest.fixture
    def store_url(self) -> str | None:
        return None  # the CLI cannot open this backend by URL

    @pytest.fixture
    def cache_dir(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        folder = tmp_path.joinpath(*CACHE_PARTS)
        folder.mkdir(parents=True)
        monkeypatch.setenv("MODELSHELF_CACHE_DIR", str(folder))
        return folder

    @pytest.fixture
    def shelf(self, backend: Backend, cache_dir: Path, tmp_path: Path) -> Shelf:
        model = tmp_path / "model"
        model.mkdir()
        (model / "w").write_bytes(GOOD)
        shelf = Shelf(backend, cache_dir=cache_dir)
        assert shelf.push(model, "m", progress=False).version == "1.0"
        return shelf

    @pytest.fixture
    def untouched(self, shelf: Shelf, tmp_path: Path) -> Iterator[None]:
        """Check that no file outside the cache and the store appears during the test."""
        roots = (shelf.cache.root, tmp_path / "store", tmp_path / "_store", tmp_path / "_cache")
        before = outside_files(tmp_path, *roots)
        yield
        assert outside_files(tmp_path, *roots) == before

    def forge(self, backend: Backend, key: str, value: Any, tmp_path: Path) -> None:
        backend.put(key, raw(absolute(value, tmp_path)))

    def cli(self, capsys: pytest.CaptureFixture[str], url: str, *args: str) -> None:
        capsys.readouterr()
        code = main(["--store", url, *args])
        out, err = capsys.readouterr()
        assert code == 1, (out, err)
        assert "Traceback" not in err
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err

    # -- alias records -------------------------------------------------------------------------
    @pytest.mark.usefixtures("untouched")
    @pytest.mark.parametrize("forged", FORGED_ALIAS_RECORDS.values(), ids=FORGED_ALIAS_RECORDS)
    def test_forged_alias_record_is_refused(
        self, shelf: Shelf, backend: Backend, forged: Any, tmp_path: Path
    ) -> None:
        self.forge(backend, ALIAS_KEY, forged, tmp_path)
        version = absolute(forged, tmp_path).get("version") if isinstance(forged, dict) else None
        if isinstance(version, str):
            # Serve a manifest where the forged version points, where the backend allows it.
            evil = manifest_dict(version=version)
            with contextlib.suppress(ModelshelfError, ValueError):
                backend.put(f"assets/m/versions/{version}.json", raw(evil))
        for attempt in (
            lambda: shelf.pull("m@prod", progress=False),
            lambda: shelf.pull("m@prod", output=tmp_path / "out", progress=False),
            lambda: shelf.aliases("m"),
            lambda: shelf.store.alias_history("m", "prod"),
        ):
            with pytest.raises(ModelshelfError) as info:
                attempt()
            assert_one_line(info.value, key=ALIAS_KEY)
            assert shelf.url in str(info.value)

    @pytest.mark.usefixtures("untouched")
    @pytest.mark.parametrize(
        "forged",
        [FORGED_ALIAS_RECORDS[k] for k in ("version-traversal", "not-json", "seq-mismatch")],
    )
    def test_forged_alias_record_cli(
        self,
        shelf: Shelf,
        backend: Backend,
        store_url: str | None,
        forged: Any,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        if store_url is None:
            pytest.skip("the CLI opens stores by URL")
        self.forge(backend, ALIAS_KEY, forged, tmp_path)
        for args in (("pull", "m@prod"), ("show", "m@prod"), ("alias", "ls", "m")):
            self.cli(capsys, store_url, *args)

    def test_a_forged_alias_can_be_set_again(
        self, shelf: Shelf, backend: Backend, tmp_path: Path
    ) -> None:
        self.forge(backend, ALIAS_KEY, FORGED_ALIAS_RECORDS["version-traversal"], tmp_path)
        record = shelf.set_alias("m@prod", "1.0")
        assert (record.seq, record.version, record.previous) == (2, "1.0", None)
        assert (shelf.pull("m@prod", progress=False) / "w").read_bytes() == GOOD

    # -- manifests -----------------------------------------------------------------------------
    @pytest.mark.usefixtures("untouched")
    @pytest.mark.parametrize("forged", FORGED_MANIFESTS.values(), ids=FORGED_MANIFESTS)
    def test_forged_manifest_is_refused(
        self, shelf: Shelf, backend: Backend, forged: Any, tmp_path: Path
    ) -> None:
        self.forge(backend, MANIFEST_KEY, forged, tmp_path)
        for attempt in (
            lambda: shelf.pull("m:1.1", progress=False),
            lambda: shelf.pull("m", output=tmp_path / "out", progress=False),
            lambda: shelf.manifest("m:1.1"),
        ):
            with pytest.raises(ModelshelfError) as info:
                attempt()
            assert_one_line(info.value, key=MANIFEST_KEY)
            assert shelf.url in str(info.value)
        assert shelf.cache.load_manifest(shelf.store_id, "m", "1.1") is None
        # the good version next to it still pulls
        assert (shelf.pull("m:1.0", progress=False) / "w").read_bytes() == GOOD

    @pytest.mark.usefixtures("untouched")
    @pytest.mark.parametrize(
        "forged", [FORGED_MANIFESTS[k] for k in ("path-traversal", "not-json")]
    )
    def test_forged_manifest_cli(
        self,
        shelf: Shelf,
        backend: Backend,
        store_url: str | None,
        forged: Any,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        if store_url is None:
            pytest.skip("the CLI opens stores by URL")
        self.forge(backend, MANIFEST_KEY, forged, tmp_path)
        for args in (("pull", "m:1.1"), ("show", "m"), ("pull", "m", "-o", str(tmp_path / "o"))):
            self.cli(capsys, store_url, *args)

    @pytest.mark.usefixtures("untouched")
    @pytest.mark.parametrize("claimed", [4, 10, 2**24 + 1, 2**45])
    def test_a_lying_size_fails_fast_naming_both_sizes(
        self, shelf: Shelf, backend: Backend, claimed: int, tmp_path: Path
    ) -> None:
        self.forge(backend, MANIFEST_KEY, manifest_dict(files=file_entry(size=claimed)), tmp_path)
        with pytest.raises(IntegrityError) as info:
            shelf.pull("m:1.1", progress=False)
        assert_one_line(info.value, key=None)
        assert str(claimed) in str(info.value)
        assert f"an object of 5 bytes instead of {claimed}" in str(info.value)
        assert not shelf.cache.has_blob(SHA)

    # -- audit log -----------------------------------------------------------------------------
    @pytest.mark.usefixtures("untouched")
    @pytest.mark.parametrize("forged", FORGED_LOG_RECORDS.values(), ids=FORGED_LOG_RECORDS)
    def test_forged_log_record_is_refused(
        self, shelf: Shelf, backend: Backend, forged: Any, tmp_path: Path
    ) -> None:
        self.forge(backend, LOG_KEY, forged, tmp_path)
        with pytest.raises(ModelshelfError) as info:
            shelf.store.log("m")
        assert_one_line(info.value, key=LOG_KEY)
        assert shelf.url in str(info.value)

    @pytest.mark.parametrize("forged", [FORGED_LOG_RECORDS[k] for k in ("not-json", "json-list")])
    def test_forged_log_record_cli(
        self,
        shelf: Shelf,
        backend: Backend,
        store_url: str | None,
        forged: Any,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        if store_url is None:
            pytest.skip("the CLI opens stores by URL")
        self.forge(backend, LOG_KEY, forged, tmp_path)
        self.cli(capsys, store_url, "log", "m")

    def test_log_keeps_multi_line_messages(self, shelf: Shelf, backend: Backend) -> None:
        # a push message may span lines; showing it safely is the output's job
        self.forge(backend, LOG_KEY, log_record(message="line one\nline two"), Path())
        assert shelf.store.log("m")[-1]["message"] == "line one\nline two"

    # -- listings ------------------------------------------------------------------------------
    def test_listings_skip_keys_that_are_not_ours(self, shelf: Shelf, backend: Backend) -> None:
        shelf.set_alias("m@prod", "1.0")
        junk = [
            "assets/m/versions/01.0.json",
            "assets/m/versions/1..0.json",
            "assets/m/versions/1.0.json.bak",
            "assets/m/aliases/Bad Alias/00000001.json",
            "assets/m/aliases/9lives/00000001.json",
            "assets/m/aliases/stale/00000000.json",
            "assets/Bad Name/versions/1.0.json",
            "assets/a/versions/x/versions/1.0.json",
        ]
        for key in junk:
            backend.put(key, raw(alias_record()))
        assert shelf.versions("m") == ["1.0"]
        assert list(shelf.aliases("m")) == ["prod"]
        assert shelf.assets() == ["m"]


class TestHostileMemoryStore(HostileStoreConformance):
    @pytest.fixture
    def backend(self) -> Backend:
        return open_backend("memory://hostile")

    @pytest.fixture
    def store_url(self) -> str:
        return "memory://hostile"


class TestHostileLocalStore(HostileStoreConformance):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> Backend:
        return open_backend((tmp_path / "store").as_uri())

    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return (tmp_path / "store").as_uri()


class TestHostileCustomBackend(HostileStoreConformance):
    @pytest.fixture
    def backend(self) -> Backend:
        return DictBackend()
