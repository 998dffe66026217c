"""modelshelf: named, versioned, immutable model artifacts in any object store.

Push a folder as ``nlp/sentiment:1.0``, pull exactly those bytes anywhere into a verified,
content-addressed cache, and move aliases such as ``@production`` with compare-and-swap.

Example:
    >>> import modelshelf
    >>> shelf = modelshelf.Shelf("memory://readme")
    >>> # manifest = shelf.push("./model", "nlp/sentiment")    # -> nlp/sentiment:1.0
    >>> # path = shelf.pull("nlp/sentiment:1")                  # latest 1.x, verified
"""

import importlib
import sys
import types

from modelshelf._version import __version__
from modelshelf.errors import (
    AliasConflictError,
    AliasNotFoundError,
    AssetNotFoundError,
    CacheWriteError,
    ConfigError,
    ExportError,
    IntegrityError,
    InvalidInputError,
    InvalidManifestError,
    InvalidSpecError,
    ModelAssetsMissingError,
    ModelshelfError,
    NotAModelError,
    NotesConflictError,
    ObjectExistsError,
    ObjectNotFoundError,
    OfflineError,
    PathNotInVersionError,
    RequirementsError,
    SourcePathError,
    StoreAuthError,
    StoreError,
    StoreNotFoundError,
    StoreUnavailableError,
    StoreUnreachableError,
    TrustRequiredError,
    UnsupportedStoreError,
    UntrustedStoreDataError,
    UserFolderRefusedError,
    VersionExistsError,
    VersionNotFoundError,
    VersionRemovedError,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~10 ms); mypy knows it
if TYPE_CHECKING:
    from modelshelf.backends import Backend, ObjectMeta, open_backend, register_backend
    from modelshelf.cache.cache import Cache
    from modelshelf.downloaders import (
        Downloader,
        FileSystemDownloader,
        PulledVersion,
        StoreDownloader,
        export,
    )
    from modelshelf.manifest import FileEntry, Manifest
    from modelshelf.mirror.plan import MirrorItem
    from modelshelf.mirror.result import MirrorResult
    from modelshelf.mirror.run import mirror
    from modelshelf.models import (
        LoadedModel,
        Model,
        ModelLibrary,
        OnnxRunner,
        PickleRunner,
        Runner,
        SklearnJoblibRunner,
        SklearnRunner,
        TorchPickleRunner,
        TorchRunner,
        load_model,
        register_model,
        register_onnx_model,
        register_pickle_model,
        register_sklearn_model,
        register_torch_model,
    )
    from modelshelf.shelf.diff import FileChange, FileMove, FileSide, SectionDiff, VersionDiff
    from modelshelf.shelf.housekeeping import BlobFault, VerifyReport
    from modelshelf.shelf.push import PushReport
    from modelshelf.shelf.repair import BlobRepair, RepairReport
    from modelshelf.shelf.resolve import Resolved
    from modelshelf.shelf.shelf import Shelf, pull, push
    from modelshelf.shelf.source import PushSource
    from modelshelf.spec import AssetSpec, Version, parse_spec
    from modelshelf.store.bucket import AliasRecord, Removal, Store
    from modelshelf.store.gc import GcReport
    from modelshelf.store.notes import Notes

