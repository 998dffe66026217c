"""Entry point of the ``modelshelf`` command: global options, command wiring, error handling."""

from __future__ import annotations

import importlib
import json
import logging
import sys
import traceback
import warnings
from typing import Any

import click

from modelshelf import constants
from modelshelf._secrets import without_secrets
from modelshelf._version import __version__
from modelshelf.cli import interrupted_by_ctrl_c
from modelshelf.cli._common import common_options, forget_store, printable, store_hint
from modelshelf.cli._errors import error_hint, error_line, error_text, json_error

__all__ = ["COMMANDS", "cli", "main", "run"]

COMMANDS = {
    "alias": "modelshelf.cli.alias:alias",
    "cache": "modelshelf.cli.cache:cache",
    "completion": "modelshelf.cli.completion:completion",
    "config": "modelshelf.cli.config:config",
    "copy": "modelshelf.cli.copy:copy",
    "diff": "modelshelf.cli.diff:diff",
    "export": "modelshelf.cli.export:export",
    "gc": "modelshelf.cli.housekeeping:gc",
    "label": "modelshelf.cli.label:label",
    "log": "modelshelf.cli.inspect:log",
    "ls": "modelshelf.cli.inspect:list_assets",
    "mirror": "modelshelf.cli.mirror:mirror",
    "predict": "modelshelf.cli.predict:predict",
    "pull": "modelshelf.cli.pull:pull",
    "push": "modelshelf.cli.push:push",
    "registry": "modelshelf.cli.registry:registry",
    "repair": "modelshelf.cli.repair:repair",
    "rm": "modelshelf.cli.housekeeping:remove",
    "serve": "modelshelf.cli.serve:serve",
    "show": "modelshelf.cli.inspect:show",
    "ui": "modelshelf.cli.ui:ui",
    "verify": "modelshelf.cli.housekeeping:verify",
    "versions": "modelshelf.cli.inspect:versions",
}
"""Every command, as ``"module:attribute"``: only the module of the command that runs is
imported (``--help`` imports them all), so ``modelshelf pull`` never loads rich or the server."""


class _Interrupted(BaseException):
    """Ctrl-C in a command, carried past click, which would print an empty line for it first
    (not JSON under ``--json``) and turn it into ``Abort``."""


class _LazyGroup(click.Group):
    """A group that imports a command's module the first time the command is asked for."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise _Interrupted from exc

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, _, attr = COMMANDS[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module), attr)
            # Commands that do not declare the common options yet still accept them.
            self.add_command(common_options(command), cmd_name)
        return self.commands.get(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:  # suggest among all, not just loaded
            raise click.exceptions.NoSuchCommand(
                str(args[0]), possibilities=self.list_commands(ctx), ctx=ctx
            ) from exc


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@common_options
@click.version_option(__version__, prog_name="modelshelf")
def cli(as_json: bool, quiet: bool) -> None:
    """Named, versioned, immutable model artifacts in any object store.

    --store, --json, --quiet, --backend-opt, --profile, --anonymous and --ca-file may come
    before or after the command. --store takes a URL or the name of a store in the config file
    (modelshelf config).
    """


class _StderrHandler(logging.Handler):
    """Log records as ``warning: ...`` lines on whatever stderr is now (tests swap it); with
    ``--json``, as ``{"warning": "..."}`` lines, so that stderr holds one format."""

    as_json = False  # set by main() for each command line

    def emit(self, record: logging.LogRecord) -> None:
        # A warning may quote a URL or a backend's own error text: secrets cut.
        message = without_secrets(record.getMessage())
        if self.as_json:  # json.dumps escapes every control character
            # Only the failure itself is an "error" line; a logged error is a warning here.
            kind = "warning" if record.levelno >= logging.WARNING else "debug"
            click.echo(json.dumps({kind: message}), err=True)
            return
        # Warnings quote store text (server messages, paths): escaped like all other output.
        click.echo(f"{record.levelname.lower()}: {printable(message)}", err=True)


class _ForeignHandler(_StderrHandler):
    """Another library's WARNING+ records (a runner's torch, a backend's SDK), on the root
    logger: the same lines, naming the logger, instead of Python's bare last-resort line."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "modelshelf" or record.name.startswith("modelshelf."):
            return  # the modelshelf logger's own handler printed it
        record = logging.makeLogRecord(
            {**record.__dict__, "msg": f"{record.name}: {record.getMessage()}", "args": None}
        )
        record.levelname = "WARNING"  # one kind of line: only the failure itself says error
        super().emit(record)


