"""Where a pushed folder came from, asked of git without letting the folder run anything.

``push`` records the commit, whether the work tree is dirty and the remote (without
credentials) of the folder it sends. That folder may have come from a bucket (``mirror``) or a
store (``pull -o``), and git obeys the configuration it finds there: every setting that makes
git run a command is turned off for these queries (see ``_GIT_SAFE`` and :func:`_filters_off`).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["git_source", "public_url"]

_SSH_SCHEMES = {"ssh", "git+ssh", "ssh+git"}

# git obeys the configuration of the folder it runs in, and a pushed folder may have come from
# a bucket (mirror) or a store (pull -o): its .git/config (or, for a folder laid out as a git
# directory, its own ``config``) is outside input. Every setting that makes git run a command
# during these read-only queries is overridden: the file-system monitor, hooks (also through
# core.hooksPath), any transport (a partial clone fetches missing objects lazily, through
# core.sshCommand or a remote helper), an implicitly found bare repository, and filters (by
# name, below). No system or global configuration, no optional index writes, a timeout.
_GIT_SAFE = (
    "--no-optional-locks",
    "-c", "core.fsmonitor=",
    "-c", f"core.hooksPath={os.devnull}",
    "-c", "safe.bareRepository=explicit",
    "-c", "protocol.allow=never",
    "-c", "core.sshCommand=false",
    "-c", "submodule.recurse=false",
)  # fmt: skip
_GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_OPTIONAL_LOCKS": "0",
    "GIT_PAGER": "cat",
}
_GIT_TIMEOUT = 10.0
# Fields of a filter driver that name a command, and its flag that makes a missing one fatal.
_FILTER_COMMANDS = ("clean", "smudge", "process")


def _git(folder: Path, *args: str, overrides: Mapping[str, str] | None = None) -> str | None:
    """``git -C folder <args>`` run safely (see ``_GIT_SAFE``): its stdout, else ``None``.

    ``overrides`` are further settings, handed through ``GIT_CONFIG_KEY_<n>`` rather than
    ``-c`` so that any key (a filter name may hold ``=``) is set exactly.
    """
    # The caller's GIT_* variables (GIT_DIR, GIT_CONFIG_COUNT, GIT_EXTERNAL_DIFF...) would
    # point these queries elsewhere or add commands: none is kept.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(_GIT_ENV)
    for index, (key, value) in enumerate((overrides or {}).items()):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    if overrides:
        env["GIT_CONFIG_COUNT"] = str(len(overrides))
    try:
        done = subprocess.run(
            ["git", *_GIT_SAFE, "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            check=False,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _filters_off(folder: Path) -> dict[str, str] | None:
    """Settings that turn off every filter driver the folder's configuration defines.

    ``git status`` runs a driver's ``clean`` (or ``process``) command on any file whose stat
    data is stale, and drivers have free names, so they are read (``git config`` runs nothing)
    and each one emptied. ``None`` when they cannot be read: then no status is asked.
    """
    listed = _git(folder, "config", "-z", "--name-only", "--get-regexp", r"^filter\.")
    if listed is None:
        # Exit status 1: no filter at all. Anything else was already None above; tell apart.
        listed = "" if _git(folder, "rev-parse", "--git-dir") is not None else None
    if listed is None:
        return None
    overrides: dict[str, str] = {}
    for name in filter(None, listed.split("\0")):
        driver = name[len("filter.") :].rpartition(".")[0]
        if driver:
            for field in _FILTER_COMMANDS:
                overrides[f"filter.{driver}.{field}"] = ""
            overrides[f"filter.{driver}.required"] = "false"
    return overrides


def git_source(source: Path) -> dict[str, Any]:
    """Where the files came from: the absolute path and, inside a git work tree, the commit.

    git runs with every command-running setting of the folder off (see ``_GIT_SAFE``); when the
    filter drivers cannot be read, ``git_dirty`` is left out rather than asking ``status``.
    """
    folder = source if source.is_dir() else source.parent
    info: dict[str, Any] = {"path": str(source.resolve())}
    commit = _git(folder, "rev-parse", "HEAD")
    # A folder git ignores is in the work tree but not described by its commits.
    ignored = commit is not None and _git(folder, "check-ignore", "-q", str(source)) is not None
    if commit and not ignored:
        info["git_commit"] = commit
        filters_off = _filters_off(folder)
        if filters_off is not None:
            status = _git(
                folder,
                "status",
                "--porcelain",
                "--ignore-submodules=all",
                "--no-renames",
                "--",
                ".",
                overrides=filters_off,
            )
            if status is not None:
                info["git_dirty"] = bool(status)
        remote = _git(folder, "config", "--get", "remote.origin.url")
        if remote:
            info["git_remote"] = public_url(remote)
    return info


def public_url(url: str) -> str:
    """``url`` without credentials: what may be recorded in a store for everyone to read.

    A URL's user and password (``https://user:TOKEN@host/...``; a token alone is often sent as
    the user name) and its query and fragment are dropped. ``ssh://`` keeps its user name (the
    account, not a secret) but not a password. Scp-like ``git@host:org/repo`` and plain paths
    are kept as they are.

    >>> public_url("https://user:TOKEN@example.com/org/repo.git")
    'https://example.com/org/repo.git'
    """
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc or "://" not in url:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username if parts.scheme in _SSH_SCHEMES and parts.username else None
    netloc = f"{user}@{host}" if user else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
