"""No message carries an unfilled template (issue 21, CLI 3: `export --to pkg:Nope` printed
`./{text}`): a string piece without the ``f`` prefix that holds ``{name}`` is a forgotten ``f``,
unless it is a template on purpose (``.format`` right after it, or listed below)."""

from __future__ import annotations

import re
import tokenize
from pathlib import Path

import pytest

import modelshelf
from modelshelf.cli.main import main

SRC = Path(modelshelf.__file__).parent
# ``{name}``, ``{obj.attr}``, ``{x!r}``, ``{x:>8}``, ``{a[0]}``: what an f-string would fill.
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_.]*(\[[^\]{}]*\])?(![rsa])?(:[^{}]*)?\}")
# Templates filled by someone else on purpose: (module, literal).
ON_PURPOSE = {
    ("transfer/progress.py", '"{task.description}"'),  # rich fills it per task
    ("serve/_routes.py", '"/v2/models/{model_name}"'),  # FastAPI path parameters
    ("serve/_routes.py", '"/v2/models/{model_name}/versions/{version}"'),
    ("serve/_routes.py", '"/v2/repository/models/{model_name}/load"'),
    ("registry/asset_routes.py", '"/assets/{name:path}/-"'),  # the routes' common start
    # The fix of a refused hook package: ``with_fix`` fills it (errors.OPTIONS below too).
    (
        "_imports.py",
        '"; if you trust {package!r}, allow it with MODELSHELF_ALLOWED_HOOK_PACKAGES={package}"',
    ),
    ("_imports.py", '" or {allowed_hook_packages}"'),
    ("_fixes.py", '"allowed_hook_packages=[{package!r}]"'),
    ("_fixes.py", '"--allow-hook-package {package}"'),
    # Fix templates held in a variable before they reach with_fix (a folder's retry words, a
    # step chosen by the error's kind): errors.OPTIONS fills them per face.
    ("shelf/export.py", '"choose another folder ({output})"'),
    ("downloaders/folder.py", '"choose another destination ({to})"'),
    ("backends/_guard.py", '"check the backend\'s credentials ({backend_options}, {profile})"'),
    ("mirror/run.py", '"; mirror git\'s files only if you trust the bucket, with {include_git}"'),
    ("mirror/run.py", '" (leave such keys out with {exclude} to mirror the rest)"'),
}
_SKIP = {tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT}


def _significant(tokens: list[tokenize.TokenInfo]) -> list[tokenize.TokenInfo]:
    return [t for t in tokens if t.type not in _SKIP]


_ROUTE_METHODS = {
    "get",
    "put",
    "post",
    "patch",
    "delete",
    "head",
    "api_route",
    "add_api_route",
    "url_path_for",
}


def _route_template(tokens: list[tokenize.TokenInfo], index: int) -> bool:
    """Whether the string at ``index`` is the path of a route, ``@router.get("/v2/{name}")``:
    FastAPI fills its ``{parameters}`` from the request's path."""
    before = _significant(tokens[:index])[-3:]
    return (
        len(before) == 3
        and before[2].string == "("
        and before[1].string in _ROUTE_METHODS
        and before[0].string == "."
    )


def _fix_template(tokens: list[tokenize.TokenInfo], index: int) -> bool:
    """Whether the string at ``index`` is (a piece of) the argument of ``.with_fix(...)``:
    ``ModelshelfError.with_fix`` fills ``{keyword}`` with the words of the face that prints it."""
    significant = _significant(tokens[:index])
    while significant and significant[-1].type == tokenize.STRING:  # implicit concatenation
        significant.pop()
    return [t.string for t in significant[-2:]] == ["with_fix", "("]


def unfilled_templates(source: str, module: str) -> list[str]:
    """``module:line: literal`` for each plain string piece that looks like a forgotten f."""
    lines = source.splitlines(keepends=True)
    tokens = list(tokenize.generate_tokens(iter(lines).__next__))
    found = []
    for index, token in enumerate(tokens):
        if token.type != tokenize.STRING:
            continue
        prefix = re.match(r"[A-Za-z]*", token.string)
        if prefix is None or "f" in prefix.group().lower() or not PLACEHOLDER.search(token.string):
            continue
        before = _significant(tokens[:index])[-1:]
        after = _significant(tokens[index + 1 : index + 4])
        docstring = token.string.startswith(('"""', "'''")) and (
            not before or before[0].string in (":", "") or before[0].type == tokenize.ENDMARKER
        )
        formatted = [t.string for t in after[:2]] == [".", "format"]
        if (
            docstring
            or formatted
            or _fix_template(tokens, index)
            or _route_template(tokens, index)
            or (module, token.string) in ON_PURPOSE
        ):
            continue
        found.append(f"{module}:{token.start[0]}: {token.string[:100]}")
    return found


def test_the_scanner_finds_a_forgotten_f() -> None:
    broken = 'raise E(\n    f"--to {text}: no sink;"\n    " or write ./{text} for a folder"\n)\n'
    assert unfilled_templates(broken, "x.py") == ['x.py:3: " or write ./{text} for a folder"']
    fine = 'x = "{a}".format(a=1)\ny = f"{{x}}"\ndef f():\n    """``{k: v}``."""\n'
    assert unfilled_templates(fine, "x.py") == []
    route = '@router.get("/v2/models/{model_name}")\ndef f(): ...\n'
    assert unfilled_templates(route, "x.py") == []


def test_no_message_in_modelshelf_has_an_unfilled_template() -> None:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        module = path.relative_to(SRC).as_posix()
        found += unfilled_templates(path.read_text(encoding="utf-8"), module)
    assert found == []


def test_export_to_a_missing_sink_module_names_the_folder_form(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "w.bin").write_bytes(b"w")
    assert main(["push", str(model), "m", "-q"]) == 0
    code = main(["export", "m", "--to", "my_pkg.sinks:Nope"])
    err = capsys.readouterr().err
    assert code == 1 and "{" not in err
    assert "write ./my_pkg.sinks:Nope for a local folder" in err
