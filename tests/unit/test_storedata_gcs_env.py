"""Opening GCS stores in several threads at once (issue 20, "also look at").

A GCS store with an explicit credential hides the Google credential variables from obstore
while it is built (obstore reads them eagerly and would let them clash with the setting). A
store opened meanwhile in another thread that relies on those variables must still see them:
every read of them, by modelshelf and by obstore, happens under one lock.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import obstore.store
import pytest

from modelshelf.backends.gcs import GCSBackend

ENV_TOKEN = "ya29.from-the-environment"
OWN_TOKEN = "ya29.given-to-this-store"


@pytest.fixture(autouse=True)
def google_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Only GOOGLE_BEARER_TOKEN, and a HOME without gcloud's credentials file."""
    for name in list(os.environ):
        if name.startswith(("GOOGLE_", "GCE_", "STORAGE_EMULATOR_HOST")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GOOGLE_BEARER_TOKEN", ENV_TOKEN)
    yield


def test_a_store_relying_on_the_environment_opens_while_another_hides_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = obstore.store.GCSStore
    built: list[tuple[str, dict[str, Any], str | None]] = []

    def slow_store(bucket: str, **kwargs: Any) -> Any:
        # What obstore would read from the environment now, as it builds the store.
        built.append((bucket, dict(kwargs["config"]), os.environ.get("GOOGLE_BEARER_TOKEN")))
        time.sleep(0.02)  # building takes a while: the other thread runs meanwhile
        return real(bucket, **kwargs)

    monkeypatch.setattr(obstore.store, "GCSStore", slow_store)
    errors: list[BaseException] = []

    def open_many(**settings: Any) -> None:
        try:
            for _ in range(10):
                GCSBackend("models", endpoint="http://127.0.0.1:9", **settings)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=open_many, kwargs={"bearer_token": OWN_TOKEN}),
        threading.Thread(target=open_many),
        threading.Thread(target=open_many, kwargs={"anonymous": True}),
        threading.Thread(target=open_many),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(built) == 40
    own = [config for _, config, _ in built if config.get("bearer_token") == OWN_TOKEN]
    anonymous = [config for _, config, _ in built if config.get("skip_signature")]
    from_env = [config for _, config, _ in built if config.get("bearer_token") == ENV_TOKEN]
    # Each store got the credential meant for it: the environment's was never missing for
    # a store that relies on it (it was: "no Google credentials found").
    assert (len(own), len(anonymous), len(from_env)) == (10, 10, 20)
    # obstore never saw the variables of a store whose credential is passed in the config.
    assert all(seen is None for _, config, seen in built if config.get("bearer_token"))
    assert os.environ["GOOGLE_BEARER_TOKEN"] == ENV_TOKEN
