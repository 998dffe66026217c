"""Configuration read from the environment, in one place.

Every ``MODELSHELF_*`` variable is read here and nowhere else, through functions rather than
import-time globals so that tests (and long-lived processes) see changes.

| variable | meaning | default |
|---|---|---|
| ``MODELSHELF_STORE`` | store URL or config file store name, when none is given | see below |
| ``MODELSHELF_CONFIG`` | the config file (named stores) | ``<user config dir>/config.toml`` |
| ``MODELSHELF_CACHE_DIR`` | cache root | ``$XDG_CACHE_HOME/modelshelf`` or the user cache dir |
| ``MODELSHELF_OFFLINE`` | ``1`` resolves from the cache only, never asks the store | off |
| ``MODELSHELF_MAX_CONCURRENCY`` | transfers in flight at once | 8 |
| ``MODELSHELF_MAX_LIST_KEYS`` | keys read from one store listing before it is refused | 1,000,000 |
| ``MODELSHELF_MAX_LIST_MIB`` | MiB of key names read from one listing before it is refused | 128 |
| ``MODELSHELF_LOCK_TIMEOUT`` | seconds to wait for another process's download of a blob | 600 |
| ``MODELSHELF_DEBUG`` | ``1`` makes the CLI show tracebacks | off |
| ``MODELSHELF_MAX_MANIFEST_MIB`` | the largest manifest read or written, in MiB | 24 |
| ``MODELSHELF_TRUST_PICKLE`` | ``1`` lets ``load_model`` hand ``trust=True`` to runners | off |
| ``MODELSHELF_ALLOWED_HOOK_PACKAGES`` | ``a,b.c``: packages runners and hooks may be from | none |
| ``MODELSHELF_ASSET_OVERRIDES`` | ``a/b=/dir,c=/p``: ModelLibrary assets from local paths | none |
| ``MODELSHELF_SERVE_CONFIG`` | internal: settings ``modelshelf serve`` hands its workers | none |
| ``MODELSHELF_SERVE_BODY_TIMEOUT`` | seconds a request body may go without a byte (408) | 10 |
| ``MODELSHELF_SERVE_BODY_MIN_RATE`` | bytes/s a body must average after that grace (408) | 65536 |
| ``MODELSHELF_TOKEN`` | the bearer token sent to an ``http(s)://`` registry store | none |

Without ``MODELSHELF_STORE`` the store is the config file's ``default_store``, else
``file://<user data dir>/store``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from modelshelf._paths import user_path

APP_NAME = "modelshelf"

# Transfers: on 2 cores more than 4-8 requests in flight gains nothing (measured), and the
# filesystem prefers writes of 1 MiB or more.
CACHEDIR_TAG = "CACHEDIR.TAG"
"""The file marking every cache root (https://bford.info/cachedir/): backup tools skip the
folder, and a user-folder writer (``pull -o``, ``export``, ``mirror``) refuses to write in it."""
CACHEDIR_SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55"
CACHEDIR_TAG_TEXT = (
    CACHEDIR_SIGNATURE
    + b"\n# This file is a cache directory tag created by modelshelf.\n"
    + b"# For information about cache directory tags, see https://bford.info/cachedir/\n"
)
DEFAULT_MAX_CONCURRENCY = 8
CHUNK_SIZE = 8 * 1024 * 1024
# Files larger than one range are fetched as parallel ranged GETs written at their offsets.
RANGE_SIZE = 16 * 1024 * 1024
# A download is written and hashed in pieces of this size as they arrive, so a pull holds a
# few MiB per request in flight however large the blob (a whole range per request held 330 MiB
# for a 1 GiB pull).
STREAM_CHUNK_SIZE = 1024 * 1024
# Ranges up to this size are read in one piece: fewer calls per small file, little memory.
WHOLE_READ_SIZE = 4 * 1024 * 1024
DEFAULT_LOCK_TIMEOUT = 600.0
# Keys read from one listing a store sends (versions, aliases, log of one asset; every blob for
# gc; a mirror's prefix) before it is refused: a store that pages forever would otherwise keep
# the reader going and growing. Real listings of one asset hold thousands of keys; a million
# blobs is a store of many terabytes; a mirror holds about 1 KiB per listed object (~1 GiB here).
DEFAULT_MAX_LIST_KEYS = 1_000_000
DEFAULT_MAX_LIST_MIB = 128
"""A million keys of 134 bytes on average; keys of 1,000 bytes stop at 134,000 (a mirror
then holds about 220 MiB, not the 1,186 MiB a million of them took)."""
# gc keeps unreferenced blobs younger than this: a push may be writing them.
DEFAULT_GRACE = timedelta(hours=24)

# Request bodies of `modelshelf serve`: a body that goes this long without a byte, or that
# averages under the minimum rate once this grace has passed, is refused with 408 and its bytes
# leave the worker's body budget (stalled clients held the whole budget for minutes).
DEFAULT_SERVE_BODY_TIMEOUT = 10.0
DEFAULT_SERVE_BODY_MIN_RATE = 64 * 1024
# A body idle this long gives its share of the budget up (408) to a body that needs the room:
# bytes are charged only while they arrive in time.
SERVE_BODY_STALL_SECONDS = 1.0

_TRUE = {"1", "true", "yes", "on"}


def _is_true(value: str | None) -> bool:
    return value is not None and value.strip().lower() in _TRUE


def _as_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        from modelshelf.errors import InvalidInputError

        raise InvalidInputError(
            f"{name}={raw!r} is not an integer; unset it or give a number"
        ) from None
    if value < 1:
        from modelshelf.errors import InvalidInputError

        raise InvalidInputError(f"{name}={raw!r} must be at least 1")
    return value


def _as_positive_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        from modelshelf.errors import InvalidInputError

        raise InvalidInputError(f"{name}={raw!r} must be a number above 0; unset it or fix it")
    return value


def default_store_url() -> str:
    """The store used when none is given: ``MODELSHELF_STORE`` or a folder in the user data dir."""
    url = os.environ.get("MODELSHELF_STORE", "").strip()
    if url:
        return url
    import platformdirs  # here: ~15 ms (tempfile, shutil), not needed when variables are set

    return (Path(platformdirs.user_data_dir(APP_NAME)) / "store").as_uri()


def store_setting() -> str | None:
    """``MODELSHELF_STORE`` as given (a URL, a path or a store name), or None when unset."""
    value = os.environ.get("MODELSHELF_STORE", "").strip()
    return value or None


def builtin_store_url() -> str:
    """The store used when nothing names one: a folder in the user data dir."""
    import platformdirs  # here: ~15 ms (tempfile, shutil), not needed when variables are set

    return (Path(platformdirs.user_data_dir(APP_NAME)) / "store").as_uri()


def config_path() -> tuple[Path, bool]:
    """The config file and whether ``MODELSHELF_CONFIG`` chose it.

    ``MODELSHELF_CONFIG`` if set, else ``config.toml`` in the platform's user config dir
    (``~/.config/modelshelf/config.toml`` on Linux).
    """
    explicit = os.environ.get("MODELSHELF_CONFIG", "").strip()
    if explicit:
        return user_path(explicit, "MODELSHELF_CONFIG file"), True
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml", False


def cache_dir() -> Path:
    """The cache root: ``MODELSHELF_CACHE_DIR``, ``$XDG_CACHE_HOME/modelshelf``, or the OS's."""
    explicit = os.environ.get("MODELSHELF_CACHE_DIR", "").strip()
    if explicit:
        return user_path(explicit, "MODELSHELF_CACHE_DIR folder")
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg:
        return user_path(xdg, "XDG_CACHE_HOME folder") / APP_NAME
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME))


