"""``modelshelf predict SPEC|PATH --input FILE``: load a model and run it on JSON input."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from modelshelf._bounds import NonFiniteError, loads_json
from modelshelf.cli._common import (
    common_options,
    examples,
    model_trust_options,
    shelf_from,
    show_progress,
)
from modelshelf.cli._complete import complete_spec_or_path
from modelshelf.errors import InvalidInputError, ModelshelfError
from modelshelf.models import load_model
from modelshelf.models._jsonable import plain
from modelshelf.trust import foreign_error

EXAMPLES = [
    "modelshelf predict demo/doubler:1 --input batch.json     # JSON in, JSON out",
    "echo '[1, 2, 3]' | modelshelf predict demo/doubler --input -",
    "modelshelf predict demo/doubler --input x.json --ignore-requirements",
    "modelshelf predict ./model.onnx --input x.json         # a plain model file, detected",
    "modelshelf predict ./model.pkl --input x.json --trust  # pickle runs code: trust it first",
]


@click.command(epilog=examples(EXAMPLES))
@click.argument("spec", metavar="SPEC|PATH", shell_complete=complete_spec_or_path)
@click.option(
    "--input",
    "-i",
    "input_path",
    required=True,
    type=click.Path(path_type=str, allow_dash=True),
    help="A JSON file with the data to predict on; '-' reads stdin.",
)
@click.option(
    "--ignore-requirements",
    is_flag=True,
    help="Load even if the recorded requirements are missing or mismatched here.",
)
@model_trust_options
@common_options
@click.pass_context
def predict(
    ctx: click.Context,
    spec: str,
    input_path: str,
    ignore_requirements: bool,
    trust: bool,
    allow_hook_packages: tuple[str, ...],
    as_json: bool,
    quiet: bool,
) -> None:
    """Load SPEC|PATH and print its prediction on the JSON input as JSON.

    SPEC|PATH is a registered model (NAME[:VERSION|@ALIAS]) or a plain model file or folder: a
    path starting with /, ./, ../, ~ or file:, or one that exists. Plain files are loaded by
    their detected engine; arrays and tensors in the prediction are printed as lists.
    """
    data = _read_json(input_path)
    model = load_model(
        spec,
        store=shelf_from(ctx),
        ignore_requirements=ignore_requirements,
        trust=trust,
        progress=show_progress(quiet, True),
        allowed_hook_packages=allow_hook_packages,
    )
    try:
        result = model.predict(data)
    except ModelshelfError as exc:
        if not _raised_by_modelshelf(exc):
            raise _runner_failed(model.runner, exc) from exc
        raise  # an engine's (or a cast's) own refusal: already one line of ours, as itself
    except Exception as exc:
        raise _runner_failed(model.runner, exc) from exc
    try:
        text = json.dumps(plain(result), allow_nan=False)
    except (TypeError, ValueError) as exc:  # json names the runner's own types
        raise InvalidInputError(
            f"the prediction of {spec} is not JSON ({foreign_error(exc)}); have postprocess_data"
            " return lists, dicts, text and numbers"
        ) from exc
    click.echo(text)


def _runner_failed(runner: type, exc: Exception) -> InvalidInputError:
    """A runner's own failure, named by the runner. Its text may be a 24-line TorchScript
    stack, or a user's runner quoting anything: its first line, escaped."""
    return InvalidInputError(f"{runner.__qualname__} failed on the input: {foreign_error(exc)}")


def _raised_by_modelshelf(exc: BaseException) -> bool:
    """True if modelshelf's own code raised ``exc`` (the innermost frame is in a modelshelf
    module: an engine runner, a cast, the signature check), even under a user's subclass or
    hook; a user's runner that raises a ModelshelfError itself is still the user's text."""
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    module = "" if frame is None else str(frame.tb_frame.f_globals.get("__name__", ""))
    return module == "modelshelf" or module.startswith("modelshelf.")


def _read_json(input_path: str) -> Any:
    where = "stdin" if input_path == "-" else input_path
    try:
        if input_path == "-":
            raw = sys.stdin.read()
        else:
            raw = Path(input_path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read the input {where}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"the input {where} is not UTF-8 text") from None
    try:
        return loads_json(raw)  # NaN and Infinity would reach the model, then fail to print
    except NonFiniteError as exc:
        raise InvalidInputError(f"the input {where} is not JSON: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"the input {where} is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:  # json recurses once per level: [[[...]]] 5000 deep
        raise InvalidInputError(
            f"the input {where} nests too deep to decode; flatten it (at most a few hundred"
            " levels of lists and objects)"
        ) from None
