"""Model and ModelLibrary: assets pulled (concurrently, bounded) before models start, or lazily."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest

import modelshelf
from modelshelf import InvalidInputError, Model, ModelAssetsMissingError, ModelLibrary, Shelf
from modelshelf.shelf.shelf import Shelf as _Shelf

STORE = "memory://lib"

events: list[str] = []


def _push(tmp_path: Path, spec: str, files: dict[str, bytes]) -> None:
    folder = tmp_path / "src" / spec.replace("/", "_").replace(":", "_")
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    Shelf(STORE, cache_dir=tmp_path / "pusher").push(folder, spec)


class Echo(Model):
    CONFIGURATIONS: ClassVar[dict[str, dict[str, Any]]] = {
        "echo_a": {"asset": "test/a:1"},
        "echo_b": {"asset": "test/b:1", "prefix": "B:"},
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        events.append(f"init {args[0] if args else kwargs.get('configuration')}")
        super().__init__(*args, **kwargs)

    def _load(self) -> None:
        assert self.asset_path is not None
        self.text = (self.asset_path / "w.txt").read_text()

    def _predict(self, item: Any) -> Any:
        return f"{self.model_settings.get('prefix', '')}{self.text}:{item}"


class Plain(Model):
    CONFIGURATIONS: ClassVar[dict[str, dict[str, Any]]] = {"plain": {}}

    def _predict(self, item: Any) -> Any:
        return item * 2

    def _predict_batch(self, items: list[Any]) -> list[Any]:
        return [sum(items)] * len(items)


@pytest.fixture(autouse=True)
def _clear_events() -> None:
    events.clear()


@pytest.fixture
def assets(tmp_path: Path) -> Path:
    _push(tmp_path, "test/a", {"w.txt": b"alpha"})
    _push(tmp_path, "test/b", {"w.txt": b"beta"})
    return tmp_path


def test_eager_library_pulls_every_asset_before_any_model_starts(
    assets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = _Shelf.pull_resolved

    def recording(self: _Shelf, resolved: Any, **kw: Any) -> Path:
        events.append(f"pull {resolved.manifest.name}")
        return real(self, resolved, **kw)

    monkeypatch.setattr(_Shelf, "pull_resolved", recording)
    lib = ModelLibrary([Echo, Plain], store=STORE, cache_dir=assets / "c")
    pulls = [e for e in events if e.startswith("pull")]
    inits = [e for e in events if e.startswith("init")]
    assert sorted(pulls) == ["pull test/a", "pull test/b"]
    assert sorted(inits) == ["init echo_a", "init echo_b"]
    assert max(events.index(p) for p in pulls) < min(events.index(i) for i in inits)
    assert lib.get("echo_a").predict(1) == "alpha:1"
    assert lib.get("echo_b").predict_batch([1, 2]) == ["B:beta:1", "B:beta:2"]
    assert set(lib.models) == {"echo_a", "echo_b", "plain"}  # all loaded already


def test_pulls_run_concurrently_and_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"test/m{i}" for i in range(6)]
    for name in names:
        _push(tmp_path, name, {"w.txt": name.encode()})

    class Many(Model):
        CONFIGURATIONS: ClassVar[dict[str, dict[str, Any]]] = {
            n.replace("/", "_"): {"asset": f"{n}:1"} for n in names
        }

        def _predict(self, item: Any) -> Any:
            return item

    monkeypatch.setenv("MODELSHELF_MAX_CONCURRENCY", "2")
    lock = threading.Lock()
    in_flight, peak = [0], [0]
    first_two = threading.Barrier(2, timeout=10)  # passes only if two pulls overlap
    calls = [0]
    overflow = threading.Event()  # set by a third pull in flight: an unbounded pool
    real = _Shelf.pull_resolved

    def watched(self: _Shelf, resolved: Any, **kw: Any) -> Path:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
            if in_flight[0] > 2:
                overflow.set()
            calls[0] += 1
            wait = calls[0] <= 2
        try:
            if wait:
                first_two.wait()
                # Hold both slots: an unbounded pool starts a third pull meanwhile (and ends
                # the hold at once); a pool of two cannot, and the hold times out.
                overflow.wait(0.5)
            return real(self, resolved, **kw)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(_Shelf, "pull_resolved", watched)
    lib = ModelLibrary([Many], store=STORE, cache_dir=tmp_path / "c")
    assert calls[0] == 6
    assert peak[0] == 2
    assert len(lib.models) == 6


def test_lazy_loading_defers_pulls_until_get(assets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pulled: list[str] = []
    real = _Shelf.pull_resolved

    def recording(self: _Shelf, resolved: Any, **kw: Any) -> Path:
        pulled.append(resolved.manifest.name)
        return real(self, resolved, **kw)

    monkeypatch.setattr(_Shelf, "pull_resolved", recording)
    lib = ModelLibrary([Echo], store=STORE, cache_dir=assets / "c", lazy_loading=True)
    assert pulled == [] and events == [] and dict(lib.models) == {}
    assert "echo_a" in lib and list(lib) == ["echo_a", "echo_b"] and len(lib) == 2
    assert lib.get("echo_b").predict("x") == "B:beta:x"
    assert pulled == ["test/b"] and events == ["init echo_b"]
    assert set(lib.models) == {"echo_b"}


def test_concurrent_get_loads_once(assets: Path) -> None:
    loads: list[int] = []
    entered: list[int] = []
    second_entry = threading.Event()  # a second _load at once: the library did not lock
    start = threading.Barrier(5, timeout=10)  # four getters and this thread

    class Slow(Model):
        CONFIGURATIONS: ClassVar[dict[str, dict[str, Any]]] = {"slow": {"asset": "test/a:1"}}

        def _load(self) -> None:
            entered.append(1)
            if len(entered) > 1:
                second_entry.set()
            second_entry.wait(0.5)  # without a lock the other getters arrive here meanwhile
            loads.append(1)

        def _predict(self, item: Any) -> Any:
            return item

    lib = ModelLibrary([Slow], store=STORE, cache_dir=assets / "c", lazy_loading=True)
    got: list[Model] = []

    def getter() -> None:
        start.wait()
        got.append(lib.get("slow"))

    threads = [threading.Thread(target=getter) for _ in range(4)]
    for t in threads:
        t.start()
    start.wait()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)
    assert loads == [1]
    assert len(got) == 4 and all(m is got[0] for m in got)


def test_every_missing_asset_is_listed_in_one_error(assets: Path) -> None:
    class Broken(Model):
        CONFIGURATIONS: ClassVar[dict[str, dict[str, Any]]] = {
            "ok": {"asset": "test/a:1"},
            "no_asset": {"asset": "test/nothing"},
            "no_version": {"asset": "test/a:7"},
            "no_alias": {"asset": "test/b@production"},
            "no_path": {"asset": "test/a:1/missing.txt"},
        }

        def _predict(self, item: Any) -> Any:
            return item

    with pytest.raises(ModelAssetsMissingError) as info:
        ModelLibrary([Broken], store=STORE, cache_dir=assets / "c")
    assert set(info.value.missing) == {"no_asset", "no_version", "no_alias", "no_path"}
    message = str(info.value)
    for name in ("test/nothing", "test/a:7", "test/b@production", "missing.txt"):
        assert name in message
    assert isinstance(info.value, modelshelf.AssetNotFoundError)
    assert info.value.store == STORE


def test_missing_asset_in_lazy_mode_fails_on_get(assets: Path) -> None:
    class Lazy(Model):
        CONFIGURATIONS: ClassVar[dict[str, dict[str, Any]]] = {"gone": {"asset": "test/gone:1"}}

        def _predict(self, item: Any) -> Any:
            return item

    lib = ModelLibrary([Lazy], store=STORE, cache_dir=assets / "c", lazy_loading=True)
    with pytest.raises(ModelAssetsMissingError, match="test/gone"):
        lib.get("gone")


def test_override_env_var_points_an_asset_at_a_local_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    local = tmp_path / "dev-a"
    local.mkdir()
    (local / "w.txt").write_text("local")
    (tmp_path / "dev-b").mkdir()
    (tmp_path / "dev-b" / "w.txt").write_text("other")
    monkeypatch.setenv(
        "MODELSHELF_ASSET_OVERRIDES", f" test/a = {local} ,test/b={tmp_path / 'dev-b'},"
    )
    with caplog.at_level("WARNING", logger="modelshelf"):
        lib = ModelLibrary([Echo], store=STORE, cache_dir=tmp_path / "c")  # store is empty
    assert lib.get("echo_a").predict(1) == "local:1"
    assert lib.get("echo_b").predict(1) == "B:other:1"
    assert "MODELSHELF_ASSET_OVERRIDES" in caplog.text and str(local) in caplog.text


def test_override_to_a_missing_folder_is_listed_as_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSHELF_ASSET_OVERRIDES", f"test/a={tmp_path / 'nope'}")
    with pytest.raises(ModelAssetsMissingError) as info:
        ModelLibrary([Echo], store=STORE, cache_dir=tmp_path / "c")
    assert set(info.value.missing) == {"echo_a", "echo_b"}
    assert "nope" in info.value.missing["echo_a"]


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("test/a", "NAME=PATH"),
        ("=/x", "NAME=PATH"),
        ("test/a=", "NAME=PATH"),
        ("a=/x,a=/y", "twice"),
    ],
)
def test_bad_override_variable_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raw: str, error: str
) -> None:
    monkeypatch.setenv("MODELSHELF_ASSET_OVERRIDES", raw)
    with pytest.raises(InvalidInputError, match=error):
        ModelLibrary([Plain], store=STORE, cache_dir=tmp_path / "c")


def test_sub_path_spec_gives_the_file(tmp_path: Path) -> None:
    _push(tmp_path, "test/tree", {"vocab/words.txt": b"hello", "other.bin": b"x"})

    class One(Model):
        CONFIGURATIONS: ClassVar[dict[str, dict[str, Any]]] = {
            "vocab": {"asset": "test/tree:1/vocab/words.txt"}
        }

        def _load(self) -> None:
            assert self.asset_path is not None and self.asset_path.is_file()
            self.words = self.asset_path.read_text()

        def _predict(self, item: Any) -> Any:
            return self.words

    assert ModelLibrary([One], store=STORE, cache_dir=tmp_path / "c").get("vocab").predict(0) == (
        "hello"
    )


def test_predict_and_predict_batch_and_a_model_without_asset() -> None:
    lib = ModelLibrary([Plain])
    model = lib.get("plain")
    assert model.asset_path is None and model.model_settings == {}
    assert model.predict(3) == 6
    assert model.predict_batch([1, 2, 3]) == [6, 6, 6]


def test_a_model_used_before_load_loads_itself() -> None:
    loads: list[int] = []

    class Counted(Model):
        CONFIGURATIONS: ClassVar[dict[str, dict[str, Any]]] = {"counted": {}}

        def _load(self) -> None:
            loads.append(1)

        def _predict(self, item: Any) -> Any:
            return item

    model = Counted("counted")
    assert model.predict_batch([1]) == [1] and model.predict(2) == 2
    assert loads == [1]


def test_predict_must_be_implemented() -> None:
    class Empty(Model):
        CONFIGURATIONS: ClassVar[dict[str, dict[str, Any]]] = {"empty": {}}

    with pytest.raises(NotImplementedError, match="_predict"):
        Empty("empty").predict(1)


def test_unknown_name_lists_the_known_ones() -> None:
    lib = ModelLibrary([Plain])
    with pytest.raises(KeyError, match="plain"):
        lib.get("nope")


def test_duplicate_configuration_names_are_refused() -> None:
    class Twin(Model):
        CONFIGURATIONS: ClassVar[dict[str, dict[str, Any]]] = {"plain": {}}

        def _predict(self, item: Any) -> Any:
            return item

    with pytest.raises(InvalidInputError, match=r"'plain'.*Plain and Twin"):
        ModelLibrary([Plain, Twin])


def test_required_models_restricts_what_is_pulled_and_loaded(assets: Path) -> None:
    lib = ModelLibrary(
        [Echo, Plain], store=STORE, cache_dir=assets / "c", required_models=["plain"]
    )
    assert list(lib) == ["plain"] and events == []
    with pytest.raises(KeyError):
        lib.get("echo_a")
    with pytest.raises(InvalidInputError, match="echo_a"):
        ModelLibrary([Echo], required_models=["nope"])


def test_offline_uses_the_cache_like_pull(assets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ModelLibrary([Echo], store=STORE, cache_dir=assets / "c")
    monkeypatch.setenv("MODELSHELF_OFFLINE", "1")
    lib = ModelLibrary([Echo], store=STORE, cache_dir=assets / "c")
    assert lib.get("echo_a").predict(0) == "alpha:0"


def test_override_of_an_invalid_asset_name_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSHELF_ASSET_OVERRIDES", f"Test/A={tmp_path}")  # never matches
    with pytest.raises(modelshelf.InvalidSpecError, match="Test/A"):
        ModelLibrary([Plain])


@pytest.mark.parametrize("lazy", [False, True])
def test_malformed_asset_specs_fail_at_construction_even_when_lazy(lazy: bool) -> None:
    class Bad(Model):
        CONFIGURATIONS: ClassVar[dict[str, dict[str, Any]]] = {"bad": {"asset": "Not A Spec"}}

    class Typed(Model):
        CONFIGURATIONS: ClassVar[dict[str, dict[str, Any]]] = {"typed": {"asset": 3}}

    with pytest.raises(modelshelf.InvalidSpecError, match="Not A Spec"):
        ModelLibrary([Bad], lazy_loading=lazy)
    with pytest.raises(InvalidInputError, match=r"'typed'.*spec string"):
        ModelLibrary([Typed], lazy_loading=lazy)
