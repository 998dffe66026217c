"""Which store a :class:`~modelshelf.Shelf` opens, and with which backend settings.

The store is the first of: the ``store`` argument (``--store``), ``MODELSHELF_STORE``, the
config file's ``default_store``, the folder in the user data dir. A value with ``://``, a path
or ``module:Class`` is a URL; a plain name (``prod``) is a ``[stores.prod]`` table of the config
file (:mod:`modelshelf.config`).

A named store's settings are merged, strongest first:

1. explicit settings: ``backend_kwargs`` / ``**backend_options`` in Python; ``--backend-opt``,
   ``--profile`` and ``--anonymous`` on the CLI;
2. the environment: for ``s3://`` stores, ``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL`` beat the
   file's ``endpoint``, ``AWS_REGION``/``AWS_DEFAULT_REGION`` its ``region``, ``AWS_PROFILE``
   its ``profile``, and ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` its
   ``access_key_id``/``secret_access_key``/``session_token`` options (the three together);
3. the file's fields and ``options``.

One rule reads a word for every argument that takes a store (``--store``, ``copy DEST``,
``export --to``, ``mirror URL``): a word that names a store of the config file means that
store, ``./prod`` or an absolute path is a folder, ``scheme://`` a URL
(:func:`configured_store`). When a configured name is also a folder in the working folder, the
store is used and a warning says how to name the folder. Arguments that take only a folder
(``pull -o``, ``mirror DEST``, ``push PATH``) take a word as a folder.

``anonymous`` has no environment variable. For schemes not in :data:`ENV_OVERRIDES` (custom
backends), the file's settings are passed as keyword arguments and the backend decides.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelshelf import constants
from modelshelf._paths import user_path
from modelshelf.backends.base import is_secret_option, without_password
from modelshelf.config import Config, is_store_name, load_config
from modelshelf.errors import InvalidInputError

__all__ = [
    "ENV_OVERRIDES",
    "ResolvedStore",
    "configured_store",
    "mask_options",
    "merge_options",
    "normalize_url",
    "resolve_store",
]

logger = logging.getLogger(__name__)

ENV_OVERRIDES: dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]] = {
    "s3": (
        (("endpoint",), ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")),
        (("region",), ("AWS_REGION", "AWS_DEFAULT_REGION")),
        (("profile",), ("AWS_PROFILE",)),
        (
            ("access_key_id", "secret_access_key", "session_token"),
            ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
        ),
    ),
    "gs": (
        (("endpoint",), ("GOOGLE_BASE_URL", "STORAGE_EMULATOR_HOST")),
        (
            ("service_account", "service_account_key", "application_credentials", "bearer_token"),
            (
                "GOOGLE_SERVICE_ACCOUNT",
                "GOOGLE_SERVICE_ACCOUNT_PATH",
                "GOOGLE_SERVICE_ACCOUNT_KEY",
                "GOOGLE_APPLICATION_CREDENTIALS",
                "GOOGLE_BEARER_TOKEN",
            ),
        ),
    ),
    "az": (
        (("endpoint",), ("AZURE_STORAGE_ENDPOINT", "AZURE_ENDPOINT")),
        (("account_name",), ("AZURE_STORAGE_ACCOUNT_NAME",)),
        (
            ("account_key", "sas_token", "token"),
            (
                "AZURE_STORAGE_ACCOUNT_KEY",
                "AZURE_STORAGE_ACCESS_KEY",
                "AZURE_STORAGE_SAS_TOKEN",
                "AZURE_STORAGE_SAS_KEY",
                "AZURE_STORAGE_TOKEN",
            ),
        ),
    ),
}
"""scheme -> ((settings of the file, environment variables that beat them), ...)."""

# Settings of built-in backends that are booleans: text from the CLI ("false") is converted.
_BOOLEAN_SETTINGS = {
    "s3": ("anonymous",),
    "gs": ("anonymous",),
    "az": ("anonymous", "use_emulator"),
}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
MASK = "***"


def mask_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with every value whose name looks like a secret replaced by ``***``, and
    passwords cut out of URLs.

    Example:
        >>> mask_options({"token": "s3cr3t", "endpoint": "http://u:pw@h"})
        {'token': '***', 'endpoint': 'http://u@h'}
    """
    return {
        k: MASK if is_secret_option(k) else without_password(v) if isinstance(v, str) else v
        for k, v in options.items()
    }


