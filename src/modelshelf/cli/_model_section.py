"""The lines ``show`` prints about a version's ``model`` section: engine, runner, how the model
was saved (and the class a state_dict is loaded into), hooks, requirements, and the signature.

The section is store input: every value is checked for its type before it is shown, printed
through :func:`printable`, and the signature is parsed as ``load_model`` parses it; what fails
is shown as refused (with the reason), so ``show`` still inspects a hostile version.
"""

from __future__ import annotations

from typing import Any

from modelshelf import trust
from modelshelf.cli._common import printable
from modelshelf.manifest import Manifest
from modelshelf.models.signature import from_section

__all__ = ["model_lines", "source_lines"]

_WIDTH = 9


def model_lines(manifest: Manifest) -> list[str]:
    """Text lines (``label    value``) describing the model section; none when it is absent."""
    section = manifest.extra.get("model")
    if section is None:
        return []
    if not isinstance(section, dict):
        return [_line("model", "refused: the model section is not an object")]
    lines = [_line("engine", _text(section.get("engine")))]
    lines.append(_line("runner", _text(section.get("runner"))))
    saved = _saved(section)
    if saved:
        lines.append(_line("saved as", saved))
    if section.get("saved_class") is not None:  # the class load_model will import
        lines.append(_line("saved class", _text(section.get("saved_class"))))
    for role in ("preprocess", "postprocess"):
        if section.get(role) is not None:
            lines.append(_line(role, _text(section.get(role))))
    requirements = section.get("requirements")
    if isinstance(requirements, list) and requirements:
        lines.append(_line("requires", ", ".join(_text(r) for r in requirements)))
    python = section.get("python")
    if python is not None:
        lines.append(_line("python", _text(python)))
    try:
        signature = from_section(section.get("signature"))
    except ValueError as exc:
        return [*lines, _line("signature", f"refused: {printable(str(exc))}")]
    if signature is None:
        lines.append(_line("signature", "none recorded"))
        return lines
    lines += [_line("input", printable(str(t))) for t in signature.inputs]
    lines += [_line("output", printable(str(t))) for t in signature.outputs]
    if not signature.outputs:
        lines.append(_line("output", "not recorded"))
    return lines


def source_lines(source: dict[str, Any]) -> list[str]:
    """The manifest's ``source`` as ``show`` prints it: the runner of a registration, the git
    commit, whether the working tree was dirty, the remote, and the pushed path (store text,
    escaped)."""
    lines = []
    for key in ("runner", "git_commit", "git_dirty", "git_remote", "path"):
        if key not in source:
            continue
        value = source[key]
        if key == "git_dirty":
            shown = {True: "yes", False: "no"}.get(value) if isinstance(value, bool) else None
            text = shown or f"refused: {trust.show(value)} is not true or false"
        else:
            text = _text(value)
        # "runner" is also a line of the model section: this one says where it was registered
        label = "source runner" if key == "runner" else key.replace("_", " ")
        lines.append(f"{label:<8} {text}")
    return lines


def _saved(section: dict[str, Any]) -> str:
    """The saved format: ``saved_as`` when recorded, else the props' ``format`` and ``file``."""
    saved_as = section.get("saved_as")
    props = section.get("props")
    props = props if isinstance(props, dict) else {}
    fmt = saved_as if saved_as is not None else props.get("format")
    if fmt is None:
        return ""
    where = props.get("file")
    return _text(fmt) + (f" (model/{_text(where)})" if isinstance(where, str) else "")


def _text(value: object) -> str:
    """Store text escaped and cut at a line's length; anything else quoted (and cut)."""
    if not isinstance(value, str):
        return trust.show(value)
    return printable(value if len(value) <= trust.MAX_LINE else value[: trust.MAX_LINE] + "...")


def _line(label: str, value: str) -> str:
    return f"{label:<{_WIDTH - 1}} {value}"
