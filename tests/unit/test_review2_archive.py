"""Second review, finding 1: a zip archive that Python's zipfile and torch's reader read
differently is refused before any bound is checked on one reader's view.

Every archive here is small (a few KB): the variants are crafted on the bytes of a real
``torch.save`` / ``zipfile`` file, so a test never inflates anything large.
"""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelshelf import PushSource, Shelf, load_model
from modelshelf.errors import UnknownModelFormatError, UntrustedStoreDataError
from modelshelf.models.engines import _archive
from modelshelf.models.engines._zip_layout import NotAZipError, ZipLayoutError, read_layout

torch = pytest.importorskip("torch")

CANONICAL = "not a canonical zip archive"


def eocd_fields(raw: bytes) -> tuple[int, int]:
    """(central directory size, offset) from the end record at the file's end."""
    size, offset = struct.unpack_from("<II", raw, len(raw) - 22 + 12)
    return size, offset


def deflated_state_dict(n: int = 4096) -> bytes:
    """A torch.save state_dict rewritten by zipfile with its tensor deflated (as mkbomb.py)."""
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(n)}, buf)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            method = zipfile.ZIP_DEFLATED if "/data/" in info.filename else zipfile.ZIP_STORED
            dst.writestr(zipfile.ZipInfo(info.filename), src.read(info), compress_type=method)
    return out.getvalue()


def two_directories(raw: bytes) -> bytes:
    """The review's bomb: the declared central directory is real (a deflated tensor); a copy
    relabelled stored with equal sizes sits just before the end record, where zipfile looks."""
    size, offset = eocd_fields(raw)
    central = bytearray(raw[offset : offset + size])
    at = 0
    while at < len(central):
        n, m, k = struct.unpack_from("<HHH", central, at + 28)
        if struct.unpack_from("<H", central, at + 10)[0] == 8:
            central[at + 10 : at + 12] = struct.pack("<H", 0)
            central[at + 24 : at + 28] = central[at + 20 : at + 24]
        at += 46 + n + m + k
    return raw[: offset + size] + bytes(central) + raw[offset + size :]


def save_scripted(module: torch.nn.Module, target: object) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit's own notices
        torch.jit.save(torch.jit.script(module), target)


def write(tmp_path: Path, raw: bytes, name: str = "m.pt") -> Path:
    path = tmp_path / name
    path.write_bytes(raw)
    return path


def refused(path: Path, kind: str = "torch") -> str:
    with pytest.raises(UnknownModelFormatError) as caught:
        _archive.check_archive(path, kind)
    message = str(caught.value)
    assert "\n" not in message.split("\n  ")[0] and "\x1b" not in message
    return message


# --- the review's bomb -------------------------------------------------------------------------


def test_two_central_directories_are_refused_though_zipfile_sees_only_stored_entries(
    tmp_path: Path,
) -> None:
    """Failed before the fix: zipfile read the stored copy, so check_archive passed."""
    path = write(tmp_path, two_directories(deflated_state_dict()))
    with zipfile.ZipFile(path) as archive:  # the view the old check trusted
        assert all(i.compress_type == zipfile.ZIP_STORED for i in archive.infolist())
    assert CANONICAL in refused(path)
    assert CANONICAL in refused(path, "torchscript")
    assert CANONICAL in refused(path, "skops")


def test_the_two_directory_bomb_in_a_store_is_refused_by_load_model(tmp_path: Path) -> None:
    """Failed before the fix: torch (miniz) inflated the deflated tensor without trust."""
    url = (tmp_path / "store").as_uri()
    (tmp_path / "store").mkdir()
    bomb = write(tmp_path, two_directories(deflated_state_dict()), "bomb.pt")
    Shelf(url, cache_dir=tmp_path / "w").push(PushSource.from_files({bomb: "m.pt"}), "z/bomb")
    with pytest.raises(UnknownModelFormatError, match=CANONICAL):
        load_model("z/bomb", store=Shelf(url, cache_dir=tmp_path / "c"))
    assert load_model("z/bomb", store=Shelf(url, cache_dir=tmp_path / "c"), trust=True)


def test_a_forged_state_dict_version_with_two_directories_is_refused(tmp_path: Path) -> None:
    """The model section says a saved state_dict: the same file, the same refusal."""
    url = (tmp_path / "store").as_uri()
    (tmp_path / "store").mkdir()
    bomb = write(tmp_path, two_directories(deflated_state_dict()), "bomb.pt")
    section = {
        "runner": "tests.runner_contract_fixtures:TorchPredict",
        "requirements": [],
        "artifacts": ["model"],
        "props": None,
        "saved_as": "torch-state-dict",
    }
    Shelf(url, cache_dir=tmp_path / "w").push(
        PushSource.from_files({bomb: "model/model.pt"}), "z/forged", sections={"model": section}
    )
    with pytest.raises(UntrustedStoreDataError, match=CANONICAL) as caught:
        load_model("z/forged", store=Shelf(url, cache_dir=tmp_path / "c"))
    assert "z/forged:1.0" in str(caught.value)
    assert "\n" not in str(caught.value).split("\n  ")[0]


