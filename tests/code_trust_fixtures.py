"""Hostile-looking names for the import-path tests (``tests.code_trust_fixtures``).

Each one is a way a module can make a dangerous callable reachable by a path that names this
module: an import of a standard-library function, a module held as an attribute, a class
attribute, a module ``__getattr__``. The import-path rule must refuse every one.
"""

from __future__ import annotations

import os  # noqa: F401 - reachable as tests.code_trust_fixtures:os.system
import subprocess
from subprocess import run  # noqa: F401 - re-exported: tests.code_trust_fixtures:run
from typing import Any

from modelshelf import Runner


class EchoRunner(Runner):
    """Gives its input back: whatever a hook returns reaches the caller."""

    @staticmethod
    def predict(model: Any, data: Any) -> Any:
        return data


class Holder:
    """A class attribute holding a standard-library function."""

    launch = subprocess.run
    alias = staticmethod(subprocess.run)


def public_hook(data: Any) -> Any:
    """A plain hook defined here."""
    return data


def __getattr__(name: str) -> Any:
    # A module __getattr__ would answer any missing name with a weapon under getattr().
    if name.startswith("anything"):
        return subprocess.run
    raise AttributeError(name)
