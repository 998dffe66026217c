"""Second review (archives, pre-flight) on a real SeaweedFS S3 server: a version of data is
refused by the serve pre-flight after ranged reads of its files' ends only, and a torch archive
with two central directories pushed to the bucket is refused without trust."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.servers.seaweed import S3Bucket
from tests.wrapped_backend import WatchingReads

from modelshelf import PushSource, Shelf, load_model
from modelshelf.backends import open_backend
from modelshelf.errors import NotAModelError, UnknownModelFormatError
from modelshelf.models._preflight import check_loadable
from modelshelf.models.detect import HEAD_BYTES, TAIL_BYTES

pytestmark = pytest.mark.integration
MiB = 2**20


@pytest.fixture
def s3_url(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in s3_bucket.env.items():
        monkeypatch.setenv(name, value)
    return s3_bucket.url


def test_a_data_version_in_s3_is_refused_from_its_ends(s3_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data.bin"
    with data.open("wb") as f:
        f.truncate(16 * MiB)
    Shelf(s3_url, cache_dir=tmp_path / "w").push(
        PushSource.from_files({data: "data.bin"}), "d/data", progress=False
    )
    backend = WatchingReads(open_backend(s3_url))
    with pytest.raises(NotAModelError, match="is not a registered model"):
        check_loadable("d/data", store=Shelf(backend, cache_dir=tmp_path / "c"))
    assert sum(backend.whole_reads) + sum(backend.pieces) <= HEAD_BYTES + TAIL_BYTES
    assert not any((tmp_path / "c").rglob("data.bin"))


def test_a_two_directory_torch_bomb_in_s3_is_refused(s3_url: str, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from tests.unit.test_review2_archive import CANONICAL, deflated_state_dict, two_directories

    bomb = tmp_path / "bomb.pt"
    bomb.write_bytes(two_directories(deflated_state_dict()))
    Shelf(s3_url, cache_dir=tmp_path / "w").push(
        PushSource.from_files({bomb: "m.pt"}), "z/bomb", progress=False
    )
    with pytest.raises(UnknownModelFormatError, match=CANONICAL):
        load_model("z/bomb", store=Shelf(s3_url, cache_dir=tmp_path / "c"))
