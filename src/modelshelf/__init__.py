"""modelshelf: named, versioned, immutable model artifacts in any object store.

Push a folder as ``nlp/sentiment:1.0``, pull exactly those bytes anywhere into a verified,
content-addressed cache, and move aliases such as ``@production`` with compare-and-swap.

Example:
    >>> import modelshelf
    >>> shelf = modelshelf.Shelf("memory://readme")
    >>> # manifest = shelf.push("./model", "nlp/sentiment")    # -> nlp/sentiment:1.0
    >>> # path = shelf.pull("nlp/sentiment:1")                  # latest 1.x, verified
"""

from modelshelf._gc import GcReport
from modelshelf._housekeeping import BlobFault, VerifyReport
from modelshelf._source import PushSource
from modelshelf.backends import Backend, ObjectMeta, open_backend, register_backend
from modelshelf.cache import Cache
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
    ObjectExistsError,
    ObjectNotFoundError,
    OfflineError,
    PathNotInVersionError,
    RequirementsError,
    SourcePathError,
    StoreAuthError,
    StoreError,
    StoreUnavailableError,
    StoreUnreachableError,
    TrustRequiredError,
    UnsupportedStoreError,
    UntrustedStoreDataError,
    VersionExistsError,
    VersionNotFoundError,
    VersionRemovedError,
)
from modelshelf.manifest import FileEntry, Manifest
from modelshelf.mirror import MirrorItem, MirrorResult, mirror
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
from modelshelf.resolve import Resolved
from modelshelf.shelf import Shelf, pull, push
from modelshelf.sinks import (
    Downloader,
    FileSystemDownloader,
    PulledVersion,
    StoreDownloader,
    export,
)
from modelshelf.spec import AssetSpec, Version, parse_spec
from modelshelf.store import AliasRecord, Removal, Store

__version__ = "0.1.0"

__all__ = [
    "AliasConflictError",
    "AliasNotFoundError",
    "AliasRecord",
    "AssetNotFoundError",
    "AssetSpec",
    "Backend",
    "BlobFault",
    "Cache",
    "CacheWriteError",
    "ConfigError",
    "Downloader",
    "ExportError",
    "FileEntry",
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
    "ObjectExistsError",
    "ObjectMeta",
    "ObjectNotFoundError",
    "OfflineError",
    "OnnxRunner",
    "PathNotInVersionError",
    "PickleRunner",
    "PulledVersion",
    "PushSource",
    "Removal",
    "RequirementsError",
    "Resolved",
    "Runner",
    "Shelf",
    "SklearnJoblibRunner",
    "SklearnRunner",
    "SourcePathError",
    "Store",
    "StoreAuthError",
    "StoreDownloader",
    "StoreError",
    "StoreUnavailableError",
    "StoreUnreachableError",
    "TorchPickleRunner",
    "TorchRunner",
    "TrustRequiredError",
    "UnsupportedStoreError",
    "UntrustedStoreDataError",
    "VerifyReport",
    "Version",
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
