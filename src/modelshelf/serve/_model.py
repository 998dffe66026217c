"""What a server serves: its options, the model source, and loading one version of it.

A source is a registry spec (``team/svc@production``: loaded through :func:`load_model`, and
followed when it does not pin one exact version), a local model file or folder, or a model
object already in memory with its runner.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelshelf import trust
from modelshelf.errors import InvalidInputError
from modelshelf.models.load import LoadedModel, load_model, loaded_signature
from modelshelf.models.plain import CustomLoaderRunner, is_local_path, local_path
from modelshelf.models.register import StoreArg, shelf_of
from modelshelf.models.runner import Runner, check_runner
from modelshelf.serve._slot import ServedVersion
from modelshelf.spec import parse_spec

__all__ = ["ModelSource", "ServeOptions", "served_from"]

MiB = 1024 * 1024


@dataclass(frozen=True)
class ServeOptions:
    """Limits and behaviour of a server.

    Attributes:
        max_batch_size: rows merged into one call of the runner; 1 turns batching off.
        max_batch_delay_ms: how long the first request of a batch waits for more.
        max_queue: requests queued or running before new ones get 429.
        max_body_bytes: the largest request body (413 above it).
        timeout: seconds a request may wait for its prediction (504 after).
        poll_interval: seconds between checks of a followed alias; 0 checks only when asked.
        threads: batches that run at once, each in its own thread.
    """

    max_batch_size: int = 1
    max_batch_delay_ms: float = 0.0
    max_queue: int = 256
    max_body_bytes: int = 64 * MiB
    timeout: float = 60.0
    poll_interval: float = 30.0
    threads: int = 2

    def __post_init__(self) -> None:
        whole = {
            "max_batch_size": self.max_batch_size,
            "max_queue": self.max_queue,
            "max_body_bytes": self.max_body_bytes,
            "threads": self.threads,
        }
        for key, value in whole.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"{key} must be a whole number >= 1, not {value!r}")
        timed = {
            "max_batch_delay_ms": (self.max_batch_delay_ms, 0.0),
            "timeout": (self.timeout, 1e-3),
            "poll_interval": (self.poll_interval, 0.0),
        }
        for key, (number, least) in timed.items():
            if (
                isinstance(number, bool)
                or not isinstance(number, int | float)
                or not math.isfinite(number)
                or number < least
            ):
                raise InvalidInputError(f"{key} must be a number >= {least}, not {number!r}")


def served_from(loaded: LoadedModel, version: str) -> ServedVersion:
    """A :class:`ServedVersion` running ``loaded`` through its runner (and recorded hooks)."""
    runner = loaded.runner
    return ServedVersion(
        version=version,
        model=loaded.model,
        preprocess=loaded.preprocess or runner.preprocess_data,
        predict_fn=runner.predict,
        postprocess=loaded.postprocess or runner.postprocess_data,
        metadata=loaded.metadata,
        signature=loaded.signature,
    )


class ModelSource:
    """Where the served model comes from, and how to load a version of it.

    Build one with :meth:`from_spec` or :meth:`from_object`.

    Attributes:
        name: the model's name on the Open Inference Protocol face.
        asset: the asset name, or ``None`` for a local path or an object.
        spec: the spec or path as given, or ``None`` for an object.
        store: the store URL, or ``None``.
    """

    def __init__(
        self,
        name: str,
        load_version: Callable[[str | None], ServedVersion],
        *,
        asset: str | None = None,
        spec: str | None = None,
        store: str | None = None,
        resolve: Callable[[], str] | None = None,
    ) -> None:
        self.name = name
        self.asset = asset
        self.spec = spec
        self.store = store
        self.load_version = load_version
        self.resolve = resolve  # set for registry specs
        self.requested: str | None = None  # the version the spec names, if it names one

    def follows(self, version: str) -> bool:
        """Whether the spec can move away from ``version`` (an alias, latest, a partial one)."""
        return self.resolve is not None and self.requested != version

    @classmethod
    def from_spec(
        cls,
        spec: str | os.PathLike[str],
        *,
        store: StoreArg = None,
        name: str | None = None,
        trust: bool = False,
        ignore_requirements: bool = False,
        runner_cls: type[Runner] | None = None,
        allowed_hook_packages: Iterable[str] | None = None,
    ) -> ModelSource:
        """A registry spec (``team/svc@production``) or a local model file or folder.

        With ``runner_cls`` the files are loaded and run by that runner instead of the recorded
        one (or detection): see ``load_model(..., runner=...)``.
        """
        options: dict[str, Any] = {
            "trust": trust,
            "ignore_requirements": ignore_requirements,
            "runner": None if runner_cls is None else check_runner(runner_cls),
            "allowed_hook_packages": list(allowed_hook_packages or []),
        }
        if is_local_path(spec):
            path = local_path(spec)
            served_name = _check_name(name or _name_of_path(path))

            def load_local(version: str | None) -> ServedVersion:
                return served_from(load_model(path, progress=False, **options), "local")

            return cls(served_name, load_local, spec=str(path))
        text = os.fspath(spec)
        parsed = parse_spec(text)
        if parsed.path is not None:
            raise InvalidInputError(
                f"serve takes a model version, not a file inside one ({text}); drop the"
                f" '/{parsed.path}'"
            )
        shelf = shelf_of(store)

        def load_registered(version: str | None) -> ServedVersion:
            pinned = text if version is None else f"{parsed.name}:{version}"
            loaded = load_model(pinned, store=shelf, progress=False, **options)
            assert loaded.manifest is not None  # a registry spec always has one
            return served_from(loaded, loaded.manifest.version)

        def resolve() -> str:
            return shelf.resolve(parsed).version

        source = cls(
            _check_name(name or parsed.name.rsplit("/", 1)[-1]),
            load_registered,
            asset=parsed.name,
            spec=text,
            store=shelf.url,
            resolve=resolve,
        )
        source.requested = None if parsed.version is None else str(parsed.version)
        return source

    @classmethod
    def from_object(
        cls,
        model: Any,
        runner_cls: type[Runner] | None = None,
        *,
        name: str | None = None,
        version: str = "memory",
    ) -> ModelSource:
        """A model already in memory; without a runner, ``model.predict(data)`` answers."""
        if runner_cls is None:
            if not callable(getattr(model, "predict", None)):
                raise InvalidInputError(
                    f"the model {trust.show(model)} has no predict method; pass runner_cls="
                    " a modelshelf.Runner subclass that knows how to run it"
                )
            runner: type[Runner] = CustomLoaderRunner
        else:
            runner = check_runner(runner_cls)
        if model is None and runner_cls is not None:
            model = runner.load_model(None, {})

        def load_object(_version: str | None) -> ServedVersion:
            return ServedVersion(
                version=version,
                model=model,
                preprocess=runner.preprocess_data,
                predict_fn=runner.predict,
                postprocess=runner.postprocess_data,
                metadata={"runner": f"{runner.__module__}:{runner.__qualname__}"}
                | {"engine": runner.engine},
                signature=loaded_signature(None, runner, model, hooked=False),
            )

        return cls(_check_name(name or "model"), load_object)


def _name_of_path(path: Path) -> str:
    stem = path.name.split(".", 1)[0] if path.is_file() else path.name
    return stem.lower() or "model"


def _check_name(name: str) -> str:
    if not name or len(name) > 128 or not all(c.isalnum() or c in "._-" for c in name):
        raise InvalidInputError(
            f"the model name {trust.show(name)} is not usable in a URL; give --name with"
            " letters, digits, '.', '_' or '-'"
        )
    return name
