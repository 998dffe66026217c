"""Secrets in a store's URL never leave the process (issue 20, item 12).

A third-party backend, named by import path, keeps the URL it was opened with, password and
signed query included, as plugins do. Whatever goes wrong, and whatever succeeds, no error,
log record or ``/metadata`` field shows them.
"""

from __future__ import annotations

import logging
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from tests.unit.test_hostile_store import DictBackend

from modelshelf import Shelf
from modelshelf.backends import ObjectMeta
from modelshelf.backends.base import without_password, without_secrets
from modelshelf.errors import ModelshelfError

SECRETS = ("hunter2-pw", "SASSIG123", "AMZSIG456", "TOKEN789")
URL = (
    "pwstore://admin:hunter2-pw@objects.example/models"
    "?sv=2024&sig=SASSIG123&X-Amz-Signature=AMZSIG456&token=TOKEN789&region=eu"
)


class PasswordBackend(DictBackend):
    """A plugin whose url keeps user:password@ and a signed query, and whose own failures
    quote that url, as careless SDKs do."""

    objects_of_all: ClassVar[dict[str, bytes]] = {}
    failure: ClassVar[type[Exception] | None] = None

    def __init__(self) -> None:
        super().__init__(URL)
        self.objects = self.objects_of_all

    def _fail(self) -> None:
        if self.failure is not None:
            raise self.failure(f"{self.url} said no")

    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        self._fail()
        return super().get(key, chunk_size)

    def head(self, key: str) -> ObjectMeta:
        self._fail()
        return super().head(key)

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        self._fail()
        return super().list(prefix)


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    module = types.ModuleType("thirdparty_pwstore")
    module.PasswordBackend = PasswordBackend  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "thirdparty_pwstore", module)
    PasswordBackend.objects_of_all = {}
    PasswordBackend.failure = None
    yield "thirdparty_pwstore:PasswordBackend"
    PasswordBackend.failure = None


def _seen(caplog: pytest.LogCaptureFixture, *texts: str) -> str:
    formatter = logging.Formatter("%(message)s")
    return "\n".join([*texts, *(formatter.format(r) for r in caplog.records)])


def _assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("s3://u:pw@h/b", "s3://u@h/b"),
        ("https://a.blob/c?sv=1&sig=abc%2B&se=2", "https://a.blob/c?sv=1&sig=***&se=2"),
        (
            "x://h/p?X-Amz-Signature=abc&X-Amz-Credential=AK/1",
            "x://h/p?X-Amz-Signature=***&X-Amz-Credential=***",
        ),
        (
            "see https://h/p?token=t0k&access_key=k&a=1 now",
            "see https://h/p?token=***&access_key=***&a=1 now",
        ),
        # A secret-named pair is cut in any text, not only in a URL (issue 20 round two: a
        # connection string or a `;sig=` list leaked); prose such as KEY=VALUE is kept.
        ("plain text, a=b&sig=not-a-url", "plain text, a=b&sig=***"),
        ("write --meta KEY=VALUE", "write --meta KEY=VALUE"),
        ("gs://bucket/prefix?generation=5", "gs://bucket/prefix?generation=5"),
    ],
)
def test_secrets_are_cut_from_every_url_in_a_text(text: str, shown: str) -> None:
    assert without_secrets(text) == shown
    assert without_password(text) == shown  # the older name: the same one place


def test_a_plugin_url_never_shows_its_secrets(
    plugin: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    shelf = Shelf(plugin, cache_dir=tmp_path / "cache")
    model = tmp_path / "model"
    model.mkdir()
    (model / "w.bin").write_bytes(b"weights")
    shelf.push(model, "m", progress=False)
    shelf.pull("m", progress=False)  # remembered: the cache answers when the store is away
    messages = [repr(shelf), shelf.url, shelf.store.url, shelf.store.backend.url]
    # Errors the store layout words itself (it names the store), and a forged record.
    PasswordBackend.objects_of_all["assets/m/versions/1.1.json"] = b"{not json"
    for attempt in (
        lambda: shelf.resolve("other"),
        lambda: shelf.resolve("m:9"),
        lambda: shelf.pull("m:1.1", progress=False),
        lambda: shelf.store.alias_target("m", "prod"),
    ):
        with pytest.raises(ModelshelfError) as info:
            attempt()
        messages.append(str(info.value))
    # The plugin's own exceptions, through the guard: unreachable (falls back to the cache,
    # with a warning) and any other failure.
    PasswordBackend.failure = ConnectionError
    shelf.pull("m", progress=False)
    with pytest.raises(ModelshelfError) as info:
        shelf.resolve("never-pulled")
    messages.append(str(info.value))
    PasswordBackend.failure = RuntimeError
    with pytest.raises(ModelshelfError) as info:
        shelf.resolve("m")
    messages.append(str(info.value))
    _assert_no_secret(_seen(caplog, *messages))
    assert any("said no" in m for m in messages)  # the plugin's words do get through


def test_serve_metadata_never_shows_a_plugin_url_secret(
    plugin: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("fastapi")
    from starlette.testclient import TestClient
    from tests.models_fixtures import LinearRunner

    from modelshelf import register_model
    from modelshelf.serve import ServeOptions, create_app

    caplog.set_level(logging.DEBUG)
    shelf = Shelf(plugin, cache_dir=tmp_path / "cache")
    register_model("team/svc", LinearRunner, {"x": 1.0, "bias": 0.0}, store=shelf)
    shelf.set_alias("team/svc@prod", "1.0")
    app = create_app("team/svc@prod", store=shelf, options=ServeOptions(poll_interval=0))
    with TestClient(app) as client:
        PasswordBackend.failure = RuntimeError
        result: Any = app.state.serve.follower.check_now()
        meta = client.get("/metadata").json()
        loaded = client.post("/v2/repository/models/svc/load")
    assert meta["last_swap_error"] and "said no" in meta["last_swap_error"], meta
    _assert_no_secret(_seen(caplog, str(meta), str(result), loaded.text))


def test_a_plugin_instance_given_to_a_shelf_never_shows_its_secrets(
    plugin: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Not opened by modelshelf, so not wrapped by the guard: the store layout itself must
    # name the store by its public form.
    caplog.set_level(logging.DEBUG)
    shelf = Shelf(PasswordBackend(), cache_dir=tmp_path / "cache")
    model = tmp_path / "model"
    model.mkdir()
    (model / "w.bin").write_bytes(b"weights")
    shelf.push(model, "m", progress=False)
    PasswordBackend.objects_of_all["assets/m/versions/1.1.json"] = b"{not json"
    messages = [repr(shelf), shelf.url, shelf.store.url]
    for attempt in (
        lambda: shelf.resolve("other"),
        lambda: shelf.resolve("m:9"),
        lambda: shelf.pull("m:1.1", progress=False),
        lambda: shelf.store.alias_target("m", "prod"),
    ):
        with pytest.raises(ModelshelfError) as info:
            attempt()
        messages.append(str(info.value))
        assert "objects.example/models" in messages[-1] or "m:9" in messages[-1]
    _assert_no_secret(_seen(caplog, *messages))
