"""``modelshelf push PATH SPEC``: upload a file or folder as a new immutable version."""

from __future__ import annotations

import click

from modelshelf.cli._common import (
    emit_json,
    examples,
    human_size,
    json_option,
    printable,
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
    "modelshelf push ./model nlp/sentiment --if-changed -a staging   # idempotent, for CI",
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


@click.command(epilog=examples(EXAMPLES))
@click.argument("path", type=click.Path(path_type=str))
@click.argument("spec", shell_complete=complete_name)
@click.option("-m", "--message", default="", help="Why this version exists.")
@click.option("--meta", multiple=True, metavar="KEY=VALUE", help="User metadata; repeatable.")
@click.option("--major", is_flag=True, help="Start the next major version (1.4 -> 2.0).")
@click.option("--alias", "-a", "aliases", multiple=True, metavar="ALIAS",
              help="Then point NAME@ALIAS at the new version; repeatable.")  # fmt: skip
@click.option("--if-changed", is_flag=True,
              help="Push only if the files, metadata or sections differ from the latest version"
              " (of NAME:MAJOR, or NAME:VERSION itself); else print that version, make no"
              " new one, upload only blobs the store lacks, and still point -a aliases at"
              " it.")  # fmt: skip
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
    if_changed: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Push PATH (a file or folder) as a new version of SPEC (NAME, NAME:MAJOR or NAME:VERSION).

    With --if-changed, a push whose files, metadata and sections equal the latest version's
    creates nothing; without it a new version is made, and the output says which one it repeats.
    """
    shelf = shelf_from(ctx)
    # Shelf.push checks every argument (aliases included) before it writes anything.
    report = shelf.push_report(
        path,
        spec,
        message=message,
        metadata=parse_meta(meta),
        major=major,
        aliases=aliases,
        progress=show_progress(quiet, as_json),
        if_changed=if_changed,
    )
    manifest = report.manifest
    aliases = tuple(dict.fromkeys(aliases))
    what = f"{manifest.name}:{manifest.version}"
    if as_json:
        emit_json(
            {
                "spec": what,
                "store": shelf.url,
                "aliases": list(aliases),
                "new_version": report.new_version,
                "same_as": report.same_as,
                "reuploaded": list(report.reuploaded),
                "aliases_moved": list(report.aliases_moved),
                "aliases_kept": list(report.aliases_kept),
                **manifest.to_dict(),
            }
        )
        return
    if report.reuploaded:  # the store lacked blobs of the version: said even with --quiet
        paths = ", ".join(printable(p) for p in report.reuploaded)
        status(
            f"unchanged: {what} holds the same files and sections; no new version, but the"
            f" store lacked the blobs of {paths}: re-uploaded them"
        )
        status(
            "  blobs present at their size were not hashed in the store:"
            f" `modelshelf verify {what}` checks their bytes, `modelshelf repair {what}"
            " --from DIR` mends a damaged one"
        )
    elif not report.new_version:
        status(f"unchanged: {what} holds the same files and sections; nothing pushed", quiet)
    else:
        same = f" (same content as {manifest.name}:{report.same_as})" if report.same_as else ""
        status(
            f"pushed {len(manifest.files)} files ({human_size(manifest.size)}) to {shelf.url}"
            + same,
            quiet,
        )
    for alias in report.aliases_moved:
        status(f"{manifest.name}@{alias} -> {manifest.version}", quiet)
    for alias in report.aliases_kept:
        status(f"{manifest.name}@{alias} is at {manifest.version} already", quiet)
    click.echo(what)
