"""Entry point of the ``modelshelf`` command: global options, command wiring, error handling."""

from __future__ import annotations

import logging
import sys
import traceback

import click

from modelshelf import __version__, constants
from modelshelf.cli._errors import format_error
from modelshelf.cli.alias import alias
from modelshelf.cli.cache import cache
from modelshelf.cli.housekeeping import gc, remove, verify
from modelshelf.cli.inspect import list_assets, log, show, versions
from modelshelf.cli.pull import pull
from modelshelf.cli.push import push
from modelshelf.errors import ModelshelfError

__all__ = ["cli", "main", "run"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    "-s",
    default=None,
    metavar="URL",
    help="Store URL: file:///path (default: a folder in the user data dir),"
    " s3://bucket/prefix, memory://name. Default: $MODELSHELF_STORE.",
)
@click.version_option(__version__, prog_name="modelshelf")
@click.pass_context
def cli(ctx: click.Context, store: str | None) -> None:
    """Named, versioned, immutable model artifacts in any object store."""
    ctx.ensure_object(dict)["store"] = store


for command in (push, pull, list_assets, versions, show, log, alias, cache, verify, remove, gc):
    cli.add_command(command)


class _StderrHandler(logging.Handler):
    """Log records as ``warning: ...`` lines on whatever stderr is now (tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)


def _setup_logging() -> None:
    logger = logging.getLogger("modelshelf")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler())
    logger.setLevel(logging.DEBUG if constants.debug() else logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 user error, 2 usage error, 130 interrupted)."""
    _setup_logging()
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
    except ModelshelfError as exc:
        if constants.debug():
            traceback.print_exc()
        click.echo(f"error: {format_error(exc)}", err=True)
        return 1
    except OSError as exc:  # e.g. an -o folder we may not write to
        if constants.debug():
            traceback.print_exc()
        where = f": {exc.filename}" if exc.filename else ""
        click.echo(f"error: {exc.strerror or exc}{where}", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    return code if isinstance(code, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
