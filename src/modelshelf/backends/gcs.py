"""``gs://bucket/prefix`` stores: Google Cloud Storage (and GCS emulators), through obstore.

Configuration follows Google's usual variables, with explicit keyword arguments winning:

| setting | environment | note |
|---|---|---|
| ``service_account`` | ``GOOGLE_SERVICE_ACCOUNT``, ``GOOGLE_SERVICE_ACCOUNT_PATH`` | a key file |
| ``service_account_key`` | ``GOOGLE_SERVICE_ACCOUNT_KEY`` | the key file's JSON text |
| ``application_credentials`` | ``GOOGLE_APPLICATION_CREDENTIALS`` | ADC file path |
| ``bearer_token`` | ``GOOGLE_BEARER_TOKEN`` | a static OAuth token, never refreshed |
| ``endpoint`` | ``GOOGLE_BASE_URL``, ``STORAGE_EMULATOR_HOST`` | ``http://`` is allowed |
| ``anonymous`` | | unsigned requests, for public buckets |

Without any of these (nor gcloud's application-default file), opening fails with a clear error
rather than silently asking the cloud metadata service; set ``GCE_METADATA_HOST`` on a Google
Cloud machine to use its service account.

A store's identity (which keys its part of the local cache) is its bucket and prefix plus the
endpoint when one is set; without one it is Google's (bucket names are globally unique). Secrets
and which credentials ask are never part of it.

Conditional writes: create-only puts send ``ifGenerationMatch=0`` (obstore does this for
``mode="create"``), which GCS enforces atomically; nothing else is needed by the store layout.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import urlsplit

from modelshelf import constants
from modelshelf.backends._obstore import (
    RETRY_CONFIG,
    ObstoreBackend,
    StoreHints,
    first_line,
    refuse_control_characters,
)
from modelshelf.backends.base import is_flag, without_password
from modelshelf.backends.s3 import check_endpoint
from modelshelf.errors import StoreAuthError, UnsupportedStoreError

__all__ = ["GCSBackend", "GCSSettings"]


class GCSSettings(TypedDict, total=False):
    """Keyword settings of :class:`GCSBackend`; each beats its environment variable."""

    service_account: str
    """Path of a service account key file.

    **Environment variable**: ``GOOGLE_SERVICE_ACCOUNT`` or ``GOOGLE_SERVICE_ACCOUNT_PATH``."""
    service_account_key: str
    """A service account key, as its JSON text. **Environment variable**:
    ``GOOGLE_SERVICE_ACCOUNT_KEY``."""
    application_credentials: str
    """Path of an application-default credentials file. **Environment variable**:
    ``GOOGLE_APPLICATION_CREDENTIALS``."""
    bearer_token: str
    """A static OAuth bearer token, not refreshed. **Environment variable**:
    ``GOOGLE_BEARER_TOKEN``."""
    endpoint: str
    """Base URL of the GCS API, for emulators and private endpoints. **Environment variable**:
    ``GOOGLE_BASE_URL``, or ``STORAGE_EMULATOR_HOST``."""
    anonymous: bool
    """Send unsigned requests (public buckets); no credentials are looked for."""


# GCS bucket names: 3-63 characters (up to 222 with dots), lowercase letters, digits, - _ .
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
_ADC_FILE = Path(".config") / "gcloud" / "application_default_credentials.json"

_CREDENTIAL_VARIABLES = {
    "service_account": ("GOOGLE_SERVICE_ACCOUNT", "GOOGLE_SERVICE_ACCOUNT_PATH"),
    "service_account_key": ("GOOGLE_SERVICE_ACCOUNT_KEY",),
    "application_credentials": ("GOOGLE_APPLICATION_CREDENTIALS",),
    "bearer_token": ("GOOGLE_BEARER_TOKEN",),
}


# Held while a GCS store is set up: from the first read of a Google variable (here and by
# obstore) to the last, so that no open in another thread reads them while they are hidden.
_ENVIRONMENT_LOCK = threading.Lock()


@contextlib.contextmanager
def _without_credential_variables(hide: bool) -> Iterator[None]:
    """Hide the GOOGLE_* credential variables from obstore while it builds a store.

    obstore reads them itself, eagerly, and a service account file named there would beat (or
    clash with) the credential chosen here, explicit settings first. The chosen one is passed in
    the config, so nothing is lost; the variables are back as soon as the store is built.
    The caller holds :data:`_ENVIRONMENT_LOCK`.
    """
    if not hide:
        yield
        return
    names = [v for variables in _CREDENTIAL_VARIABLES.values() for v in variables]
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _endpoint(settings: GCSSettings) -> tuple[str | None, str]:
    """The endpoint and where it came from (a setting or a variable)."""
    if settings.get("endpoint"):
        return settings["endpoint"], "the endpoint setting"
    if constants.env("GOOGLE_BASE_URL"):
        return constants.env("GOOGLE_BASE_URL"), "GOOGLE_BASE_URL"
    host = constants.env("STORAGE_EMULATOR_HOST")
    if host:  # Google's client libraries accept "host:port" here
        return (host if "://" in host else f"http://{host}"), "STORAGE_EMULATOR_HOST"
    return None, ""


class GCSBackend(ObstoreBackend):
    """A Google Cloud Storage bucket (optionally under a prefix), through obstore."""

    hints = StoreHints(
        credentials="GOOGLE_APPLICATION_CREDENTIALS, GOOGLE_SERVICE_ACCOUNT or"
        " GOOGLE_SERVICE_ACCOUNT_KEY for gs://",
        endpoint="GOOGLE_BASE_URL or STORAGE_EMULATOR_HOST",
    )

    @classmethod
    def identity(cls, url: str, **options: Any) -> dict[str, str]:
        """Bucket and prefix, and the endpoint when one is set; never credentials.

        Example:

            >>> GCSBackend.identity("gs://models/team", endpoint="http://127.0.0.1:4443")
            ... # doctest: +NORMALIZE_WHITESPACE
            {'backend': 'modelshelf.backends.gcs:GCSBackend', 'url': 'gs://models/team',
             'endpoint': 'http://127.0.0.1:4443'}
        """
        bucket, prefix = _bucket_and_prefix(url)
        found = {
            "backend": f"{cls.__module__}:{cls.__qualname__}",
            "url": f"gs://{bucket}/{prefix}".rstrip("/"),
        }
        endpoint, _ = _endpoint(options)  # type: ignore[arg-type]
        if endpoint:
            found["endpoint"] = without_password(endpoint.rstrip("/"))
        return found

    def store_identity(self) -> dict[str, str]:
        return self._identity

    def __init__(self, bucket: str, prefix: str = "", **settings: Any) -> None:
        unknown = set(settings) - set(GCSSettings.__annotations__)
        if unknown:
            raise UnsupportedStoreError(
                f"unknown GCS setting(s) {sorted(unknown)};"
                f" known: {sorted(GCSSettings.__annotations__)}"
            )
        if not _BUCKET.fullmatch(bucket):
            raise UnsupportedStoreError(
                f"GCS bucket name {bucket!r} is not valid: use 3 to 222 lowercase letters,"
                " digits, '.', '-' and '_', as gs://bucket/prefix"
            )
        opts: GCSSettings = settings  # type: ignore[assignment]
        with _ENVIRONMENT_LOCK:
            store = self._open_store(bucket, prefix, opts)
        url = f"gs://{bucket}/{prefix}".rstrip("/")
        super().__init__(store, url)
        self._identity = type(self).identity(url, **settings)
        # A service account key signs here; other credentials ask Google's IAM to sign.
        self.signs = not is_flag(opts.get("anonymous"))

    @staticmethod
    def _open_store(bucket: str, prefix: str, opts: GCSSettings) -> Any:
        """The obstore store; the caller holds :data:`_ENVIRONMENT_LOCK`."""
        endpoint, source = _endpoint(opts)
        if endpoint:
            check_endpoint(
                endpoint, source, cloud="GCS", credentials="GOOGLE_APPLICATION_CREDENTIALS"
            )
        config: dict[str, Any] = {}
        credentials_from = "the Google credentials"
        if endpoint:
            config["base_url"] = endpoint.rstrip("/")
        if is_flag(opts.get("anonymous")):
            config["skip_signature"] = True
        else:
            # Every explicit setting beats every variable: a token given for this store must not
            # lose to a service account named in the shell.
            chosen = [
                (name, opts.get(name), f"the {name} setting") for name in _CREDENTIAL_VARIABLES
            ]
            chosen += [
                (name, constants.env(variable), variable)
                for name, variables in _CREDENTIAL_VARIABLES.items()
                for variable in variables
            ]
            for name, value, source in chosen:
                if value:
                    config[name] = value
                    credentials_from = source
                    break
            else:
                if not (Path.home() / _ADC_FILE).is_file() and not constants.env(
                    "GCE_METADATA_HOST"
                ):
                    raise StoreAuthError(
                        f"no Google credentials found for gs://{bucket}: set"
                        " GOOGLE_APPLICATION_CREDENTIALS (or GOOGLE_SERVICE_ACCOUNT_KEY) or run"
                        " `gcloud auth application-default login`"
                    ).with_fix(", or pass {anonymous} for a public bucket")
        client: dict[str, Any] = {"connect_timeout": "5s", "timeout": "300s"}
        if endpoint and endpoint.startswith("http://"):
            client["allow_http"] = True
        from obstore import exceptions as obx  # here: a cache hit never loads obstore
        from obstore.store import GCSStore

        try:
            with _without_credential_variables(
                "skip_signature" in config or any(name in config for name in _CREDENTIAL_VARIABLES)
            ):
                store = GCSStore(
                    bucket,
                    prefix=prefix or None,
                    config=config,  # type: ignore[arg-type]
                    client_options=client,  # type: ignore[arg-type]
                    retry_config=RETRY_CONFIG,
                )
        except (obx.BaseError, ValueError) as exc:
            # obstore reads key files at once: a missing or malformed one fails here.
            raise StoreAuthError(
                f"cannot use {credentials_from} for gs://{bucket}: {first_line(exc)}; check that"
                " it names a readable Google service account or ADC JSON file (or holds one)"
            ) from exc
        return store

    @classmethod
    def from_url(cls, url: str, **settings: Any) -> GCSBackend:
        """Open ``gs://bucket[/prefix]``."""
        return cls(*_bucket_and_prefix(url), **settings)


