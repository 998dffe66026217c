"""Signing in to the registry's pages with a token, in a real browser: the session cookie is
HttpOnly (no script can read it), SameSite=Strict, for the whole site; a wrong token is refused
without being echoed; signing out ends the session.
"""

from __future__ import annotations

import time

from tests.browser.browser_assets import BrowserSite
from tests.browser.browser_pages import SESSION_COOKIE, Browser


def test_a_token_signs_in_with_an_http_only_same_site_strict_cookie(
    web: Browser, site: BrowserSite
) -> None:
    web.open("/")
    assert web.has("a#nav-sign-in") and not web.has("form#sign-out")
    web.sign_in(site.reader)

    cookie = web.session_cookie()
    assert cookie is not None, web.driver.get_cookies()
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/"
    assert not cookie.get("secure")  # plain http on loopback: no Secure flag (https sets it)
    # 12 hours (a cookie's expiry is in whole seconds since the epoch)
    assert 11 * 3600 < cookie["expiry"] - time.time() <= 12 * 3600 + 60
    # HttpOnly: the page's own scripts cannot read it
    assert SESSION_COOKIE not in web.driver.execute_script("return document.cookie")
    # the token is neither in the page nor in the cookie (a signed session of its name)
    assert site.reader not in web.page_source()
    assert site.reader not in cookie["value"] and cookie["value"].count(".") >= 2


def test_signing_out_ends_the_session(web: Browser, site: BrowserSite) -> None:
    web.sign_in(site.editor)
    web.open("/")
    web.submit("#sign-out-submit")
    assert web.session_cookie() is None
    web.open("/")
    assert web.has("a#nav-sign-in") and not web.has("form#sign-out")


def test_a_wrong_token_is_refused_and_not_echoed(web: Browser, site: BrowserSite) -> None:
    wrong = site.reader[:-6] + "abcdef"  # a well-formed token of a known name, wrong secret
    web.open("/sign-in")
    web.fill("form#sign-in input[name=token]", wrong)
    web.submit("#sign-in-submit")
    assert web.text("#sign-in-error").strip()
    assert web.session_cookie() is None
    assert wrong.split("_", 2)[2] not in web.page_source()  # msr_<name>_<secret>


def test_the_token_field_is_a_labelled_password_input(web: Browser) -> None:
    web.open("/sign-in")
    field = web.find("form#sign-in input[name=token]")
    assert field.get_attribute("type") == "password"
    field_id = field.get_attribute("id")
    labelled = (field_id and web.has(f"label[for='{field_id}']")) or field.get_attribute(
        "aria-label"
    )
    assert labelled, "the token field has no label"
