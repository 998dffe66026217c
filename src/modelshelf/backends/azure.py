"""``az://container/prefix`` stores: Azure Blob Storage and the Azurite emulator, through obstore.

Configuration follows the standard Azure storage environment, with explicit keyword arguments
winning:

| setting | environment | note |
|---|---|---|
| ``account_name`` | ``AZURE_STORAGE_ACCOUNT_NAME`` | required, except with ``use_emulator`` |
| ``account_key`` | ``AZURE_STORAGE_ACCOUNT_KEY``, ``AZURE_STORAGE_ACCESS_KEY`` | shared key |
| ``sas_token`` | ``AZURE_STORAGE_SAS_TOKEN``, ``AZURE_STORAGE_SAS_KEY`` | shared access signature |
| ``token`` | ``AZURE_STORAGE_TOKEN`` | a bearer token (Entra ID) |
| ``endpoint`` | ``AZURE_STORAGE_ENDPOINT``, ``AZURE_ENDPOINT`` | ``http://`` is allowed |
| ``use_emulator`` | ``AZURE_STORAGE_USE_EMULATOR`` | Azurite on ``127.0.0.1:10000`` |
| ``anonymous`` | | unsigned requests, for public containers |

Credentials are tried in that order: account key, SAS token, bearer token. Without any of them,
opening fails with a clear error rather than silently asking the cloud metadata service for a
managed identity; set ``AZURE_CREDENTIAL_TYPE`` (``managed_identity``, ``workload_identity``,
``client_secret``, ``azure_cli``) to let obstore use one of those flows with its own variables.

A store's identity (which keys its part of the local cache) is its container and prefix plus the
account and the blob endpoint (``https://<account>.blob.core.windows.net`` unless overridden):
container names are unique within an account. Credentials and ``anonymous`` choose who asks,
not which store answers, and are left out.

With ``use_emulator`` (and no endpoint) the store is Azurite's well-known development account
``devstoreaccount1`` at ``http://127.0.0.1:10000/devstoreaccount1`` (or ``AZURITE_BLOB_STORAGE_URL``
in place of ``http://127.0.0.1:10000``), signed with Azurite's published development key. An
endpoint for Azurite or another path-style server names the account in its path, as above.

The container, account and endpoint are checked before any request: Azure names are narrow
(container: 3-63 lowercase letters, digits and single hyphens; account: 3-24 lowercase letters
and digits), and a mistyped one should say so, not fail later as a 400 or a DNS error.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypedDict
from urllib.parse import urlsplit

from modelshelf import constants
from modelshelf.backends._obstore import (
    RETRY_CONFIG,
    ObstoreBackend,
    StoreHints,
    refuse_control_characters,
)
from modelshelf.backends.base import ObjectMeta, PutMode, is_flag, without_password
from modelshelf.errors import StoreAuthError, StoreError, UnsupportedStoreError

__all__ = ["AzureBackend", "AzureSettings"]


class AzureSettings(TypedDict, total=False):
    """Keyword settings of :class:`AzureBackend`; each beats its environment variable."""

    account_name: str
    """**Environment variable**: ``AZURE_STORAGE_ACCOUNT_NAME``."""
    account_key: str
    """**Environment variable**: ``AZURE_STORAGE_ACCOUNT_KEY`` or ``AZURE_STORAGE_ACCESS_KEY``."""
    sas_token: str
    """**Environment variable**: ``AZURE_STORAGE_SAS_TOKEN`` or ``AZURE_STORAGE_SAS_KEY``."""
    token: str
    """A bearer token. **Environment variable**: ``AZURE_STORAGE_TOKEN``."""
    endpoint: str
    """**Environment variable**: ``AZURE_STORAGE_ENDPOINT`` or ``AZURE_ENDPOINT``."""
    use_emulator: bool
    """Use Azurite. **Environment variable**: ``AZURE_STORAGE_USE_EMULATOR`` (``true``/``1``)."""
    anonymous: bool
    """Send unsigned requests (public containers)."""


# Azurite's well-known development account: published by Microsoft, the same on every machine.
EMULATOR_ACCOUNT = "devstoreaccount1"
EMULATOR_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
_EMULATOR_URL = "http://127.0.0.1:10000"

_HINTS = StoreHints(
    credentials=(
        "AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY, AZURE_STORAGE_SAS_TOKEN"
        " or AZURE_STORAGE_TOKEN for az://"
    ),
    endpoint="AZURE_STORAGE_ENDPOINT, or AZURE_STORAGE_ACCOUNT_NAME for az://",
)


# Container names: 3-63 lowercase letters, digits and single hyphens, starting and ending with a
# letter or digit; plus the two special containers. Account names: 3-24 lowercase letters/digits.
_CONTAINER = re.compile(r"(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]|\$root|\$web")
_ACCOUNT = re.compile(r"[a-z0-9]{3,24}")
_HOSTNAME = re.compile(r"[A-Za-z0-9._-]+|[0-9A-Fa-f:.]+")
# Flows obstore runs itself when asked to by name (each reads its own AZURE_* variables).
_DELEGATED = ("managed_identity", "workload_identity", "client_secret", "azure_cli")


def _container_and_prefix(url: str) -> tuple[str, str]:
    """``az://container/some/prefix`` -> ``("container", "some/prefix")``.

    Raises:
        UnsupportedStoreError: no container, an invalid one, or a URL that cannot be split.
    """
    usage = "as az://container/prefix"
    refuse_control_characters(url, usage)
    shown = without_password(url)  # a key typed into the URL is never echoed
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. "az://c[x": urllib reads brackets as an IPv6 host
        raise UnsupportedStoreError(
            f"{shown!r} is not a valid Azure URL ({exc}); {usage}"
        ) from None
    container = parts.netloc
    if not container:
        raise UnsupportedStoreError(f"{shown!r}: an Azure URL needs a container, {usage}")
    # A password may hold '/', so urllib's netloc may end inside it ("AK:se" of
    # az://AK:se/cr@acct): a ':' is refused with the '@', and never quoted as a container name.
    if "@" in container or ":" in container:
        raise UnsupportedStoreError(
            f"{shown!r}: give the account with AZURE_STORAGE_ACCOUNT_NAME (or account_name), not in"
            f" the URL; write the store {usage}"
        )
    if not _CONTAINER.fullmatch(container):
        raise UnsupportedStoreError(
            f"Azure container name {container!r} is not valid: use 3-63 lowercase letters,"
            f" digits and single hyphens, {usage}"
        )
    if parts.query or parts.fragment:
        raise UnsupportedStoreError(f"{shown!r}: an Azure URL has no query or fragment; {usage}")
    prefix = parts.path.strip("/")
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        raise UnsupportedStoreError(
            f"{shown!r}: the prefix may not hold empty, '.' or '..' segments; {usage}"
        )
    if not prefix.isprintable():
        raise UnsupportedStoreError(f"{shown!r}: the prefix holds control characters; {usage}")
    return container, prefix


def _check_endpoint(endpoint: str, source: str) -> None:
    """Refuse an endpoint that is not ``http(s)://host[:port][/path]``, saying how to fix it."""

    def refuse(problem: str) -> UnsupportedStoreError:
        return UnsupportedStoreError(
            f"Azure endpoint {without_password(endpoint)!r} (from {source}) {problem}; give"
            " http(s)://host[:port][/path], e.g. http://127.0.0.1:10000/devstoreaccount1"
        )

    if not endpoint.isprintable() or any(c.isspace() for c in endpoint):
        raise refuse("holds spaces or control characters")
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        raise refuse("has an invalid host or port") from None
    if parts.scheme not in ("http", "https"):
        raise refuse("must start with http:// or https://")
    if parts.username is not None or parts.password is not None:
        raise refuse("holds credentials (set AZURE_STORAGE_ACCOUNT_KEY instead)")
    if not parts.hostname or not _HOSTNAME.fullmatch(parts.hostname):
        raise refuse("has no valid host")
    if port == 0:
        raise refuse("has an invalid port")
    if parts.query or parts.fragment:
        raise refuse("has a query or fragment")