def _setup_logging() -> None:
    logger = logging.getLogger("modelshelf")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler())
    logger.setLevel(logging.DEBUG if constants.debug() else logging.WARNING)
    root = logging.getLogger()
    if not any(isinstance(h, _ForeignHandler) for h in root.handlers):
        root.addHandler(_ForeignHandler())


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: object = None,
    line: str | None = None,
) -> None:
    """A Python warning (from a library a runner or a backend uses) as one ``warning:`` line, or
    a ``{"warning": ...}`` line with ``--json``: never Python's two lines with a source line."""
    text = without_secrets(f"{category.__name__}: {message}")
    if _StderrHandler.as_json:
        click.echo(json.dumps({"warning": text}), err=True)
    else:
        click.echo(f"warning: {printable(text)}", err=True)


def _wants_json(args: list[str]) -> bool:
    """Whether ``--json`` was given, before or after the command (up to a ``--``).

    Read from the arguments, not the parsed options: a usage error stops click before the
    option's callback runs, and that error must be JSON too.
    """
    return "--json" in (args[: args.index("--")] if "--" in args else args)


def _fail(as_json: bool, message: str, kind: str, code: int, hint: str | None = None) -> int:
    """Print one failure: ``error: ...`` (and a hint) as text, or one JSON line; return code."""
    if as_json:
        click.echo(json_error(message, kind, code, hint), err=True)
    else:
        click.echo(message, err=True)
        if hint:
            click.echo(f"  hint: {printable(without_secrets(hint))}", err=True)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 user error, 2 usage error, 130 interrupted).

    Every exception ends as one ``error: ...`` line and exit code 1, whatever its type (obstore's
    Rust panics derive from ``BaseException``); ``MODELSHELF_DEBUG=1`` adds the traceback. With
    ``--json`` anywhere on the line, every failure (usage errors included) is instead one line
    ``{"error": ..., "type": ..., "exit": ...[, "hint": ...]}`` on stderr, with the same exit
    code, and every other stderr line is JSON too: ``{"note": ...}`` (what text mode prints as
    a plain line), ``{"warning": ...}`` (log records and Python warnings) and ``{"debug": ...}``
    (``MODELSHELF_DEBUG=1``: log records and the traceback).
    """
    _setup_logging()
    forget_store()
    args = sys.argv[1:] if argv is None else list(argv)
    as_json = _StderrHandler.as_json = _wants_json(args)
    with warnings.catch_warnings():  # the caller's warning printer comes back afterwards
        warnings.showwarning = _show_warning
        return _run(args, as_json)


def _said(as_json: bool, what: str) -> str:
    """``what`` as the JSON error's text, or as the text line ``error: what``."""
    return what if as_json else f"error: {what}"


def _run(args: list[str], as_json: bool) -> int:
    try:
        # A command that found faults (verify, gc) ends with ctx.exit(1): its code comes back here.
        code = cli.main(args=args, prog_name="modelshelf", standalone_mode=False)
    except click.exceptions.Abort as exc:  # click turns Ctrl-C in a command into Abort
        # One line whichever way Ctrl-C came: the same as modelshelf.cli.run prints.
        if isinstance(exc.__cause__, KeyboardInterrupt):
            return _fail(as_json, _said(as_json, "interrupted"), "KeyboardInterrupt", 130)
        return _fail(as_json, _said(as_json, "aborted"), "Abort", 130)
    except click.ClickException as exc:
        if not as_json:
            exc.show()
            return exc.exit_code
        return _fail(as_json, exc.format_message(), type(exc).__name__, exc.exit_code)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except (KeyboardInterrupt, _Interrupted):
        return _fail(as_json, _said(as_json, "interrupted"), "KeyboardInterrupt", 130)
    except SystemExit as exc:
        return 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    except BaseException as exc:  # the one place that turns anything into a line
        if interrupted_by_ctrl_c(exc):  # e.g. wrapped by __set_name__ while a command loads
            return _fail(as_json, _said(as_json, "interrupted"), "KeyboardInterrupt", 130)
        if constants.debug():  # a chained backend error may quote a URL: cut like the line
            trace = without_secrets(traceback.format_exc()).rstrip("\n")
            click.echo(json.dumps({"debug": trace}) if as_json else trace, err=True)
        hint = store_hint(exc) or error_hint(exc)
        if as_json:
            return _fail(True, error_text(exc), type(exc).__name__, 1, hint)
        return _fail(False, f"error: {error_line(exc)}", type(exc).__name__, 1, hint)
    return code if isinstance(code, int) else 0


def run() -> None:
    """The entry point of installs made before it moved to :func:`modelshelf.cli.run`."""
    from modelshelf.cli import run as entry_point

    entry_point()
