"""``gs://`` stores: URLs, settings, identity, credentials and each cloud's own error hints.

No GCS server is needed here; the conformance suite (tests/conformance) runs the emulator.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from obstore import exceptions as obx

from modelshelf.backends import open_backend
from modelshelf.backends._obstore import GENERIC_HINTS, ObstoreBackend, StoreHints, translate_error
from modelshelf.backends.gcs import GCSBackend
from modelshelf.backends.memory import MemoryBackend
from modelshelf.backends.s3 import S3Backend
from modelshelf.errors import (
    StoreAuthError,
    StoreUnreachableError,
    UnsupportedStoreError,
)

TOKEN = "ya29.not-a-real-token-0123456789"


@pytest.fixture(autouse=True)
def no_google_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No Google variable of the caller, and a HOME without gcloud's credentials file."""
    for name in list(os.environ):
        if name.startswith(("GOOGLE_", "GCE_", "STORAGE_EMULATOR_HOST")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    yield


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- URLs and settings -----------------------------------------------------------------------


def test_gs_urls_open_a_gcs_backend() -> None:
    backend = open_backend(
        "gs://models/team/nlp/", endpoint="http://127.0.0.1:9", bearer_token=TOKEN
    )
    assert isinstance(backend, GCSBackend)
    assert backend.url == "gs://models/team/nlp"
    assert open_backend("gs://models", anonymous=True).url == "gs://models"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("gs://", "needs a bucket"),
        ("gs:///prefix", "needs a bucket"),
        ("gs://Models/p", "not valid"),
        ("gs://a/p", "not valid"),
        ("gs://bad bucket/p", "not valid"),
        ("gs://b[x/p", "not a valid GCS URL"),
    ],
)
def test_malformed_urls_get_one_line_naming_the_form(url: str, says: str) -> None:
    with pytest.raises(UnsupportedStoreError, match=says) as info:
        open_backend(url, anonymous=True)
    assert "\n" not in str(info.value)
    assert "gs://bucket/prefix" in str(info.value)


def test_unknown_settings_are_refused_by_name() -> None:
    with pytest.raises(UnsupportedStoreError, match="access_key_id"):
        open_backend("gs://models", access_key_id="x")


@pytest.mark.parametrize(
    ("endpoint", "says"),
    [
        ("127.0.0.1:4443", "has no scheme"),
        ("ftp://127.0.0.1", "must start with http"),
        ("http://user:pw@127.0.0.1:4443", "GOOGLE_APPLICATION_CREDENTIALS"),
        ("http://127.0.0.1:99999", "invalid port"),
    ],
)
def test_bad_endpoints_are_refused_before_any_request(endpoint: str, says: str) -> None:
    with pytest.raises(UnsupportedStoreError, match=says) as info:
        open_backend("gs://models", endpoint=endpoint, bearer_token=TOKEN)
    assert str(info.value).startswith("GCS endpoint")
    assert "AWS_" not in str(info.value)


def test_storage_emulator_host_is_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:4443")
    assert GCSBackend.identity("gs://models")["endpoint"] == "http://127.0.0.1:4443"
    monkeypatch.setenv("GOOGLE_BASE_URL", "http://127.0.0.1:5555/")
    assert GCSBackend.identity("gs://models")["endpoint"] == "http://127.0.0.1:5555"
    assert GCSBackend.identity("gs://models", endpoint="https://gcs.example")["endpoint"] == (
        "https://gcs.example"
    )


# -- identity and secrets --------------------------------------------------------------------


def test_identity_has_bucket_prefix_endpoint_and_no_secret() -> None:
    backend = open_backend("gs://models/team", endpoint="http://127.0.0.1:4443", bearer_token=TOKEN)
    identity = backend.store_identity()
    assert identity == {
        "backend": "modelshelf.backends.gcs:GCSBackend",
        "url": "gs://models/team",
        "endpoint": "http://127.0.0.1:4443",
    }
    assert TOKEN not in repr(backend) and TOKEN not in str(identity)
    # who asks is not which store answers: the same identity, anonymous or not
    assert GCSBackend.identity("gs://models/team/", endpoint="http://127.0.0.1:4443") == identity
    assert "endpoint" not in GCSBackend.identity("gs://models/team", bearer_token=TOKEN)


def test_identity_differs_by_endpoint() -> None:
    one = GCSBackend.identity("gs://models", endpoint="http://127.0.0.1:1")
    two = GCSBackend.identity("gs://models", endpoint="http://127.0.0.1:2")
    assert one != two


# -- credentials -----------------------------------------------------------------------------


