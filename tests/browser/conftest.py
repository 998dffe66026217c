"""Fixtures of the browser tests: the registry's pages in a real headless Chromium.

One registry process (``modelshelf registry serve``, tests/servers/registry.py) over a prefix of
the session's SeaweedFS bucket, filled with the assets of :mod:`tests.browser.browser_assets`,
and one Chromium (Debian's, driven by its chromedriver through Selenium 4) for the whole
session: starting either costs seconds, and every test signs in afresh (cookies cleared), so
sharing them costs no isolation. Under pytest-xdist every test here runs on one worker
(``xdist_group``), so the session's registry and browser start once.

Tokens: ``admin`` (``admin:*``, fills the store), ``editor`` (``write:*``, the person who moves
aliases and edits notes from the pages), ``reader`` (``read:nlp/`` only: may not read
``vision/`` nor ``team/``).

Chromium runs with the flags of the spec (section 5) and a fresh ``--user-data-dir``: without
``--disable-background-networking`` and its kin it asks hosts off this machine.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.webdriver import WebDriver
from tests.browser.browser_assets import AssetFiller, BrowserSite
from tests.browser.browser_pages import Browser
from tests.servers.registry import RegistryS3Stores, admin_token

from modelshelf.backends import open_backend
from modelshelf.store.bucket import Store

_HERE = Path(__file__).parent.resolve()
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
_INDEX_TIMEOUT = 60.0  # seconds for the pages' catalog to hold every generated asset


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)
            # One worker runs them all: one registry and one browser for the session.
            item.add_marker(pytest.mark.xdist_group("browser"))


def _wait_for_catalog(url: str, token: str, expected: int) -> None:
    """Wait until the pages' search (its JSON twin) lists ``expected`` assets for ``token``.

    The catalog is built in the background at start and follows the store's log: the tests
    begin once it holds everything the filler pushed.
    """
    deadline = time.monotonic() + _INDEX_TIMEOUT
    seen: object = None
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        while time.monotonic() < deadline:
            answer = client.get(f"{url}/api/v1/search")
            if answer.status_code == 200:
                seen = answer.json()
                if isinstance(seen, dict) and not seen.get("indexing"):
                    done = seen.get("total") == expected
                    if done:
                        return
            else:
                seen = f"HTTP {answer.status_code}: {answer.text[:300]}"
            time.sleep(0.2)
    raise AssertionError(f"the catalog never listed {expected} assets; last answer: {seen!r}")


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserSite]:
    """A registry over SeaweedFS with the generated assets, for the whole session."""
    stores = RegistryS3Stores()
    stores.start()
    filler: AssetFiller | None = None
    try:
        backing = stores.backing_store("browser")
        admin = admin_token(backing)
        editor = admin_token(backing, "editor", ("write:*",))
        reader = admin_token(backing, "reader", ("read:nlp/",))
        process = stores.serve(backing)
        workdir = tmp_path_factory.mktemp("browser-assets")
        with pytest.MonkeyPatch.context() as env:  # no config file or token of the caller's
            env.setenv("MODELSHELF_CONFIG", str(workdir / "no-config.toml"))
            env.delenv("MODELSHELF_TOKEN", raising=False)
            filler = AssetFiller(process.url, admin, workdir)
            filler.fill()
        _wait_for_catalog(process.url, admin, expected=4)
        store = Store(open_backend(backing.url, **backing.options))
        yield BrowserSite(process.url, admin, editor, reader, store, process)
    finally:
        if filler is not None:
            filler.close()
        stores.stop()


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """One headless Chromium for the session; FAILS (never skips) when it is not installed."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail(
            f"the browser tests need {' and '.join(missing)}: `make browser` installs Debian's"
            " chromium and chromium-driver (or: sudo apt-get install -y chromium chromium-driver)",
            pytrace=False,
        )
    profile = tmp_path_factory.mktemp("chromium-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1280,800")
    service = webdriver.ChromeService(
        executable_path=str(CHROMEDRIVER), log_output=str(profile.parent / "chromedriver.log")
    )
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def web(chromium: WebDriver, site: BrowserSite) -> Browser:
    """The session's browser on the site, signed out (no cookie left by an earlier test)."""
    browser = Browser(chromium, site.url)
    browser.reset()
    return browser
