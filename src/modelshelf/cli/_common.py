"""Options and output helpers shared by the commands."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from modelshelf import constants
from modelshelf._secrets import without_secrets
from modelshelf.errors import InvalidInputError, StoreError
from modelshelf.shelf.shelf import Shelf
from modelshelf.spec import AssetSpec, parse_spec
from modelshelf.store.named import merge_options
from modelshelf.trust import escape_controls, show_time

__all__ = [
    "alias_spec",
    "asset_name",
    "backend_kwargs_from",
    "backend_options",
    "common_options",
    "emit_json",
    "examples",
    "forget_store",
    "format_time",
    "human_size",
    "json_mode",
    "json_option",
    "printable",
    "quiet_option",
    "shelf_from",
    "status",
    "stderr_line",
    "store_hint",
    "store_option",
    "warn",
]

F = TypeVar("F", bound=Callable[..., Any])


def examples(lines: list[str]) -> str:
    """A command's epilog: its example lines under ``Examples:``, one per line as written.

    Click rewraps every paragraph to the terminal width, which split an example from its
    ``# comment``; a paragraph opened by a ``\\b`` line is printed as is.
    """
    return "Examples:\n\n\b\n" + "\n".join(lines)


def _root(ctx: click.Context) -> dict[str, Any]:
    """The settings shared by the whole command line (kept on the root context)."""
    obj: dict[str, Any] = ctx.find_root().ensure_object(dict)
    return obj


def _remember_flag(key: str) -> Callable[[click.Context, click.Parameter, bool], bool]:
    """A flag that counts wherever it is given: before the subcommand or after it."""

    def callback(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
        if value:
            _root(ctx)[key] = True
        return bool(value or _root(ctx).get(key))

    return callback


def _remember_store(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    root = _root(ctx)
    if root.get("store") not in (None, value):
        raise click.BadParameter(
            f"given twice, as {root['store']} and {value}; give it once", ctx, param
        )
    root["store"] = value


def _remember_profile(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    root = _root(ctx)
    if root.get("profile") not in (None, value):
        raise click.BadParameter(
            f"given twice, as {root['profile']} and {value}; give it once", ctx, param
        )
    root["profile"] = value


def _remember_backend_opts(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> None:
    opts: dict[str, str] = _root(ctx).setdefault("backend_opts", {})
    for text in values:
        key, sep, value = text.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise click.BadParameter(
                f"expected KEY=VALUE with KEY a setting name, e.g. endpoint=http://host:9000;"
                f" got {key if sep else text!r}",
                ctx,
                param,
            )
        if key in opts and opts[key] != value:
            raise click.BadParameter(f"{key} is given twice; give it once", ctx, param)
        opts[key] = value


def json_option(fn: F) -> F:
    """``--json``: print one JSON document on stdout instead of text (``as_json``)."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        callback=_remember_flag("json"),
        help="Print JSON for scripts.",
    )(fn)


def quiet_option(fn: F) -> F:
    """``--quiet``: no progress bars and no chatter on stderr (``quiet``)."""
    return click.option(
        "--quiet",
        "-q",
        is_flag=True,
        callback=_remember_flag("quiet"),
        help="No progress bars or notes.",
    )(fn)


def model_trust_options(fn: F) -> F:
    """``--trust`` and ``--allow-hook-package PKG``: what a model loaded from a store may run
    (``trust``, ``allow_hook_packages``); one wording for ``predict`` and ``serve``."""
    fn = click.option(
        "--allow-hook-package",
        "allow_hook_packages",
        multiple=True,
        metavar="PKG",
        help="A package the model's runner and pre/postprocess functions may come from (repeat;"
        " also MODELSHELF_ALLOWED_HOOK_PACKAGES). Only for packages you trust.",
    )(fn)
    return click.option(
        "--trust",
        is_flag=True,
        help="Allow formats that run code when loaded (pickle, joblib, pickled torch modules)"
        " and TorchScript calling operators that reach files, processes or the network; only"
        " for files from a source you trust. Also MODELSHELF_TRUST_PICKLE=1.",
    )(fn)


def store_option(fn: F) -> F:
    """``--store URL``: the store to use; read back with :func:`shelf_from`."""
    return click.option(
        "--store",
        "-s",
        default=None,
        metavar="URL|NAME",
        expose_value=False,
        is_eager=True,  # before arguments whose callbacks might open the store
        callback=_remember_store,
        help="Store URL (file:///path, s3://, gs:// or az://bucket/prefix, pkg.mod:Class) or"
        " the name of a store in the config file. Default: $MODELSHELF_STORE, then the"
        " file's default_store, then a folder in the user data dir.",
    )(fn)


