"""A store's cache identity is everything that selects it, and never a secret."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.wrapped_backend import WrappedBackend

from modelshelf.backends.base import Backend, is_secret_option, without_password
from modelshelf.backends.memory import MemoryBackend
from modelshelf.backends.registry import store_identity
from modelshelf.backends.s3 import S3Backend
from modelshelf.shelf.shelf import Shelf
from modelshelf.store.bucket import Store

SWITCH = "tests.unit.test_cache_identity:SwitchBackend"


class SwitchBackend(WrappedBackend):
    """A custom backend whose ``endpoint`` option selects one of several memory stores."""

    def __init__(self, endpoint: str, password: str = "", api_token: str = "") -> None:
        super().__init__(MemoryBackend(f"switch-{endpoint}"))
        self.url, self.endpoint = SWITCH, endpoint

    def store_identity(self) -> dict[str, str]:
        return store_identity(self.url, endpoint=self.endpoint)


def _push(shelf: Shelf, tmp_path: Path, content: bytes) -> None:
    folder = tmp_path / f"src-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(content)
    shelf.push(folder, "nlp/model:1.0", progress=False)


def test_two_backends_with_different_options_do_not_share_cached_versions(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    staging = Shelf(SWITCH, cache_dir=cache, endpoint="staging")
    production = Shelf(SWITCH, cache_dir=cache, endpoint="production")
    _push(staging, tmp_path, b"staging bytes")
    _push(production, tmp_path, b"production bytes")

    assert (staging.pull("nlp/model:1.0") / "weights.bin").read_bytes() == b"staging bytes"
    pulled = production.pull("nlp/model:1.0") / "weights.bin"
    assert pulled.read_bytes() == b"production bytes"
    assert staging.store_id != production.store_id


def test_secret_options_stay_out_of_the_identity(tmp_path: Path) -> None:
    one = Shelf(SWITCH, cache_dir=tmp_path, endpoint="e", password="hunter2", api_token="t1")
    two = Shelf(SWITCH, cache_dir=tmp_path, endpoint="e", password="swordfish", api_token="t2")
    assert one.store_id == two.store_id
    identity = store_identity(SWITCH, endpoint="e", password="hunter2", api_token="t1")
    assert "hunter2" not in repr(identity) and "t1" not in identity.values()
    assert identity["endpoint"] == "e"
    assert identity["backend"] == SWITCH


def test_memory_stores_under_different_options_have_different_ids(tmp_path: Path) -> None:
    ids = {
        Shelf("memory://same", cache_dir=tmp_path, **options).store_id
        for options in ({}, {"endpoint": "http://a"}, {"endpoint": "http://b"}, {"tier": "x"})
    }
    assert len(ids) == 4


def test_the_store_id_keeps_a_readable_slug(tmp_path: Path) -> None:
    store_id = Shelf("s3://models/team-a", cache_dir=tmp_path).store_id
    assert store_id.startswith("s3-models-team-a-")
    assert Store.id_for("s3://models/team-a").startswith("s3-models-team-a-")


def test_s3_endpoint_from_the_environment_selects_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = set()
    for endpoint in ("http://127.0.0.1:9000", "https://s3.example.com"):
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        ids.add(Shelf("s3://bucket/prefix", cache_dir=tmp_path).store_id)
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000")
    ids.add(Shelf("s3://bucket/prefix", cache_dir=tmp_path).store_id)  # same as the first
    ids.add(Shelf("s3://bucket/prefix", cache_dir=tmp_path, endpoint="http://other").store_id)
    assert len(ids) == 3


def test_s3_identity_needs_no_credentials_and_leaves_secrets_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-secret")
    identity = S3Backend.identity("s3://bucket/p", secret_access_key="other-secret")
    text = repr(identity)
    for secret in ("AKIAEXAMPLE", "very-secret", "session-secret", "other-secret"):
        assert secret not in text
    before = Store.id_for("s3://bucket/p", identity)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "rotated")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOTHER")
    assert Store.id_for("s3://bucket/p", S3Backend.identity("s3://bucket/p")) == before


def test_s3_region_selects_only_without_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    def ident(**options: Any) -> dict[str, str]:
        return S3Backend.identity("s3://bucket", **options)

    assert ident(region="us-east-1") != ident(region="cn-north-1")
    with_endpoint = {"endpoint": "http://127.0.0.1:9000"}
    assert ident(region="us-east-1", **with_endpoint) == ident(region="eu-west-1", **with_endpoint)


def test_an_opened_backend_passed_to_the_shelf_has_its_own_identity(tmp_path: Path) -> None:
    a = Shelf(SwitchBackend("a"), cache_dir=tmp_path)
    assert a.store_id == Shelf(SWITCH, cache_dir=tmp_path, endpoint="a").store_id
    assert a.store_id != Shelf(SwitchBackend("b"), cache_dir=tmp_path).store_id
    s3 = S3Backend("bucket", "p", endpoint="http://127.0.0.1:1", access_key_id="k",
                   secret_access_key="s")  # fmt: skip
    s3_other = S3Backend("bucket", "p", endpoint="http://127.0.0.1:2", access_key_id="k",
                         secret_access_key="s")  # fmt: skip
    assert Shelf(s3, cache_dir=tmp_path).store_id != Shelf(s3_other, cache_dir=tmp_path).store_id
    assert (
        Shelf(s3, cache_dir=tmp_path).store_id
        == Shelf("s3://bucket/p", cache_dir=tmp_path, endpoint="http://127.0.0.1:1").store_id
    )


def test_default_identity_is_class_url_and_plain_options() -> None:
    identity = Backend.identity("x://y", endpoint="e", retries=3, secret_key="no", auth="no")
    assert identity == {
        "backend": "modelshelf.backends.base:Backend",
        "url": "x://y",
        "endpoint": "e",
        "retries": "3",
    }


def test_passwords_in_urls_stay_out_of_the_identity_and_the_id(tmp_path: Path) -> None:
    url = "tests.unit.nowhere:Nothing"
    identity = store_identity(url, endpoint="https://alice:hunter2@minio.example:9000/x")
    assert identity["endpoint"] == "https://alice@minio.example:9000/x"
    store_id = Store.id_for("webdav://alice:hunter2@host/models", {"backend": "x"})
    assert "hunter2" not in store_id and "alice" in store_id
    one = Shelf("memory://m", cache_dir=tmp_path, endpoint="http://u:one@h")
    two = Shelf("memory://m", cache_dir=tmp_path, endpoint="http://u:two@h")
    assert one.store_id == two.store_id


_NAMES = st.sampled_from(
    ["endpoint", "region", "tier", "password", "api_key", "secret_access_key", "token", "auth"]
)
_VALUES = st.text(min_size=8, max_size=20).filter(lambda v: v.isprintable())


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(url=st.text(max_size=60), options=st.dictionaries(_NAMES, _VALUES, max_size=6))
def test_any_identity_gives_a_safe_id_without_secret_values(
    url: str, options: dict[str, str]
) -> None:
    identity = Backend.identity(url, **options)
    store_id = Store.id_for(url, identity)
    assert re.fullmatch(r"[a-z0-9-]*-[0-9a-f]{16}", store_id), store_id
    assert len(store_id) <= 57
    plain = {name for name in options if not is_secret_option(name)}
    assert set(identity) == plain | {"backend", "url"}  # no secret option, by name or value
    for name in plain:
        assert identity[name] == without_password(options[name])
    changed = {n: v + "x" if is_secret_option(n) else v for n, v in options.items()}
    assert Store.id_for(url, Backend.identity(url, **changed)) == store_id