def test_a_local_two_directory_bomb_is_refused_by_the_plain_loader(tmp_path: Path) -> None:
    path = write(tmp_path, two_directories(deflated_state_dict()))
    with pytest.raises(UnknownModelFormatError, match=CANONICAL):
        load_model(path)


def test_torchscript_with_two_directories_is_refused(tmp_path: Path) -> None:
    class Buffered(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("w", torch.zeros(64))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.w[:1]

    buf = io.BytesIO()
    save_scripted(Buffered(), buf)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            method = zipfile.ZIP_DEFLATED if "/data/" in info.filename else zipfile.ZIP_STORED
            dst.writestr(zipfile.ZipInfo(info.filename), src.read(info), compress_type=method)
    path = write(tmp_path, two_directories(out.getvalue()))
    with pytest.raises(UnknownModelFormatError, match=CANONICAL):
        load_model(path)


# --- each non-canonical variant ----------------------------------------------------------------


def stored_archive() -> bytes:
    """A small archive every reader reads the same (stored entries, as torch writes them)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("m/data.pkl", b"x" * 40)
        archive.writestr("m/data/0", b"\0" * 64)
    return out.getvalue()


def test_the_canonical_archives_torch_and_zipfile_write_pass(tmp_path: Path) -> None:
    _archive.check_archive(write(tmp_path, stored_archive()), "torch")
    sd = tmp_path / "sd.pt"
    torch.save({"w": torch.zeros(8)}, sd)  # torch: zip64 end record, data descriptors
    _archive.check_archive(sd, "torch")
    script = tmp_path / "ts.pt"
    save_scripted(torch.nn.Linear(2, 1), str(script))
    _archive.check_archive(script, "torchscript")
    zip64 = io.BytesIO()  # zipfile's zip64 local headers (sizes in the extra field)
    with (
        zipfile.ZipFile(zip64, "w") as archive,
        archive.open("schema.json", "w", force_zip64=True) as entry,
    ):
        entry.write(b"{}")
    _archive.check_archive(write(tmp_path, zip64.getvalue(), "z.skops"), "skops")


def test_a_comment_after_the_end_record_is_refused(tmp_path: Path) -> None:
    out = io.BytesIO(stored_archive())
    with zipfile.ZipFile(out, "a") as archive:
        archive.comment = b"hello"
    assert "comment or trailing data" in refused(write(tmp_path, out.getvalue()))


def test_trailing_bytes_are_refused(tmp_path: Path) -> None:
    assert "comment or trailing data" in refused(write(tmp_path, stored_archive() + b"\0" * 7))


def test_bytes_before_the_archive_are_refused(tmp_path: Path) -> None:
    """zipfile corrects offsets by the prefix (its concat); torch's reader does not."""
    raw = b"#!junk\n" + stored_archive()
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        assert archive.namelist() == ["m/data.pkl", "m/data/0"]
    assert "does not end where its end record begins" in refused(write(tmp_path, raw))


def patched_local(raw: bytes, at: int, value: bytes) -> bytes:
    """``raw`` with the first local header's bytes at ``at`` replaced."""
    return raw[:at] + value + raw[at + len(value) :]


@pytest.mark.parametrize(
    ("at", "value", "said"),
    [
        (8, struct.pack("<H", 8), "local header unlike"),  # method: deflated
        (6, struct.pack("<H", 8), "local header unlike"),  # flags
        (30, b"n", "local header unlike"),  # the name's first byte
        (22, struct.pack("<I", 4), "local header"),  # uncompressed size
        (18, struct.pack("<I", 4), "local header"),  # compressed size
    ],
)
def test_a_local_header_that_disagrees_with_its_directory_entry_is_refused(
    tmp_path: Path, at: int, value: bytes, said: str
) -> None:
    assert said in refused(write(tmp_path, patched_local(stored_archive(), at, value)))


def test_a_directory_entry_pointing_nowhere_is_refused(tmp_path: Path) -> None:
    raw = bytearray(stored_archive())
    central = raw.index(b"PK\x01\x02")
    raw[central + 42 : central + 46] = struct.pack("<I", 5)
    assert "no local header" in refused(write(tmp_path, bytes(raw)))


def test_overlapping_entries_are_refused(tmp_path: Path) -> None:
    """Two directory entries on one local header (the overlapping-file bomb)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("a", b"x" * 40)
        archive.writestr("b", b"y" * 40)  # same sizes: pointed at the first local header below
    raw = bytearray(out.getvalue())
    second = raw.rindex(b"PK\x01\x02")
    raw[second + 42 : second + 46] = struct.pack("<I", 0)
    raw[second + 46 : second + 47] = b"a"  # the name of the header it now points at
    assert "overlaps" in refused(write(tmp_path, bytes(raw)))


def test_an_end_record_declaring_fewer_entries_is_refused(tmp_path: Path) -> None:
    raw = bytearray(stored_archive())
    end = len(raw) - 22
    raw[end + 8 : end + 12] = struct.pack("<HH", 1, 1)
    assert "more than the 1 entries" in refused(write(tmp_path, bytes(raw)))


def test_an_end_record_declaring_more_entries_is_refused(tmp_path: Path) -> None:
    raw = bytearray(stored_archive())
    end = len(raw) - 22
    raw[end + 8 : end + 12] = struct.pack("<HH", 3, 3)
    assert "fewer entries" in refused(write(tmp_path, bytes(raw)))


def torch_zip64(tmp_path: Path) -> bytearray:
    sd = tmp_path / "sd.pt"
    torch.save({"w": torch.zeros(8)}, sd)
    raw = bytearray(sd.read_bytes())
    assert raw[-42:-38] == b"PK\x06\x07"  # torch writes a zip64 end record and its locator
    return raw


def test_a_zip64_record_that_disagrees_with_the_end_record_is_refused(tmp_path: Path) -> None:
    raw = torch_zip64(tmp_path)
    record = struct.unpack_from("<Q", raw, len(raw) - 42 + 8)[0]
    count = struct.unpack_from("<Q", raw, record + 24)[0]
    raw[record + 24 : record + 40] = struct.pack("<QQ", count - 1, count - 1)
    assert "disagree" in refused(write(tmp_path, bytes(raw)))


def test_a_zip64_locator_pointing_elsewhere_is_refused(tmp_path: Path) -> None:
    raw = torch_zip64(tmp_path)
    raw[len(raw) - 42 + 8 : len(raw) - 42 + 16] = struct.pack("<Q", 0)
    assert "zip64" in refused(write(tmp_path, bytes(raw)))


def test_a_zip64_record_with_a_gap_before_the_locator_is_refused(tmp_path: Path) -> None:
    raw = torch_zip64(tmp_path)
    record = struct.unpack_from("<Q", raw, len(raw) - 42 + 8)[0]
    raw[record + 4 : record + 12] = struct.pack("<Q", 40)
    assert "zip64 end record" in refused(write(tmp_path, bytes(raw)))


def test_a_file_no_reader_takes_for_a_zip_is_left_to_the_engine(tmp_path: Path) -> None:
    _archive.check_archive(write(tmp_path, b"\x80\x02not a zip" * 10), "torch")


def test_a_non_utf8_name_is_still_checked(tmp_path: Path) -> None:
    """zipfile cannot decode it (it fails), torch reads it: the layout reader checks it."""
    raw = two_directories(deflated_state_dict())
    path = write(tmp_path, raw.replace(b"/data/0", b"/dat\xff/0"))
    assert CANONICAL in refused(path)


# --- property: what passes, zipfile reads as the layout reader does ---------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(
        st.tuples(st.integers(min_value=0, max_value=10**6), st.integers(0, 255)), max_size=4
    ),
    cut=st.integers(min_value=0, max_value=40),
)
def test_mutated_archives_are_refused_or_read_alike_by_zipfile(
    edits: list[tuple[int, int]], cut: int
) -> None:
    raw = bytearray(stored_archive())
    for at, value in edits:
        raw[at % len(raw)] = value
    data = bytes(raw[: len(raw) - cut] if cut < 30 else raw)
    try:
        entries = read_layout(io.BytesIO(data), 100)
    except ZipLayoutError as exc:
        assert "\n" not in str(exc)
        return
    except NotAZipError:
        return
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            seen = [(i.compress_type, i.compress_size, i.file_size) for i in archive.infolist()]
    except (zipfile.BadZipFile, NotImplementedError):
        return  # zipfile refuses more (a version, a name): whatever it reads must agree
    assert seen == [(e.method, e.compress_size, e.file_size) for e in entries]


def test_a_hostile_entry_name_in_a_refusal_is_escaped(tmp_path: Path) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("\x1b]0;pwned\x07\nerror: fake", b"x" * 8)
    raw = patched_local(out.getvalue(), 8, struct.pack("<H", 8))
    message = refused(write(tmp_path, raw))
    assert "\x1b" not in message and "\x07" not in message and "\\x1b" in message
