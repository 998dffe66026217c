"""Fixtures for integration tests against a real SeaweedFS S3 server on loopback."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.servers.seaweed import S3Bucket, SeaweedCluster, SeaweedS3, SeaweedServer

BUCKET = "modelshelf-test"
_HERE = Path(__file__).parent.resolve()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)
            if item.path.name in _OWN_SERVERS:
                # Under pytest-xdist (--dist loadgroup) a module that starts servers of its own
                # runs on one worker, so they start once.
                item.add_marker(pytest.mark.xdist_group(item.path.stem))


# Modules whose tests start servers of their own (module fixtures): fault_server, the cluster.
_OWN_SERVERS = {"test_faults.py"}


@pytest.fixture(scope="session")
def seaweed() -> SeaweedServer:
    """The session's one `weed server` (shared with the conformance and benchmark tests)."""
    return SeaweedServer.shared()


@pytest.fixture(scope="session")
def _seaweed_bucket(seaweed: SeaweedServer) -> str:
    seaweed.create_bucket(BUCKET)
    return BUCKET


@pytest.fixture
def s3_bucket(
    seaweed: SeaweedServer, _seaweed_bucket: str, request: pytest.FixtureRequest
) -> Iterator[S3Bucket]:
    seaweed.empty_bucket(_seaweed_bucket)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:60]
    prefix = f"{name}-{uuid.uuid4().hex[:8]}"
    yield S3Bucket(
        url=f"s3://{_seaweed_bucket}/{prefix}",
        bucket=_seaweed_bucket,
        prefix=prefix,
        env=seaweed.env(),
        server=seaweed,
    )
    seaweed.empty_bucket(_seaweed_bucket)


FAULT_BUCKET = "modelshelf-faults"


def _fault_bucket(server: SeaweedS3, prefix: str) -> S3Bucket:
    server.create_bucket(FAULT_BUCKET)
    return S3Bucket(
        url=f"s3://{FAULT_BUCKET}/{prefix}",
        bucket=FAULT_BUCKET,
        prefix=prefix,
        env=server.env(),
        server=server,
    )


@pytest.fixture(scope="module")
def fault_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """A `weed server` of the fault tests' own (not the shared one): they stop and restart it."""
    server = SeaweedServer(base_dir=str(tmp_path_factory.mktemp("seaweed")))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fault_bucket(fault_server: SeaweedServer, request: pytest.FixtureRequest) -> S3Bucket:
    """A fresh prefix on :func:`fault_server`, which runs again if an earlier test left it down."""
    fault_server.start()  # no-op while it runs; after a halt, back on the same ports and data
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:60]
    return _fault_bucket(fault_server, f"{name}-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def seaweed_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedCluster]:
    """Master, two volume servers (replication 001), filer and S3 gateway, each a process."""
    cluster = SeaweedCluster(base_dir=str(tmp_path_factory.mktemp("cluster")))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster_bucket(seaweed_cluster: SeaweedCluster, request: pytest.FixtureRequest) -> S3Bucket:
    """A fresh prefix on :func:`seaweed_cluster`, with every process running again."""
    seaweed_cluster.resume_all()
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:60]
    return _fault_bucket(seaweed_cluster, f"{name}-{uuid.uuid4().hex[:8]}")