def test_no_credentials_fail_before_any_request_naming_google_settings() -> None:
    with pytest.raises(StoreAuthError) as info:
        open_backend("gs://models/p", endpoint=f"http://127.0.0.1:{closed_port()}")
    message = str(info.value)
    assert "GOOGLE_APPLICATION_CREDENTIALS" in message and "gs://models" in message
    assert "AWS_" not in message and "\n" not in message


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GOOGLE_BEARER_TOKEN", TOKEN),
        ("GOOGLE_SERVICE_ACCOUNT_KEY", '{"type": "service_account"}'),
        ("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/adc.json"),
    ],
)
def test_credentials_come_from_google_variables(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    try:
        backend = open_backend("gs://models", endpoint="http://127.0.0.1:9")
    except StoreAuthError as exc:  # obstore reads key files at once: this one is no key
        assert str(exc).startswith(f"cannot use {variable} for gs://models: "), str(exc)
        assert "\n" not in str(exc) and "AWS_" not in str(exc)
        if variable == "GOOGLE_SERVICE_ACCOUNT_KEY":  # a secret; a path may be shown
            assert value not in str(exc)
    else:
        assert isinstance(backend, GCSBackend)


def test_gcloud_application_default_file_counts_as_credentials(tmp_path: Path) -> None:
    adc = tmp_path / "home" / ".config" / "gcloud" / "application_default_credentials.json"
    adc.parent.mkdir(parents=True)
    adc.write_text("{}")
    # obstore finds gcloud's file itself; this one is empty, and that is what the error says
    with pytest.raises(StoreAuthError) as info:
        open_backend("gs://models", endpoint="http://127.0.0.1:9")
    assert "no Google credentials found" not in str(info.value)
    assert "\n" not in str(info.value)


# -- each cloud's own hints ------------------------------------------------------------------

REFUSED = obx.PermissionDeniedError(
    "Client error with status 403 Forbidden: <?xml version='1.0' encoding='UTF-8'?><Error>"
    "<Code>AccessDenied</Code><Message>Access denied.</Message></Error>"
)
UNAUTHENTICATED = obx.UnauthenticatedError("Client error with status 401 Unauthorized")
LIST_REFUSED = obx.GenericError("Generic GCS error: ... status code: 403 Forbidden: denied")
UNREACHABLE = obx.GenericError(
    "Generic GCS error: Error performing GET http://127.0.0.1:9/b/k: error sending request"
)


@pytest.mark.parametrize("exc", [REFUSED, UNAUTHENTICATED, LIST_REFUSED])
def test_a_refused_gcs_request_names_the_google_settings_only(exc: BaseException) -> None:
    with pytest.raises(StoreAuthError) as info:
        translate_error(exc, "gs://models/p", "assets/m", GCSBackend.hints)
    message = str(info.value)
    assert "GOOGLE_APPLICATION_CREDENTIALS" in message and "gs://models/p" in message
    assert "AWS_" not in message and "\n" not in message


def test_an_unreachable_gcs_store_names_the_google_endpoint_only() -> None:
    with pytest.raises(StoreUnreachableError) as info:
        translate_error(UNREACHABLE, "gs://models/p", "k", GCSBackend.hints)
    assert "GOOGLE_BASE_URL" in str(info.value) and "AWS_" not in str(info.value)


def test_a_closed_gcs_endpoint_says_so_with_google_hints() -> None:
    backend = open_backend(
        "gs://models/p", endpoint=f"http://127.0.0.1:{closed_port()}", bearer_token=TOKEN
    )
    for call in (lambda: backend.read("k"), lambda: list(backend.list("")),
                 lambda: backend.put("k", b"x")):  # fmt: skip
        with pytest.raises(
            StoreUnreachableError, match="cannot reach the store gs://models/p"
        ) as info:
            call()
        assert "GOOGLE_BASE_URL" in str(info.value)
        assert "AWS_" not in str(info.value)


def test_s3_keeps_its_aws_hints_and_others_name_no_cloud() -> None:
    assert (
        S3Backend.hints[:2]
        == StoreHints(
            credentials="AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE for s3://",
            endpoint="AWS_ENDPOINT_URL",
        )[:2]
    )
    assert "AWS_REGION" in S3Backend.hints.codes["AuthorizationHeaderMalformed"]
    assert ObstoreBackend.hints == GENERIC_HINTS == MemoryBackend.hints
    for hints in (GENERIC_HINTS, GCSBackend.hints):
        assert "AWS_" not in hints.credentials + hints.endpoint
    with pytest.raises(StoreAuthError) as info:
        translate_error(REFUSED, "memory://x", "k")
    assert "AWS_" not in str(info.value)
    with pytest.raises(StoreAuthError, match="AWS_ACCESS_KEY_ID"):
        translate_error(REFUSED, "s3://b", "k", S3Backend.hints)


# -- properties ------------------------------------------------------------------------------


@pytest.mark.property
@given(st.text(max_size=80))
def test_any_gs_url_opens_or_is_refused_cleanly(rest: str) -> None:
    url = "gs://" + rest
    try:
        identity = GCSBackend.identity(url)
        backend = GCSBackend.from_url(url, anonymous=True)
    except UnsupportedStoreError as exc:
        assert "\n" not in str(exc)
        return
    assert backend.url == identity["url"]
    assert backend.url.startswith("gs://")


@pytest.mark.parametrize("control", ["\t", "\n", "\r", "\x00"])
@pytest.mark.parametrize(
    "url", ["s3://models/a{}b", "gs://models/a{}b", "s3://mod{}els/p", "gs://models{}/p"]
)
def test_a_cloud_url_with_a_control_character_is_refused_on_one_line(
    url: str, control: str
) -> None:
    # urlsplit silently drops tab, CR and LF: s3://models/a<TAB>b would open the prefix "ab".
    settings = (
        {"access_key_id": "k", "secret_access_key": "s"}
        if url.startswith("s3")
        else {"bearer_token": TOKEN}
    )
    with pytest.raises(UnsupportedStoreError, match="control characters") as info:
        open_backend(url.format(control), endpoint="http://127.0.0.1:9", **settings)
    assert "\n" not in str(info.value)
