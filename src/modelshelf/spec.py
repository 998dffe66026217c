"""Parse and format asset specs and versions. Pure: no I/O.

Grammar (every failure raises :class:`~modelshelf.errors.InvalidSpecError` with the column of
the first bad character)::

    spec      = name [ ":" version | "@" alias ] [ "/" subpath ]
    name      = segment *( "/" segment )            ; at most 200 characters
    segment   = [a-z0-9] *[a-z0-9._-]
    version   = number *5( "." number )             ; 1 to 6 components
    number    = "0" | [1-9] *17[0-9]                ; no sign, no leading zero, at most 18 digits
    alias     = [a-z] *[a-z0-9._-]                  ; at most 100 characters
    subpath   = part *( "/" part ) [ "/" ]          ; one trailing "/" is dropped
    part      = 1*( any character except "/", "\\", control characters and surrogates )
                ; not "." or "..", and not starting or ending with whitespace

Without ``:version`` or ``@alias`` everything is the name, so ``nlp/sentiment/tokenizer`` is a
three-segment name; a sub path needs a version or an alias: ``nlp/sentiment@latest/tokenizer``.
The name ends at the first ``:`` or ``@``, the version or alias at the next ``/``. Surrounding
whitespace is an error, never stripped.

Example:
    >>> spec = parse_spec("nlp/sentiment:1.3/tokenizer/vocab.txt")
    >>> spec.name, str(spec.version), spec.path
    ('nlp/sentiment', '1.3', 'tokenizer/vocab.txt')
    >>> Version.parse("1").matches(Version.parse("1.10")), str(spec)
    (True, 'nlp/sentiment:1.3/tokenizer/vocab.txt')
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from collections.abc import Iterable

from modelshelf.errors import InvalidInputError, InvalidSpecError

__all__ = [
    "ALIAS_RE",
    "LATEST",
    "NAME_SEGMENT_RE",
    "RESERVED_SEGMENTS",
    "AssetSpec",
    "Version",
    "latest_is_not_movable",
    "latest_matching",
    "movable_alias",
    "parse_spec",
    "parse_version",
    "validate_alias",
    "validate_name",
]

NAME_SEGMENT_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")
"""One ``/``-separated segment of an asset name (use with ``fullmatch``)."""
ALIAS_RE = re.compile(r"[a-z][a-z0-9._-]*")
"""An alias name; it starts with a letter so it never looks like a version."""
LATEST = "latest"
"""The implicit alias: a spec with neither version nor alias means ``@latest``."""
MAX_NAME_LENGTH = 200
MAX_ALIAS_LENGTH = 100
MAX_VERSION_PARTS = 6
MAX_VERSION_DIGITS = 18
# Folder names of the store and cache layouts under an asset: a name segment spelled like one
# could make one asset's keys overlap another's, so they are refused.
RESERVED_SEGMENTS = frozenset({"versions", "aliases", "log", "notes"})

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
_DIGITS = frozenset("0123456789")
_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _check_word(text: str, start: int, end: int, alias: bool) -> None:
    """Validate ``text[start:end]`` as an asset name or an alias; errors index ``text``."""
    what, limit = ("an alias", MAX_ALIAS_LENGTH) if alias else ("an asset name", MAX_NAME_LENGTH)
    if start == end:
        raise InvalidSpecError(text, f"{what} cannot be empty", start)
    seg_start = start
    for i in range(start, end):
        ch, reason = text[i], ""
        if ch == "/" and not alias:
            if i in (seg_start, end - 1):
                reason = f"{what} cannot start or end with '/' or contain '//'"
            seg_start = i + 1
        elif ch in _UPPER:
            reason = _upper_reason(text, start, end, alias)
        elif ch == ":" and alias:
            reason = "give a version (':') or an alias ('@'), not both"
        elif ch not in _NAME_CHARS:
            reason = f"{ch!r} is not allowed in {what}"
        elif i == seg_start and alias and not ch.isalpha():
            reason = "an alias must start with a-z; a version goes after ':' (name:1.3)"
        elif i == seg_start and ch in "._-":
            reason = "each name segment must start with a-z or 0-9"
        if reason:
            raise InvalidSpecError(text, reason, i)
    if end - start > limit:
        raise InvalidSpecError(text, f"{what} is at most {limit} characters", start + limit)
    if not alias:
        offset = start
        for segment in text[start:end].split("/"):
            if segment in RESERVED_SEGMENTS:
                raise InvalidSpecError(
                    text,
                    f"{segment!r} is reserved by the store layout and cannot be a name segment",
                    offset,
                )
            offset += len(segment) + 1


def _upper_reason(text: str, start: int, end: int, alias: bool) -> str:
    """Say that names are lower-case, suggesting the fixed text when lowering is enough."""
    what, low = ("aliases" if alias else "asset names"), text[start:end].lower()
    try:
        _check_word(low, 0, len(low), alias)  # no A-Z left, so this recursion stops here
    except InvalidSpecError:
        return f"{what} are lower-case"
    return f"{what} are lower-case; did you mean {text[:start] + low + text[end:]!r}?"


def _scan_version(text: str, start: int, end: int) -> tuple[int, ...]:
    """Parse ``text[start:end]`` as a version; positions in errors index ``text``."""
    if start == end:
        raise InvalidSpecError(text, "the version is empty", start)
    parts: list[int] = []
    part_start = start
    for i in range(start, end + 1):
        ch = text[i] if i < end else "."
        if ch == ".":
            if i == part_start:  # point at the '.' that makes the empty component
                where = i - 1 if i == end and i > start else i
                raise InvalidSpecError(text, "empty version component", where)
            parts.append(int(text[part_start:i]))
            if i < end and len(parts) == MAX_VERSION_PARTS:
                reason = f"a version has at most {MAX_VERSION_PARTS} components"
                raise InvalidSpecError(text, reason, i)
            part_start = i + 1
        elif ch == "@":
            raise InvalidSpecError(text, "give a version (':') or an alias ('@'), not both", i)
        elif ch not in _DIGITS:
            hint = "; write an alias after '@' (name@production)" if ch.isalpha() else ""
            reason = f"{ch!r} is not allowed in a version, which is dotted numbers like 1.3{hint}"
            raise InvalidSpecError(text, reason, i)
        elif i > part_start and text[part_start] == "0":
            raise InvalidSpecError(text, "version components have no leading zeros", part_start)
        elif i - part_start == MAX_VERSION_DIGITS:
            reason = f"a version component has at most {MAX_VERSION_DIGITS} digits"
            raise InvalidSpecError(text, reason, i)
    return tuple(parts)


def _scan_path(text: str, start: int) -> str | None:
    """Parse ``text[start:]`` as a sub path; one trailing '/' is dropped, '' gives ``None``."""
    end = len(text)
    if start == end:
        return None
    if text[end - 1] == "/":  # tolerate one trailing '/'
        end -= 1
    part_start = start
    for i in range(start, end + 1):
        ch = text[i] if i < end else "/"
        if unicodedata.category(ch) in ("Cc", "Cs"):
            reason = f"control or surrogate character {ch!r} is not allowed in a sub path"
            raise InvalidSpecError(text, reason, i)
        if i == part_start and ch.isspace():
            reason = "a sub path segment cannot start with whitespace"
            raise InvalidSpecError(text, reason, i)
        if ch == "/":
            part = text[part_start:i]
            if not part:
                raise InvalidSpecError(text, "empty sub path segment ('//' or leading '/')", i)
            if part in (".", ".."):
                reason = f"{part!r} is not allowed as a sub path segment"
                raise InvalidSpecError(text, reason, part_start)
            if part[-1].isspace():
                reason = "a sub path segment cannot end with whitespace"
                raise InvalidSpecError(text, reason, i - 1)
            part_start = i + 1
        elif ch == "\\":
            raise InvalidSpecError(text, "use '/' rather than '\\' in a sub path", i)
    return text[start:end]


def validate_name(name: str) -> str:
    """Check an asset name: ``/``-separated segments matching :data:`NAME_SEGMENT_RE`.

    Args:
        name: the name, e.g. ``"nlp/sentiment"``.

    Returns:
        The name, unchanged.

    Raises:
        InvalidSpecError: the name is empty, too long, or has a bad character or segment.
    """
    _check_word(name, 0, len(name), alias=False)
    return name


def validate_alias(alias: str) -> str:
    """Check an alias name: :data:`ALIAS_RE`, at most 100 characters.

    Args:
        alias: the alias without ``@``, e.g. ``"production"``.

    Returns:
        The alias, unchanged.

    Raises:
        InvalidSpecError: the alias is empty, too long, or has a bad character.
    """
    _check_word(alias, 0, len(alias), alias=True)
    return alias


def latest_is_not_movable() -> InvalidInputError:
    """The error for pointing or removing ``@latest`` (anywhere: Python, CLI, registry)."""
    return InvalidInputError(
        f"@{LATEST} always means the newest version and cannot be set or removed"
    )


def movable_alias(alias: str) -> str:
    """``alias`` if an alias of that name may be pointed or removed: an alias name
    (:func:`validate_alias`) other than ``latest``, which always means the newest version.

    Raises:
        InvalidSpecError: not an alias name.
        InvalidInputError: ``latest``.
    """
    validate_alias(alias)
    if alias == LATEST:
        raise latest_is_not_movable()
    return alias


@functools.total_ordering
@dataclasses.dataclass(frozen=True, repr=False)
class Version:
    """An immutable dotted numeric version, ordered numerically (``1.10 > 1.9``, ``1.0 < 1.0.1``).

    Attributes:
        parts: the components, 1 to 6 non-negative integers of at most 18 digits.

    Example:
        >>> Version.parse("1.9") < Version.parse("1.10"), str(Version((2, 0)).next_minor())
        (True, '2.1')
    """

    parts: tuple[int, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.parts, tuple) or any(type(p) is not int for p in self.parts):
            raise TypeError(f"Version parts must be a tuple of int, not {self.parts!r}")
        if not 1 <= len(self.parts) <= MAX_VERSION_PARTS or not all(
            0 <= p < 10**MAX_VERSION_DIGITS for p in self.parts
        ):
            reason = f"a version is 1 to {MAX_VERSION_PARTS} numbers of 0 to 18 digits each"
            raise InvalidSpecError(".".join(str(p) for p in self.parts), reason)

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse canonical version text such as ``"1.3"``.

        Args:
            text: dotted non-negative integers; no sign, whitespace or leading zeros.

        Raises:
            InvalidSpecError: the text is not a canonical version.
        """
        return cls(_scan_version(text, 0, len(text)))

    def __str__(self) -> str:
        return ".".join(str(p) for p in self.parts)

    def __repr__(self) -> str:
        return f"Version({str(self)!r})"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.parts < other.parts

    @property
    def depth(self) -> int:
        """The number of components: 2 for ``1.3``."""
        return len(self.parts)

    def matches(self, candidate: Version) -> bool:
        """Whether ``candidate`` starts with this version's components.

        ``1`` matches ``1.0``, ``1.9`` and ``1.10`` but never ``10.0``; ``1.0`` matches ``1.0.3``.
        """
        return candidate.parts[: len(self.parts)] == self.parts

    def next_minor(self) -> Version:
        """The version with its last component bumped: ``1.3`` gives ``1.4``."""
        return Version((*self.parts[:-1], self.parts[-1] + 1))

    def next_major(self) -> Version:
        """The version with its first component bumped, the rest zeroed: ``1.3`` gives ``2.0``."""
        return Version((self.parts[0] + 1,) + (0,) * (len(self.parts) - 1))


