"""PyTorch: TorchScript by default, a state_dict as tensors, a pickled module with trust."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from modelshelf.errors import InvalidInputError, UntrustedStoreDataError
from modelshelf.models.engines._archive import check_archive
from modelshelf.models.engines._common import model_file, require_trust
from modelshelf.models.engines._reading import reading
from modelshelf.models.engines._torchscript import load_untrusted
from modelshelf.models.runner import Runner

__all__ = [
    "TorchPickleRunner",
    "TorchRunner",
    "load_file",
    "save_file",
    "script",
]


@contextmanager
def _jit_quiet() -> Iterator[None]:
    """Silence torch's deprecation warning for ``torch.jit`` (TorchScript), and only that.

    torch 2.13 deprecates TorchScript in favour of ``torch.export``; but ``torch.export.load``
    falls back to ``torch.load(weights_only=False)`` (pickle) for parts of a program, while
    ``torch.jit.load`` reads the module without unpickling Python classes. Until torch offers a
    pickle-free replacement, TorchScript stays the default; see docs/design-notes.md "Engines".
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"`torch\.jit\.\w+` is deprecated", DeprecationWarning)
        yield


def _save(model: Any, folder: Path, pickled: bool) -> dict[str, str]:
    import torch

    if pickled:
        return save_file(model, folder, "pickle")
    if isinstance(model, Mapping):
        return save_file(dict(model), folder, "state_dict")
    if not isinstance(model, torch.jit.ScriptModule):
        if not isinstance(model, torch.nn.Module):
            raise InvalidInputError(
                f"a torch model must be an nn.Module, a TorchScript module or a state_dict,"
                f" not {type(model).__name__}"
            )
        scripted, reason = script(model)
        if scripted is None:
            raise InvalidInputError(
                f"torch.jit.script could not compile {type(model).__name__} ({reason}); pass a"
                " traced module (torch.jit.trace(model, example)), its state_dict(), or"
                " fmt='pickle'"
            ).with_fix(" (loading it then needs {trust})")
        model = scripted
    return save_file(model, folder, "torchscript")


def script(module: Any) -> tuple[Any, str]:
    """``(torch.jit.script(module), "")``, or ``(None, why)`` when it cannot be compiled."""
    import torch

    if isinstance(module, torch.jit.ScriptModule):
        return module, ""
    try:
        with _jit_quiet():
            return torch.jit.script(module), ""
    except Exception as exc:  # torch raises many kinds: any of them means "not scriptable"
        return None, " ".join(str(exc).split())[:300]


def save_file(model: Any, folder: Path, fmt: str) -> dict[str, str]:
    """Write ``folder/model.pt`` as ``fmt`` and return its props: ``torchscript`` (a
    ScriptModule), ``state_dict`` (a mapping of tensors) or ``pickle`` (anything torch saves).

    The one torch writer: the runners and the default save of :mod:`modelshelf.models.saved`.
    """
    import torch

    name = "model" + TorchRunner.extension
    if fmt == "torchscript":
        with _jit_quiet():
            torch.jit.save(model, str(folder / name))
    else:
        torch.save(model, folder / name)
    return {"file": name, "format": fmt}


def _load(props: dict[str, str] | None, artifacts: dict[str, Path], trusted: bool) -> Any:
    path, fmt = model_file(props, artifacts)
    with reading(path.name, fmt):
        return load_file(path, fmt, trust=trusted)


def load_file(path: Path, fmt: str, *, trust: bool = False) -> Any:
    """Load a torch file: ``fmt`` is ``torchscript``, ``state_dict``, ``pickle`` (needs trust)
    or ``auto`` (a plain ``torch.save`` file of unknown content).

    TorchScript loads without trust only when its code is plain tensor math: operators that can
    reach files, processes or the network need trust (:mod:`._torchscript`).

    The one torch loader: the runners call it with the file their props name, and plain model
    files (:mod:`modelshelf.models.plain`) with the detected file. ``auto`` loads with
    ``weights_only=True`` (tensors and plain containers: a state_dict) and needs trust only
    when the file turns out to hold other objects (a pickled module). Without trust, a zip
    archive is bounded first (:mod:`._archive`: no compressed tensors, no inflation bomb).
    """
    if not trust and fmt in ("auto", "state_dict", "torchscript"):
        # torch inflates deflated entries (it never writes them): bounded before it reads;
        # check_archive itself tells a zip (as any reader would) from a legacy file
        check_archive(path, "torchscript" if fmt == "torchscript" else "torch")
    if fmt == "auto":
        import pickle

        import torch

        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            fmt = "pickle"  # torch's restricted unpickler refused a global: not weights only
    if fmt == "pickle":
        require_trust(trust, "a pickled torch module", path)
    import torch

    if fmt == "torchscript":
        with _jit_quiet():
            if trust:
                module = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
            else:  # its code may call operators that read files: only plain tensor math passes
                module = load_untrusted(path, torch)
        module.eval()
        return module
    if fmt == "state_dict":
        return torch.load(path, map_location="cpu", weights_only=True)
    if fmt == "pickle":
        module = torch.load(path, map_location="cpu", weights_only=False)
        module.eval()
        return module
    raise UntrustedStoreDataError(f"unknown torch format in the props: {fmt[:40]!r}")


class TorchRunner(Runner):
    """A torch module, stored as TorchScript (``torch.jit.save``) so that loading runs no pickle.

    ``predict`` runs the module under ``torch.no_grad()`` on ``data`` (a tensor, or anything
    ``torch.as_tensor`` takes, as float32). A state_dict (a mapping of tensors) is saved with
    ``torch.save`` and loaded with ``weights_only=True``: the model is then that mapping.
    """

    engine: ClassVar[str] = "torch"
    extension: ClassVar[str] = ".pt"

    @staticmethod
    def save_model(model: Any, folder: Path) -> dict[str, str]:
        """Write ``model.pt``: TorchScript of a module (scripted if needed), or a state_dict."""
        return _save(model, folder, pickled=False)

    @staticmethod
    def load_model(
        props: dict[str, str] | None, artifacts: dict[str, Path], *, trust: bool = False
    ) -> Any:
        """The module on the CPU in eval mode (or the state_dict); a pickle needs ``trust``."""
        return _load(props, artifacts, trust)

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        """``model(data)`` without gradients."""
        import torch

        if not isinstance(data, torch.Tensor):
            data = torch.as_tensor(data, dtype=torch.float32)
        with torch.no_grad():
            return model(data)


class TorchPickleRunner(TorchRunner):
    """:class:`TorchRunner` saving the whole module with ``torch.save`` (pickle): loading it
    needs ``trust=True`` and the module's class importable."""

    @staticmethod
    def save_model(model: Any, folder: Path) -> dict[str, str]:
        """Write ``model.pt`` with ``torch.save(model)``."""
        return _save(model, folder, pickled=True)
