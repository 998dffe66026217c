"""Store records are bounded on every remote store (issue 20, item 9): a manifest whose
sections would decode to many times its size, or one over the cap, is refused in one line
naming the key, is never cached, and costs no more than its bounded read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conformance.test_hostile import pushed, put_raw
from tests.servers.gcs import expect_emulator_gap
from tests.servers.remote import RemoteStore
from tests.unit.test_hostile_store import assert_one_line, manifest_dict

from modelshelf import _bounds
from modelshelf.errors import UntrustedStoreDataError

KEY = "assets/m/versions/1.1.json"
# A registry names the manifest by its key when its server refused it, or by the API's path
# when its client did (the server's cap is its own).
API_PATH = "assets/m/-/versions/1.1"
MiB = 2**20


def _refused_everywhere(remote_store: RemoteStore, tmp_path: Path, forged: bytes) -> None:
    s = pushed(remote_store, tmp_path)  # m:1.0, then the forged m:1.1
    put_raw(remote_store, KEY, forged)
    for attempt in (
        lambda: s.pull("m:1.1", progress=False),
        lambda: s.pull("m", progress=False),
        lambda: s.manifest("m:1.1"),
    ):
        with pytest.raises(UntrustedStoreDataError) as info:
            attempt()
        named = API_PATH if API_PATH in str(info.value) and remote_store.is_registry else KEY
        assert_one_line(info.value, key=named)
        assert s.url in str(info.value)
    assert s.cache.load_manifest(s.store_id, "m", "1.1") is None


def test_a_manifest_whose_sections_would_multiply_is_refused(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    body = json.dumps(manifest_dict(), separators=(",", ":")).encode()[:-1]
    bomb = body + b',"junk":[' + b",".join([b"{}"] * (2 * MiB // 3)) + b"]}"  # 2 MiB
    _refused_everywhere(remote_store, tmp_path, bomb)


def test_a_manifest_over_the_cap_is_refused(
    remote_store: RemoteStore,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expect_emulator_gap(remote_store, request)
    raw = json.dumps(manifest_dict(message="padding " * 2000)).encode()  # valid, 16 KiB
    monkeypatch.setattr(_bounds, "MAX_MANIFEST_BYTES", 4096)
    _refused_everywhere(remote_store, tmp_path, raw)
