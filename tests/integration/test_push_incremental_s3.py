"""On SeaweedFS: a new version that changes one file uploads that file's blob and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.servers.seaweed import S3Bucket
from tests.unit.test_push_single_pass import check_only_the_changed_blob_travels


def test_new_version_uploads_only_the_changed_file_on_s3(
    s3_bucket: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in s3_bucket.env.items():
        monkeypatch.setenv(key, value)
    check_only_the_changed_blob_travels(s3_bucket.url, tmp_path)
