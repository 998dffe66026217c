"""One rule for import paths (issue 22): sinks, backends and recorded hooks all go through
:mod:`modelshelf._imports`, each caller keeping its own rule; these are the checks the merge
added to a caller."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest
from tests import sinks_fixtures

from modelshelf import _imports
from modelshelf.backends import open_backend
from modelshelf.backends.memory import MemoryBackend
from modelshelf.downloaders import sink_from
from modelshelf.errors import InvalidInputError, UnsupportedStoreError


def recorded(data: Any) -> Any:
    """A module-level function: recordable by its path."""
    return data


def test_a_sink_path_naming_a_dunder_is_refused() -> None:
    # Before the merge `RecordingSink.__call__` was looked up and used as a function sink.
    assert callable(sinks_fixtures.RecordingSink.__call__)
    with pytest.raises(InvalidInputError, match="names the dunder '__call__'"):
        sink_from("tests.sinks_fixtures:RecordingSink.__call__")


def test_a_backend_is_looked_up_without_running_module_getattr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []
    module = types.ModuleType("ms_lazy_backends")

    def lookup(name: str) -> type:
        asked.append(name)
        return MemoryBackend

    module.__getattr__ = lookup  # type: ignore[method-assign]
    monkeypatch.setitem(sys.modules, "ms_lazy_backends", module)
    with pytest.raises(UnsupportedStoreError, match="has no backend class 'Store'"):
        open_backend("ms_lazy_backends:Store")
    assert asked == []  # before the merge getattr ran the module's code and took its answer


def test_a_backend_from_the_standard_library_is_refused_before_importing() -> None:
    with pytest.raises(UnsupportedStoreError, match="standard library") as info:
        open_backend("os:PathLike")
    assert "\n" not in str(info.value)


def test_a_backend_re_exported_by_its_package_is_still_the_users_choice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = types.ModuleType("ms_reexported_backend")
    module.MemoryBackend = MemoryBackend  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ms_reexported_backend", module)
    backend = open_backend("ms_reexported_backend:MemoryBackend", name="reexported")
    assert isinstance(backend, MemoryBackend)


def test_a_store_named_path_still_refuses_a_re_export() -> None:
    with pytest.raises(_imports.ImportRefusedError, match="only re-exported") as info:
        _imports.import_object(
            "modelshelf.backends:open_backend", "runner", expect="a class", from_store=True
        )
    assert info.value.reason == "object"


def test_recordable_path_is_the_loading_rule_seen_from_the_writing_side() -> None:
    path = _imports.recordable_path(recorded, "preprocess_data", "a function")
    assert path == f"{__name__}:recorded"
    twin = types.FunctionType(recorded.__code__, globals(), "recorded")
    twin.__qualname__, twin.__module__ = "recorded", __name__
    with pytest.raises(_imports.ImportRefusedError, match="does not import back"):
        _imports.recordable_path(twin, "preprocess_data", "a function")


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("not a path", "syntax"),
        ("pkg:__init__", "syntax"),
        ("os:system", "stdlib"),
        ("zz_no_such_module_for_reason:X", "not installed"),
        ("tests.sinks_fixtures:Missing", "missing"),
        ("tests.sinks_fixtures:NOT_A_SINK", "object"),
    ],
)
def test_every_refusal_says_which_rule(path: str, reason: str) -> None:
    with pytest.raises(_imports.ImportRefusedError) as info:
        _imports.import_object(path, "the sink", expect="a class or function", from_store=False)
    assert info.value.reason == reason
