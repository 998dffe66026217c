"""scikit-learn: skops by default (loads only types skops trusts), joblib on request (trust)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from modelshelf import trust as trust_text
from modelshelf.errors import TrustRequiredError, UntrustedStoreDataError
from modelshelf.models.engines._archive import check_archive
from modelshelf.models.engines._common import model_file, require_trust
from modelshelf.models.engines._reading import reading
from modelshelf.models.runner import Runner

__all__ = ["FORMATS", "SklearnJoblibRunner", "SklearnRunner", "load_file"]

FORMATS = ("skops", "joblib")
_SHOWN_TYPES = 5  # untrusted type names a refusal quotes


def _save(model: Any, folder: Path, fmt: str) -> dict[str, str]:
    name = f"model.{fmt}"
    if fmt == "skops":
        import skops.io

        skops.io.dump(model, folder / name)
    else:
        import joblib

        joblib.dump(model, folder / name)
    return {"file": name, "format": fmt}


def _load(props: dict[str, str] | None, artifacts: dict[str, Path], trusted: bool) -> Any:
    path, fmt = model_file(props, artifacts)
    with reading(path.name, fmt):
        return load_file(path, fmt, trust=trusted)


def load_file(path: Path, fmt: str, *, trust: bool = False) -> Any:
    """Load a ``skops`` or ``joblib`` file; joblib and untrusted skops types need ``trust``.

    The one scikit-learn loader: the runners call it with the file their props name, and plain
    model files (:mod:`modelshelf.models.plain`) with the detected file. Without trust, a skops
    archive is bounded before skops inflates it (:mod:`._archive`).
    """
    if fmt == "joblib":
        require_trust(trust, "a joblib file (pickle)", path)
        import joblib

        return joblib.load(path)
    if fmt != "skops":
        raise UntrustedStoreDataError(f"unknown scikit-learn format in the props: {fmt[:40]!r}")
    import skops.io

    if not trust:  # skops inflates every entry: a deflated bomb is refused before
        check_archive(path, "skops")
    untrusted = list(skops.io.get_untrusted_types(file=path))
    if untrusted and not trust:
        # The names come from the file: each escaped and cut, and only a few of them.
        shown = ", ".join(trust_text.show(name, 100) for name in untrusted[:_SHOWN_TYPES])
        more = len(untrusted) - _SHOWN_TYPES
        shown += f" and {more} more" if more > 0 else ""
        raise TrustRequiredError(
            f"{path.name} holds types skops does not trust ({shown}); loading them can run"
            " their code. Load it only from a store you trust"
        ).with_fix(", with {trust} or MODELSHELF_TRUST_PICKLE=1")
    return skops.io.load(path, trusted=untrusted or None)


class SklearnRunner(Runner):
    """A scikit-learn estimator saved with skops; ``predict`` calls ``model.predict(data)``.

    Loading checks ``skops.io.get_untrusted_types`` first: a file with types skops does not
    trust needs ``trust=True``. It also loads a joblib file (``props["format"]``), with trust.
    """

    engine: ClassVar[str] = "sklearn"
    extension: ClassVar[str] = ".skops"

    @staticmethod
    def save_model(model: Any, folder: Path) -> dict[str, str]:
        """Write ``model.skops``."""
        return _save(model, folder, "skops")

    @staticmethod
    def load_model(
        props: dict[str, str] | None, artifacts: dict[str, Path], *, trust: bool = False
    ) -> Any:
        """Load the saved estimator; untrusted skops types and joblib need ``trust``."""
        return _load(props, artifacts, trust)

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        """``model.predict(data)``."""
        return model.predict(data)


class SklearnJoblibRunner(SklearnRunner):
    """:class:`SklearnRunner` saving with joblib (pickle): loading it needs ``trust=True``."""

    extension: ClassVar[str] = ".joblib"

    @staticmethod
    def save_model(model: Any, folder: Path) -> dict[str, str]:
        """Write ``model.joblib``."""
        return _save(model, folder, "joblib")