def _first(settings: AzureSettings, name: str, *variables: str) -> tuple[Any, str]:
    """A setting, else the first variable that is set; with where it came from."""
    if settings.get(name) not in (None, ""):
        return settings[name], f"the {name} setting"  # type: ignore[literal-required]
    for variable in variables:
        value = constants.env(variable)
        if value:
            return value, variable
    return None, ""


_CREDENTIAL_VARIABLES = {
    "account_key": ("AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_ACCESS_KEY"),
    "sas_token": ("AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_SAS_KEY"),
    "token": ("AZURE_STORAGE_TOKEN",),
}


def _credential(name: str, value: Any, url: str) -> dict[str, Any]:
    """The obstore config entries for one credential setting (``account_key``, ...)."""
    if name == "account_key":
        try:
            base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            raise StoreAuthError(
                f"the Azure account key for {url} is not base64: copy it again from the"
                " storage account's access keys (AZURE_STORAGE_ACCOUNT_KEY, or account_key)"
            ) from None
        return {"account_key": value, "credential_type": "access_key"}
    if name == "sas_token":
        return {"sas_key": str(value).lstrip("?"), "credential_type": "sas_token"}
    return {"token": value, "credential_type": "bearer_token"}


def _account_and_endpoint(settings: AzureSettings) -> tuple[str | None, str, str]:
    """The account, the blob endpoint (no trailing slash) and where the endpoint came from."""
    account, _ = _first(settings, "account_name", "AZURE_STORAGE_ACCOUNT_NAME")
    endpoint, source = _first(settings, "endpoint", "AZURE_STORAGE_ENDPOINT", "AZURE_ENDPOINT")
    emulator, _ = _first(settings, "use_emulator", "AZURE_STORAGE_USE_EMULATOR")
    if is_flag(emulator):
        account = account or EMULATOR_ACCOUNT
        if not endpoint:
            base = constants.env("AZURITE_BLOB_STORAGE_URL") or _EMULATOR_URL
            endpoint = f"{base.rstrip('/')}/{account}"
            source = "AZURE_STORAGE_USE_EMULATOR"
    if not endpoint and account:
        endpoint, source = f"https://{account}.blob.core.windows.net", "AZURE_STORAGE_ACCOUNT_NAME"
    return account, (endpoint or "").rstrip("/"), source


