"""The config file: named stores, in TOML.

The file is ``MODELSHELF_CONFIG`` if set, else ``config.toml`` in the platform's user config dir
(``~/.config/modelshelf/config.toml`` on Linux); ``modelshelf config`` prints which. It is read
only when a store is named rather than given as a URL, or when none is given at all.

Grammar (TOML; every key optional unless said)::

    default_store = "prod"                 # the store used when none is named
    [stores.prod]                          # name: [A-Za-z0-9][A-Za-z0-9._-]*
    url = "s3://models/shelf"              # required: a store URL, a path or module:Class
    endpoint = "https://s3.example.com"    # text
    region = "eu-west-1"                   # text
    profile = "prod"                       # text: an AWS shared config profile
    anonymous = true                       # boolean: unsigned requests (public buckets)
    [stores.team]                          # a registry server (http:// or https:// only):
    url = "https://models.example.com"
    token_file = "~/.config/modelshelf/team.token"  # text: a file holding the token
    token = "msr_ci_..."                   # text: the token itself (mask: config stores)
    ca_file = "/etc/ssl/team-ca.pem"       # text: a private CA of the registry's certificate
    [stores.prod.options]                  # backend options: text, integer, float or boolean
    some_option = "value"

Any other key, a value of the wrong type, a store without ``url`` or a ``default_store`` that
is not declared is a :class:`~modelshelf.errors.ConfigError` naming the file, the line and the
key. The line of a key is found by :func:`key_lines`, a scanner of TOML's table headers and
``key =`` lines (tomllib reports lines for syntax errors only).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelshelf import constants
from modelshelf.errors import ConfigError
from modelshelf.trust import escape_controls, show

if TYPE_CHECKING:
    import tomllib

__all__ = [
    "Config",
    "OptionValue",
    "StoreConfig",
    "is_store_name",
    "key_lines",
    "load_config",
    "loads_config",
    "parse_config",
]

OptionValue = str | int | float | bool
logger = logging.getLogger("modelshelf")

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_OPTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
_TOP_KEYS = ("default_store", "stores")
# Store fields and their types; ``options`` is the table of backend options.
_TEXT_FIELDS = ("url", "endpoint", "region", "profile", "token", "token_file", "ca_file")
# Fields only a registry store (http:// or https://) takes.
_REGISTRY_FIELDS = ("token", "token_file", "ca_file")
_STORE_KEYS = (*_TEXT_FIELDS, "anonymous", "options")


def is_store_name(value: str) -> bool:
    """True if ``value`` names a store of the config file rather than giving a URL or a path.

    A value with ``://``, a ``/`` or ``\\``, a ``:`` (``module:Class``, ``C:``) or a leading
    ``.`` or ``~`` is a URL or a path; a name is letters, digits, ``.``, ``_`` and ``-``.

    Example:
        >>> is_store_name("prod"), is_store_name("s3://b/p"), is_store_name("./prod")
        (True, False, False)
    """
    return bool(_NAME.fullmatch(value))


@dataclass(frozen=True)
class StoreConfig:
    """One ``[stores.NAME]`` table.

    Attributes:
        name: the store's name.
        url: the store URL (or path, or ``module:Class``).
        endpoint, region, profile, anonymous: optional settings, ``None`` when not given.
        options: backend options (``[stores.NAME.options]``); may hold secrets, so the repr
            shows their names only.
        token, token_file, ca_file: a registry store's bearer token (never shown), a file
            holding it, and a PEM file of the CA that signed its certificate.
    """

    name: str
    url: str
    endpoint: str | None = None
    region: str | None = None
    profile: str | None = None
    anonymous: bool | None = None
    options: Mapping[str, OptionValue] = field(default_factory=dict)
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None
    ca_file: str | None = None

    def __repr__(self) -> str:
        given = [
            f"{k}={getattr(self, k)!r}"
            for k in ("endpoint", "region", "profile", "anonymous", "token_file", "ca_file")
        ]
        shown = [g for g in given if not g.endswith("=None")]
        if self.token is not None:
            shown.append("token='***'")
        options = f", options=[{', '.join(sorted(self.options))}]" if self.options else ""
        fields = "".join(f", {s}" for s in shown)
        # A repr reaches logs and tracebacks: the URL (and endpoint) with their secrets cut.
        from modelshelf._secrets import without_secrets

        return without_secrets(f"StoreConfig({self.name!r}, url={self.url!r}{fields}{options})")

    def settings(self) -> dict[str, OptionValue]:
        """The backend keyword arguments this store declares: the fields that are set, and
        its options."""
        found: dict[str, OptionValue] = {}
        for key in ("endpoint", "region", "profile", "anonymous", *_REGISTRY_FIELDS):
            value = getattr(self, key)
            if value is not None:
                found[key] = value
        found.update(self.options)
        return found


@dataclass(frozen=True)
class Config:
    """The parsed config file (empty when the file does not exist)."""

    path: Path
    exists: bool = False
    default_store: str | None = None
    stores: Mapping[str, StoreConfig] = field(default_factory=dict)

    def store(self, name: str, source: str = "given as the store") -> StoreConfig:
        """The store called ``name``.

        Raises:
            ConfigError: no such store; the one-line message lists the known ones.
        """
        found = self.stores.get(name)
        if found is not None:
            return found
        if not self.exists:
            where = f"the config file {self.path} does not exist (modelshelf config)"
        elif self.stores:
            where = f"known stores in {self.path}: {', '.join(sorted(self.stores))}"
        else:
            where = f"{self.path} declares no stores"
        raise ConfigError(
            f"no store named {name!r} ({source}); {where}; or give a URL such as"
            " s3://bucket/prefix, file:///path or ./folder",
            path=str(self.path),
            key=f"stores.{name}",
        )


def load_config(path: Path | None = None) -> Config:
    """Read the config file (default: :func:`modelshelf.constants.config_path`).

    A missing file is an empty config; when ``MODELSHELF_CONFIG`` named it, that is most likely
    a typo, so a warning says so (once per file and process). Raises:
        ConfigError: the file cannot be read, is not TOML, or breaks the grammar above.
    """
    chosen = False
    if path is None:
        path, chosen = constants.config_path()
    if not path.exists():
        if chosen:
            _warn_missing(path)
        return Config(path=path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the config file {path}: {exc.strerror or exc}; check it, or point"
            " MODELSHELF_CONFIG elsewhere",
            path=str(path),
        ) from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"config file {path}, line {line}: not UTF-8 text", path=str(path), line=line
        ) from None
    config = loads_config(text, path)
    _warn_if_others_can_read(config)
    return config


_WARNED_MISSING: set[Path] = set()


def _warn_missing(path: Path) -> None:
    """``MODELSHELF_CONFIG`` names a file that does not exist: every named store then fails and
    the default store silently becomes the built-in one. One warning per file and process."""
    if path in _WARNED_MISSING:
        return
    _WARNED_MISSING.add(path)
    given = os.environ.get("MODELSHELF_CONFIG", "").strip()
    where = "" if given == str(path) else f" ({show(str(path), 200)})"
    logger.warning(
        "MODELSHELF_CONFIG=%s names a file that does not exist%s, so no named store or"
        " default_store is read from it; create it (`modelshelf config` shows a template),"
        " or fix or unset MODELSHELF_CONFIG",
        show(given, 200), where,
    )  # fmt: skip


def _warn_if_others_can_read(config: Config) -> None:
    """Warn when a file holding secret options or URL secrets is readable by other users (as ssh
    does)."""
    from modelshelf._secrets import is_secret_name, without_secrets  # pure: no I/O, no obstore

    secret = any(
        any(is_secret_name(k) for k in s.options)
        or without_secrets(s.url) != s.url
        or s.token is not None
        for s in config.stores.values()
    )
    try:
        mode = config.path.stat().st_mode
    except OSError:
        return
    if secret and mode & 0o077 and os.name == "posix":
        logger.warning(
            "the config file %s holds secrets and other users may read it; run chmod 600 %s",
            config.path, config.path,
        )  # fmt: skip


def loads_config(text: str, path: Path) -> Config:
    """Parse and check the text of a config file; ``path`` is named in errors.

    Raises:
        ConfigError: the text is not TOML, or breaks the grammar above.
    """
    import tomllib  # here: a store given by URL never reads the config file

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(path, text, exc) from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError(
            f"the config file {path} nests too deep to decode; fix it (modelshelf config)",
            path=str(path),
        ) from None
    return parse_config(data, text, path)


def _syntax_error(path: Path, text: str, exc: tomllib.TOMLDecodeError) -> ConfigError:
    message = str(exc)
    at = re.search(r"\(at line (\d+), column (\d+)\)", message)
    what = message[: at.start()].strip() if at else message
    if not at:
        return ConfigError(f"config file {path}: {what}; fix the TOML syntax", path=str(path))
    line, column = int(at.group(1)), int(at.group(2))
    rows = text.split("\n")  # TOML lines end at \n only (not at \x85 or \u2028)
    source = rows[line - 1] if line <= len(rows) else ""
    # Name the key only when the line is `key = value` with a plausible key: a line without `=`
    # may be a secret pasted without its name, which must not be echoed.
    key_text = source.split("=", 1)[0].strip() if "=" in source else ""
    if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]\" ]{1,60}", key_text):
        key_text = ""
    key = f", key {escape_controls(key_text)!r}" if key_text else ""
    return ConfigError(
        f"config file {path}, line {line}, column {column}{key}: {what}; fix the TOML syntax",
        path=str(path),
        line=line,
        key=key_text,
    )


def parse_config(data: Mapping[str, Any], text: str, path: Path) -> Config:
    """Check parsed TOML against the grammar; ``text`` is the file, for line numbers.

    Raises:
        ConfigError: naming the file, the line and the key.
    """

    def fail(key: tuple[str, ...], problem: str) -> ConfigError:
        dotted = ".".join(key)
        line = _line_of(key_lines(text), key)  # scanned only when there is something to say
        where = f", line {line}" if line else ""
        return ConfigError(
            f"config file {path}{where}, key {escape_controls(dotted)}: {problem}",
            path=str(path),
            line=line,
            key=dotted,
        )

    for key in data:
        if key not in _TOP_KEYS:
            raise fail((key,), f"unknown key; known keys: {', '.join(_TOP_KEYS)}")
    raw_stores = data.get("stores", {})
    if not isinstance(raw_stores, dict):
        raise fail(
            ("stores",), f"must be a table of stores ([stores.NAME]), got {_kind(raw_stores)}"
        )
    stores: dict[str, StoreConfig] = {}
    for name, table in raw_stores.items():
        where = ("stores", name)
        if not is_store_name(name):
            raise fail(where, "a store name uses letters, digits, '.', '_' and '-' (at most 100)")
        if not isinstance(table, dict):
            raise fail(where, f"must be a table ([stores.{name}]), got {_kind(table)}")
        stores[name] = _store(name, table, fail)
    default = data.get("default_store")
    if default is not None:
        if not isinstance(default, str):
            raise fail(("default_store",), f"must be text (a store name), got {_kind(default)}")
        if default not in stores:
            known = ", ".join(sorted(stores)) or "none declared"
            raise fail(("default_store",), f"no store named {default!r}; known stores: {known}")
    return Config(path=path, exists=True, default_store=default, stores=stores)


def _store(name: str, table: dict[str, Any], fail: Any) -> StoreConfig:
    where = ("stores", name)
    for key in table:
        if key not in _STORE_KEYS:
            raise fail((*where, key), f"unknown key; known keys: {', '.join(_STORE_KEYS)}")
    if "url" not in table:
        raise fail(
            (*where, "url"),
            'missing; every store needs url = "...", e.g. url = "s3://bucket/prefix"',
        )
    text: dict[str, str] = {}
    for key in _TEXT_FIELDS:
        if key in table:
            value = table[key]
            if not isinstance(value, str) or not value.strip():
                got = "empty text" if isinstance(value, str) else _kind(value)
                raise fail((*where, key), f"must be non-empty text, got {got}")
            text[key] = value.strip()
    if is_store_name(text["url"]):
        raise fail((*where, "url"), "must be a store URL such as s3://bucket/prefix, a path, or"
                   " module:Class, not a store name")  # fmt: skip
    for key in _REGISTRY_FIELDS:
        if key in text and not text["url"].lower().startswith(("http://", "https://")):
            raise fail(
                (*where, key),
                'is a setting of registry stores only (url = "https://..."); give the'
                " backend's own settings for this store",
            )
    anonymous = table.get("anonymous")
    if anonymous is not None and not isinstance(anonymous, bool):
        raise fail((*where, "anonymous"), f"must be true or false, got {_kind(anonymous)}")
    raw_options = table.get("options", {})
    if not isinstance(raw_options, dict):
        raise fail(
            (*where, "options"),
            f"must be a table ([stores.{name}.options]), got {_kind(raw_options)}",
        )
    options: dict[str, OptionValue] = {}
    for key, value in raw_options.items():
        at = (*where, "options", key)
        if not _OPTION.fullmatch(key):
            raise fail(at, "an option name is a Python identifier (letters, digits, '_')")
        if key in table and key != "options":
            raise fail(at, f"given twice, as {key} and options.{key}; give it once")
        if key in ("url", "backend"):
            raise fail(at, "is not a backend option")
        if not isinstance(value, str | int | float | bool):
            raise fail(at, f"must be text, a number or a boolean, got {_kind(value)}")
        options[key] = value
    return StoreConfig(
        name=name,
        url=text["url"],
        endpoint=text.get("endpoint"),
        region=text.get("region"),
        profile=text.get("profile"),
        anonymous=anonymous,
        options=options,
        token=text.get("token"),
        token_file=text.get("token_file"),
        ca_file=text.get("ca_file"),
    )


def _kind(value: object) -> str:
    kinds = {bool: "a boolean", int: "an integer", float: "a float", str: "text",
             list: "an array", dict: "a table"}  # fmt: skip
    return kinds.get(type(value), type(value).__name__)


# -- where each key is ----------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_BASIC = re.compile(r'"((?:[^"\\]|\\.)*)"')
_LITERAL = re.compile(r"'([^']*)'")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}


def _unescape(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        code = m.group(1)
        if code[0] in "uU":
            try:
                return chr(int(code[1:], 16))
            except ValueError:
                return m.group(0)
        return _ESCAPES.get(code, m.group(0))

    return re.sub(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", one, text)


def _dotted_key(text: str, pos: int) -> tuple[tuple[str, ...], int] | None:
    """Parse a dotted key at ``pos``: ``a.b``, ``"a b".c``, ``'lit'``; return parts and end."""
    parts: list[str] = []
    while True:
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        for pattern, convert in ((_BARE_KEY, str), (_BASIC, _unescape), (_LITERAL, str)):
            m = pattern.match(text, pos)
            if m:
                parts.append(convert(m.group(1) if m.groups() else m.group(0)))
                pos = m.end()
                break
        else:
            return None
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text) and text[pos] == ".":
            pos += 1
            continue
        return tuple(parts), pos


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """The 1-based line where each table header and key of a TOML document first appears.

    Keys are full dotted paths (``("stores", "prod", "url")``); keys of a one-line inline table
    are found too. Lines inside multi-line strings are skipped. Meant for messages: a document
    that tomllib parsed gives right answers; anything else gives no more than wrong lines.

    Example:
        >>> key_lines('[stores.prod]\\nurl = "s3://b"\\n')[("stores", "prod", "url")]
        2
    """
    found: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    in_string: str | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        if in_string is not None:
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            double = stripped.startswith("[[")
            parsed = _dotted_key(stripped, 2 if double else 1)
            if parsed:
                table = parsed[0]
                found.setdefault(table, number)
            continue
        parsed = _dotted_key(stripped, 0)
        if not parsed or parsed[1] >= len(stripped) or stripped[parsed[1]] != "=":
            continue
        key = table + parsed[0]
        for end in range(len(table) + 1, len(key) + 1):  # a.b.c = 1 also declares a.b
            found.setdefault(key[:end], number)
        value = stripped[parsed[1] + 1 :].lstrip()
        for quote in ('"""', "'''"):
            if value.startswith(quote) and value.count(quote) % 2 == 1:
                in_string = quote
        if value.startswith("{"):
            for inner in re.finditer(r"""([A-Za-z0-9_-]+|"[^"]*"|'[^']*')\s*=""", value):
                found.setdefault((*key, inner.group(1).strip("\"'")), number)
    return found


def _line_of(lines: Mapping[tuple[str, ...], int], key: tuple[str, ...]) -> int | None:
    """The line of ``key``, or of its nearest ancestor that has one (a missing key's table)."""
    for end in range(len(key), 0, -1):
        if key[:end] in lines:
            return lines[key[:end]]
    return None
