"""What counts as a secret in text modelshelf shows, and how it is cut.

Part of the trust boundary: every URL, option and message that leaves the process (errors, logs,
``config`` output, ``/metadata``, store identities) passes through :func:`without_secrets`, and
every option or parameter name is judged by :func:`is_secret_name`, one rule for both. Pure and
at the bottom of the layers (``errors`` uses it), so it imports nothing of modelshelf.

The rules, each closing a way a credential reached the screen:

- In a URL, everything between ``scheme://user:`` and the last ``@`` of the authority is a
  password and is cut (``user@`` is kept). A password may hold ``@``, ``/`` (AWS secret keys
  do, unencoded in the wild) and ``:``; the user may not hold ``/``, so ``s3://bucket/a@b/c``
  (an ``@`` in a key) has no password. The authority runs to the first whitespace; only when
  no ``@`` comes before it, and what follows the ``:`` is no port, does the password run on
  (over spaces or tabs, a typed password may hold them) to the last ``@`` of the line.
- A URL's fragment (``#...``) never reaches a server and is dropped, to whitespace.
- A ``name=value`` pair whose name looks secret is cut to ``name=***`` wherever it starts a
  query or matrix parameter (after ``?``, ``&``, ``;``) or a word of the text (connection
  strings such as ``AccountKey=...;``; but a bare ``key``: ``KEY=VALUE`` in a hint is
  prose); ``=`` may be percent-encoded. A value runs to ``&``, ``;``, ``#``, whitespace,
  ``"``, ``<`` or ``>`` (none is raw in a URL), or is quoted.
- A secret-looking name followed by ``:`` (a header, YAML, a JSON or Python ``"name": "value"``,
  the name quoted or not) has its value cut: a quoted value to its closing quote (a JSON string
  inside a JSON string: to the end of the line), an ``Authorization`` value after its scheme
  (``Bearer ***``), any other to whitespace. Bare ``key``, ``signature``, ``author`` and
  ``authority`` before a colon are prose (``the object key: a/b``, a model's signature), as
  ``KEY=VALUE`` is.
- The credential after the auth scheme ``Bearer`` (any case), ``Basic`` or ``Token`` is cut.
- ``user:password@host`` without a scheme (an ssh or database target) loses ``:password`` to
  the last ``@`` of its run of non-whitespace, as a URL does.
- A name looks secret when, case-folded and with ``-`` and ``_`` ignored, it holds a
  credential word (secret, password, token, credential, auth, signature, bearer, ...), ends in
  ``key`` or ``pw``, or is (or has a ``-_.``-separated word) ``key``, ``sig``, ``pass``, ``pw``.
- Cutting more than the secret is accepted (an ``@`` later on a line after a non-port
  ``host:x``); showing any part of it is not.
- Linear time whatever the text (a store's or a plugin's message may be long): each run and
  line is searched for its last ``@`` once, and a scheme is matched only where a word starts.
"""

from __future__ import annotations

import re

__all__ = ["MASK", "is_secret_name", "without_secrets"]

MASK = "***"
"""What a cut value shows."""

_SECRET_WORDS = re.compile(
    r"secret|passw|passphrase|pwd|token|credential|auth|private|accesskey|apikey|accountkey"
    r"|cookie|signature|sas|bearer"
)
_SECRET_NAMES = frozenset({"sig", "pass", "pw", "key"})
_SECRET_ENDINGS = ("key", "pw")


def is_secret_name(name: str) -> bool:
    """True if an option or parameter named ``name`` holds a credential.

    Example:
        >>> [is_secret_name(n) for n in ("API-Key", "db_pw", "Bearer", "region", "sig")]
        [True, True, True, False, True]
    """
    folded = name.casefold().replace("-", "").replace("_", "")
    words = re.split(r"[-_.]", name.casefold())
    return (
        folded in _SECRET_NAMES
        or any(word in _SECRET_NAMES for word in words)  # aws_sse_customer_key_base64
        or folded.endswith(_SECRET_ENDINGS)
        or bool(_SECRET_WORDS.search(folded))
    )


