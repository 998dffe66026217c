"""Every test here runs once per kind of remote store, each on a real server on loopback.

A kind whose server module is not there yet is skipped locally and fails under CI (CI=1).

The ``http-file`` and ``http-s3`` kinds are a modelshelf registry (``modelshelf registry serve``)
in front of a folder or a SeaweedFS bucket: the client is the HTTP store, and data a test plants
behind the store goes into ``remote_store.behind()``, the bucket under the registry. A test that
wraps the backend under the store does it, for a registry, inside registry replicas served in
the test's process over the bucket behind (``tests.gc_schedule.reached``). A test of what only a
bucket has (``mirror`` reads a bucket prefix) is marked ``bucket_only(REASON)`` (the reason:
``tests.servers.remote.MIRROR``) and skipped for a registry by the ``remote_store`` fixture, in
one place.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.servers.remote import RemoteStore, StoreServer

# kind -> "module:Class" of its server (tests/servers/...).
SERVERS = {
    "s3": "tests.servers.seaweed:SeaweedStores",
    "gcs": "tests.servers.gcs:GcsEmulator",
    "azure": "tests.servers.azurite:AzuriteStores",
    "http-file": "tests.servers.registry:RegistryFileStores",
    "http-s3": "tests.servers.registry:RegistryS3Stores",
}
_HERE = Path(__file__).parent.resolve()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "bucket_only(reason): a conformance test that a registry (http-*) skips"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)


def _server_class(kind: str) -> type[StoreServer]:
    module_name, _, class_name = SERVERS[kind].partition(":")
    try:
        module = importlib.import_module(module_name)
        found: type[StoreServer] = getattr(module, class_name)
    except (ImportError, AttributeError) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no {kind} server for the conformance suite yet ({exc})")
    return found


@pytest.fixture(scope="session", params=sorted(SERVERS))
def store_server(request: pytest.FixtureRequest) -> Iterator[StoreServer]:
    server = _server_class(request.param)()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def remote_store(
    store_server: StoreServer, request: pytest.FixtureRequest
) -> Iterator[RemoteStore]:
    only = request.node.get_closest_marker("bucket_only")
    if only is not None and request.node.callspec.params.get("store_server", "").startswith("http"):
        pytest.skip(only.args[0] if only.args else "a test of a bucket store")
    store = store_server.new_store(request.node.name)
    try:
        yield store
    finally:
        end = getattr(store_server, "end_store", None)
        if end is not None:
            end(store)
