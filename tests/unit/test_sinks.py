"""Downloaders (sinks) and ``modelshelf export``: folders, stores, custom sinks, refusals."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from tests import sinks_fixtures

import modelshelf
from modelshelf import (
    ExportError,
    FileSystemDownloader,
    InvalidInputError,
    PulledVersion,
    Shelf,
    StoreDownloader,
    UntrustedStoreDataError,
    export,
)
from modelshelf.backends.memory import MemoryBackend
from modelshelf.cli.main import main
from modelshelf.downloaders import ENGINE_EXTENSIONS, sink_from
from modelshelf.manifest import FileEntry, Manifest

ONNX = b"\x08\x07\x12\x07pytorch" + os.urandom(2048)


@pytest.fixture
def shelf(tmp_path: Path) -> Shelf:
    return Shelf((tmp_path / "store").as_uri(), cache_dir=tmp_path / "cache")


@pytest.fixture
def onnx_version(shelf: Shelf, tmp_path: Path) -> Manifest:
    """A single-file model version whose manifest says engine onnx."""
    source = tmp_path / "model.onnx"
    source.write_bytes(ONNX)
    return shelf.push(
        source, "nlp/sentiment", sections={"model": {"engine": "onnx"}}, progress=False
    )


@pytest.fixture
def tree_version(shelf: Shelf, tmp_path: Path) -> Manifest:
    """A version of several files in folders, no model section."""
    root = tmp_path / "tree"
    (root / "tokenizer").mkdir(parents=True)
    (root / "weights.bin").write_bytes(b"w" * 5000)
    (root / "tokenizer" / "vocab.txt").write_text("a\nb\n")
    return shelf.push(root, "nlp/bert", progress=False)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- FileSystemDownloader ------------------------------------------------------------------------
def test_single_file_model_becomes_name_plus_extension(
    shelf: Shelf, onnx_version: Manifest, tmp_path: Path
) -> None:
    where = export("nlp/sentiment:1", to=tmp_path / "deploy", store=shelf)
    assert where == str(tmp_path / "deploy" / "nlp" / "sentiment.onnx")
    out = Path(where)
    assert out.read_bytes() == ONNX
    assert not out.is_symlink() and out.stat().st_mode & stat.S_IWUSR  # plain, writable
    out.write_bytes(b"edited")  # writing it must not touch the cache
    assert shelf.pull("nlp/sentiment:1") != out
    assert _sha(shelf.pull("nlp/sentiment:1")) == onnx_version.files[0].sha256


def test_multi_file_version_becomes_a_folder_tree(
    shelf: Shelf, tree_version: Manifest, tmp_path: Path
) -> None:
    where = Path(export("nlp/bert", to=tmp_path / "deploy", store=shelf))
    assert where == tmp_path / "deploy" / "nlp" / "bert"
    found = sorted(p.relative_to(where).as_posix() for p in where.rglob("*") if p.is_file())
    assert found == ["tokenizer/vocab.txt", "weights.bin"]
    assert (where / "tokenizer" / "vocab.txt").read_text() == "a\nb\n"
    assert not list(where.parent.glob(".*"))  # no temporary folder left beside it


@pytest.mark.parametrize(
    ("engine", "extension"),
    [
        ("onnx", ".onnx"),
        ("torch", ".pt"),
        ("sklearn", ".skops"),
        ("pickle", ".pkl"),
        ("safetensors", ".safetensors"),
        # no engine extension: the file's own plain suffix (issue 21 review: net.onnx pushed
        # plain exported without its .onnx)
        ("custom", ".bin"),
        (None, ".bin"),
    ],
)
def test_extension_follows_the_engine(
    engine: str | None, extension: str, shelf: Shelf, tmp_path: Path
) -> None:
    source = tmp_path / "blob.bin"
    source.write_bytes(b"x" * 10)
    sections = {"model": {"engine": engine}} if engine else None
    shelf.push(source, "m/one", sections=sections, progress=False)
    where = export("m/one", to=tmp_path / "out", store=shelf)
    assert where == str(tmp_path / "out" / "m" / f"one{extension}")


def test_extension_table_matches_the_engine_runners() -> None:
    from modelshelf.models.engines.onnx import OnnxRunner
    from modelshelf.models.engines.pickle import PickleRunner
    from modelshelf.models.engines.sklearn import SklearnRunner
    from modelshelf.models.engines.torch import TorchRunner
    from modelshelf.models.plain import SafetensorsRunner

    for runner in (OnnxRunner, PickleRunner, SklearnRunner, TorchRunner, SafetensorsRunner):
        assert ENGINE_EXTENSIONS[runner.engine] == runner.extension


def test_joblib_sklearn_gets_joblib(tmp_path: Path) -> None:
    manifest = _manifest(
        [("model/model.joblib", b"j")], {"engine": "sklearn", "props": {"format": "joblib"}}
    )
    pulled = PulledVersion("m", "1.0", manifest, tmp_path, engine="sklearn")
    assert pulled.extension == ".joblib"


def test_same_content_again_is_left_and_other_content_is_refused(
    shelf: Shelf, onnx_version: Manifest, tmp_path: Path
) -> None:
    deploy = tmp_path / "deploy"
    first = Path(export("nlp/sentiment", to=deploy, store=shelf))
    assert export("nlp/sentiment", to=deploy, store=shelf) == str(first)  # idempotent
    first.write_bytes(b"someone else's file")
    with pytest.raises(
        ExportError, match=r"exists and does not hold nlp/sentiment:1\.0.*overwrite=True"
    ):
        export("nlp/sentiment", to=deploy, store=shelf)
    assert first.read_bytes() == b"someone else's file"  # not clobbered
    export("nlp/sentiment", to=deploy, store=shelf, overwrite=True)
    assert first.read_bytes() == ONNX


def test_a_new_version_over_a_folder_needs_overwrite(
    shelf: Shelf, tree_version: Manifest, tmp_path: Path
) -> None:
    deploy = tmp_path / "deploy"
    folder = Path(export("nlp/bert", to=deploy, store=shelf))
    (folder / "stale.txt").write_text("left by hand")
    with pytest.raises(ExportError, match="overwrite=True"):
        export("nlp/bert", to=deploy, store=shelf)
    assert (folder / "stale.txt").exists()
    export("nlp/bert", to=deploy, store=shelf, overwrite=True)
    assert not (folder / "stale.txt").exists()  # the folder is swapped whole
    assert sorted(p.name for p in deploy.joinpath("nlp").iterdir()) == ["bert"]


def test_a_folder_where_the_file_goes_is_refused_unless_overwrite(
    shelf: Shelf, onnx_version: Manifest, tmp_path: Path
) -> None:
    # One policy for a user's folder (issue 20 item 3): a folder where a file goes is refused
    # like other content, and replaced only with overwrite (it used to be refused even then).
    folder = tmp_path / "deploy" / "nlp" / "sentiment.onnx"
    (folder / "inner").mkdir(parents=True)
    with pytest.raises(ExportError, match=r"is a folder where a file goes.*overwrite=True"):
        export("nlp/sentiment", to=tmp_path / "deploy", store=shelf)
    assert (folder / "inner").is_dir()
    export("nlp/sentiment", to=tmp_path / "deploy", store=shelf, overwrite=True)
    assert folder.read_bytes() == ONNX


def _manifest(files: list[tuple[str, bytes]], model: dict[str, object] | None = None) -> Manifest:
    entries = tuple(
        FileEntry(path, len(data), hashlib.sha256(data).hexdigest()) for path, data in files
    )
    return Manifest(
        name="evil/model",
        version="1.0",
        kind="file" if len(entries) == 1 else "directory",
        files=entries,
        created="2026-01-01T00:00:00Z",
        author="t",
        extra={"model": model} if model else {},
    )


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/../../b", "/abs", "a//b", "a\\..\\b"])
def test_hostile_names_never_escape_the_root(name: str, tmp_path: Path) -> None:
    pulled = PulledVersion(name, "1.0", _manifest([("x", b"1")]), tmp_path, engine=None)
    with pytest.raises(UntrustedStoreDataError):
        FileSystemDownloader(tmp_path / "root")(pulled)
    assert not (tmp_path / "root").exists() or not any((tmp_path / "root").rglob("*"))
    with pytest.raises(UntrustedStoreDataError):
        StoreDownloader("memory://hostile-names")(pulled)
    assert list(MemoryBackend.from_url("memory://hostile-names").list("")) == []


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc/x"])
def test_hostile_file_paths_never_escape(path: str, tmp_path: Path) -> None:
    snapshot = tmp_path / "snap"
    snapshot.mkdir()
    entries = (FileEntry(path, 1, "0" * 64), FileEntry("ok", 1, "0" * 64))
    manifest = Manifest.__new__(Manifest)  # a manifest no parser would accept: skip its checks
    object.__setattr__(manifest, "files", entries)
    object.__setattr__(manifest, "extra", {})
    pulled = PulledVersion("ok/name", "1.0", manifest, snapshot)
    with pytest.raises(UntrustedStoreDataError):
        FileSystemDownloader(tmp_path / "root")(pulled)
    with pytest.raises(UntrustedStoreDataError):
        StoreDownloader("memory://hostile")(pulled)
    assert list(MemoryBackend.from_url("memory://hostile").list("")) == []
    assert not any(p.is_file() for p in tmp_path.rglob("*") if "snap" not in p.parts)


# -- StoreDownloader -----------------------------------------------------------------------------
def test_store_downloader_writes_a_readable_tree(
    shelf: Shelf, tree_version: Manifest, tmp_path: Path
) -> None:
    where = export("nlp/bert:1.0", to="memory://serving/models", store=shelf)
    assert where == "memory://serving/models/nlp/bert/1.0"
    backend = MemoryBackend.from_url("memory://serving/models")
    keys = sorted(m.path for m in backend.list(""))
    assert keys == ["nlp/bert/1.0/tokenizer/vocab.txt", "nlp/bert/1.0/weights.bin"]
    assert backend.read("nlp/bert/1.0/weights.bin") == b"w" * 5000
    # Again: equal objects are kept; a changed one is refused unless overwrite.
    assert export("nlp/bert:1.0", to="memory://serving/models", store=shelf) == where
    backend.put("nlp/bert/1.0/weights.bin", b"W" * 5000)
    with pytest.raises(ExportError, match="exists with other content"):
        export("nlp/bert:1.0", to="memory://serving/models", store=shelf)
    export("nlp/bert:1.0", to="memory://serving/models", store=shelf, overwrite=True)
    assert backend.read("nlp/bert/1.0/weights.bin") == b"w" * 5000


def test_store_downloader_to_a_file_store(
    shelf: Shelf, onnx_version: Manifest, tmp_path: Path
) -> None:
    url = (tmp_path / "served").as_uri()
    where = export("nlp/sentiment", to=StoreDownloader(url), store=shelf)
    assert where == f"{url}/nlp/sentiment/1.0"
    assert (tmp_path / "served" / "nlp" / "sentiment" / "1.0" / "model.onnx").read_bytes() == ONNX


def test_store_downloader_removes_what_it_wrote_when_a_later_put_fails(
    shelf: Shelf, tree_version: Manifest, tmp_path: Path
) -> None:
    backend = MemoryBackend.from_url("memory://half")
    # The second file's key exists with other content: the export fails after the first put.
    keys = [f"nlp/bert/1.0/{e.path}" for e in tree_version.files]
    backend.put(keys[1], b"other")
    with pytest.raises(ExportError):
        export("nlp/bert", to="memory://half", store=shelf)
    assert sorted(m.path for m in backend.list("")) == [keys[1]]


# -- custom sinks ------------------------------------------------------------------------------
def test_custom_sink_from_python_receives_the_pulled_version(
    shelf: Shelf, onnx_version: Manifest
) -> None:
    got: list[PulledVersion] = []

    def sink(pulled: PulledVersion) -> str:
        got.append(pulled)
        assert pulled.path_of(pulled.manifest.files[0]).read_bytes() == ONNX
        return "custom://there"

    assert export("nlp/sentiment@latest", to=sink, store=shelf) == "custom://there"
    (pulled,) = got
    assert (pulled.name, pulled.version, pulled.engine) == ("nlp/sentiment", "1.0", "onnx")
    assert pulled.manifest == onnx_version and pulled.single_file == onnx_version.files[0]
    assert isinstance(sink, modelshelf.Downloader)


def test_a_failing_sink_is_named_in_one_line(shelf: Shelf, onnx_version: Manifest) -> None:
    with pytest.raises(ExportError) as info:
        export("nlp/sentiment", to=sinks_fixtures.FailingSink(), store=shelf)
    message = str(info.value)
    assert "tests.sinks_fixtures:FailingSink" in message and "ConnectionError" in message
    assert "\n" not in message and info.value.sink == "tests.sinks_fixtures:FailingSink"


def test_a_sink_must_return_where(shelf: Shelf, onnx_version: Manifest) -> None:
    with pytest.raises(ExportError, match="returned None"):
        export("nlp/sentiment", to=lambda pulled: None, store=shelf)  # type: ignore[arg-type,return-value]


def test_sub_paths_are_refused(shelf: Shelf, tree_version: Manifest, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="whole version"):
        export("nlp/bert:1.0/tokenizer", to=tmp_path / "x", store=shelf)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("s3://bucket/prefix", StoreDownloader),
        ("memory://x", StoreDownloader),
        ("file:///tmp/x", StoreDownloader),
        ("./deploy", FileSystemDownloader),
        ("deploy", FileSystemDownloader),
        ("/srv/models", FileSystemDownloader),
        ("./tests.sinks_fixtures:RecordingSink", FileSystemDownloader),
        ("C:/models", FileSystemDownloader),
        ("a b:c", FileSystemDownloader),
        ("tests.sinks_fixtures:RecordingSink", sinks_fixtures.RecordingSink),
    ],
)
def test_to_is_told_apart(text: str, kind: type) -> None:
    assert isinstance(sink_from(text), kind)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tests.sinks_fixtures:Missing", "has no Missing"),
        ("no_such_pkg_xyz.sinks:Sink", "no installed module"),
        ("tests.sinks_fixtures:NotCallable", "instances are not callable"),
        ("tests.sinks_fixtures:NeedsArguments", "created with no arguments"),
        ("tests.sinks_fixtures:NOT_A_SINK", "is not a class or function"),
        ("os:system", "standard library"),
    ],
)
def test_bad_sink_classes_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        sink_from(text)


def test_a_module_in_the_working_folder_is_not_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "planted_sink_mod.py").write_text(
        "class Sink:\n    def __call__(self, p): return 'x'\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend("")
    with pytest.raises(InvalidInputError, match="no installed module"):
        sink_from("planted_sink_mod:Sink")


# -- CLI -----------------------------------------------------------------------------------------
def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_export_to_a_folder(
    shelf: Shelf, onnx_version: Manifest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--store", shelf.url]
    code, out, err = _run(capsys, "export", "nlp/sentiment:1", "--to", str(tmp_path / "d"), *store)
    assert (code, err) == (0, "")
    assert out.strip() == str(tmp_path / "d" / "nlp" / "sentiment.onnx")
    Path(out.strip()).write_bytes(b"mine")
    code, out, err = _run(capsys, "export", "nlp/sentiment", "--to", str(tmp_path / "d"), *store)
    assert code == 1 and err.count("\n") == 1 and "--overwrite" in err
    code, out, _ = _run(
        capsys, "export", "nlp/sentiment", "--to", str(tmp_path / "d"), "--overwrite", *store
    )
    assert code == 0 and Path(out.strip()).read_bytes() == ONNX


def test_cli_export_with_a_class_by_import_path(
    shelf: Shelf, tree_version: Manifest, capsys: pytest.CaptureFixture[str]
) -> None:
    sinks_fixtures.RECEIVED.clear()
    code, out, err = _run(
        capsys, "export", "nlp/bert", "--to", "tests.sinks_fixtures:RecordingSink",
        "--store", shelf.url, "--json",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert '"to": "recorded://nlp/bert/1.0"' in out and '"version": "1.0"' in out
    (pulled,) = sinks_fixtures.RECEIVED
    assert pulled.manifest == tree_version and pulled.engine is None


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        ("tests.sinks_fixtures:FailingSink", "sink tests.sinks_fixtures:FailingSink failed"),
        ("tests.sinks_fixtures:Nope", "has no Nope"),
        ("tests.sinks_fixtures:NotCallable", "not callable"),
    ],
)
def test_cli_sink_errors_are_one_line(
    to: str,
    expected: str,
    shelf: Shelf,
    onnx_version: Manifest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _run(capsys, "export", "nlp/sentiment", "--to", to, "--store", shelf.url)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and expected in err and err.count("\n") == 1


def test_a_class_passed_from_python_is_created_with_no_arguments(
    shelf: Shelf, onnx_version: Manifest
) -> None:
    assert export("nlp/sentiment", to=sinks_fixtures.RecordingSink, store=shelf) == (
        "recorded://nlp/sentiment/1.0"
    )
    with pytest.raises(InvalidInputError, match="is not callable"):
        export("nlp/sentiment", to=42, store=shelf)  # type: ignore[arg-type]


def test_store_urls_lose_their_password_in_what_is_shown(
    shelf: Shelf, onnx_version: Manifest
) -> None:
    sink = StoreDownloader("memory://user:s3cret@pw-test/models")
    assert "s3cret" not in repr(sink)
