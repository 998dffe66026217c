"""``modelshelf completion bash|zsh|fish``: print the shell's completion script."""

from __future__ import annotations

import click

from modelshelf.cli._common import examples

EXAMPLES = [
    'eval "$(modelshelf completion bash)"     # in ~/.bashrc (bash 4.4 or later)',
    'eval "$(modelshelf completion zsh)"      # in ~/.zshrc',
    "modelshelf completion fish > ~/.config/fish/completions/modelshelf.fish",
]

# bash splits words at ':' and '@' (COMP_WORDBREAKS), so NAME:VERSION and NAME@ALIAS would
# complete as two words; the script takes both out of the word breaks, as npm's does for ':'.
_BASH_WORDBREAKS = '\nCOMP_WORDBREAKS="${COMP_WORDBREAKS//[:@]/}"\n'


@click.command(epilog=examples(EXAMPLES))
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the completion script for SHELL; load it from your shell's startup file.

    Commands, options, and asset names, versions and aliases complete. Names and versions come
    from the last `ls`, `versions`, `pull` and `show` against the store (kept in the cache):
    completing never asks the store. This is click's shell completion, so
    `_MODELSHELF_COMPLETE=zsh_source modelshelf` prints the same script; for bash this one
    also takes ':' and '@' out of COMP_WORDBREAKS, so that NAME:VERSION and NAME@ALIAS
    complete as one word.
    """
    from click.shell_completion import get_completion_class

    from modelshelf.cli.main import cli

    completer = get_completion_class(shell)
    if completer is None:  # pragma: no cover - click knows all three
        raise click.UsageError(f"no completion for {shell}")
    script = completer(cli, {}, "modelshelf", "_MODELSHELF_COMPLETE").source()
    click.echo(script + (_BASH_WORDBREAKS if shell == "bash" else ""))
