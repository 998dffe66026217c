"""The hostile-store conformance suite on S3 (SeaweedFS on loopback): forged records in a bucket."""

from __future__ import annotations

import pytest
from tests.servers.seaweed import S3Bucket
from tests.unit.test_hostile_store import HostileStoreConformance

from modelshelf.backends import Backend, open_backend
from modelshelf.backends.s3 import S3Backend


@pytest.fixture
def s3_env(s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    """``s3_bucket`` with its AWS_* settings in the environment, so the CLI can open it too."""
    for name, value in s3_bucket.env.items():
        monkeypatch.setenv(name, value)
    return s3_bucket


class TestHostileS3Store(HostileStoreConformance):
    @pytest.fixture
    def backend(self, s3_env: S3Bucket) -> Backend:
        backend = open_backend(s3_env.url)
        assert isinstance(backend, S3Backend)
        return backend

    @pytest.fixture
    def store_url(self, s3_env: S3Bucket) -> str:
        return s3_env.url
