"""Store JSON and listings are bounded on every remote store (issue 20 round two, P1 and P2),
and a store's errors never show a credential (B6).

A manifest of strings ending in an escaped backslash is refused before decoding; ``NaN`` and
``1e999999`` in a manifest or an audit record are refused naming the key; an endless listing of
long keys is refused by its bytes; a bad store password is never quoted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conformance.test_hostile import pushed, put_raw
from tests.conformance.test_hostile_storedata import KEY, _refused_everywhere
from tests.gc_schedule import reached
from tests.servers.gcs import expect_emulator_gap
from tests.servers.remote import RemoteStore
from tests.unit.test_hostile_store import LOG_KEY, assert_one_line, log_record, manifest_dict
from tests.wrapped_backend import WrappedBackend

from modelshelf import Shelf
from modelshelf.backends import ObjectMeta
from modelshelf.errors import ModelshelfError, UntrustedStoreDataError


def test_a_manifest_of_strings_ending_in_a_backslash_is_refused(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    body = json.dumps(manifest_dict(), separators=(",", ":")).encode()[:-1]
    # 3 MB of '"\\",': 600,000 strings, over the ~390,000 its budget allows; counted as
    # 300,000 before, it was decoded.
    bomb = body + b',"junk":[' + b",".join([b'"\\\\"'] * 600_000) + b"]}"
    s = pushed(remote_store, tmp_path)
    put_raw(remote_store, KEY, bomb)
    # Refused by the budget, before decoding (a decoded one was refused only by its sections).
    with pytest.raises(UntrustedStoreDataError, match=r"60002\d strings") as info:
        s.manifest("m:1.1")
    assert_one_line(info.value, key=KEY)
    assert s.cache.load_manifest(s.store_id, "m", "1.1") is None


@pytest.mark.parametrize("number", [b"NaN", b"1e999999", b"-Infinity"])
def test_a_manifest_with_a_non_finite_number_is_refused(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest, number: bytes
) -> None:
    expect_emulator_gap(remote_store, request)
    forged = json.dumps(manifest_dict()).encode()[:-1] + b', "model": {"x": ' + number + b"}}"
    _refused_everywhere(remote_store, tmp_path, forged)


def test_an_audit_record_with_a_non_finite_number_is_refused(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    s = pushed(remote_store, tmp_path)
    put_raw(remote_store, LOG_KEY, json.dumps(log_record()).encode()[:-1] + b', "x": 1e999}')
    with pytest.raises(UntrustedStoreDataError, match="not a finite number") as info:
        s.store.log("m")
    assert_one_line(info.value, key=LOG_KEY)


class _LongJunk(WrappedBackend):
    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        yield from self.inner.list(prefix)
        for i in range(20_000):
            yield ObjectMeta(f"{prefix}/{'k' * 990}{i:010d}", 1, etag="e")
        raise AssertionError("the listing was read past 20,000 keys of 1,000 bytes")


def test_an_endless_listing_of_long_keys_is_refused_by_its_bytes(
    remote_store: RemoteStore,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """For a registry: one served over the endless listing refuses it, and says so."""
    expect_emulator_gap(remote_store, request)
    s = pushed(remote_store, tmp_path)
    monkeypatch.setenv("MODELSHELF_MAX_LIST_MIB", "1")
    backend, sides = reached(remote_store)
    with (
        sides.writer(_LongJunk(backend), tmp_path / "junk") as junk,
        pytest.raises(UntrustedStoreDataError, match="more than 1 MiB of key names"),
    ):
        junk.versions("m")
    assert s.versions("m") == ["1.0"]  # the real listing still reads


def test_a_refused_store_password_is_never_quoted(
    remote_store: RemoteStore, tmp_path: Path
) -> None:
    # Refused when the URL is read, before any request: no emulator gap on GCS.
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    scheme, rest = remote_store.url.split("://", 1)
    with pytest.raises(ModelshelfError) as info:
        Shelf(
            f"{scheme}://AKIDEXAMPLE:{secret}@{rest}",
            cache_dir=tmp_path / "cache",
            **remote_store.options,
        ).versions("m")
    assert "wJalr" not in str(info.value), str(info.value)
