"""The ``modelshelf`` command line; ``main.py`` wires one module per command group.

This module owns the console entry point, :func:`run`: it imports nothing but ``sys`` before
it can answer Ctrl-C, so that an interrupt while the CLI's modules load (click, the backends:
a few hundred ms) is the one ``interrupted`` line and exit code 130, not a traceback.
"""

import sys

__all__ = ["interrupted_by_ctrl_c", "run"]

_INTERRUPTED_TEXT = "error: interrupted"
# The line main()'s own handler prints with --json (cli/_errors.py: json_error), spelled out:
# json is not imported yet when the interrupt can come.
_INTERRUPTED_JSON = '{"error": "interrupted", "type": "KeyboardInterrupt", "exit": 130}'


def _interrupted(args: list[str]) -> int:
    """Print the one interrupt line (JSON with ``--json`` before any ``--``); return 130."""
    as_json = "--json" in (args[: args.index("--")] if "--" in args else args)
    try:
        sys.stderr.write((_INTERRUPTED_JSON if as_json else _INTERRUPTED_TEXT) + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed: the exit code still says it
        pass
    return 130


def interrupted_by_ctrl_c(exc: BaseException) -> bool:
    """Whether Ctrl-C caused ``exc``: Python wraps a KeyboardInterrupt raised in some hooks (a
    class body's ``__set_name__`` while a module loads) in a RuntimeError."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def run() -> None:
    """Console-script entry point (``modelshelf`` and ``python -m modelshelf``)."""
    args = sys.argv[1:]
    try:
        from modelshelf.cli.main import main

        code = main(args)
    except BaseException as exc:  # during the imports; main() answers Ctrl-C itself afterwards
        if not interrupted_by_ctrl_c(exc):
            raise
        code = _interrupted(args)
    sys.exit(code)
