"""The public API is exactly what ``__all__`` says, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys
import types

import modelshelf


def test_all_matches_public_names() -> None:
    # Names load on first use (PEP 562): resolve them all, then nothing else may be public.
    for name in modelshelf.__all__:
        assert getattr(modelshelf, name) is not None
    public = {
        name
        for name, value in vars(modelshelf).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(modelshelf.__all__) == public | {"__version__"}
    assert modelshelf.__all__ == sorted(modelshelf.__all__, key=str)
    assert set(modelshelf.__all__) <= set(dir(modelshelf))


def test_unknown_name_is_an_attribute_error() -> None:
    assert not hasattr(modelshelf, "no_such_name")
    try:
        from modelshelf import no_such_name  # type: ignore[attr-defined]  # noqa: F401
    except ImportError as exc:
        assert "no_such_name" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("from modelshelf import no_such_name did not fail")


def test_mirror_is_the_function_even_after_its_module_loads() -> None:
    import modelshelf.mirror as loaded  # binds the submodule on the package, as imports do

    assert callable(loaded) and not isinstance(modelshelf.mirror, types.ModuleType)
    assert modelshelf.mirror is sys.modules["modelshelf.mirror.run"].mirror


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
