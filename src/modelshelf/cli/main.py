"""Entry point of the ``modelshelf`` command: global options, command wiring, error handling."""

from __future__ import annotations

import importlib
import logging
import sys
import traceback

import click

from modelshelf import __version__, constants
from modelshelf._secrets import without_secrets
from modelshelf.cli._common import common_options, forget_store, printable, store_hint
from modelshelf.cli._errors import error_line

__all__ = ["COMMANDS", "cli", "main", "run"]

COMMANDS = {
    "alias": "modelshelf.cli.alias:alias",
    "cache": "modelshelf.cli.cache:cache",
    "completion": "modelshelf.cli.completion:completion",
    "config": "modelshelf.cli.config:config",
    "copy": "modelshelf.cli.copy:copy",
    "export": "modelshelf.cli.export:export",
    "gc": "modelshelf.cli.housekeeping:gc",
    "log": "modelshelf.cli.inspect:log",
    "ls": "modelshelf.cli.inspect:list_assets",
    "mirror": "modelshelf.cli.mirror:mirror",
    "predict": "modelshelf.cli.predict:predict",
    "pull": "modelshelf.cli.pull:pull",
    "push": "modelshelf.cli.push:push",
    "rm": "modelshelf.cli.housekeeping:remove",
    "serve": "modelshelf.cli.serve:serve",
    "show": "modelshelf.cli.inspect:show",
    "verify": "modelshelf.cli.housekeeping:verify",
    "versions": "modelshelf.cli.inspect:versions",
}
"""Every command, as ``"module:attribute"``: only the module of the command that runs is
imported (``--help`` imports them all), so ``modelshelf pull`` never loads rich or the server."""


class _LazyGroup(click.Group):
    """A group that imports a command's module the first time the command is asked for."""

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

    --store, --json, --quiet, --backend-opt, --profile and --anonymous may come before or
    after the command. --store takes a URL or the name of a store in the config file
    (modelshelf config).
    """


class _StderrHandler(logging.Handler):
    """Log records as ``warning: ...`` lines on whatever stderr is now (tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        # Warnings quote store text (server messages, paths): escaped like all other output.
        # ... and with secrets cut: a warning may quote a URL or a backend's own error text.
        message = printable(without_secrets(record.getMessage()))
        click.echo(f"{record.levelname.lower()}: {message}", err=True)


def _setup_logging() -> None:
    logger = logging.getLogger("modelshelf")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler())
    logger.setLevel(logging.DEBUG if constants.debug() else logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 user error, 2 usage error, 130 interrupted).

    Every exception ends as one ``error: ...`` line and exit code 1, whatever its type (obstore's
    Rust panics derive from ``BaseException``); ``MODELSHELF_DEBUG=1`` adds the traceback.
    """
    _setup_logging()
    forget_store()
    try:
        # A command that found faults (verify, gc) ends with ctx.exit(1): its code comes back here.
        code = cli.main(args=argv, prog_name="modelshelf", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except SystemExit as exc:
        return 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    except BaseException as exc:  # the one place that turns anything into a line
        if constants.debug():  # a chained backend error may quote a URL: cut like the line
            click.echo(without_secrets(traceback.format_exc()).rstrip("\n"), err=True)
        click.echo(f"error: {error_line(exc)}", err=True)
        hint = store_hint(exc)
        if hint:
            click.echo(f"  hint: {printable(without_secrets(hint))}", err=True)
        return 1
    return code if isinstance(code, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