def merge_options(*sources: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge keyword settings given in several places; a name given twice is refused.

    Raises:
        InvalidInputError: a setting given in two places.
    """
    merged: dict[str, Any] = {}
    for source in sources:
        for key, value in (source or {}).items():
            if key in merged:
                raise InvalidInputError(f"backend setting {key!r} is given twice").with_fix(
                    "; give it once: in {backend_options}, or as {profile} or {anonymous}"
                )
            merged[key] = value
    return merged


@dataclass(frozen=True)
class ResolvedStore:
    """A store URL and the keyword settings to open it with.

    Attributes:
        url: the store URL (or path, or ``module:Class``).
        options: keyword settings for the backend; may hold secrets (the repr masks them).
        name: the config file's name for the store, or ``None`` for a URL.
        source: what chose it: ``argument``, ``MODELSHELF_STORE``, ``default_store`` or
            ``built-in``.
        config_path: the config file that declared it, for a named store.
        overridden: setting -> the environment variable that beat the file's value.
    """

    url: str
    options: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None
    source: str = "argument"
    config_path: Path | None = None
    overridden: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        named = f", name={self.name!r}" if self.name else ""
        return (
            f"ResolvedStore({without_password(self.url)!r}{named},"
            f" options={mask_options(self.options)!r})"
        )

    def label(self) -> str:
        """``store 'prod' (s3://models/shelf)``, or the URL, for messages."""
        url = without_password(self.url)
        return f"store {self.name!r} ({url})" if self.name else url


def resolve_store(
    store: str | None = None,
    options: Mapping[str, Any] | None = None,
    *,
    config: Config | None = None,
) -> ResolvedStore:
    """Turn a store argument (URL, path, name or ``None``) into a URL and backend settings.

    Args:
        store: what the caller named; ``None`` for the default.
        options: explicit backend settings (beat the environment and the config file).
        config: the parsed config file; read from :func:`~modelshelf.config.load_config` if
            needed and not given.

    Raises:
        ConfigError: a name the config file does not declare, or a malformed config file.
        InvalidInputError: a boolean setting given as text that is not true/false.

    Example:
        >>> resolve_store("memory://x", {"a": "1"}).options
        {'a': '1'}
    """
    explicit = dict(options or {})
    value, source = store, "argument"
    if value is None and constants.store_setting():
        value, source = constants.store_setting(), "MODELSHELF_STORE"
    if value is None:
        config = config or load_config()
        if config.default_store is None:
            url = constants.builtin_store_url()
            return ResolvedStore(url, _typed(url, explicit), source="built-in")
        value, source = config.default_store, "default_store"
    value = value.strip()
    if not is_store_name(value):
        return ResolvedStore(value, _typed(value, explicit), source=source)
    config = config or load_config()
    declared = config.store(value, "given as the store" if source == "argument" else source)
    if source == "argument":  # typed here: say so if the word is also a folder
        _warn_if_also_a_folder(value, declared.url)
    settings: dict[str, Any] = dict(declared.settings())
    overridden: dict[str, str] = {}
    for names, variables in ENV_OVERRIDES.get(_scheme(declared.url), ()):
        variable = next((v for v in variables if constants.env(v)), None)
        if variable is None:
            continue
        for name in names:
            if name in settings:
                del settings[name]
                overridden[name] = variable
    settings.update(explicit)
    return ResolvedStore(
        declared.url,
        _typed(declared.url, settings),
        name=value,
        source=source,
        config_path=config.path,
        overridden=overridden,
    )


def configured_store(
    text: str | None,
    options: Mapping[str, Any] | None = None,
    *,
    config: Config | None = None,
) -> ResolvedStore | None:
    """The store of the config file that ``text`` names, for an argument that takes a store or
    a folder (``export --to``, ``mirror URL``); None when ``text`` is no such name (a URL, a
    path such as ``./prod``, ``pkg.mod:Class``, or a word the file does not declare), which the
    caller then reads as it always did.

    A name that is also a folder in the working folder is still the store, with a warning that
    says how to name the folder (``./prod``), as for ``--store`` and ``copy DEST``.

    Example:
        >>> configured_store("./prod") is None and configured_store("s3://b/p") is None
        True
    """
    word = (text or "").strip()
    if not is_store_name(word):
        return None
    config = config or load_config()
    if word not in config.stores:
        return None
    return resolve_store(word, options, config=config)


def _warn_if_also_a_folder(name: str, url: str) -> None:
    """Say which was used when a configured store's name is also a folder here."""
    if Path(name).is_dir():
        logger.warning(
            "%s names the configured store %r (%s), which is used; a folder ./%s exists too:"
            " write ./%s for the folder",
            f'"{name}"', name, without_password(url), name, name,
        )  # fmt: skip


def _scheme(url: str) -> str:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    return {"azure": "az"}.get(scheme, scheme)  # one backend, two spellings


def _typed(url: str, options: dict[str, Any]) -> dict[str, Any]:
    """Boolean settings of built-in backends given as text (``--backend-opt anonymous=no``)."""
    for name in _BOOLEAN_SETTINGS.get(_scheme(url), ()):
        value = options.get(name)
        if isinstance(value, str):
            word = value.strip().lower()
            if word not in _TRUE | _FALSE:
                raise InvalidInputError(
                    f"backend setting {name}={value!r} for {without_password(url)} must be"
                    " true or false"
                )
            options[name] = word in _TRUE
    return options


def normalize_url(url: str) -> str:
    """The canonical form of a store URL: a path becomes ``file://``, a trailing ``/`` goes."""
    if "://" not in url and url.startswith(("/", "~", ".")):
        return user_path(url, "store folder").resolve().as_uri()
    if url.startswith("file://"):
        from modelshelf.backends.local import LocalBackend

        return LocalBackend.url_for(url)
    return url.rstrip("/") if not url.endswith("://") else url
