"""The next steps an error names, in the words of each face: Python keywords or CLI flags.

An error keeps its fix as our own words with a ``{keyword}`` field per argument it names
(:attr:`modelshelf.errors.ModelshelfError.fix`); :func:`render_fix` fills those fields from
:data:`OPTIONS` for the face asked (``str()`` of an error: :data:`FOR_PYTHON`; the CLI's error
printer: :data:`FOR_CLI`). Bottom layer: no imports of modelshelf.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter

__all__ = ["FOR_CLI", "FOR_PYTHON", "OPTIONS", "render_fix"]


#: The arguments an error may name as the next step, as each face spells them: keyword ->
#: (the Python API's words, the command line's words). The one place that knows both: an error
#: keeps ``{keyword}`` in its ``fix``, ``str()`` shows the Python words and the CLI's error
#: printer the flag (``render(FOR_CLI)``). Words may hold a ``{value}`` given to
#: :meth:`~modelshelf.errors.ModelshelfError.with_fix`.
OPTIONS: dict[str, tuple[str, str]] = {
    "trust": ("trust=True", "--trust"),
    "anonymous": ("anonymous=True", "--anonymous"),
    "aliases": ("aliases=[...]", "-a ALIAS"),
    "overwrite": ("overwrite=True", "--overwrite"),
    "output": ("output=...", "-o DIR"),
    "major": ("major=True", "--major"),
    "exclude": ("exclude=[...]", "--exclude GLOB"),
    "include_git": ("include_git=True", "--include-git"),
    "store": ("store=URL", "--store URL"),
    "backend_options": ("backend_kwargs={{...}}", "--backend-opt KEY=VALUE"),
    "profile": ("profile=NAME", "--profile NAME"),
    "to": ("to=...", "--to WHERE"),
    "ca_file": ("ca_file=PATH", "--ca-file PATH"),
    "host": ("host=ADDRESS", "--host"),
    "port": ("port=N", "--port N"),
    "ignore_requirements": ("ignore_requirements=True", "--ignore-requirements"),
    "allowed_hook_packages": (
        "allowed_hook_packages=[{package!r}]",
        "--allow-hook-package {package}",
    ),
    # No flag takes a loader: the CLI names the Python call that does.
    "loader": (
        "loader='package.module:function'",
        "load_model(..., loader='package.module:function')",
    ),
}
FOR_PYTHON, FOR_CLI = 0, 1
"""Which words of :data:`OPTIONS` :meth:`~modelshelf.errors.ModelshelfError.render` uses."""


class _Fields(dict[str, str]):
    """Format values where a field nobody filled stays as written: an error must print even
    if its fix names a field it was not given (``str()`` never raises)."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render_fix(fix: str, values: Mapping[str, str], face: int) -> str:
    """``fix`` with each ``{keyword}`` of :data:`OPTIONS` in the words of ``face`` and every
    other field from ``values`` (inserted as they are, never parsed); a field nobody filled
    stays as written."""
    named = {field for _, field, _, _ in Formatter().parse(fix) if field}
    filled = _Fields(values)
    words = {key: OPTIONS[key][face].format_map(filled) for key in named & OPTIONS.keys()}
    return fix.format_map(_Fields({**values, **words}))
