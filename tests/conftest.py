"""Fixtures shared by every test: an isolated environment, so no test touches real user state.

Every test runs with the ``MODELSHELF_*`` and cloud (``AWS_*``, ``GOOGLE_*``, ``AZURE_*``)
variables of the caller removed, a cache
and a default store in its own ``tmp_path``, no readable AWS profile files, and empty
``memory://`` stores. Tests that need S3 settings set them again with ``monkeypatch``.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import obstore  # noqa: F401 - backends import it on first open: here, outside test deadlines
import pytest
from tests.servers import shared

from modelshelf.backends.memory import MemoryBackend


def pytest_configure(config: pytest.Config) -> None:
    # Under pytest-xdist each worker collects the tests, and all must agree on every test id. A
    # few ids print sets, whose order follows the string hash seed: the workers get one seed
    # (a fresh one each run, as without xdist), chosen here, before they start.
    controller = getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput")
    if controller and "PYTHONHASHSEED" not in os.environ:
        os.environ["PYTHONHASHSEED"] = str(random.randint(1, 2**32 - 1))


# Modules whose race tests assert that their attacker thread got at a temporary name at all
# (`attacks > 0`): with every core busy running other tests, it often never does. They are
# marked `serial`, and make runs them after the xdist workers, alone.
_SERIAL = {"test_fd_round3_trust.py"}


# Test functions measured slow in a no-server run (scripts/slow_tests.py writes the list): marked
# `slow`, so that make check, the inner loop, leaves them to make test.
_SLOW_LIST = Path(__file__).with_name("slow_tests.txt")


def slow_test_functions() -> frozenset[str]:
    """The node ids (``path::function``, parameters left out) listed in tests/slow_tests.txt."""
    lines = _SLOW_LIST.read_text().splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    slow = slow_test_functions()
    for item in items:
        if item.path.name in _SERIAL:
            item.add_marker(pytest.mark.serial)
        if item.nodeid.split("[", 1)[0] in slow:
            item.add_marker(pytest.mark.slow)


def pytest_report_header(config: pytest.Config) -> str:
    return f"PYTHONHASHSEED={os.environ.get('PYTHONHASHSEED', 'random')}"


def pytest_sessionfinish(session: pytest.Session) -> None:
    shared.stop_all()  # the servers tests share (SeaweedFS, Azurite), by PID


@dataclass(frozen=True)
class IsolatedEnv:
    """Where this test's cache and default store live."""

    cache_dir: Path
    store_dir: Path

    @property
    def store_url(self) -> str:
        return self.store_dir.as_uri()


@pytest.fixture(autouse=True)
def isolated_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[IsolatedEnv]:
    for name in list(os.environ):
        if name.startswith(
            ("MODELSHELF_", "AWS_", "GOOGLE_", "GCE_", "AZURE_", "AZURITE_", "STORAGE_EMULATOR")
        ):
            monkeypatch.delenv(name)
    env = IsolatedEnv(cache_dir=tmp_path / "_cache", store_dir=tmp_path / "_store")
    monkeypatch.setenv("MODELSHELF_CACHE_DIR", str(env.cache_dir))
    monkeypatch.setenv("MODELSHELF_STORE", env.store_url)
    # A config file of the user's (named stores) must never be read by a test.
    monkeypatch.setenv("MODELSHELF_CONFIG", str(tmp_path / "_no-config.toml"))
    # The runners and hooks of the tests live in the ``tests`` package and in the test module
    # itself, which no distribution provides: allow them as a user would allow their own
    # package (the tests of that rule clear it).
    own = request.module.__name__ if request.module is not None else "tests"
    monkeypatch.setenv("MODELSHELF_ALLOWED_HOOK_PACKAGES", f"tests,{own}")
    # Keep ~/.aws out of reach: a profile there must never lend credentials to a test.
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "_no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "_no-aws-config"))
    # Each test runs in an empty working folder of its own: a pull -o . or a stray relative
    # path lands there, and the repository root (where the ``tests`` package lives) is not the
    # working folder, from which modelshelf never imports a runner (pull -o . puts store files
    # there), however sys.path spells it (``python -m pytest`` puts it first).
    work = tmp_path.with_name(f"{tmp_path.name}-cwd")  # beside tmp_path: tests list what is in it
    work.mkdir()
    monkeypatch.chdir(work)
    MemoryBackend.reset()
    yield env
    MemoryBackend.reset()
