"""What the browser tests do with a page: open it, sign in, fill a form, take screenshots, run
axe-core.

The element ids are the pages' contract (spec section 4): the tests find everything by them,
never by layout or wording.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_selenium_python import Axe
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "test-output"
SCREENSHOTS = OUTPUT / "screenshots"
AXE_REPORT = OUTPUT / "axe.json"
# The current axe-core rules (make axe), not the 2018 copy axe-selenium-python ships.
AXE_SCRIPT = REPO / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
SESSION_COOKIE = "modelshelf_session"
SIZES = {"desktop": (1280, 800, False), "phone": (390, 844, True)}
"""The two screen sizes of the screenshots (CSS pixels; the phone's as a mobile viewport)."""
BLOCKING = frozenset({"serious", "critical"})
"""axe-core impacts that fail a page."""


class Browser:
    """The session's Chromium, pointed at one registry (``base``)."""

    def __init__(self, driver: WebDriver, base: str) -> None:
        self.driver = driver
        self.base = base.rstrip("/")

    # -- navigation -----------------------------------------------------------------------------
    def reset(self) -> None:
        """Signed out, desktop size, no page open: where every test starts."""
        self.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        self.driver.get("about:blank")
        self.viewport("desktop")

    def open(self, path: str) -> None:
        self.driver.get(f"{self.base}{path}")

    @property
    def path(self) -> str:
        """The current URL without the registry's origin."""
        url = str(self.driver.current_url)
        return url[len(self.base) :] if url.startswith(self.base) else url

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def has(self, css: str) -> bool:
        return bool(self.driver.find_elements(By.CSS_SELECTOR, css))

    def text(self, css: str) -> str:
        return str(self.find(css).text)

    def page_source(self) -> str:
        return str(self.driver.page_source)

    def submit(self, button_css: str) -> None:
        """Click a form's submit button and wait for the next page to load."""
        old = self.find("html")
        self.find(button_css).click()
        self.wait_until(
            lambda: (
                _stale(old)
                and self.driver.execute_script("return document.readyState") == "complete"
            ),
            "the page after the form",
        )

    def wait_until(self, ready: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {timeout}s for {what} at {self.path}")
            time.sleep(0.05)

    def fill(self, css: str, value: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(value)

    def choose(self, css: str, value: str) -> None:
        """Pick the option whose value is ``value`` in a ``<select>`` (or type into an input)."""
        field = self.find(css)
        if field.tag_name == "select":
            Select(field).select_by_value(value)
        else:
            field.clear()
            field.send_keys(value)

    # -- signing in -----------------------------------------------------------------------------
    def sign_in(self, token: str) -> None:
        self.open("/sign-in")
        self.fill("form#sign-in input[name=token]", token)
        self.submit("#sign-in-submit")
        if self.has("#sign-in-error") and self.text("#sign-in-error").strip():
            raise AssertionError(f"sign-in refused: {self.text('#sign-in-error')}")
        assert self.has("form#sign-out"), f"signed in, yet no sign-out form at {self.path}"

    def use_token(self, token: str) -> None:
        """Be signed in as ``token`` without the form: sign in over HTTP (the same POST the
        form sends) and give the browser the session cookie the registry answered with (a
        signed session, never the token). The sign-in tests use the form; the others save its
        two page loads."""
        answer = httpx.post(
            f"{self.base}/sign-in", data={"token": token}, follow_redirects=False, timeout=10
        )
        assert answer.status_code == 303, answer.text
        session = answer.cookies.get(SESSION_COOKIE)
        assert session and token not in session, answer.headers.get("set-cookie")
        self.driver.execute_cdp_cmd(
            "Network.setCookie",
            {
                "name": SESSION_COOKIE,
                "value": session,
                "url": f"{self.base}/",
                "path": "/",
                "httpOnly": True,
                "sameSite": "Strict",
            },
        )

    def session_cookie(self) -> dict[str, Any] | None:
        for cookie in self.driver.get_cookies():
            if cookie.get("name") == SESSION_COOKIE:
                return dict(cookie)
        return None

    def no_alert(self) -> bool:
        """True when no JavaScript dialog is open."""
        try:
            alert = self.driver.switch_to.alert
        except NoAlertPresentException:
            return True
        alert.dismiss()
        return False

    # -- screenshots and axe --------------------------------------------------------------------
    def viewport(self, size: str) -> None:
        """Set the page's viewport to exactly one of :data:`SIZES` (the window's own size
        leaves less: headless Chromium keeps room for a frame)."""
        width, height, mobile = SIZES[size]
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )

    def screenshot(self, page: str, size: str) -> Path:
        """Save the viewport as ``test-output/screenshots/<page>-<size>.png``."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{page}-{size}.png"
        assert self.driver.save_screenshot(str(path)), f"no screenshot of {page} at {size}"
        return path

    def axe(self, page: str, size: str) -> list[dict[str, Any]]:
        """Run axe-core on the open page; record every violation in test-output/axe.json."""
        if not AXE_SCRIPT.is_file():
            pytest.fail(f"no axe-core at {AXE_SCRIPT}: `make axe` installs it (npm, into .axe)")
        axe = Axe(self.driver, script_url=str(AXE_SCRIPT))
        axe.inject()
        results = axe.run()
        violations: list[dict[str, Any]] = list(results["violations"])
        _record_axe(page, size, self.path, violations)
        return violations


def _stale(element: WebElement) -> bool:
    try:
        element.tag_name  # noqa: B018 - reading it raises once the page it came from is gone
    except Exception:
        return True
    return False


def _record_axe(page: str, size: str, path: str, violations: list[dict[str, Any]]) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {}
    if AXE_REPORT.exists():
        try:
            report = json.loads(AXE_REPORT.read_text())
        except ValueError:
            report = {}
    report[f"{page}-{size}"] = {
        "path": path,
        "violations": [
            {
                "id": v.get("id"),
                "impact": v.get("impact"),
                "help": v.get("help"),
                "targets": [t for node in v.get("nodes", []) for t in node.get("target", [])],
            }
            for v in violations
        ],
    }
    AXE_REPORT.write_text(json.dumps(report, indent=1, sort_keys=True))


def blocking(violations: list[dict[str, Any]]) -> list[str]:
    """The ``serious`` and ``critical`` violations, one readable line each."""
    return [
        f"{v.get('id')} ({v.get('impact')}): {v.get('help')} at "
        + ", ".join(str(t) for node in v.get("nodes", []) for t in node.get("target", []))
        for v in violations
        if v.get("impact") in BLOCKING
    ]


def visible_text(browser: Browser) -> str:
    """Everything the page says (its text, the values of its fields, its link targets)."""
    parts = [str(browser.find("body").text)]
    for element in browser.find_all("input, textarea, option, a[href]"):
        for attribute in ("value", "href"):
            value = element.get_attribute(attribute)
            if value:
                parts.append(str(value))
    return "\n".join(parts)


def count_of(text: str) -> int:
    """The first number in ``text`` (``"3 assets"`` -> 3; ``"1,204"`` -> 1204)."""
    found = re.search(r"\d[\d,]*", text)
    if found is None:
        raise AssertionError(f"no number in {text!r}")
    return int(found.group().replace(",", ""))
