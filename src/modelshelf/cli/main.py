"""Entry point of the ``modelshelf`` command: global options, command wiring, error handling."""

from __future__ import annotations

import logging
import sys
import traceback

import click

from modelshelf import __version__, constants
from modelshelf.cli._common import common_options, forget_store, printable, store_hint
from modelshelf.cli._errors import error_line
from modelshelf.cli.alias import alias
from modelshelf.cli.cache import cache
from modelshelf.cli.config import config
from modelshelf.cli.copy import copy
from modelshelf.cli.export import export
from modelshelf.cli.housekeeping import gc, remove, verify
from modelshelf.cli.inspect import list_assets, log, show, versions
from modelshelf.cli.mirror import mirror
from modelshelf.cli.predict import predict
from modelshelf.cli.pull import pull
from modelshelf.cli.push import push
from modelshelf.cli.serve import serve

__all__ = ["cli", "main", "run"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@common_options
@click.version_option(__version__, prog_name="modelshelf")
def cli(as_json: bool, quiet: bool) -> None:
    """Named, versioned, immutable model artifacts in any object store.

    --store, --json, --quiet, --backend-opt, --profile and --anonymous may come before or
    after the command. --store takes a URL or the name of a store in the config file
    (modelshelf config).
    """


for command in (
    push, pull, list_assets, versions, show, log, alias, cache, verify, remove, gc, predict,
    serve, copy, config, mirror, export,
):  # fmt: skip
    # Commands that do not declare the common options yet still accept them.
    cli.add_command(common_options(command))


class _StderrHandler(logging.Handler):
    """Log records as ``warning: ...`` lines on whatever stderr is now (tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        # Warnings quote store text (server messages, paths): escaped like all other output.
        click.echo(f"{record.levelname.lower()}: {printable(record.getMessage())}", err=True)


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
        if constants.debug():
            traceback.print_exc()
        click.echo(f"error: {error_line(exc)}", err=True)
        hint = store_hint(exc)
        if hint:
            click.echo(f"  hint: {printable(hint)}", err=True)
        return 1
    return code if isinstance(code, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