def _bucket_and_prefix(url: str) -> tuple[str, str]:
    """``gs://bucket/some/prefix`` -> ``("bucket", "some/prefix")``.

    Raises:
        UnsupportedStoreError: no bucket, or a URL that cannot be split.
    """
    usage = "as gs://bucket/prefix"
    refuse_control_characters(url, usage)
    shown = without_password(url)  # a key typed into the URL is never echoed
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise UnsupportedStoreError(f"{shown!r} is not a valid GCS URL ({exc}); {usage}") from None
    if parts.scheme.lower() != "gs" or not parts.netloc:
        raise UnsupportedStoreError(f"{shown!r}: a GCS URL needs a bucket, {usage}")
    # A password may hold '/', so urllib's netloc may end inside it ("AK:se" of
    # gs://AK:se/cr@bucket): a ':' is refused with the '@', and never quoted as a bucket name.
    if "@" in parts.netloc or ":" in parts.netloc:
        raise UnsupportedStoreError(
            f"{shown!r}: credentials do not go in a GCS URL; write the store {usage}"
        ).with_fix("; give them with GOOGLE_APPLICATION_CREDENTIALS or {backend_options}")
    if parts.query or parts.fragment:
        raise UnsupportedStoreError(f"{shown!r}: a GCS URL has no query or fragment; {usage}")
    prefix = parts.path.strip("/")
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        raise UnsupportedStoreError(
            f"{shown!r}: the prefix may not hold empty, '.' or '..' segments; {usage}"
        )
    return parts.netloc, prefix
