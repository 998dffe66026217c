"""A store's listing is bounded in key bytes, not only in keys (issue 20 round two, P1).

Class of attack: amplification by an endless listing. The key bound (1,000,000) let a listing
of 1,000-byte keys (S3 allows 1,024) grow a mirror to 1,186 MiB before it was refused, since
mirror keeps every listed key. Now the key names one listing may bring are bounded too
(``MODELSHELF_MAX_LIST_MIB``), counted in UTF-8 bytes as they arrive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.unit.test_mirror_trust import READERS
from tests.wrapped_backend import WrappedBackend

from modelshelf import Shelf, constants
from modelshelf._bounds import bounded_listing
from modelshelf.backends import ObjectMeta, open_backend, register_backend
from modelshelf.errors import InvalidInputError, UntrustedStoreDataError
from modelshelf.mirror.run import mirror
from modelshelf.store.bucket import Store

RUNAWAY = 20_000  # keys of 1,000 bytes read this far (19 MiB) were not bounded by 1 MiB


def _long_keys(prefix: str, width: int = 1000, char: str = "k") -> Iterator[ObjectMeta]:
    for i in range(RUNAWAY):
        yield ObjectMeta((f"{prefix}/" + char * width)[:-10] + f"{i:010d}", 1, etag="e")
    raise AssertionError(f"the listing of {prefix} was read past {RUNAWAY} keys")


class EndlessLongKeys(WrappedBackend):
    """A store whose listings, after the real keys, page 1,000-byte junk keys forever."""

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        yield from self.inner.list(prefix)
        yield from _long_keys(prefix)


class EndlessLongBucket(EndlessLongKeys):
    @classmethod
    def from_url(cls, url: str, **options: object) -> EndlessLongBucket:
        bucket = cls(open_backend("memory://endless-long-keys"))
        bucket.url = url
        return bucket


def test_a_mirror_listing_of_long_keys_is_refused_by_its_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_backend("endlesslong", EndlessLongBucket, clobber=True)
    monkeypatch.delenv("MODELSHELF_MAX_LIST_KEYS", raising=False)  # the key bound is far off
    monkeypatch.setenv("MODELSHELF_MAX_LIST_MIB", "1")
    with pytest.raises(UntrustedStoreDataError, match=r"more than 1 MiB of key names") as info:
        mirror("endlesslong://bucket/p", tmp_path / "dest")
    assert "MODELSHELF_MAX_LIST_MIB" in str(info.value)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "dest").exists()


@pytest.mark.parametrize("read", READERS.values(), ids=READERS.keys())
def test_every_store_listing_of_long_keys_is_refused_by_its_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read: Callable[[Store], object]
) -> None:
    inner = open_backend(f"memory://long-{tmp_path.name}")
    shelf = Shelf(inner, cache_dir=tmp_path / "cache")
    (tmp_path / "w.bin").write_bytes(b"weights")
    shelf.push(tmp_path / "w.bin", "m", progress=False)
    shelf.set_alias("m@prod", "1.0")
    monkeypatch.delenv("MODELSHELF_MAX_LIST_KEYS", raising=False)
    monkeypatch.setenv("MODELSHELF_MAX_LIST_MIB", "1")
    with pytest.raises(UntrustedStoreDataError, match=r"more than 1 MiB.*MODELSHELF_MAX_LIST_MIB"):
        read(Store(EndlessLongKeys(inner)))


def test_key_bytes_are_counted_in_utf8() -> None:
    # 300 characters of 4 bytes each: 1,200 bytes a key, 874 keys to a MiB (not 3,495).
    keys = _long_keys("p", width=300, char="\U0001f600")
    with pytest.raises(UntrustedStoreDataError, match="more than 1 MiB") as info:
        for count, _ in enumerate(bounded_listing(keys, 10**6, "x://b/p", max_bytes=2**20)):
            assert count < 900, "counted in characters, not bytes"
    assert "x://b/p" in str(info.value)


def test_a_listing_within_both_bounds_reads_whole() -> None:
    keys = [ObjectMeta("k" * 1000, 1) for _ in range(1048)]  # 1,048,000 bytes: under 1 MiB
    assert len(list(bounded_listing(keys, 1048, "x://b", max_bytes=2**20))) == 1048


def test_the_byte_bound_defaults_to_128_mib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELSHELF_MAX_LIST_MIB", raising=False)
    assert constants.max_list_bytes() == 128 * 2**20
    monkeypatch.setenv("MODELSHELF_MAX_LIST_MIB", "1024")  # raised for a larger store
    assert constants.max_list_bytes() == 2**30
    monkeypatch.setenv("MODELSHELF_MAX_LIST_MIB", "lots")
    with pytest.raises(InvalidInputError, match="MODELSHELF_MAX_LIST_MIB"):
        constants.max_list_bytes()