__all__ = [
    "AliasConflictError",
    "AliasNotFoundError",
    "AliasRecord",
    "AssetNotFoundError",
    "AssetSpec",
    "Backend",
    "BlobFault",
    "BlobRepair",
    "Cache",
    "CacheWriteError",
    "ConfigError",
    "Downloader",
    "ExportError",
    "FileChange",
    "FileEntry",
    "FileMove",
    "FileSide",
    "FileSystemDownloader",
    "GcReport",
    "IntegrityError",
    "InvalidInputError",
    "InvalidManifestError",
    "InvalidSpecError",
    "LoadedModel",
    "Manifest",
    "MirrorItem",
    "MirrorResult",
    "Model",
    "ModelAssetsMissingError",
    "ModelLibrary",
    "ModelshelfError",
    "NotAModelError",
    "Notes",
    "NotesConflictError",
    "ObjectExistsError",
    "ObjectMeta",
    "ObjectNotFoundError",
    "OfflineError",
    "OnnxRunner",
    "PathNotInVersionError",
    "PickleRunner",
    "PulledVersion",
    "PushReport",
    "PushSource",
    "Removal",
    "RepairReport",
    "RequirementsError",
    "Resolved",
    "Runner",
    "SectionDiff",
    "Shelf",
    "SklearnJoblibRunner",
    "SklearnRunner",
    "SourcePathError",
    "Store",
    "StoreAuthError",
    "StoreDownloader",
    "StoreError",
    "StoreNotFoundError",
    "StoreUnavailableError",
    "StoreUnreachableError",
    "TorchPickleRunner",
    "TorchRunner",
    "TrustRequiredError",
    "UnsupportedStoreError",
    "UntrustedStoreDataError",
    "UserFolderRefusedError",
    "VerifyReport",
    "Version",
    "VersionDiff",
    "VersionExistsError",
    "VersionNotFoundError",
    "VersionRemovedError",
    "__version__",
    "export",
    "load_model",
    "mirror",
    "open_backend",
    "parse_spec",
    "pull",
    "push",
    "register_backend",
    "register_model",
    "register_onnx_model",
    "register_pickle_model",
    "register_sklearn_model",
    "register_torch_model",
]


# Every other public name is imported on first use (PEP 562), so ``import modelshelf`` stays
# light: the store backends (obstore), the CLI (click, rich), file locks and the models load
# only when something needs them.
_LAZY: dict[str, str] = {
    **dict.fromkeys(("GcReport",), "modelshelf.store.gc"),
    **dict.fromkeys(("Notes",), "modelshelf.store.notes"),
    **dict.fromkeys(
        ("FileChange", "FileMove", "FileSide", "SectionDiff", "VersionDiff"),
        "modelshelf.shelf.diff",
    ),
    **dict.fromkeys(("BlobFault", "VerifyReport"), "modelshelf.shelf.housekeeping"),
    **dict.fromkeys(("PushReport",), "modelshelf.shelf.push"),
    **dict.fromkeys(("BlobRepair", "RepairReport"), "modelshelf.shelf.repair"),
    **dict.fromkeys(("PushSource",), "modelshelf.shelf.source"),
    **dict.fromkeys(
        ("Backend", "ObjectMeta", "open_backend", "register_backend"), "modelshelf.backends"
    ),
    **dict.fromkeys(("Cache",), "modelshelf.cache.cache"),
    **dict.fromkeys(("FileEntry", "Manifest"), "modelshelf.manifest"),
    **dict.fromkeys(("MirrorItem",), "modelshelf.mirror.plan"),
    **dict.fromkeys(("MirrorResult",), "modelshelf.mirror.result"),
    **dict.fromkeys(("mirror",), "modelshelf.mirror.run"),
    **dict.fromkeys(
        (
            "LoadedModel",
            "Model",
            "ModelLibrary",
            "OnnxRunner",
            "PickleRunner",
            "Runner",
            "SklearnJoblibRunner",
            "SklearnRunner",
            "TorchPickleRunner",
            "TorchRunner",
            "load_model",
            "register_model",
            "register_onnx_model",
            "register_pickle_model",
            "register_sklearn_model",
            "register_torch_model",
        ),
        "modelshelf.models",
    ),
    **dict.fromkeys(("Resolved",), "modelshelf.shelf.resolve"),
    **dict.fromkeys(("Shelf", "pull", "push"), "modelshelf.shelf.shelf"),
    **dict.fromkeys(
        ("Downloader", "FileSystemDownloader", "PulledVersion", "StoreDownloader", "export"),
        "modelshelf.downloaders",
    ),
    **dict.fromkeys(("AssetSpec", "Version", "parse_spec"), "modelshelf.spec"),
    **dict.fromkeys(("AliasRecord", "Removal", "Store"), "modelshelf.store.bucket"),
}


if not TYPE_CHECKING:  # hidden from type checkers: a misspelt name stays a type error

    def __getattr__(name: str) -> object:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'modelshelf' has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # later lookups are plain attribute reads
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """The package module: a public function wins over the submodule of the same name.

    The import system binds each submodule on its package when it loads; ``modelshelf.mirror``
    names the function (as eager imports made it), not the module ``modelshelf.mirror``.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
del TYPE_CHECKING