# Where a URL's userinfo may start: a scheme that begins a word (never mid-word, so a long word
# is read once, not once per letter), then the user (no '/', '@', ':', whitespace or IPv6
# bracket) and its ':'.
_USER_HEAD = re.compile(r"(?<![\w+.-])[A-Za-z][\w+.-]*://[^/@:\s\[\]]*:")
_PORT = re.compile(r"\d{1,5}(?:[/?#\s]|$)")
_SPACE = re.compile(r"\s")
_LINE_END = re.compile(r"[\r\n]")
# The runs a fragment can be in: whitespace, '"', '<' and '>' are never raw in a URL.
_RUN = re.compile(r"[^\s\"<>]+")


class _LastAt:
    """The last '@' before the end of the stretch (run or line) holding a position: found once
    per stretch, so a text of many URLs is read in linear time."""

    def __init__(self, text: str, end: re.Pattern[str]) -> None:
        self.text, self.end_pattern = text, end
        self.stop, self.at = -1, -1

    def after(self, position: int) -> int:
        if position >= self.stop:
            found = self.end_pattern.search(self.text, position)
            self.stop = found.start() if found else len(self.text)
            self.at = self.text.rfind("@", position, self.stop)
        return self.at if self.at > position else -1


def _cut_passwords(text: str) -> str:
    """Cut ``:password`` of every ``scheme://user:password@``: to the last '@' of its run of
    non-whitespace; with none there, and no port after the ':', to the last '@' of its line."""
    if "@" not in text:
        return text
    in_run, in_line = _LastAt(text, _SPACE), _LastAt(text, _LINE_END)
    kept, done, position = [], 0, 0
    while (head := _USER_HEAD.search(text, position)) is not None:
        colon = head.end() - 1
        at = in_run.after(colon)
        if at < 0 and not _PORT.match(text, colon + 1):
            at = in_line.after(colon)
        if at < 0:
            position = head.end()
            continue
        kept.append(text[done:colon])
        done = position = at  # the '@' is kept
    kept.append(text[done:])
    return "".join(kept)


def _cut_fragment(run: re.Match[str]) -> str:
    word = run[0]
    scheme = word.find("://")
    mark = word.find("#", scheme) if scheme > 0 else -1
    return word[:mark] if mark > 0 else word


# A parameter starts a query or matrix parameter, or a word; its value runs to the next
# separator, or is quoted.
_PARAM = re.compile(
    r"(?P<head>(?P<lead>^|[?&;\s,(\[{'\"])(?P<name>[\w.~-]+)(?:=|%3[dD]))"
    r"(?P<value>'[^'\r\n]*'?|\"[^\"\r\n]*\"?|(?:[^&#;\s\"'<>][^&#;\s\"<>]*)?)"
)


def _cut_param(match: re.Match[str]) -> str:
    name = match["name"]
    if not is_secret_name(name):
        return match[0]
    if match["lead"] in ("?", "&", ";") or name.casefold() != "key":
        return match["head"] + MASK
    return match[0]  # ``KEY=VALUE`` in a hint is prose: ``key`` is a parameter only in a URL


