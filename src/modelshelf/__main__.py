"""``python -m modelshelf`` runs the CLI (through the entry point that answers Ctrl-C)."""

from modelshelf.cli import run

run()
