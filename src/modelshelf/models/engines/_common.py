"""What the engine modules share: the default hook, trust checks, the one-file layout, and an
engine's requirement.

No engine library is imported here, and nothing above the engines (registration is
:mod:`modelshelf.models.engine_helpers`'s).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelshelf import trust
from modelshelf.errors import TrustRequiredError, UntrustedStoreDataError

__all__ = [
    "engine_requirement",
    "identity",
    "model_file",
    "require_trust",
]


def identity(data: Any) -> Any:
    """The default pre/postprocess function: gives ``data`` back as it is."""
    return data


def require_trust(trusted: bool, what: str, path: Path) -> None:
    """Raise :class:`TrustRequiredError` unless ``trusted``: ``what`` runs code when loaded."""
    if not trusted:
        raise TrustRequiredError(
            f"{path.name} is {what}, a format that runs code when it is loaded, so it could do"
            " anything a program can; load it only from a store you trust"
        ).with_fix(", with {trust} or MODELSHELF_TRUST_PICKLE=1")


def model_file(props: dict[str, str] | None, artifacts: dict[str, Path]) -> tuple[Path, str]:
    """The saved file (``props["file"]`` under ``artifacts["model"]``) and its format.

    Raises:
        UntrustedStoreDataError: the props do not name a plain file name and a format.
    """
    props = props or {}
    name, fmt = props.get("file"), props.get("format")
    if not isinstance(name, str) or not isinstance(fmt, str):
        raise UntrustedStoreDataError("the model props do not name a file and a format")
    try:
        trust.check_relative_path(name)
    except ValueError as exc:
        raise UntrustedStoreDataError(f"the model file name is refused: {exc}") from None
    if "/" in name:
        raise UntrustedStoreDataError(f"the model file {trust.show(name)} is not a plain name")
    return trust.inside(artifacts["model"], name), fmt


def engine_requirement(distribution: str) -> str:
    """``dist==installed version`` (without a local label such as ``+cpu``), or the bare name
    when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.version import InvalidVersion, Version

    try:
        found = version(distribution)
    except PackageNotFoundError:
        return distribution
    try:
        return f"{distribution}=={Version(found).public}"
    except InvalidVersion:
        return distribution
