"""Properties of the import-path rule (``modelshelf._imports``): whatever path a store or a user
names, the object handed back is a plain function or class defined by that very name, never a
standard-library callable reached through a module that imported it, never a dunder's target,
and (for a store's hook) never a modelshelf function."""

from __future__ import annotations

import builtins
import importlib
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf._imports import ImportRefusedError, import_object

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=400, deadline=None)
NO_CACHE = Path("/nonexistent/modelshelf-cache")

# Installed modules that import os, subprocess or sys, and hold classes and functions.
MODULES = [
    "modelshelf",
    "modelshelf.models.load",
    "modelshelf.shelf.source",
    "modelshelf.cache.cache",
    "modelshelf._imports",
    "tests.code_trust_fixtures",
    "tests.models_fixtures",
]
TRICKS = [
    "__globals__", "__builtins__", "__init__", "__class__", "__dict__", "__call__", "__func__",
    "__self__", "__wrapped__", "__subclasses__", "__mro__", "__base__", "__getattr__",
    "os", "system", "subprocess", "run", "Popen", "sys", "modules", "getoutput", "importlib",
    "import_module", "Holder", "launch", "alias", "EchoRunner", "public_hook", "predict",
    "_clear_way", "anything", "load_model", "shutil", "rmtree", "eval", "exec",
]  # fmt: skip
NAMES = sorted(
    {n for m in MODULES for n in vars(importlib.import_module(m)) if n.isidentifier()} | set(TRICKS)
)
WEAPONS = {
    id(x)
    for x in (
        os.system, os.popen, os.execv, subprocess.run, subprocess.Popen, subprocess.getoutput,
        subprocess.call, subprocess.check_output, builtins.eval, builtins.exec,
        builtins.__import__, __import__("shutil").rmtree,
    )
}  # fmt: skip

modules = st.sampled_from(MODULES)
# Half the parts from the tricks, so that walks such as os.system are tried often.
parts = st.one_of(st.sampled_from(TRICKS), st.sampled_from(NAMES))
qualnames = st.lists(parts, min_size=1, max_size=4).map(".".join)


def defined_by_its_name(found: object, module: str, qualname: str) -> None:
    assert isinstance(found, types.FunctionType | type)
    assert found.__module__ == module and found.__qualname__ == qualname
    assert id(found) not in WEAPONS
    assert found.__module__.split(".")[0] not in sys.stdlib_module_names


@SETTINGS
@given(module=modules, qualname=qualnames, from_store=st.booleans())
def test_what_a_path_reaches_is_defined_by_that_path(
    module: str, qualname: str, from_store: bool
) -> None:
    path = f"{module}:{qualname}"
    try:
        found = import_object(
            path,
            "runner",
            expect="a class",
            from_store=from_store,
            allowed=("tests",),
            cache_root=NO_CACHE,
        )
    except ImportRefusedError as exc:
        assert "\n" not in str(exc)
        return
    defined_by_its_name(found, module, qualname)
    assert "__" not in qualname


@SETTINGS
@given(
    module=st.sampled_from(["tests.code_trust_fixtures", "modelshelf.shelf.source", *MODULES]),
    qualname=st.lists(st.sampled_from(TRICKS), min_size=1, max_size=3).map(".".join),
)
def test_a_store_hook_is_never_modelshelf_private_or_a_weapon(module: str, qualname: str) -> None:
    try:
        found = import_object(
            f"{module}:{qualname}",
            "postprocess",
            expect="a function",
            from_store=True,
            allowed=("tests", "modelshelf"),
            runner_module="tests.code_trust_fixtures",
            cache_root=NO_CACHE,
        )
    except ImportRefusedError as exc:
        assert "\n" not in str(exc)
        return
    defined_by_its_name(found, module, qualname)
    assert not module.startswith("modelshelf")
    assert not any(part.startswith("_") for part in qualname.split("."))
