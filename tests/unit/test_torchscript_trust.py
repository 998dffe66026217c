"""TorchScript from outside loads without trust only when its code is plain tensor math.

Each hostile model is real TorchScript (``torch.jit.script``, as a store's writer would make it)
whose code calls an operator that reaches the file system (``torch.from_file`` reads, and
``torch.save`` writes, any file the process may), from a different place: forward, a nested
submodule, a free function, a branch, a TorchScript class, a hook, an exported method never
called, and ``__setstate__`` (which ``torch.jit.load`` runs while loading). Loaded without trust,
each is refused before any of its code runs (no marker file is written), with a message naming
the operator and the way out; with trust it loads. Ordinary models (Linear, Conv, LSTM,
Transformer, a resnet-like net, what ``register_torch_model`` saves) still load without trust.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import pytest

from modelshelf import Shelf, load_model
from modelshelf.errors import ModelshelfError, TrustRequiredError
from modelshelf.models.engine_helpers import register_torch_model
from modelshelf.models.engines._torchscript import (
    DENIED_OPERATORS,
    REVIEWED_HARMLESS,
    io_operator_candidates,
)
from modelshelf.models.engines.torch import _jit_quiet, load_file

torch = pytest.importorskip("torch")
nn = torch.nn


def _save(module: Any, path: Path) -> Path:
    with _jit_quiet():
        torch.jit.save(torch.jit.script(module), str(path))
    return path


# --- hostile models: each calls an I/O operator from somewhere else --------------------------
# Each holds the path it reads or writes as an attribute (stored in the archive's data.pkl).


class PathHolder(nn.Module):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path


class ReadsInForward(PathHolder):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_file(self.path, False, 6, dtype=torch.uint8)


class WritesInForward(PathHolder):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch.save(x, self.path)
        return x


class Nested(nn.Module):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.ReLU(), ReadsInForward(path)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def leak(path: str) -> torch.Tensor:
    return torch.from_file(path, False, 6, dtype=torch.uint8)


class CallsFreeFunction(PathHolder):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return leak(self.path)


class ReadsInBranch(PathHolder):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(2):
            if bool(x.sum() > 1000.0):
                return torch.from_file(self.path, False, 6, dtype=torch.uint8)
        return x


class Reader:  # compiled as a TorchScript class when UsesClass is scripted
    def __init__(self, path: str) -> None:
        self.path = path

    def read(self) -> torch.Tensor:
        return torch.from_file(self.path, False, 6, dtype=torch.uint8)


class UsesClass(PathHolder):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return Reader(self.path).read()


class NeverCalled(PathHolder):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    @torch.jit.export
    def spare(self) -> None:
        torch.save(torch.zeros(1), self.path)


class Hooked(PathHolder):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def write_hook(module: Hooked, inputs: tuple[torch.Tensor]) -> None:
    torch.save(inputs[0], module.path)


def hooked(path: str) -> nn.Module:
    module = Hooked(path)
    module.register_forward_pre_hook(write_hook)
    return module


class WritesWhileLoading(PathHolder):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    @torch.jit.export
    def __getstate__(self) -> tuple[str, bool]:
        return (self.path, self.training)

    @torch.jit.export
    def __setstate__(self, state: tuple[str, bool]) -> None:
        self.path = state[0]
        self.training = state[1]
        torch.save(torch.zeros(1), self.path)


class OtherNamespace(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        handle = torch.ops.profiler._record_function_enter_new("x", None)
        torch.ops.profiler._record_function_exit(handle)
        return x


def hostile(kind: str, tmp_path: Path) -> tuple[Path, str]:
    """The archive, and the operator (or what) its refusal must name."""
    factory, names = KINDS[kind]
    target = tmp_path / ("marker" if names == "aten::save" or kind == "setstate" else "secret")
    (tmp_path / "secret").write_bytes(b"SECRET")
    module = factory(str(target)) if factory is not OtherNamespace else factory()
    path = _save(module, tmp_path / f"{kind}.pt")
    (tmp_path / "marker").unlink(missing_ok=True)  # saving the setstate module wrote it
    return path, names


KINDS: dict[str, tuple[Any, str]] = {
    "forward-reads": (ReadsInForward, "aten::from_file"),
    "forward-writes": (WritesInForward, "aten::save"),
    "nested-submodule": (Nested, "aten::from_file"),
    "free-function": (CallsFreeFunction, "aten::from_file"),
    "branch-in-loop": (ReadsInBranch, "aten::from_file"),
    "script-class": (UsesClass, "aten::from_file"),
    "exported-never-called": (NeverCalled, "aten::save"),
    "hook": (hooked, "aten::save"),
    "setstate": (WritesWhileLoading, "__setstate__"),
    "other-namespace": (OtherNamespace, "profiler::"),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_torchscript_calling_io_operators_needs_trust(kind: str, tmp_path: Path) -> None:
    path, names = hostile(kind, tmp_path)
    with pytest.raises(TrustRequiredError) as info:
        load_model(path).predict([[1.0, 2.0, 3.0]])
    message = str(info.value)
    assert names in message
    assert "trust=True" in message and "MODELSHELF_TRUST_PICKLE" in message
    assert "\n" not in message
    assert not (tmp_path / "marker").exists()  # nothing ran: not while loading either


def test_with_trust_the_same_torchscript_loads_as_torch_loads_it(tmp_path: Path) -> None:
    path, _ = hostile("forward-reads", tmp_path)
    out = load_model(path, trust=True).predict([[1.0, 2.0, 3.0]])
    assert bytes(out.tolist()) == b"SECRET"  # what trust means: the file is the user's choice


SPLITS = {
    "split": b"__torch__.torch\nclasses.quantized.LinearPackedParamsBase\n",
    "spaced": b"__torch__ torch\nclasses.quantized.LinearPackedParamsBase\n",
}


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch's deprecation of quantized tensors
@pytest.mark.parametrize("split", ["", *SPLITS])
def test_a_custom_class_needs_trust(split: str, tmp_path: Path) -> None:
    """A quantized module holds a torch custom class, whose C++ __setstate__ runs while loading.

    ``split``: the pickle names it as module ``__torch__.torch`` and name ``classes.quantized.X``,
    which torch's unpickler joins into the same name; ``spaced``: the module name holds a space,
    which pickletools prints as its own join. torch 2.13 itself refuses both (a class name may
    not hold a dot): the check does not rely on that.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.ao.quantization's own
        quantized = torch.ao.quantization.quantize_dynamic(
            nn.Sequential(nn.Linear(3, 2)), {nn.Linear}, dtype=torch.qint8
        )
    path = _save(quantized, tmp_path / "q.pt")
    if split:
        whole = b"__torch__.torch.classes.quantized\nLinearPackedParamsBase\n"
        data = path.read_bytes()
        assert data.count(whole) == 1  # stored uncompressed, same length: the zip stays valid
        path.write_bytes(data.replace(whole, SPLITS[split]))
    with pytest.raises(TrustRequiredError, match=r"torch\.classes"):
        load_file(path, "torchscript")
    if not split:
        assert load_file(path, "torchscript", trust=True)(torch.zeros(1, 3)).shape == (1, 2)


