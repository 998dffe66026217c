"""Every error modelshelf raises, in one tree.

Each leaf also inherits the builtin it is closest to, so ``except FileNotFoundError`` keeps
working for callers who do not know modelshelf. Messages say what failed, on which input, and
what to do next; the same facts are kept as attributes for programs.

```
ModelshelfError
├── InvalidSpecError            (ValueError)          bad spec or version text
├── InvalidManifestError        (ValueError)          a manifest that does not parse or validate
│   └── UntrustedStoreDataError                       a record or key from a store failed trust.py
├── InvalidInputError           (ValueError)          bad argument: empty folder, bad --meta, ...
│   ├── SourcePathError         (FileNotFoundError)   a path to push or repair from is missing
│   └── ConfigError                                   the config file: syntax, key, type, name
├── AssetNotFoundError          (LookupError)         no such asset in the store
│   ├── VersionNotFoundError                          no version matches the spec
│   ├── AliasNotFoundError                            no such alias on the asset
│   ├── PathNotInVersionError   (FileNotFoundError)   a sub path the version does not hold
│   └── ModelAssetsMissingError                       a ModelLibrary's assets, all missing ones
├── VersionExistsError          (FileExistsError)     a push to a version that exists
│   └── VersionRemovedError                           ... or that was removed (never reused)
├── AliasConflictError                                another writer moved the alias first
├── NotesConflictError                                another writer changed the notes first
├── IntegrityError                                    content whose sha256 is not the expected one
├── OfflineError                                      offline and not in the cache
├── CacheWriteError             (OSError)             the cache cannot be written: a full disk
├── NotAModelError              (ValueError)          load_model of a version with no runner
├── UnknownModelFormatError     (ValueError)          no (or more than one) model file detected
├── RequirementsError           (ImportError)         a model's requirements are not met here
├── ExportError                                       a downloader (sink) refused or failed
└── StoreError                                        the backend seam
    ├── StoreUnreachableError   (ConnectionError)     network down, server not running
    │   └── StoreUnavailableError                     server answers 5xx even after retries
    ├── StoreAuthError          (PermissionError)     missing or refused credentials
    ├── UnsupportedStoreError   (ValueError)          unknown URL scheme, missing extra
    ├── ObjectNotFoundError     (FileNotFoundError)   a key that is not there
    ├── StoreNotFoundError      (FileNotFoundError)   a read of a store that does not exist
    └── ObjectExistsError       (FileExistsError)     a create-only write to a key that exists
```
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Self

from modelshelf._fixes import FOR_CLI, FOR_PYTHON, OPTIONS, render_fix
from modelshelf._secrets import without_secrets

__all__ = [
    "FOR_CLI",
    "FOR_PYTHON",
    "OPTIONS",
    "AliasConflictError",
    "AliasNotFoundError",
    "AssetNotFoundError",
    "CacheWriteError",
    "ConfigError",
    "ExportError",
    "IntegrityError",
    "InvalidInputError",
    "InvalidManifestError",
    "InvalidSpecError",
    "ModelAssetsMissingError",
    "ModelshelfError",
    "NotAModelError",
    "NotesConflictError",
    "ObjectExistsError",
    "ObjectNotFoundError",
    "OfflineError",
    "PathNotInVersionError",
    "RequirementsError",
    "ServeAddressError",
    "ServeError",
    "SourcePathError",
    "StoreAuthError",
    "StoreError",
    "StoreNotFoundError",
    "StoreUnavailableError",
    "StoreUnreachableError",
    "UnknownModelFormatError",
    "UnsupportedStoreError",
    "UntrustedStoreDataError",
    "UserFolderRefusedError",
    "VersionExistsError",
    "VersionNotFoundError",
    "VersionRemovedError",
]


class ModelshelfError(Exception):
    """Base class of every error raised by modelshelf.

    Its text never shows a secret: whatever a message quotes (a URL with its password, a
    ``sig=`` parameter, a backend's own error text) is cut by
    :func:`modelshelf._secrets.without_secrets` here, the one place every error passes through.

    Attributes:
        fix: the next step when it is an argument, appended to the message: our own words
            with a ``{keyword}`` field per argument (a key of :data:`OPTIONS`), never outside
            text, which goes in the message or in :attr:`fix_values`. Empty when the message
            says it all.
        fix_values: the values of the other fields of :attr:`fix` and of the words it names
            (``package`` for ``allowed_hook_packages``); inserted as they are, never parsed.
    """

    fix: str = ""
    fix_values: Mapping[str, str] = MappingProxyType({})

    def with_fix(self, fix: str, **values: str) -> Self:
        """Append the next step ``fix`` (see :attr:`fix`), e.g.
        ``TrustRequiredError("x.pkl runs code").with_fix("; pass {trust}")``; returns self."""
        self.fix, self.fix_values = fix, dict(values)  # a dict: the error still pickles
        return self

    def fix_from(self, other: ModelshelfError) -> Self:
        """Carry ``other``'s fix over to this error, which says ``other``'s message again."""
        return self.with_fix(other.fix, **other.fix_values)

    def render(self, face: int = FOR_PYTHON) -> str:
        """The message with its fix in the words of ``face`` (:data:`FOR_PYTHON` or
        :data:`FOR_CLI`), secrets cut."""
        text = super().__str__()
        if self.fix:
            text += render_fix(self.fix, self.fix_values, face)
        return without_secrets(text)

    def __str__(self) -> str:
        return self.render(FOR_PYTHON)


class InvalidSpecError(ModelshelfError, ValueError):
    """A spec (``name[:version|@alias][/sub/path]``) or version string is malformed.

    Attributes:
        text: the input as given.
        position: the 0-based column where parsing failed, or ``None``.
        reason: what was wrong, without the input echoed.
    """

    def __init__(self, text: str, reason: str, position: int | None = None) -> None:
        self.text = text
        self.reason = reason
        self.position = position
        message = f"invalid spec {text!r}: {reason}"
        if position is not None and text.isprintable() and len(text) <= 200:
            # Point at the column, as packaging does: easier to spot than a number.
            message += f"\n    {text}\n    {' ' * position}^"
        message += (
            "\n  A spec is NAME[:VERSION|@ALIAS][/SUB/PATH], e.g. nlp/sentiment:1.3/vocab.txt;"
            " names are lower-case segments of [a-z0-9._-] separated by '/'."
        )
        super().__init__(message)


class InvalidManifestError(ModelshelfError, ValueError):
    """A manifest in the store is not valid JSON of the expected shape."""


class UntrustedStoreDataError(InvalidManifestError):
    """Something a store sent (manifest, alias record, audit record, key) failed the trust checks.

    Raised by :mod:`modelshelf.store.bucket` for records, and by :func:`modelshelf.trust.inside` for
    a path that would leave its root. The message is one line and never echoes the raw input.

    Attributes:
        store: the store URL, when known.
        key: the key of the record, when known.
    """

    def __init__(self, message: str, *, store: str = "", key: str = "") -> None:
        self.store = store
        self.key = key
        super().__init__(message)


class InvalidInputError(ModelshelfError, ValueError):
    """An argument is not usable: an empty folder, a malformed ``key=value``, and so on."""


class ExportError(ModelshelfError):
    """A downloader (sink) of ``export`` refused the version or failed; nothing half written.

    Attributes:
        sink: the sink, as ``module:Class`` or its repr, when known.
    """

    def __init__(self, message: str, *, sink: str = "") -> None:
        super().__init__(message)
        self.sink = sink


class ServeError(ModelshelfError):
    """``modelshelf serve`` could not start serving (before or while uvicorn started)."""


class ServeAddressError(ServeError, InvalidInputError):
    """The server cannot listen where it was told: a port in use or reserved, a host not here."""


class ConfigError(InvalidInputError):
    """The config file (named stores) is malformed, or names a store it does not declare.

    Attributes:
        path: the config file.
        line: the 1-based line of the offending key, when known.
        key: the dotted key (``stores.prod.url``), when known.
    """

    def __init__(self, message: str, *, path: str = "", line: int | None = None, key: str = ""):
        super().__init__(message)
        self.path, self.line, self.key = path, line, key


class SourcePathError(InvalidInputError, FileNotFoundError):
    """A local path given to push (or to repair from) is missing or cannot be read.

    Attributes:
        path: the local path.
        reason: why, for people.
        verb: what could not be done with it (``"push"``, ``"repair from"``).
    """

    def __init__(self, path: object, reason: str, verb: str = "push") -> None:
        self.path = path
        self.reason = reason
        self.verb = verb
        super().__init__(f"cannot {verb} {str(path)!r}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:  # its arguments are not its message: pickle them
        return type(self), (self.path, self.reason, self.verb), self.__dict__


class AssetNotFoundError(ModelshelfError, LookupError):
    """No asset of that name exists in the store.

    Attributes:
        name: the asset name.
        store: the store URL.
    """

    def __init__(self, message: str, *, name: str = "", store: str = "") -> None:
        self.name = name
        self.store = store
        super().__init__(message)


class VersionNotFoundError(AssetNotFoundError):
    """The asset exists but no version matches the requested one."""


class AliasNotFoundError(AssetNotFoundError):
    """The asset has no alias of that name."""


class PathNotInVersionError(AssetNotFoundError, FileNotFoundError):
    """A ``/sub/path`` names no file or folder in the version."""


class ModelAssetsMissingError(AssetNotFoundError):
    """Assets declared by a :class:`~modelshelf.ModelLibrary` are missing, listed all at once.

    Raised at start-up (or at the first ``get`` with ``lazy_loading=True``) before any model is
    instantiated, naming every configuration whose asset, version, alias, sub path or local
    override cannot be found, so that one fix-and-retry cycle is enough.

    Attributes:
        missing: configuration name -> why its asset is missing (one line each).
        store: the library's store URL, when it was asked.
    """

    def __init__(self, missing: dict[str, str], *, store: str = "") -> None:
        self.missing = dict(missing)
        lines = "\n".join(f"  - {name}: {why}" for name, why in sorted(self.missing.items()))
        super().__init__(
            f"{len(self.missing)} model asset(s) missing, no model was started:\n{lines}\n"
            "  Push the missing assets (`modelshelf push`), fix the specs in CONFIGURATIONS,"
            " or point MODELSHELF_ASSET_OVERRIDES at local folders.",
            store=store,
        )


class VersionExistsError(ModelshelfError, FileExistsError):
    """A push targeted a version that already exists; versions never change once written.

    Attributes:
        name: the asset name.
        version: the version that exists.
        store: the store URL.
    """

    def __init__(self, name: str, version: str, store: str, hint: str | None = None) -> None:
        self.name = name
        self.version = version
        self.store = store
        super().__init__(
            f"{name}:{version} already exists in {store}; versions never change once written."
            + (
                f" {hint}"
                if hint
                else " Push without a version to get the next one, or choose another version."
            )
        )


class VersionRemovedError(VersionExistsError):
    """A push targeted a version that was removed: removed numbers are never reused.

    Attributes:
        removal: who removed it, when and why, as one phrase.
    """

    def __init__(self, name: str, version: str, store: str, removal: str) -> None:
        self.name = name
        self.version = version
        self.store = store
        self.removal = removal
        ModelshelfError.__init__(
            self,
            f"{name}:{version} was {removal} from {store}; version numbers are never reused."
            " Push without a version to get the next one, or choose another version.",
        )


class AliasConflictError(ModelshelfError):
    """Another writer moved the alias between our read and our write; retry."""


class NotesConflictError(ModelshelfError):
    """Another writer changed the notes (labels, description) of an asset or a version between
    our read and our write; read them again and retry.

    Attributes:
        name: the asset.
        version: the version whose notes these are (``""``: the asset's own).
        current: the number of the notes' newest record now (``0``: never written).
        expected: the number the write expected to be newest.
    """

    def __init__(
        self,
        message: str,
        *,
        name: str = "",
        version: str = "",
        current: int = 0,
        expected: int = 0,
    ) -> None:
        self.name = name
        self.version = version
        self.current = current
        self.expected = expected
        super().__init__(message)


class IntegrityError(ModelshelfError):
    """Content did not hash to the sha256 its manifest records.

    Attributes:
        path: the file (within the asset) or key that failed.
        expected: the sha256 the manifest records.
        actual: the sha256 of the bytes received.
    """

    def __init__(self, path: str, expected: str, actual: str, where: str = "") -> None:
        self.path = path
        self.expected = expected
        self.actual = actual
        place = f" from {where}" if where else ""
        super().__init__(
            f"integrity check failed for {path!r}{place}: expected sha256 {expected},"
            f" got {actual}. Nothing was placed in the cache. The copy in the store is damaged:"
            f" `modelshelf repair SPEC --from DIR` uploads it again from the original file."
        )


class OfflineError(ModelshelfError):
    """The store cannot be asked (offline or unreachable) and the cache cannot answer."""


class CacheWriteError(ModelshelfError, OSError):
    """The local cache could not be written: a full disk, a read-only folder, no permission.

    Nothing partial is left under a final name when this is raised.

    Attributes:
        path: what was being written (a file of the asset, or a cache record).
        folder: the cache folder written to.
        errno: the operating system's error number (``errno.ENOSPC`` for a full disk).
    """

    def __init__(self, path: str, folder: str, cause: OSError) -> None:
        self.path = path
        self.folder = folder
        reason = cause.strerror or str(cause)
        super().__init__(
            f"cannot write {path!r} into the cache at {folder}: {reason}. Nothing partial was"
            " kept. Free space there (`modelshelf cache prune`) or point MODELSHELF_CACHE_DIR"
            " at a larger disk, then pull again."
        )
        self.errno = cause.errno  # not ``strerror``: OSError would then print only that


class StoreError(ModelshelfError):
    """A failure talking to the store (the backend seam)."""


class StoreUnreachableError(StoreError, ConnectionError):
    """The store did not answer: the server is down, the address is wrong, or no network."""


class StoreUnavailableError(StoreUnreachableError):
    """The store answered, but with server errors (5xx) even after retries: it is restarting,
    overloaded or broken. Treated like an unreachable store: resolution falls back to the cache."""


class StoreAuthError(StoreError, PermissionError):
    """The store refused our credentials, or none were found."""


class UnsupportedStoreError(StoreError, ValueError):
    """The store URL's scheme is unknown, or its optional dependency is not installed."""


class ObjectNotFoundError(StoreError, FileNotFoundError):
    """A key is not in the store."""


class StoreNotFoundError(StoreError, FileNotFoundError):
    """The store itself does not exist: a ``file://`` folder that is absent (or not a folder).

    Raised by reads; a write (push, copy or export to the store) creates the folder instead.
    Not an :class:`ObjectNotFoundError`: a missing store is never read as a missing version.

    Attributes:
        store: the store URL.
    """

    def __init__(self, message: str, *, store: str = "") -> None:
        self.store = store
        super().__init__(message)


class ObjectExistsError(StoreError, FileExistsError):
    """A create-only write found the key already there."""


class NotAModelError(ModelshelfError, ValueError):
    """The version has no ``model`` section: it was pushed, not registered with a runner."""


class UnknownModelFormatError(ModelshelfError, ValueError):
    """Detection found no model file it recognises, or several where one was expected.

    Raised by :func:`modelshelf.models.detect.detect_format`. The message names every candidate
    file with why it was rejected (or that it matched), and the formats that were tried.

    Attributes:
        path: the file or folder given.
        candidates: candidate file -> what detection said about it (one phrase each).
        tried: the engine names detection knows, in the order it tries them.
        reason: the one-line summary at the head of the message.
    """

    def __init__(
        self,
        path: str,
        reason: str,
        *,
        candidates: dict[str, str] | None = None,
        tried: tuple[str, ...] = (),
        hint: str = "",
    ) -> None:
        self.path = path
        self.reason = reason
        self.candidates = dict(candidates or {})
        self.tried = tuple(tried)
        lines = "".join(f"\n  - {name}: {why}" for name, why in sorted(self.candidates.items()))
        formats = f"\n  Formats tried: {', '.join(self.tried)}." if self.tried else ""
        next_step = hint or (
            "Give the model file itself, or register the model with a runner"
            " (modelshelf.register_model) for a format that is not detected."
        )
        super().__init__(f"{path}: {reason}{lines}{formats}\n  {next_step}")


class RequirementsError(ModelshelfError, ImportError):
    """Recorded requirements are missing from, or mismatched in, the running environment."""


class TrustRequiredError(ModelshelfError, PermissionError):
    """A model format that runs code when loaded (pickle, joblib, untrusted skops types) was
    refused because the caller did not pass ``trust=True`` (or set MODELSHELF_TRUST_PICKLE=1)."""


class UserFolderRefusedError(InvalidInputError):
    """A write into a user's folder (``pull -o``, ``export --to``, ``mirror``) would replace or
    delete something that is not the same content without ``--overwrite``, or go through a
    symbolic link; nothing was written."""
