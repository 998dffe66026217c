"""Second review, finding 3: the serve pre-flight pulled a whole version with no model section
(300 MB of data) only to say it is not a model.

``check_loadable`` now detects from the store: the manifest gives names and sizes, and only the
ends of each file that detection reads are fetched. Every test here counts the bytes read from
the store through a watching backend (a file:// store underneath) and checks that nothing
landed in the cache.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.wrapped_backend import WatchingReads

from modelshelf import PushSource, Shelf, load_model
from modelshelf.backends import open_backend
from modelshelf.errors import NotAModelError, TrustRequiredError, UnknownModelFormatError
from modelshelf.models._preflight import check_loadable
from modelshelf.models.detect import HEAD_BYTES, TAIL_BYTES, detect_format, detect_listing

MiB = 2**20
BIG = 24 * MiB  # a data file many times what detection reads (sparse on disk, zeros)


class Counting(WatchingReads):
    """Every byte read from the store: ranges, streamed pieces and whole objects."""

    def __init__(self, inner: object) -> None:
        super().__init__(inner)  # type: ignore[arg-type]
        self.whole: list[int] = []

    def get(self, key: str, chunk_size: int):  # type: ignore[no-untyped-def]
        for piece in self.inner.get(key, chunk_size):
            self.whole.append(memoryview(piece).nbytes)
            yield piece

    def blob_bytes(self) -> int:
        return sum(self.whole_reads) + sum(self.pieces) + sum(self.whole)


def big_file(path: Path, size: int = BIG) -> Path:
    with path.open("wb") as f:
        f.truncate(size)
    return path


@pytest.fixture
def url(tmp_path: Path) -> str:
    (tmp_path / "store").mkdir()
    return (tmp_path / "store").as_uri()


def push(url: str, tmp_path: Path, files: dict[Path, str], name: str) -> None:
    Shelf(url, cache_dir=tmp_path / "writer").push(
        PushSource.from_files(files), name, progress=False
    )


def watched(url: str, tmp_path: Path) -> tuple[Shelf, Counting]:
    backend = Counting(open_backend(url))
    return Shelf(backend, cache_dir=tmp_path / "cache"), backend


def cache_bytes(tmp_path: Path) -> int:
    root = tmp_path / "cache"
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and "blobs" in p.parts)


BOUND = 3 * (HEAD_BYTES + TAIL_BYTES)  # a few files' ends, never a whole big file


def test_a_version_of_data_is_refused_without_pulling_it(url: str, tmp_path: Path) -> None:
    """Failed before the fix: the whole 24 MiB version was fetched into the cache first."""
    data = big_file(tmp_path / "data.bin")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model\n")
    push(url, tmp_path, {data: "data.bin", notes: "notes.txt"}, "d/data")
    shelf, backend = watched(url, tmp_path)
    with pytest.raises(NotAModelError, match="is not a registered model") as caught:
        check_loadable("d/data", store=shelf)
    message = str(caught.value)
    assert "data.bin" in message and "notes.txt" in message
    assert backend.blob_bytes() <= BOUND, backend.blob_bytes()
    assert cache_bytes(tmp_path) == 0


def test_the_refusal_is_the_one_load_model_gives(url: str, tmp_path: Path) -> None:
    data = big_file(tmp_path / "data.bin", MiB)
    push(url, tmp_path, {data: "data.bin"}, "d/one")
    with pytest.raises(NotAModelError) as early:
        check_loadable("d/one", store=Shelf(url, cache_dir=tmp_path / "a"))
    with pytest.raises(NotAModelError) as late:
        load_model("d/one", store=Shelf(url, cache_dir=tmp_path / "b"))
    assert str(early.value) == str(late.value)


def test_a_pickle_beside_big_data_is_refused_for_trust_without_pulling(
    url: str, tmp_path: Path
) -> None:
    data = big_file(tmp_path / "data.bin")
    model = tmp_path / "model.pkl"
    model.write_bytes(pickle.dumps({"w": [1, 2, 3]}, protocol=4))
    push(url, tmp_path, {data: "big/data.bin", model: "model.pkl"}, "d/pickled")
    shelf, backend = watched(url, tmp_path)
    with pytest.raises(
        TrustRequiredError, match=r"d/pickled:1.0 in file:.*: model.pkl is a pickle"
    ):
        check_loadable("d/pickled", store=shelf)
    assert backend.blob_bytes() <= BOUND
    assert cache_bytes(tmp_path) == 0
    check_loadable("d/pickled", store=shelf, trust=True)  # trusted: nothing else to refuse
    assert cache_bytes(tmp_path) == 0


def test_a_loadable_plain_model_passes_without_pulling_the_data(url: str, tmp_path: Path) -> None:
    safetensors = pytest.importorskip("safetensors.numpy")
    np = pytest.importorskip("numpy")
    model = tmp_path / "model.safetensors"
    safetensors.save_file({"w": np.zeros(4, dtype=np.float32)}, str(model))
    data = big_file(tmp_path / "data.bin")
    push(url, tmp_path, {data: "data.bin", model: "model.safetensors"}, "d/ok")
    shelf, backend = watched(url, tmp_path)
    check_loadable("d/ok", store=shelf)
    assert backend.blob_bytes() <= BOUND
    assert cache_bytes(tmp_path) == 0


def test_a_sub_path_and_a_single_file_are_detected_as_load_model_sees_them(
    url: str, tmp_path: Path
) -> None:
    model = tmp_path / "m.pkl"
    model.write_bytes(pickle.dumps([1], protocol=4))
    data = big_file(tmp_path / "data.bin")
    push(url, tmp_path, {data: "a/data.bin", model: "b/m.pkl"}, "d/tree")
    shelf, backend = watched(url, tmp_path)
    with pytest.raises(NotAModelError, match=r"data\.bin"):
        check_loadable("d/tree@latest/a", store=shelf)
    with pytest.raises(TrustRequiredError, match=r"m\.pkl"):
        check_loadable("d/tree@latest/b/m.pkl", store=shelf)
    with pytest.raises(TrustRequiredError, match=r"m\.pkl"):
        check_loadable("d/tree@latest/b", store=shelf)
    push(url, tmp_path, {data: "data.bin"}, "d/file")  # a file asset
    with pytest.raises(NotAModelError, match=r"data\.bin"):
        check_loadable("d/file", store=shelf)
    assert backend.blob_bytes() <= 4 * BOUND
    assert cache_bytes(tmp_path) == 0


def test_hidden_files_are_skipped_as_detection_of_the_pulled_folder_skips_them(
    url: str, tmp_path: Path
) -> None:
    model = tmp_path / "m.pkl"
    model.write_bytes(pickle.dumps([1], protocol=4))
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    push(url, tmp_path, {model: ".hidden/m.pkl", notes: "notes.txt"}, "d/hidden")
    with pytest.raises(NotAModelError, match=r"notes\.txt") as caught:
        check_loadable("d/hidden", store=Shelf(url, cache_dir=tmp_path / "c"))
    with pytest.raises(NotAModelError) as late:
        load_model("d/hidden", store=Shelf(url, cache_dir=tmp_path / "d"))
    assert str(caught.value) == str(late.value)


def test_a_warm_snapshot_is_read_in_place(url: str, tmp_path: Path) -> None:
    data = big_file(tmp_path / "data.bin", MiB)
    push(url, tmp_path, {data: "data.bin"}, "d/warm")
    Shelf(url, cache_dir=tmp_path / "cache").pull("d/warm", progress=False)
    shelf, backend = watched(url, tmp_path)
    with pytest.raises(NotAModelError):
        check_loadable("d/warm", store=shelf)
    assert backend.blob_bytes() == 0


def test_serve_refuses_a_data_version_before_pulling_it(url: str, tmp_path: Path) -> None:
    """The command the review ran: one error line, exit 1, nothing in the serve cache."""
    data = big_file(tmp_path / "data.bin")
    push(url, tmp_path, {data: "data.bin"}, "d/serve")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "MODELSHELF_CACHE_DIR": str(tmp_path / "cache"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "modelshelf", "--store", url, "serve", "d/serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error: ") and "is not a registered model" in done.stderr
    assert cache_bytes(tmp_path) == 0


def test_detect_listing_reads_only_the_ends() -> None:
    reads: list[tuple[str, int, int]] = []

    def read(name: str, start: int, end: int) -> bytes:
        reads.append((name, start, end))
        return b"\0" * (end - start)

    with pytest.raises(UnknownModelFormatError) as caught:
        detect_listing("x:1", {"a.bin": 10**9, ".git/x": 5, "b": 0}, read, folder=True)
    assert sorted(caught.value.candidates) == ["a.bin", "b"]
    assert reads == [("a.bin", 0, HEAD_BYTES), ("a.bin", 10**9 - TAIL_BYTES, 10**9)]


_CONTENTS = st.sampled_from(
    [
        b"",
        b"plain text\n",
        pickle.dumps([1, 2], protocol=4),
        b"\x80\x02}q\x00.",
        b"PK\x03\x04junk",
        b"\x08\x08\x12\x04name",
        b"(lp0\nI1\na.",
    ]
)
_NAMES = st.lists(
    st.sampled_from(
        ["model.pkl", "a.bin", "m.onnx", ".x", "d/model.joblib", "d/.h/y.pkl", "e/z.p"]
    ),
    min_size=1,
    max_size=4,
    unique=True,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(names=_NAMES, data=st.data())
def test_detect_listing_answers_as_detect_format_on_the_pulled_folder(
    names: list[str], data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("pulled")
    files = {name: data.draw(_CONTENTS) for name in names}
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)

    def read(name: str, start: int, end: int) -> bytes:
        return files[name][start:end]

    def outcome(detect: object) -> tuple[str, ...]:
        try:
            found = detect()  # type: ignore[operator]
        except UnknownModelFormatError as exc:
            return ("refused", exc.reason, repr(sorted(exc.candidates.items())))
        relative = Path(found.path).relative_to(folder) if found.path.is_absolute() else found.path
        return (found.engine, relative.as_posix(), found.evidence)

    sizes = {name: len(content) for name, content in files.items()}
    listed = outcome(lambda: detect_listing(str(folder), sizes, read, folder=True))
    assert listed == outcome(lambda: detect_format(folder))
