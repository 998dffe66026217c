"""The contract between the store servers started by tests and the conformance suite.

Each kind of remote store (``s3`` on SeaweedFS, ``gcs`` on a GCS emulator, ``azure`` on Azurite)
has a server class in ``tests/servers/<module>.py`` with ``start()``, ``stop()`` and
``new_store(test_name) -> RemoteStore``; ``tests/conformance/conftest.py`` starts each once per
session and hands every test a fresh, empty store of each kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class RemoteStore:
    """One test's fresh store: open it with ``Shelf(url, **options)`` (or the CLI with ``env``)."""

    kind: str  # "s3", "gcs", "azure"
    url: str  # e.g. "gs://bucket/prefix-of-this-test"
    options: dict[str, Any] = field(default_factory=dict)  # backend kwargs (endpoint, creds)
    env: dict[str, str] = field(default_factory=dict)  # the same settings as variables, for the CLI
    server: Any = None  # the server object, for tests that need to reach behind the store


class StoreServer(Protocol):
    """A store server started by the tests on 127.0.0.1."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def new_store(self, test_name: str) -> RemoteStore: ...