def offline() -> bool:
    """True when ``MODELSHELF_OFFLINE`` asks never to contact the store."""
    return _is_true(os.environ.get("MODELSHELF_OFFLINE"))


def debug() -> bool:
    """True when ``MODELSHELF_DEBUG`` asks the CLI for tracebacks."""
    return _is_true(os.environ.get("MODELSHELF_DEBUG"))


def trust_pickle() -> bool:
    """True when ``MODELSHELF_TRUST_PICKLE`` allows loading formats that run code (pickle)."""
    return _is_true(os.environ.get("MODELSHELF_TRUST_PICKLE"))


def allowed_hook_packages() -> list[str]:
    """``MODELSHELF_ALLOWED_HOOK_PACKAGES``: packages (dotted, comma-separated) the user allows
    a manifest's runner and ``preprocess``/``postprocess`` paths to name; empty entries dropped."""
    raw = os.environ.get("MODELSHELF_ALLOWED_HOOK_PACKAGES", "")
    return [name.strip() for name in raw.split(",") if name.strip()]


def max_concurrency() -> int:
    """Transfers in flight at once (``MODELSHELF_MAX_CONCURRENCY``)."""
    return _as_int("MODELSHELF_MAX_CONCURRENCY", DEFAULT_MAX_CONCURRENCY)


def max_list_keys() -> int:
    """Keys read from one store listing before it is refused (``MODELSHELF_MAX_LIST_KEYS``)."""
    return _as_int("MODELSHELF_MAX_LIST_KEYS", DEFAULT_MAX_LIST_KEYS)