# ``user:password@host`` with no scheme: the user starts a word and holds no '/', so a key path
# (``bucket/a:b@c``) or a URL (``s3://``: the '//' after the colon) is not read as one.
_BARE_USER = re.compile(r"(?:^|(?<=[\s,;(\[{'\"<=]))[^\s/@:'\"<>()\[\]{},;=]+:(?!//)")
# After a header's colon any case is a scheme; alone in prose, ``basic`` and ``token`` are words.
_HEADER_SCHEME = r"(?i:bearer|basic|token|digest|negotiate)"
_AUTH_SCHEME = r"(?:(?i:bearer)|Basic|BASIC|Token|TOKEN)"
# A name and its colon, then (matched only after a secret name: the value of another name may
# hold the next pair) a quoted value, a scheme and its credential, or a run of non-whitespace.
_COLON_HEAD = re.compile(
    r"(?:^|(?<=[\s,;(\[{'\"&?]))(?P<quote>\\?[\"']|)(?P<name>[\w.~-]+)(?P=quote)"
    r"[ \t]*:(?!//)[ \t]*"
)
_COLON_VALUE = re.compile(
    r"\\\"[^\r\n]*|\"(?:[^\"\\\r\n]|\\.)*\"?|'(?:[^'\\\r\n]|\\.)*'?"
    rf"|(?P<scheme>{_HEADER_SCHEME}[ \t]+)?\S*"
)
_SCHEME_CREDENTIAL = re.compile(
    rf"(?:^|(?<=[\s,;(\[{{'\"=:]))(?P<scheme>{_AUTH_SCHEME}[ \t]+)[^\s\"']+"
)
# Bare names before a colon that are prose, not credentials: an object key, a model's signature,
# a commit's author (``auth`` is a credential word), a URL's authority.
_PROSE_BEFORE_COLON = frozenset({"key", "signature", "author", "authority"})


def _cut_bare_passwords(text: str) -> str:
    """Cut ``:password`` of every ``user:password@host`` with no scheme, to the last '@' of its
    run of non-whitespace (found once per run: linear however many ``user:`` the run holds)."""
    in_run = _LastAt(text, _SPACE)
    kept, done, position = [], 0, 0
    while (head := _BARE_USER.search(text, position)) is not None:
        colon = head.end() - 1
        at = in_run.after(colon)
        if at < 0 or at == colon + 1:  # no '@' after it in the run, or no password
            position = head.end()
            continue
        kept.append(text[done:colon])
        done = position = at  # the '@' is kept
    kept.append(text[done:])
    return "".join(kept)


def _cut_colon_pairs(text: str) -> str:
    kept, done = [], 0
    for head in _COLON_HEAD.finditer(text):
        name = head["name"]
        if head.start() < done or not is_secret_name(name):
            continue
        if name.casefold() in _PROSE_BEFORE_COLON:
            continue
        value = _COLON_VALUE.match(text, head.end())
        if value is None or not value[0]:
            continue
        kept.append(text[done : head.end()])
        shown, quote = value[0], value[0][0]
        if quote in "\"'" and len(shown) > 1 and shown[-1] == quote:
            kept.append(f"{quote}{MASK}{quote}")  # "***": the JSON stays JSON
        else:
            kept.append((value["scheme"] or "") + MASK)
        done = value.end()
    kept.append(text[done:])
    return "".join(kept)


def without_secrets(text: str) -> str:
    """``text`` with every secret cut: URL and ``user:pass@host`` passwords, fragments,
    secret-named parameters and ``name: value`` pairs, and auth-scheme credentials.

    The one place that makes a URL, an option or a message fit to leave the process (see the
    module rules). Cutting twice changes nothing more.

    Example:
        >>> without_secrets("see https://u:pw/x@h/c?sv=1&sig=abc#t=1 and AccountKey=k;A=b")
        'see https://u@h/c?sv=1&sig=*** and AccountKey=***;A=b'
    """
    text = _cut_passwords(text)
    if ":" in text:
        text = _cut_colon_pairs(text)  # first: ``password:a@b`` is a pair, not ``user:pw@host``
    if "@" in text:
        text = _cut_bare_passwords(text)
    if "#" in text:  # after passwords: ``user:Q://#@host``'s '#' is in a password, not a URL
        text = _RUN.sub(_cut_fragment, text)
    text = _SCHEME_CREDENTIAL.sub(lambda m: m["scheme"] + MASK, text)
    return _PARAM.sub(_cut_param, text)
