"""``s3://bucket/prefix`` stores: AWS S3 and S3-compatible servers (SeaweedFS, MinIO, Ceph, R2).

Configuration follows the standard AWS environment, with explicit keyword arguments winning:

| setting | environment | note |
|---|---|---|
| ``access_key_id`` | ``AWS_ACCESS_KEY_ID`` | |
| ``secret_access_key`` | ``AWS_SECRET_ACCESS_KEY`` | |
| ``session_token`` | ``AWS_SESSION_TOKEN`` | |
| ``profile`` | ``AWS_PROFILE`` | read from ``~/.aws/credentials`` and ``~/.aws/config`` |
| ``region`` | ``AWS_REGION``, ``AWS_DEFAULT_REGION`` | default ``us-east-1`` |
| ``endpoint`` | ``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL`` | ``http://`` endpoints are allowed |
| ``anonymous`` | | unsigned requests, for public buckets |

A store's identity (which keys its part of the local cache) is its bucket and prefix plus the
endpoint, or, without one, the AWS partition its region belongs to (``aws``, ``aws-cn``,
``aws-us-gov``, ...): bucket names are unique within a partition. Credentials, profiles and
``anonymous`` choose who asks, not which store answers, and are left out.

Without credentials from any of these, opening fails with a clear error rather than silently
asking the cloud metadata service; set ``AWS_EC2_METADATA_DISABLED=false`` to use an instance role.

The bucket, region and endpoint are checked before any request (``http(s)://host[:port][/path]``):
obstore panics on some malformed ones, and a mistyped endpoint should say so, not fail later.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import urlsplit

from modelshelf import constants
from modelshelf.backends._obstore import (
    RETRY_CONFIG,
    ObstoreBackend,
    StoreHints,
    refuse_control_characters,
)
from modelshelf.backends.base import without_password
from modelshelf.errors import StoreAuthError, UnsupportedStoreError

__all__ = ["S3Backend", "S3Settings"]


class S3Settings(TypedDict, total=False):
    """Keyword settings of :class:`S3Backend`; each beats its environment variable."""

    access_key_id: str
    """**Environment variable**: ``AWS_ACCESS_KEY_ID``."""
    secret_access_key: str
    """**Environment variable**: ``AWS_SECRET_ACCESS_KEY``."""
    session_token: str
    """**Environment variable**: ``AWS_SESSION_TOKEN``."""
    profile: str
    """**Environment variable**: ``AWS_PROFILE``."""
    region: str
    """**Environment variable**: ``AWS_REGION`` or ``AWS_DEFAULT_REGION``."""
    endpoint: str
    """**Environment variable**: ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``."""
    anonymous: bool
    """Send unsigned requests (public buckets)."""


# Bucket names as S3 (and older, laxer servers) accept them; anything else would be put into URLs.
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
# AWS regions (us-east-1) and the free-form names S3-compatible servers use (auto, garage).
_REGION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HOSTNAME = re.compile(r"[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]")


def check_endpoint(
    endpoint: str,
    source: str = "endpoint",
    *,
    cloud: str = "S3",
    credentials: str = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
) -> None:
    """Refuse an endpoint that is not ``http(s)://host[:port][/path]``, saying how to fix it.

    Args:
        endpoint: the endpoint URL as given.
        source: where it came from (a setting or environment variable), named in the message.
        cloud: whose endpoint it is (``S3``, ``GCS``), named in the message.
        credentials: where credentials go instead of into the URL, in that cloud's words.

    Raises:
        UnsupportedStoreError: what is wrong with it, and the fix.

    Example:
        >>> check_endpoint("127.0.0.1:9000")
        Traceback (most recent call last):
        ...
        modelshelf.errors.UnsupportedStoreError: ...
    """

    def refuse(problem: str, fix: str) -> UnsupportedStoreError:
        return UnsupportedStoreError(
            f"{cloud} endpoint {endpoint!r} (from {source}) {problem}; {fix}"
        )

    if not endpoint.isprintable() or any(c.isspace() for c in endpoint):
        raise refuse("holds spaces or control characters", "give http(s)://host[:port]")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https"):
        if "://" not in endpoint:
            raise refuse("has no scheme", f"write it as http://{endpoint} or https://{endpoint}")
        raise refuse("must start with http:// or https://", "e.g. http://127.0.0.1:9000")
    if parts.username is not None or parts.password is not None:
        raise refuse(
            "holds credentials",
            f"remove them and set {credentials} instead",
        )
    host = parts.netloc.rsplit(":", 1)[0] if not parts.netloc.endswith("]") else parts.netloc
    if not parts.hostname or not _HOSTNAME.fullmatch(host):
        raise refuse("has no host" if not parts.hostname else "has an invalid host",
                     f"give {parts.scheme}://host[:port]")  # fmt: skip
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 0 < port < 65536:
        raise refuse("has an invalid port", "a port is a number from 1 to 65535")
    if parts.query or parts.fragment:
        raise refuse("has a query or fragment", "give http(s)://host[:port][/path] only")


def _keys(opts: S3Settings) -> tuple[str | None, str | None, str | None, dict[str, str]]:
    """The access key, secret and session token that sign, and the profile's settings.

    Every explicit setting beats every variable: an explicit profile's keys, then explicit
    keys, then ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, then the keys of ``AWS_PROFILE``
    (or of the ``default`` profile). An explicit key or secret given alone beats its own
    variable and is paired with the other one's.
    """
    env = constants.env
    explicit = opts.get("profile")
    named = explicit or env("AWS_PROFILE")
    given = (opts.get("access_key_id"), opts.get("secret_access_key"), opts.get("session_token"))
    from_env = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN"))
    has_keys = any(k[0] and k[1] for k in (given, from_env))
    # The default profile is read only when nothing else signs (as before: a broken unused
    # ~/.aws file must not stop a store opened with keys).
    from_profile = _profile_settings(named) if named or not has_keys else {}
    profile_keys = (
        from_profile.get("aws_access_key_id"),
        from_profile.get("aws_secret_access_key"),
        from_profile.get("aws_session_token"),
    )
    if any(given[:2]) and not (given[0] and given[1]):
        # Half a pair given (a rotated secret): it beats its variable, the other half comes
        # from the environment; a session token belongs to the pair it came with.
        key, secret = given[0] or from_env[0], given[1] or from_env[1]
        given = (key, secret, given[2] or from_env[2])
    for candidate in (profile_keys if explicit else (None, None, None), given, from_env):
        if candidate[0] and candidate[1]:
            return (*candidate, from_profile)
    if profile_keys[0] and profile_keys[1]:
        return (*profile_keys, from_profile)
    return None, None, None, from_profile


def _check_bucket_and_region(bucket: str, region: str) -> None:
    if not _BUCKET.fullmatch(bucket):
        raise UnsupportedStoreError(
            f"S3 bucket name {bucket!r} is not valid: use letters, digits, '.', '-' and '_'"
            " (at most 255), as s3://bucket/prefix"
        )
    if not _REGION.fullmatch(region):
        raise UnsupportedStoreError(
            f"S3 region {region!r} is not valid: give a region name such as us-east-1"
            " (AWS_REGION, or the region setting)"
        )


def _profile_settings(profile: str | None) -> dict[str, str]:
    """Keys and region of an AWS profile from the shared credentials and config files."""
    home = Path.home()
    creds_file = Path(constants.env("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws/credentials")
    config_file = Path(constants.env("AWS_CONFIG_FILE") or home / ".aws/config")
    name = profile or "default"
    found: dict[str, str] = {}
    for path, section in (
        (config_file, name if name == "default" else f"profile {name}"),
        (creds_file, name),
    ):
        if not path.is_file():
            continue
        parser = configparser.RawConfigParser()
        try:
            parser.read(path)
        except configparser.Error as exc:
            raise StoreAuthError(f"cannot read AWS profile file {path}: {exc}") from exc
        if parser.has_section(section):
            found.update(parser.items(section))
    if profile and not found:
        raise StoreAuthError(
            f"AWS profile {profile!r} was not found in {creds_file} or {config_file};"
            " check AWS_PROFILE"
        )
    return found


# Region prefixes of the AWS partitions other than ``aws``: bucket names are unique per partition.
_PARTITIONS = (
    ("cn-", "aws-cn"),
    ("us-gov-", "aws-us-gov"),
    ("us-isob-", "aws-iso-b"),
    ("us-isof-", "aws-iso-f"),
    ("us-iso-", "aws-iso"),
    ("eu-isoe-", "aws-iso-e"),
)


def _endpoint(settings: S3Settings) -> str | None:
    env = constants.env
    return settings.get("endpoint") or env("AWS_ENDPOINT_URL_S3") or env("AWS_ENDPOINT_URL")


def _partition(region: str) -> str:
    return next((name for prefix, name in _PARTITIONS if region.startswith(prefix)), "aws")


class S3Backend(ObstoreBackend):
    """An S3 bucket (optionally under a prefix), through obstore."""

    hints = StoreHints(
        credentials="AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE for s3://",
        endpoint="AWS_ENDPOINT_URL",
        codes={
            "PermanentRedirect": "set AWS_REGION to the bucket's region, or check the endpoint",
            "AuthorizationHeaderMalformed": "set AWS_REGION to the bucket's region",
        },
    )

    @classmethod
    def identity(cls, url: str, **options: Any) -> dict[str, str]:
        """Bucket and prefix, and the endpoint (or, on AWS, the region's partition).

        Secrets (keys, session tokens) and the profile are never part of it. Example:

            >>> S3Backend.identity("s3://models/team", endpoint="http://127.0.0.1:9000")["endpoint"]
            'http://127.0.0.1:9000'
        """
        bucket, prefix = _bucket_and_prefix(url)
        found = {
            "backend": f"{cls.__module__}:{cls.__qualname__}",
            "url": f"s3://{bucket}/{prefix}".rstrip("/"),
        }
        opts: S3Settings = options  # type: ignore[assignment]
        endpoint = _endpoint(opts)
        if endpoint:
            found["endpoint"] = without_password(endpoint.rstrip("/"))
            return found
        env = constants.env
        region = opts.get("region") or env("AWS_REGION") or env("AWS_DEFAULT_REGION")
        if not region:
            try:
                region = _profile_settings(opts.get("profile") or env("AWS_PROFILE")).get("region")
            except StoreAuthError:
                region = None
        found["partition"] = _partition(region or "us-east-1")
        return found

    def store_identity(self) -> dict[str, str]:
        return self._identity

    def __init__(self, bucket: str, prefix: str = "", **settings: Any) -> None:
        unknown = set(settings) - set(S3Settings.__annotations__)
        if unknown:
            raise UnsupportedStoreError(
                f"unknown S3 setting(s) {sorted(unknown)};"
                f" known: {sorted(S3Settings.__annotations__)}"
            )
        opts: S3Settings = settings  # type: ignore[assignment]
        env = constants.env
        region = (
            opts["region"] if "region" in opts else (env("AWS_REGION") or env("AWS_DEFAULT_REGION"))
        )
        key, secret, token, from_profile = _keys(opts)
        if from_profile:  # read only when a profile is named or nothing else signs
            region = region or from_profile.get("region")
        endpoint, source = opts.get("endpoint"), "the endpoint setting"
        for variable in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
            if not endpoint and env(variable):
                endpoint, source = env(variable), variable
        if endpoint:
            check_endpoint(endpoint, source)
        region = "us-east-1" if region is None else region
        _check_bucket_and_region(bucket, region)

        config: dict[str, Any] = {"region": region, "conditional_put": "etag"}
        if endpoint:
            config["endpoint"] = endpoint
        if opts.get("anonymous"):
            config["skip_signature"] = True
        elif key and secret:
            config["access_key_id"] = key
            config["secret_access_key"] = secret
            if token:
                config["session_token"] = token
        elif not (
            env("AWS_WEB_IDENTITY_TOKEN_FILE")
            or env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
            or env("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            or (env("AWS_EC2_METADATA_DISABLED") or "").lower() == "false"
        ):
            raise StoreAuthError(
                f"no AWS credentials found for s3://{bucket}: set AWS_ACCESS_KEY_ID and"
                " AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or pass access_key_id/secret_access_key"
            )
        client: dict[str, Any] = {"connect_timeout": "5s", "timeout": "300s"}
        if endpoint and endpoint.startswith("http://"):
            client["allow_http"] = True
        from obstore.store import S3Store  # here: a cache hit never loads obstore

        store = S3Store(
            bucket,
            prefix=prefix or None,
            config=config,  # type: ignore[arg-type]
            client_options=client,  # type: ignore[arg-type]
            retry_config=RETRY_CONFIG,
        )
        url = f"s3://{bucket}/{prefix}".rstrip("/")
        super().__init__(store, url)
        self._identity = type(self).identity(url, **settings)
        # Unsigned requests have no key to presign with (obstore would ask the EC2 metadata).
        self.signs = not config.get("skip_signature")

    @classmethod
    def from_url(cls, url: str, **settings: Any) -> S3Backend:
        """Open ``s3://bucket[/prefix]``."""
        return cls(*_bucket_and_prefix(url), **settings)


def _bucket_and_prefix(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")``.

    Raises:
        UnsupportedStoreError: no bucket, or a URL that cannot be split.
    """
    refuse_control_characters(url, "as s3://bucket/prefix")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. "s3://b[x": urllib reads brackets as an IPv6 host
        raise UnsupportedStoreError(
            f"{without_password(url)!r} is not a valid S3 URL ({exc}); the bucket name uses"
            " letters, digits, '.', '-' and '_', as s3://bucket/prefix"
        ) from None
    shown = without_password(url)  # a key typed into the URL is never echoed
    if not parts.netloc:
        raise UnsupportedStoreError(f"{shown}: an S3 URL needs a bucket, as s3://bucket/prefix")
    # A password may hold '/', so urllib's netloc may end inside it ("AK:se" of
    # s3://AK:se/cr@bucket): user:password@ is refused here, never quoted as a bucket name.
    if "@" in parts.netloc or ":" in parts.netloc:
        raise UnsupportedStoreError(
            f"{shown!r}: an S3 URL names only the bucket, no user:password@ or :port; write the"
            " store as s3://bucket/prefix"
        ).with_fix(
            ", credentials with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or {profile}), and"
            " a server with the endpoint setting ({backend_options})"
        )
    return parts.netloc, parts.path.strip("/")