def parse_version(text: str) -> Version:
    """Parse version text; the same as :meth:`Version.parse`."""
    return Version.parse(text)


def latest_matching(versions: Iterable[Version], wanted: Version | None) -> Version | None:
    """The greatest of ``versions`` that ``wanted`` matches (any, when ``wanted`` is ``None``).

    Example:
        >>> vs = [Version.parse(t) for t in ("1.9", "1.10", "10.0")]
        >>> str(latest_matching(vs, Version.parse("1")))
        '1.10'
    """
    found = [v for v in versions if wanted is None or wanted.matches(v)]
    return max(found, default=None)


@dataclasses.dataclass(frozen=True)
class AssetSpec:
    """A parsed ``name[:version | @alias][/sub/path]``; ``str()`` gives the canonical text.

    Attributes:
        name: the asset name.
        version: a pinned or partial version, or ``None``.
        alias: an alias such as ``"production"``, or ``None``; never set together with version.
        path: a file or folder inside the version, or ``None``; needs a version or an alias.

    Example:
        >>> str(AssetSpec("nlp/sentiment", alias="production", path="vocab.txt"))
        'nlp/sentiment@production/vocab.txt'
    """

    name: str
    version: Version | None = None
    alias: str | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        validate_name(self.name)
        if self.version is not None and not isinstance(self.version, Version):
            raise TypeError(f"version must be a Version or None, not {self.version!r}")
        if self.alias is not None:
            if self.version is not None:
                reason = "give a version (':') or an alias ('@'), not both"
                raise InvalidSpecError(f"{self.name}:{self.version}@{self.alias}", reason)
            validate_alias(self.alias)
        if self.path is not None:
            if self.version is None and self.alias is None:
                reason = f"a sub path needs a version or an alias, e.g. {self.name}@{LATEST}/..."
                raise InvalidSpecError(f"{self.name}/{self.path}", reason)
            if _scan_path(self.path, 0) != self.path:
                raise InvalidSpecError(self.path, "the sub path is empty or ends with '/'")
            object.__setattr__(self, "path", unicodedata.normalize("NFC", self.path))  # as stored

    def __str__(self) -> str:
        text = self.name
        if self.version is not None:
            text += f":{self.version}"
        elif self.alias is not None:
            text += f"@{self.alias}"
        return text if self.path is None else f"{text}/{self.path}"

    @property
    def ref(self) -> str:
        """What the spec asks for: ``"1.3"``, ``"@production"``, or ``"@latest"`` when neither."""
        if self.version is not None:
            return str(self.version)
        return f"@{self.alias if self.alias is not None else LATEST}"

    @property
    def is_latest(self) -> bool:
        """True when the spec asks for the latest version (no version; no alias or ``@latest``)."""
        return self.version is None and self.alias in (None, LATEST)

    def with_version(self, version: Version) -> AssetSpec:
        """A copy pinned to ``version``, with any alias cleared."""
        return dataclasses.replace(self, version=version, alias=None)


