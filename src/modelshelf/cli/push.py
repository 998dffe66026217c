"""``modelshelf push PATH SPEC``: upload a file or folder as a new immutable version."""

from __future__ import annotations

import click

from modelshelf.cli._common import (
    emit_json,
    human_size,
    json_option,
    quiet_option,
    shelf_from,
    show_progress,
    status,
)
from modelshelf.cli._complete import complete_name
from modelshelf.errors import InvalidInputError

EXAMPLES = [
    "modelshelf push ./model nlp/sentiment            # next version: 1.0, then 1.1, ...",
    "modelshelf push ./model nlp/sentiment --major    # 1.4 -> 2.0",
    "modelshelf push ./model nlp/sentiment:3.0        # explicit; fails if 3.0 exists",
    "modelshelf push ./model nlp/sentiment -a staging # and point @staging at it",
    "modelshelf push model.onnx vision/detector -m 'retrained' --meta dataset=coco-2017",
]


def parse_meta(pairs: tuple[str, ...]) -> dict[str, str]:
    """``("k=v", ...)`` -> dict; a missing ``=``, an empty or a repeated key is an error."""
    metadata: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInputError(f"--meta {pair!r} is not KEY=VALUE; write e.g. --meta lr=0.01")
        if key in metadata:
            raise InvalidInputError(f"--meta {key!r} is given twice; give each key once")
        metadata[key] = value
    return metadata


@click.command(epilog="Examples:\n\n" + "\n\n".join(EXAMPLES))
@click.argument("path", type=click.Path(path_type=str))
@click.argument("spec", shell_complete=complete_name)
@click.option("-m", "--message", default="", help="Why this version exists.")
@click.option("--meta", multiple=True, metavar="KEY=VALUE", help="User metadata; repeatable.")
@click.option("--major", is_flag=True, help="Start the next major version (1.4 -> 2.0).")
@click.option("--alias", "-a", "aliases", multiple=True, metavar="ALIAS",
              help="Then point NAME@ALIAS at the new version; repeatable.")  # fmt: skip
@json_option
@quiet_option
@click.pass_context
def push(
    ctx: click.Context,
    path: str,
    spec: str,
    message: str,
    meta: tuple[str, ...],
    major: bool,
    aliases: tuple[str, ...],
    as_json: bool,
    quiet: bool,
) -> None:
    """Push PATH (a file or folder) as a new version of SPEC (NAME or NAME:VERSION)."""
    shelf = shelf_from(ctx)
    # Shelf.push checks every argument (aliases included) before it writes anything.
    manifest = shelf.push(
        path,
        spec,
        message=message,
        metadata=parse_meta(meta),
        major=major,
        aliases=aliases,
        progress=show_progress(quiet, as_json),
    )
    aliases = tuple(dict.fromkeys(aliases))
    if as_json:
        emit_json(
            {
                "spec": f"{manifest.name}:{manifest.version}",
                "store": shelf.url,
                "aliases": list(aliases),
                **manifest.to_dict(),
            }
        )
        return
    status(
        f"pushed {len(manifest.files)} files ({human_size(manifest.size)}) to {shelf.url}", quiet
    )
    for alias in aliases:
        status(f"{manifest.name}@{alias} -> {manifest.version}", quiet)
    click.echo(f"{manifest.name}:{manifest.version}")