def test_a_setstate_that_ran_after_the_archive_check_is_still_refused(tmp_path: Path) -> None:
    """The file could change between the record check and the load: the compiled check sees it."""
    from modelshelf.models.engines._torchscript import check_compiled

    path, _ = hostile("setstate", tmp_path)
    unit = torch._C.CompilationUnit()
    with _jit_quiet():
        torch._C.import_ir_module(unit, str(path), torch.device("cpu"), {}, False)
    with pytest.raises(TrustRequiredError, match="__setstate__"):
        check_compiled(path, unit)


def test_the_io_operator_list_is_rederived_from_the_installed_torch() -> None:
    """A torch upgrade that adds an operator looking like I/O fails here until it is classified
    (DENIED_OPERATORS or REVIEWED_HARMLESS); a classified one that vanished is stale."""
    candidates = io_operator_candidates(torch._C._jit_get_all_schemas())
    unclassified = candidates - DENIED_OPERATORS - REVIEWED_HARMLESS
    assert not unclassified, f"classify these torch operators: {sorted(unclassified)}"
    assert not (DENIED_OPERATORS | REVIEWED_HARMLESS) - candidates
    assert {"aten::from_file", "aten::save", "prim::rpc_sync"} <= DENIED_OPERATORS


class Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))


def resnet_like(blocks: int, width: int = 8) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1),
        *[Block(width) for _ in range(blocks)],
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.1),
        nn.Linear(width, 10),
    )


class Recurrent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(4, 8, batch_first=True)
        self.gru = nn.GRU(8, 8, batch_first=True)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        out, _ = self.gru(out)
        return self.head(out[:, -1])