def parse_spec(text: str) -> AssetSpec:
    """Parse ``name[:version | @alias][/sub/path]``.

    Args:
        text: the spec, e.g. ``"nlp/sentiment:1.3/tokenizer/vocab.txt"``.

    Returns:
        The spec; ``parse_spec(str(s)) == s`` for every valid spec ``s``.

    Raises:
        InvalidSpecError: the text does not follow the grammar; ``position`` is the column of
            the first bad character.
    """
    if not isinstance(text, str):
        raise TypeError(f"a spec must be str, not {type(text).__name__}")
    if not text:
        raise InvalidSpecError(text, "the spec is empty", 0)
    if text[0].isspace():
        raise InvalidSpecError(text, "remove the leading whitespace", 0)
    if text[-1].isspace():
        raise InvalidSpecError(text, "remove the trailing whitespace", len(text.rstrip()))
    sep = next((i for i, ch in enumerate(text) if ch in ":@"), len(text))
    _check_word(text, 0, sep, alias=False)
    version: Version | None = None
    alias: str | None = None
    path: str | None = None
    if sep < len(text):
        slash = text.find("/", sep + 1)
        ref_end = len(text) if slash == -1 else slash
        if text[sep] == ":":
            version = Version(_scan_version(text, sep + 1, ref_end))
        else:
            _check_word(text, sep + 1, ref_end, alias=True)
            alias = text[sep + 1 : ref_end]
        if slash != -1:
            path = _scan_path(text, slash + 1)
    return AssetSpec(text[:sep], version, alias, path)
