"""The public API is exactly what ``__all__`` says, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys
import types

import modelshelf


def test_all_matches_public_names() -> None:
    public = {
        name
        for name, value in vars(modelshelf).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(modelshelf.__all__) == public | {"__version__"}
    assert modelshelf.__all__ == sorted(modelshelf.__all__, key=str)


def test_py_typed_is_shipped() -> None:
    assert modelshelf.__file__ is not None
    assert (type(modelshelf.__spec__.origin) is str) and modelshelf.__spec__.origin.endswith(
        "__init__.py"
    )
    from pathlib import Path

    assert (Path(modelshelf.__file__).parent / "py.typed").is_file()


def test_import_does_not_load_rich_or_cli() -> None:
    code = "import sys, modelshelf; print(any(m.startswith('rich') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
