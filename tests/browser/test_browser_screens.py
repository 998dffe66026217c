"""Each page at a laptop's and a phone's size in a real browser: a screenshot of each under
test-output/screenshots/ (``<page>-desktop.png`` at 1280x800, ``<page>-phone.png`` at 390x844),
axe-core's check with no ``serious`` or ``critical`` violation (every violation seen is kept in
test-output/axe.json), the landmarks every page has, the skip link first in the keyboard's
order, and no sideways scrolling on the phone.
"""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.common.keys import Keys
from tests.browser.browser_assets import SENTIMENT, BrowserSite
from tests.browser.browser_pages import SIZES, Browser, blocking

PAGES = {
    "front": "/",
    "search": "/?label=team",
    "asset": f"/a/{SENTIMENT}",
    "version": f"/a/{SENTIMENT}/-/v/1.4",
    "diff": f"/a/{SENTIMENT}/-/diff/1.3...1.4",
    "log": "/log",
    "sign-in": "/sign-in",
}


@pytest.mark.parametrize("page", list(PAGES))
def test_each_page_at_two_sizes_passes_axe(web: Browser, site: BrowserSite, page: str) -> None:
    if page != "sign-in":
        web.use_token(site.editor)  # a writer's asset page: its forms are checked too
    web.open(PAGES[page])

    assert web.has("a#skip-to-main") and web.has("main#main"), page
    assert web.has("nav a#nav-assets") and web.has("nav a#nav-log"), page
    assert web.has("a#nav-sign-in") != web.has("form#sign-out"), page
    assert web.find("html").get_attribute("lang"), page

    found: dict[str, list[dict[str, Any]]] = {}
    for size in SIZES:
        web.viewport(size)
        web.driver.execute_script("window.scrollTo(0, 0)")  # the top of the page, every time
        web.screenshot(page, size)
        found[size] = web.axe(page, size)
        if size == "phone":
            width = web.driver.execute_script("return document.documentElement.scrollWidth")
            assert width <= SIZES[size][0], f"{page} scrolls sideways on a phone: {width}px"
    web.viewport("desktop")
    web.find("body").send_keys(Keys.TAB)  # the first stop of the keyboard: skip to the content
    assert web.driver.switch_to.active_element.get_attribute("id") == "skip-to-main", page
    bad = {size: blocking(violations) for size, violations in found.items()}
    assert not any(bad.values()), f"axe-core on {page}: {bad}"