def _remember_ca_file(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:  # the registry client's ca_file setting, as --backend-opt would set it
        _remember_backend_opts(ctx, param, (f"ca_file={value}",))


def backend_options(fn: F) -> F:
    """``--backend-opt KEY=VALUE`` (repeatable), ``--profile NAME``, ``--anonymous`` and
    ``--ca-file F`` (the ``ca_file`` setting of an ``https://`` registry store).

    Read back with :func:`shelf_from`: they become the backend's keyword settings (values are
    text), beating the environment and the config file.
    """
    fn = click.option(
        "--ca-file",
        default=None,
        metavar="PEM",
        expose_value=False,
        is_eager=True,
        callback=_remember_ca_file,
        help="The CA certificate that signed an https:// registry's certificate, when it is not"
        " a public one. Default: $SSL_CERT_FILE.",
    )(fn)
    fn = click.option(
        "--backend-opt",
        "backend_opts",
        multiple=True,
        metavar="KEY=VALUE",
        expose_value=False,
        is_eager=True,
        callback=_remember_backend_opts,
        help="A backend setting, passed to its from_url() as text (repeatable).",
    )(fn)
    fn = click.option(
        "--profile",
        default=None,
        metavar="NAME",
        expose_value=False,
        is_eager=True,
        callback=_remember_profile,
        help="AWS shared config profile (~/.aws/config, ~/.aws/credentials). Default:"
        " $AWS_PROFILE.",
    )(fn)
    return click.option(
        "--anonymous",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_remember_flag("anonymous"),
        help="Unsigned requests, for public buckets.",
    )(fn)


_COMMON: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("as_json", json_option),
    ("quiet", quiet_option),
    ("store", store_option),
    ("backend_opts", backend_options),
)


def common_options(target: F) -> F:
    """``--store``, ``--json`` and ``--quiet``, accepted before or after any subcommand.

    Decorate a command function (it receives ``as_json`` and ``quiet``; the store is read with
    :func:`shelf_from`), or pass a finished :class:`click.Command`: options it lacks are added
    without being passed to it, so every command of the CLI takes them (``main`` does this for
    each command it registers, so a new command gets them for free). A flag given before the
    subcommand counts as if given after it.

    Example:
        >>> @click.command()
        ... @common_options
        ... @click.pass_context
        ... def hello(ctx: click.Context, as_json: bool, quiet: bool) -> None: ...
    """
    if isinstance(target, click.Command):
        present = {param.name for param in target.params}
        for name, option in _COMMON:
            if name not in present:
                before = len(target.params)
                option(target)  # click.option on a Command appends to its params
                for param in target.params[before:]:
                    param.expose_value = False
        if isinstance(target, click.Group):
            for command in target.commands.values():
                common_options(command)
        return target
    for _, option in reversed(_COMMON):
        target = option(target)
    return target


def backend_kwargs_from(ctx: click.Context) -> dict[str, Any]:
    """The backend settings given on the command line (``--backend-opt``, ``--profile``,
    ``--anonymous``)."""
    obj = _root(ctx)
    if obj.get("profile") and obj.get("anonymous"):
        raise click.UsageError("give --profile or --anonymous, not both")
    extra: dict[str, Any] = {}
    if obj.get("profile"):
        extra["profile"] = obj["profile"]
    if obj.get("anonymous"):
        extra["anonymous"] = True
    return merge_options(obj.get("backend_opts"), extra)


def shelf_from(ctx: click.Context) -> Shelf:
    """The Shelf for the store named by ``--store`` / ``MODELSHELF_STORE`` / the config file,
    opened with the backend settings of :func:`backend_kwargs_from`."""
    obj = _root(ctx)
    if "shelf" not in obj:
        obj["shelf"] = Shelf(obj.get("store"), backend_kwargs=backend_kwargs_from(ctx))
        remember_store(obj["shelf"])
    shelf: Shelf = obj["shelf"]
    return shelf


# The named stores (config file name -> URL) this command line opened: main() names the one an
# error is about (its URL is in the message), never another (a copy opens two).
_NAMED_STORES: dict[str, str] = {}


def remember_store(shelf: Shelf) -> None:
    """Note a store opened by its config-file name, for :func:`store_hint`."""
    if shelf.store_name:
        _NAMED_STORES[shelf.store_name] = shelf.url


def store_hint(exc: BaseException) -> str | None:
    """For a store error of a named store: where that store is declared."""
    if not isinstance(exc, StoreError):
        return None
    text = str(exc)
    names = [name for name, url in _NAMED_STORES.items() if url in text]
    if len(names) != 1:
        return None
    path, _ = constants.config_path()
    return f"the store {names[0]!r} is declared in {path} (modelshelf config stores)"


