"""A griffe extension for the docs site (mkdocs.yml): read modelshelf's docstrings as written.

The docstrings are Google style with two habits of Napoleon's dialect that griffe reads
otherwise, so the API reference would show them raw:

- Sphinx roles (``:class:`PushSource```, ``:meth:`~Shelf.push```) become code spans (``PushSource``,
  ``push``): they name code, not pages, and most name private modules the site does not render.
- A section titled ``Example:`` (Napoleon's singular) is read as ``Examples:``, so that its
  ``>>>`` lines become a code block instead of a paragraph.
- ``**options: Unpack[SomeTypedDict]`` is shown as the keyword-only parameters it stands for, as
  Python's typing reads it, so that the ``Args:`` that document them match the signature
  (griffe's own ``unpack_typeddict`` extension parses the docstring before it expands the
  signature, and warns about every such argument).

Nothing is changed in the source; only the text griffe parses.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|data|mod|exc|obj):`(~?)([^`]+)`")
_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


def _code(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def plain(text: str) -> str:
    """The docstring ``text`` with Sphinx roles as code spans and ``Example:`` as ``Examples:``."""
    return _EXAMPLE.sub(r"\1Examples:", _ROLE.sub(_code, text))


_UNPACK = {"typing.Unpack", "typing_extensions.Unpack"}
_OPTIONAL = {"typing.NotRequired", "typing_extensions.NotRequired"}
_REQUIRED = {"typing.Required", "typing_extensions.Required"}


def _keywords(typed_dict: griffe.Class) -> list[griffe.Parameter]:
    """The keyword-only parameters a ``TypedDict`` class stands for after ``**``."""
    total = str(typed_dict.keywords.get("total", "True")) != "False"
    parameters = []
    for attr in typed_dict.attributes.values():
        annotation, required = attr.annotation, total
        if isinstance(annotation, griffe.ExprSubscript) and annotation.canonical_path in (
            _OPTIONAL | _REQUIRED
        ):
            required = annotation.canonical_path in _REQUIRED
            annotation = annotation.slice
        parameters.append(
            griffe.Parameter(
                attr.name,
                annotation=annotation,
                kind=griffe.ParameterKind.keyword_only,
                default=None if required else "...",
            )
        )
    return parameters


class NapoleonHabits(griffe.Extension):
    """Rewrite each docstring with :func:`plain` and expand ``Unpack[...]`` keywords."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain(obj.docstring.value)

    def on_function(self, *, func: griffe.Function, **kwargs: Any) -> None:
        for parameter in func.parameters:
            annotation = parameter.annotation
            if (
                parameter.kind is griffe.ParameterKind.var_keyword
                and isinstance(annotation, griffe.ExprSubscript)
                and annotation.canonical_path in _UNPACK
            ):
                typed_dict = func.modules_collection[annotation.slice.canonical_path]
                del func.parameters[parameter.name]
                for keyword in _keywords(typed_dict):
                    func.parameters[keyword.name] = keyword
                return