def max_list_bytes() -> int:
    """Bytes of key names (UTF-8) read from one store listing before it is refused
    (``MODELSHELF_MAX_LIST_MIB``, in MiB)."""
    return _as_int("MODELSHELF_MAX_LIST_MIB", DEFAULT_MAX_LIST_MIB) * 2**20


def lock_timeout() -> float:
    """Seconds to wait on another process's download (``MODELSHELF_LOCK_TIMEOUT``)."""
    return float(_as_int("MODELSHELF_LOCK_TIMEOUT", int(DEFAULT_LOCK_TIMEOUT)))


def max_manifest_bytes(default: int) -> int:
    """The largest manifest read or written: ``MODELSHELF_MAX_MANIFEST_MIB`` MiB, else ``default``.

    For versions of far more than 100,000 files, whose manifests outgrow the default."""
    raw = os.environ.get("MODELSHELF_MAX_MANIFEST_MIB")
    if raw is None or not raw.strip():
        return default
    return _as_int("MODELSHELF_MAX_MANIFEST_MIB", 1) * 2**20


def registry_token() -> str | None:
    """The bearer token for ``http(s)://`` registry stores (``MODELSHELF_TOKEN``); a named
    store's ``token`` or ``token_file`` beats it. Never shown anywhere."""
    return os.environ.get("MODELSHELF_TOKEN", "").strip() or None


def serve_config() -> str | None:
    """What ``modelshelf serve`` passes to its workers, as JSON (``MODELSHELF_SERVE_CONFIG``)."""
    return os.environ.get("MODELSHELF_SERVE_CONFIG") or None


def registry_config() -> str | None:
    """What ``modelshelf registry serve`` passes to its workers, as JSON
    (``MODELSHELF_REGISTRY_CONFIG``)."""
    return os.environ.get("MODELSHELF_REGISTRY_CONFIG") or None


def registry_session_secret() -> str | None:
    """The key the registry's replicas sign the pages' sessions with
    (``MODELSHELF_REGISTRY_SESSION_SECRET``): the same on every replica behind one address."""
    return os.environ.get("MODELSHELF_REGISTRY_SESSION_SECRET") or None


def serve_body_timeout() -> float:
    """Seconds a request body may go without a byte, and the grace before its minimum rate
    applies (``MODELSHELF_SERVE_BODY_TIMEOUT``)."""
    return _as_positive_float("MODELSHELF_SERVE_BODY_TIMEOUT", DEFAULT_SERVE_BODY_TIMEOUT)


def serve_body_min_rate() -> float:
    """Bytes per second a request body must average once its grace has passed
    (``MODELSHELF_SERVE_BODY_MIN_RATE``)."""
    return _as_positive_float("MODELSHELF_SERVE_BODY_MIN_RATE", DEFAULT_SERVE_BODY_MIN_RATE)


def env(name: str) -> str | None:
    """Read a non-modelshelf variable (``AWS_*``, ``USER``) that the backends need."""
    value = os.environ.get(name)
    return value if value else None


def asset_overrides() -> dict[str, str]:
    """Local paths that replace assets in a ModelLibrary (``MODELSHELF_ASSET_OVERRIDES``).

    Grammar: ``entry ("," entry)*`` with ``entry := NAME "=" PATH``; whitespace around each part
    is ignored, empty entries are skipped, the first ``=`` splits an entry (so a path may hold
    ``=`` but no ``,``). ``NAME`` is an asset name without version (``nlp/sentiment``): every
    version, alias and sub path of that asset is served from ``PATH``.

    Raises:
        InvalidInputError: an entry without ``=``, an empty name or path, or a name given twice.
    """
    raw = os.environ.get("MODELSHELF_ASSET_OVERRIDES", "")
    overrides: dict[str, str] = {}
    for entry in raw.split(","):
        if not entry.strip():
            continue
        name, sep, path = entry.partition("=")
        name, path = name.strip(), path.strip()
        problem = ""
        if not sep or not name or not path:
            problem = "each entry must be NAME=PATH"
        elif name in overrides:
            problem = f"{name!r} is given twice"
        if problem:
            from modelshelf.errors import InvalidInputError

            raise InvalidInputError(
                f"MODELSHELF_ASSET_OVERRIDES entry {entry.strip()!r}: {problem}; e.g."
                " MODELSHELF_ASSET_OVERRIDES='nlp/sentiment=/path/to/folder,other/x=/p'"
            )
        overrides[name] = path
    return overrides