def forget_store() -> None:
    """Start a command line afresh (``main`` calls this)."""
    _NAMED_STORES.clear()


def asset_name(text: str, command: str) -> str:
    """The asset name in ``text``, for commands about a whole asset (``versions``, ``log``).

    Raises:
        InvalidInputError: ``text`` also names a version, alias or path, which would mean
            nothing here; the message gives the command to run instead.
    """
    spec = parse_spec(text)
    if spec.version is not None or spec.alias is not None or spec.path is not None:
        raise InvalidInputError(
            f"{command} takes NAME, not a version, alias or path: got {text!r};"
            f" run `modelshelf {command} {spec.name}`"
        )
    return spec.name


def alias_spec(text: str, command: str) -> AssetSpec:
    """``NAME@ALIAS`` parsed, for commands about one alias (``alias set``, ``alias history``).

    Raises:
        InvalidInputError: no alias, or a version or path as well.
    """
    spec = parse_spec(text)
    if spec.alias is None or spec.path is not None:
        raise InvalidInputError(
            f"{command} takes NAME@ALIAS, e.g. {spec.name}@production: got {text!r}"
        )
    return spec


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def json_mode() -> bool:
    """Whether ``--json`` was given anywhere on this command line (read from the root
    context, where the option's callback notes it)."""
    ctx = click.get_current_context(silent=True)
    return ctx is not None and bool(_root(ctx).get("json"))


def stderr_line(kind: str, message: str) -> None:
    """One line on stderr for people, of ``kind`` ``note`` or ``warning``.

    As text a note is the message and a warning is ``warning: message``; with ``--json`` each
    is one JSON object, ``{"note": ...}`` or ``{"warning": ...}``, so that a script reads one
    format on stderr (failures are ``{"error", ...}`` lines: :func:`cli._errors.json_error`).
    Either way the text has secrets cut; as text, control characters are escaped too.
    """
    message = without_secrets(message)
    if json_mode():  # json.dumps escapes every control character
        click.echo(json.dumps({kind: message}), err=True)
    else:
        click.echo(printable(message) if kind == "note" else f"{kind}: {printable(message)}",
                   err=True)  # fmt: skip


def status(message: str, quiet: bool = False) -> None:
    """A note for people, on stderr so that stdout stays clean for pipes (``{"note": ...}``
    with ``--json``; nothing with ``--quiet``)."""
    if not quiet:
        stderr_line("note", message)


def warn(message: str) -> None:
    """A warning on stderr (``warning: ...``, or ``{"warning": ...}`` with ``--json``), shown
    even with ``--quiet``, as the logger's warnings are."""
    stderr_line("warning", message)


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"  # pragma: no cover


def show_progress(quiet: bool, as_json: bool) -> bool | None:
    """Progress bars only for people at a terminal."""
    if quiet or as_json:
        return False
    return None if sys.stderr.isatty() else False


def printable(text: object) -> str:
    """``text`` with every terminal control character shown as a visible escape.

    Store text (messages, metadata, names, paths, alias records) is written by others: printed
    raw, an escape sequence could recolour or clear a teammate's terminal, and a newline could
    forge a line of ``versions -l`` or ``log``. JSON output needs no such care.

    Example:
        >>> printable("fix\x1b[2J\nbug")
        'fix\\x1b[2J\\nbug'
    """
    return escape_controls(str(text))


def format_time(value: object) -> str:
    """An ISO time from a store as ``2026-11-30 16:47:04Z`` (UTC, to the second), everywhere:
    :func:`modelshelf.trust.show_time`, which library messages use too.

    Text that is not an ISO time is shown as it is (escaped), so a forged record still prints.

    Example:
        >>> format_time("2026-11-30T16:47:04.123456Z")
        '2026-11-30 16:47:04Z'
    """
    return show_time(value)


def require_extra(command: str, extra: str, modules: tuple[str, ...]) -> None:
    """Refuse ``command`` when a module of its extra is not installed, saying how to fix it.

    Raises:
        InvalidInputError: naming the missing modules and ``pip install 'modelshelf[extra]'``.
    """
    missing = [name for name in modules if not _importable(name)]
    if missing:
        raise InvalidInputError(
            f"modelshelf {command} needs the {extra} extra ({', '.join(missing)} missing);"
            f" install it with pip install 'modelshelf[{extra}]'"
        )


def _importable(name: str) -> bool:
    if name in sys.modules:
        return sys.modules[name] is not None  # None: imports of it fail
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
