"""MkDocs hooks for the docs site (mkdocs.yml ``hooks:``).

``docs/cli.md`` holds the line ``<!-- modelshelf-cli -->``; the hook puts there every command's
``--help``, exactly as ``modelshelf COMMAND --help`` prints it (a heading per command, the text in
a code block), read from the click commands themselves so that the page cannot drift from them.

mkdocs-click was considered: it renders a command's help text as Markdown, which misreads ours
(``NAME[:VERSION|@ALIAS][/SUB/PATH]`` is a Markdown reference link, a glob's ``*`` emphasis),
and its table style prints click 8.3's unset defaults as ``Sentinel.UNSET``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

MARKER = "<!-- modelshelf-cli -->"
WIDTH = 100  # columns of the help text, whatever terminal builds the site


def on_config(config: Any) -> Any:
    """Read the CLI from this checkout's ``src``, as griffe does (``paths: [src]``)."""
    src = str(Path(config.config_file_path).parent / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    return config


def _help(command: click.Command, name: str, parent: click.Context | None) -> click.Context:
    return command.make_context(
        name,
        [],
        parent=parent,
        resilient_parsing=True,
        terminal_width=WIDTH,
        max_content_width=WIDTH,
    )


def _sections(command: click.Command, ctx: click.Context, level: int) -> Iterator[str]:
    yield f"{'#' * level} `{ctx.command_path}`"
    yield ""
    yield "```text"
    yield command.get_help(ctx)
    yield "```"
    yield ""
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _sections(sub, _help(sub, name, ctx), min(level + 1, 3))


def cli_reference() -> str:
    """Markdown for every ``modelshelf`` command, the top-level group first."""
    from modelshelf.cli.main import cli

    return "\n".join(_sections(cli, _help(cli, "modelshelf", None), 2))


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Put the CLI reference where a page asks for it."""
    return markdown.replace(MARKER, cli_reference()) if MARKER in markdown else markdown
