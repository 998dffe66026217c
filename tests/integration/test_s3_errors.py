"""S3 errors from a real server keep their cause and say the next step (SeaweedFS on loopback)."""

from __future__ import annotations

import pytest
from tests.servers.seaweed import SeaweedServer

from modelshelf.cli.main import main
from modelshelf.errors import ObjectNotFoundError, StoreError
from modelshelf.shelf.shelf import Shelf

MISSING = "modelshelf-no-such-bucket"


@pytest.fixture
def seaweed_env(seaweed: SeaweedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in seaweed.env().items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("seaweed_env")
def test_a_missing_bucket_is_named_with_the_next_step() -> None:
    shelf = Shelf(f"s3://{MISSING}/models")
    with pytest.raises(StoreError) as info:
        shelf.versions("m")  # a LIST: its 404 body carries the S3 error code
    message = str(info.value)
    assert "NoSuchBucket" in message and "create the bucket" in message
    assert "<?xml" not in message and "\n" not in message
    with pytest.raises(StoreError) as info:
        shelf.store.backend.get_range("k", 0, 1)  # a GET: a 404, but not a missing object
    assert not isinstance(info.value, ObjectNotFoundError) and "NoSuchBucket" in str(info.value)


@pytest.mark.usefixtures("seaweed_env")
def test_cli_on_a_missing_bucket_says_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["ls"], ["versions", "m"], ["pull", "m"]):
        code = main(["--store", f"s3://{MISSING}", *args])
        out, err = capsys.readouterr()
        assert code == 1 and out == "", args
        assert err.startswith("error: ") and len(err.splitlines()) == 1, err
        assert "NoSuchBucket" in err and "create the bucket" in err
