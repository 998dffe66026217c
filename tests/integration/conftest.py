"""Fixtures for integration tests against a real SeaweedFS S3 server on loopback."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.servers.seaweed import S3Bucket, SeaweedServer

BUCKET = "modelshelf-test"
_HERE = Path(__file__).parent.resolve()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedServer]:
    server = SeaweedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


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