ORDINARY: dict[str, tuple[Any, list[int]]] = {
    "linear": (lambda: nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 2)), [2, 3]),
    "conv": (lambda: nn.Sequential(nn.Conv1d(3, 4, 3), nn.MaxPool1d(2), nn.Flatten()), [2, 3, 8]),
    "lstm": (Recurrent, [2, 5, 4]),
    "transformer": (
        lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2),
        [2, 5, 8],
    ),
    "resnet-like": (lambda: resnet_like(3), [1, 3, 8, 8]),
    "embedding-norm": (
        lambda: nn.Sequential(nn.LayerNorm(3), nn.Softmax(dim=-1), nn.Upsample(scale_factor=2)),
        [1, 2, 3],
    ),
}


@pytest.mark.filterwarnings("ignore")  # the tracer warns about Python control flow
@pytest.mark.parametrize("name", sorted(ORDINARY))
@pytest.mark.parametrize("how", ["scripted", "traced"])
def test_ordinary_torchscript_loads_without_trust(name: str, how: str, tmp_path: Path) -> None:
    factory, shape = ORDINARY[name]
    torch.manual_seed(0)
    module = factory().eval()
    example = torch.randn(*shape)
    with _jit_quiet():
        compiled = (
            torch.jit.script(module)
            if how == "scripted"
            else torch.jit.trace(module, example, check_trace=False)
        )
        torch.jit.save(compiled, str(tmp_path / "model.pt"))
    loaded = load_model(tmp_path / "model.pt")
    assert loaded.section["engine"] == "detected:torchscript"
    with torch.no_grad():
        assert torch.allclose(loaded.predict(example), module(example), atol=1e-5)


def test_register_torch_model_loads_back_without_trust_from_a_store(tmp_path: Path) -> None:
    url = (tmp_path / "store").as_uri()
    module = Recurrent().eval()
    register_torch_model("m", module, store=Shelf(url, cache_dir=tmp_path / "w"))
    loaded = load_model("m", store=Shelf(url, cache_dir=tmp_path / "r"))
    example = torch.randn(2, 5, 4)
    with torch.no_grad():
        assert torch.allclose(loaded.predict(example), module(example), atol=1e-6)


def test_a_hostile_registered_torch_model_from_a_store_needs_trust(tmp_path: Path) -> None:
    """The engine runner's loader (what register_torch_model's manifest names) checks too."""
    path, _ = hostile("forward-reads", tmp_path)
    url = (tmp_path / "store").as_uri()
    with _jit_quiet():
        scripted = torch.jit.load(str(path))
    register_torch_model("m", scripted, store=Shelf(url, cache_dir=tmp_path / "w"))
    reader = Shelf(url, cache_dir=tmp_path / "r")
    with pytest.raises(TrustRequiredError, match="aten::from_file") as info:
        load_model("m", store=reader)
    assert str(info.value).startswith(f"m:1.0 in {url}: model.pt is TorchScript that calls")
    assert str(tmp_path / "r") not in str(info.value)  # the file, not where the cache is
    out = load_model("m", store=reader, trust=True).predict([[0.0]])
    assert bytes(out.tolist()) == b"SECRET"


def test_a_damaged_archive_is_still_a_modelshelf_error(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with _jit_quiet():
        torch.jit.save(torch.jit.script(nn.Linear(2, 2)), buffer)
    data = buffer.getvalue()
    (tmp_path / "model.pt").write_bytes(data[: len(data) // 2] + data[-2000:])
    with pytest.raises(ModelshelfError):
        load_model(tmp_path / "model.pt")


def test_serve_refuses_torchscript_reading_files_unless_trusted(tmp_path: Path) -> None:
    """What ``modelshelf serve`` + ``POST /predict`` handed back before: the reader's file."""
    from starlette.testclient import TestClient

    from modelshelf.serve import create_app

    path, _ = hostile("forward-reads", tmp_path)
    url = (tmp_path / "store").as_uri()
    with _jit_quiet():
        scripted = torch.jit.load(str(path))
    register_torch_model("svc", scripted, store=Shelf(url, cache_dir=tmp_path / "w"))
    with pytest.raises(TrustRequiredError, match="aten::from_file"):
        create_app("svc", store=url, load="now")
    with TestClient(create_app("svc", store=url, load="now", trust=True)) as client:
        assert bytes(client.post("/predict", content=b"[[0.0]]").json()) == b"SECRET"
