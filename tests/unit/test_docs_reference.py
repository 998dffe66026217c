"""The docs site's API reference (issue 22): every public name once, where it is defined.

mkdocstrings reads the source statically (griffe), and ``modelshelf`` exports its names lazily
through ``__getattr__``, which a static reader does not follow; so the pages of ``docs/`` name
each object by the module that defines it (``::: modelshelf.shelf.facade.Shelf``). ``make docs``
(``mkdocs build --strict``) fails on a path that names nothing; this test fails on a public name
left out of the reference, shown twice, or shown through a module that only re-exports it.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import modelshelf

DOCS = Path(__file__).resolve().parents[2] / "docs"
DIRECTIVE = re.compile(r"^::: ([\w.]+)[ \t]*$", re.MULTILINE)


def resolve(path: str) -> object:
    """The object a ``::: path`` directive names: the longest importable module, then attributes."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            found = getattr(found, attr)
        return found
    raise LookupError(path)


def directives() -> list[tuple[str, str]]:
    """Each ``(page, path)`` of the reference, in page order."""
    return [
        (page.name, path)
        for page in sorted(DOCS.glob("*.md"))
        for path in DIRECTIVE.findall(page.read_text(encoding="utf-8"))
    ]


def defined_at(name: str) -> str:
    """Where the public name ``name`` is defined, as a dotted path."""
    value = getattr(modelshelf, name)
    if not hasattr(value, "__qualname__"):  # a plain value (__version__): named as users name it
        return f"modelshelf.{name}"
    return f"{value.__module__}.{value.__qualname__}"


def test_every_public_name_appears_once_in_the_reference_where_it_is_defined() -> None:
    found = directives()
    assert found, "no ::: directives in docs/*.md"
    public = {name: defined_at(name) for name in modelshelf.__all__}
    by_path = {path: [page for page, p in found if p == path] for _, path in found}
    missing = {name: path for name, path in public.items() if path not in by_path}
    twice = {path: pages for path, pages in by_path.items() if len(pages) > 1}
    assert not missing, f"public names not in the reference: {missing}"
    assert not twice, f"shown more than once: {twice}"
    # ... and no public object through a second name (a re-export shows as a copy).
    objects = {id(getattr(modelshelf, name)): path for name, path in public.items()}
    for page, path in found:
        expected = objects.get(id(resolve(path)), path)
        assert path == expected, f"{page}: {path} is {expected}; name the defining module"


def test_every_directive_names_something() -> None:
    # make docs says so too, but only after building every page.
    broken = []
    for page, path in directives():
        try:
            resolve(path)
        except (LookupError, AttributeError) as exc:
            broken.append(f"{page}: {path} ({exc})")
    assert not broken


def test_every_public_object_has_its_own_docstring() -> None:
    # The reference shows a docstring-less object as a bare heading; a class would not even
    # inherit one there (griffe reads each class's own).
    bare = []
    for name in modelshelf.__all__:
        value = getattr(modelshelf, name)
        if isinstance(value, str):  # __version__: documented in the source, read by griffe
            continue
        doc = vars(value).get("__doc__") if isinstance(value, type) else value.__doc__
        if not (doc or "").strip():
            bare.append(name)
    assert not bare, f"public names without a docstring: {bare}"