class AzureBackend(ObstoreBackend):
    """An Azure Blob Storage container (optionally under a prefix), through obstore."""

    hints = _HINTS

    @classmethod
    def identity(cls, url: str, **options: Any) -> dict[str, str]:
        """Container and prefix, the account and the blob endpoint; never a key or token.

        Example:

            >>> AzureBackend.identity("az://models/team", account_name="acme")["endpoint"]
            'https://acme.blob.core.windows.net'
        """
        container, prefix = _container_and_prefix(url)
        opts: AzureSettings = options  # type: ignore[assignment]
        account, endpoint, _ = _account_and_endpoint(opts)
        found = {
            "backend": f"{cls.__module__}:{cls.__qualname__}",
            "url": f"az://{container}/{prefix}".rstrip("/"),
            "account": account or "",
        }
        if endpoint:
            found["endpoint"] = without_password(endpoint)
        return found

    def store_identity(self) -> dict[str, str]:
        return self._identity

    def __init__(self, container: str, prefix: str = "", **settings: Any) -> None:
        unknown = set(settings) - set(AzureSettings.__annotations__)
        if unknown:
            raise UnsupportedStoreError(
                f"unknown Azure setting(s) {sorted(unknown)};"
                f" known: {sorted(AzureSettings.__annotations__)}"
            )
        url = f"az://{container}/{prefix}".rstrip("/")
        _container_and_prefix(url)
        opts: AzureSettings = settings  # type: ignore[assignment]
        account, endpoint, source = _account_and_endpoint(opts)
        if not account:
            raise StoreAuthError(
                f"no Azure storage account for {url}: set AZURE_STORAGE_ACCOUNT_NAME (or pass"
                " account_name), or AZURE_STORAGE_USE_EMULATOR=true for Azurite"
            )
        if not _ACCOUNT.fullmatch(account):
            raise UnsupportedStoreError(
                f"Azure storage account name {account!r} is not valid: use 3-24 lowercase letters"
                " and digits (AZURE_STORAGE_ACCOUNT_NAME, or the account_name setting)"
            )
        _check_endpoint(endpoint, source)

        # Every choice is made here and passed explicitly: obstore also reads AZURE_* itself, and
        # e.g. its own AZURE_STORAGE_USE_EMULATOR would send requests elsewhere than identity says.
        config: dict[str, Any] = {
            "account_name": account,
            "endpoint": endpoint,
            "use_emulator": False,
            "skip_signature": False,
        }
        config.update(self._credentials(opts, url, account, endpoint))
        client: dict[str, Any] = {"connect_timeout": "5s", "timeout": "300s"}
        if endpoint.startswith("http://"):
            client["allow_http"] = True
        from obstore.store import AzureStore  # here: a cache hit never loads obstore

        try:
            store = AzureStore(
                container,
                prefix=prefix or None,
                config=config,  # type: ignore[arg-type]
                client_options=client,  # type: ignore[arg-type]
                retry_config=RETRY_CONFIG,
            )
        except ValueError as exc:  # obstore refuses what it cannot put in a request
            raise UnsupportedStoreError(
                f"cannot open {url!r}: {str(exc).splitlines()[0]!r}; check the store URL and"
                " the Azure settings"
            ) from None
        super().__init__(store, url)
        self._identity = type(self).identity(url, **settings)
        self._where = f"container {container!r} of account {account!r} at {endpoint}"
        # Azure signs a SAS with an account key or a user delegation key (a bearer token or a
        # delegated flow); a SAS cannot sign another, and no credentials sign nothing.
        self.signs = not config["skip_signature"] and config.get("credential_type") != "sas_token"

    # A missing container reaches the shared translation as a missing object (404); it is a
    # setup error about the whole store, so it is said so here, with what to fix.
    @contextlib.contextmanager
    def _container_checked(self) -> Iterator[None]:
        try:
            yield
        except StoreError as exc:
            if "<Code>ContainerNotFound</Code>" not in str(exc.__cause__ or ""):
                raise
            raise StoreError(
                f"{self.url}: the {self._where} does not exist; create it, or fix the container"
                " in the store URL (or the account: AZURE_STORAGE_ACCOUNT_NAME)"
            ) from exc.__cause__

    def get(self, key: str, chunk_size: int) -> Iterator[bytes]:
        with self._container_checked():
            yield from super().get(key, chunk_size)

    def get_range(self, key: str, start: int, end: int) -> memoryview:
        with self._container_checked():
            return super().get_range(key, start, end)

    def get_range_chunks(
        self, key: str, start: int, end: int, chunk_size: int
    ) -> Iterator[memoryview]:
        with self._container_checked():
            yield from super().get_range_chunks(key, start, end, chunk_size)

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        with self._container_checked():
            super().put(key, data, mode=mode)

    def head(self, key: str) -> ObjectMeta:
        with self._container_checked():
            return super().head(key)

    def list(self, prefix: str) -> Iterator[ObjectMeta]:
        with self._container_checked():
            yield from super().list(prefix)

    def list_after(self, prefix: str, after: str) -> Iterator[ObjectMeta]:
        with self._container_checked():
            yield from super().list_after(prefix, after)

    def delete(self, key: str) -> None:
        with self._container_checked():
            super().delete(key)

    @staticmethod
    def _credentials(opts: AzureSettings, url: str, account: str, endpoint: str) -> dict[str, Any]:
        """The obstore config entries that choose how requests are signed."""
        if is_flag(opts.get("anonymous")):
            return {"skip_signature": True}
        # Every explicit setting beats every variable: a read-only SAS given for this store must
        # not lose to whatever account key the shell holds.
        for name in ("account_key", "sas_token", "token"):
            if opts.get(name) not in (None, ""):
                return _credential(name, opts[name], url)
        for name, variables in _CREDENTIAL_VARIABLES.items():
            value = next((constants.env(v) for v in variables if constants.env(v)), None)
            if not value and name == "account_key":
                emulator, _ = _first(opts, "use_emulator", "AZURE_STORAGE_USE_EMULATOR")
                if is_flag(emulator) and account == EMULATOR_ACCOUNT:
                    value = EMULATOR_KEY
            if value:
                return _credential(name, value, url)
        flow = (constants.env("AZURE_CREDENTIAL_TYPE") or "").strip().lower()
        if flow in _DELEGATED:
            return {"credential_type": flow}
        raise StoreAuthError(
            f"no Azure credentials found for {url} (account {account} at {endpoint}): set"
            " AZURE_STORAGE_ACCOUNT_KEY, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_TOKEN, set"
            f" AZURE_CREDENTIAL_TYPE to one of {', '.join(_DELEGATED)}"
        ).with_fix(", or pass {anonymous} for a public container")

    @classmethod
    def from_url(cls, url: str, **settings: Any) -> AzureBackend:
        """Open ``az://container[/prefix]``."""
        return cls(*_container_and_prefix(url), **settings)
