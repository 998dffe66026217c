"""A hostile model card (a README.md holding a script, an ``<img onerror>``, ``javascript:`` and
``data:`` links, an inline ``onclick``) and a hostile description run nothing in a real
browser: no dialog, no global set by them, no ``<script>`` in the DOM of ``#card``, no ``on*``
attribute, no ``javascript:``/``data:`` link; the card's table is rendered and its links carry
``rel="nofollow noopener noreferrer"``. Every page also answers the security headers of the
spec (CSP without scripts, nosniff, referrer, Server-Timing).
"""

from __future__ import annotations

import httpx
import pytest
from tests.browser.browser_assets import SENTIMENT, BrowserSite
from tests.browser.browser_pages import SESSION_COOKIE, Browser

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
    " frame-ancestors 'none'; base-uri 'none'"
)
# Every element of the card and the description with each of its attributes, as the browser
# built them (the asset page shows both; its hostile description and README are rendered).
_ATTRIBUTES = """
return Array.from(document.querySelectorAll('#card, #card *, #description, #description *')).map(
  e => [e.tagName.toLowerCase(), Array.from(e.attributes).map(a => [a.name, a.value])]);
"""


@pytest.mark.parametrize("path", [f"/a/{SENTIMENT}", f"/a/{SENTIMENT}/-/v/1.4"])
def test_the_hostile_card_runs_no_script(web: Browser, site: BrowserSite, path: str) -> None:
    web.use_token(site.reader)
    web.open(path)
    assert web.has("#card table"), "the card's table is not rendered"
    assert web.no_alert(), "a dialog opened"
    ran = web.driver.execute_script("return [window.__card_script_ran, window.__card_img_ran]")
    assert ran == [None, None]

    elements = web.driver.execute_script(_ATTRIBUTES)
    assert elements, "no #card on the page"
    tags = {tag for tag, _ in elements}
    assert not tags & {"script", "iframe", "object", "embed", "style", "base", "form"}, tags
    for tag, attributes in elements:
        for name, value in attributes:
            assert not name.lower().startswith("on"), (tag, name, value)
            assert name.lower() != "style", (tag, name, value)
            if name.lower() in ("href", "src", "action", "formaction", "xlink:href"):
                scheme = value.strip().lower()
                assert not scheme.startswith(("javascript:", "data:", "vbscript:")), (tag, value)
    for link in web.find_all("#card a[href], #description a[href]"):
        rel = set((link.get_attribute("rel") or "").split())
        assert {"nofollow", "noopener", "noreferrer"} <= rel, link.get_attribute("outerHTML")
    # what was hostile shows as text, if at all: never as markup the browser built
    assert "window.__card_script_ran" not in (
        web.driver.execute_script(
            "return Array.from(document.scripts).map(s => s.textContent).join()"
        )
        or ""
    )


def test_every_page_answers_the_security_headers(site: BrowserSite, web: Browser) -> None:
    web.sign_in(site.reader)
    cookie = web.session_cookie()
    assert cookie is not None
    paths = ["/", f"/a/{SENTIMENT}", f"/a/{SENTIMENT}/-/v/1.4",
             f"/a/{SENTIMENT}/-/diff/1.3...1.4", "/log", "/sign-in"]  # fmt: skip
    with httpx.Client(
        base_url=site.url, cookies={SESSION_COOKIE: cookie["value"]}, timeout=10
    ) as client:
        for path in paths:
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.status_code)
            csp = answer.headers.get("content-security-policy", "")
            assert _directives(csp) == _directives(CSP), (path, csp)
            assert answer.headers.get("x-content-type-options") == "nosniff", path
            assert answer.headers.get("referrer-policy") == "same-origin", path
            assert answer.headers.get("server-timing", "").startswith("app;dur="), path
            assert "<script" not in answer.text.lower(), path  # no JavaScript in the pages


def _directives(policy: str) -> set[str]:
    return {" ".join(part.split()) for part in policy.split(";") if part.strip()}
