"""Forged writes with a signed-in session are refused and write nothing: a POST to a page route
without the CSRF token or with a wrong one (from httpx holding the session cookie, from the
page's own form with its CSRF field emptied, and from another origin's page on this host, to
which SameSite=Strict does not apply: same site, other port), and an API write carried by the
cookie alone (the cookie is accepted for GET and HEAD only).
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import httpx
import pytest
from tests.browser.browser_assets import INTENT, BrowserSite
from tests.browser.browser_pages import SESSION_COOKIE, Browser


@pytest.fixture
def forger(web: Browser, site: BrowserSite) -> Iterator[httpx.Client]:
    """An HTTP client holding the editor's session cookie, as a forger who has it would."""
    web.sign_in(site.editor)  # the cookie as the server set it
    cookie = web.session_cookie()
    assert cookie is not None
    with httpx.Client(
        base_url=site.url, cookies={SESSION_COOKIE: cookie["value"]}, timeout=10
    ) as client:
        yield client


def snapshot(site: BrowserSite) -> tuple[object, ...]:
    """What a forged write could change: the alias, the log, the notes (as JSON through the
    API, read with the admin token)."""
    notes = httpx.get(
        f"{site.url}/api/v1/assets/{INTENT}/-/notes",
        headers={"Authorization": f"Bearer {site.admin}"},
        timeout=10,
    )
    return site.store.read_alias(INTENT, "production"), len(site.store.log(INTENT)), notes.text


def other_version(site: BrowserSite) -> str:
    return "1.0" if site.store.read_alias(INTENT, "production").version == "1.1" else "1.1"


@pytest.mark.parametrize("csrf", [None, "", "0" * 64])
def test_a_forged_alias_move_is_refused(
    forger: httpx.Client, site: BrowserSite, csrf: str | None
) -> None:
    before = snapshot(site)
    current = site.store.read_alias(INTENT, "production").version
    form = {"alias": "production", "version": other_version(site), "expected": current or ""}
    if csrf is not None:
        form["csrf"] = csrf
    answer = forger.post(f"/a/{INTENT}/-/alias", data=form)
    assert answer.status_code == 403, answer.text[:500]
    assert snapshot(site) == before


@pytest.mark.parametrize("csrf", [None, "", "f" * 64])
def test_a_forged_notes_edit_is_refused(
    forger: httpx.Client, site: BrowserSite, csrf: str | None
) -> None:
    before = snapshot(site)
    form = {"labels": "forged=yes", "description": "forged", "expected_seq": "0"}
    for seq in range(0, 10):  # whatever the current seq is: the CSRF check comes first
        form["expected_seq"] = str(seq)
        if csrf is not None:
            form["csrf"] = csrf
        answer = forger.post(f"/a/{INTENT}/-/notes", data=form)
        assert answer.status_code == 403, answer.text[:500]
    assert snapshot(site) == before


def test_the_session_cookie_writes_nothing_through_the_api(
    forger: httpx.Client, site: BrowserSite
) -> None:
    before = snapshot(site)
    current = site.store.read_alias(INTENT, "production").version
    answer = forger.put(
        f"/api/v1/assets/{INTENT}/-/aliases/production",
        json={"version": other_version(site), "expected": current},
    )
    assert answer.status_code in (401, 403), answer.text[:500]
    answer = forger.put(
        f"/api/v1/assets/{INTENT}/-/notes",
        json={"labels": {"forged": "yes"}, "description": "", "expected_seq": 0},
    )
    assert answer.status_code in (401, 403), answer.text[:500]
    assert snapshot(site) == before
    # while it does read through the API (GET), as the JSON twins need
    assert forger.get(f"/api/v1/assets/{INTENT}/-/versions").status_code == 200


def test_the_page_form_without_its_csrf_field_is_refused(web: Browser, site: BrowserSite) -> None:
    web.use_token(site.editor)
    web.open(f"/a/{INTENT}")
    before = snapshot(site)
    web.choose("form#move-alias [name=version]", other_version(site))
    # the same form, same origin, same cookie, but its CSRF field emptied and renamed
    web.driver.execute_script(
        "for (const f of document.querySelectorAll('form#move-alias [name=csrf]'))"
        " { f.value = ''; f.name = 'not-csrf'; }"
    )
    web.submit("#move-alias-submit")
    assert web.has("#error") and web.text("#error").strip()
    assert snapshot(site) == before


def _forged_page(target: str) -> bytes:
    return f"""<!doctype html><html lang="en"><head><title>win a prize</title></head><body>
<form id="forged" method="post" action="{target}">
<input type="hidden" name="alias" value="production">
<input type="hidden" name="version" value="1.0">
<input type="hidden" name="expected" value="">
<button id="forged-submit" type="submit">Claim</button>
</form></body></html>""".encode()


@pytest.fixture
def other_origin(site: BrowserSite) -> Iterator[str]:
    """A page on another port of this host (same site, other origin) with a forged form."""
    page = _forged_page(f"{site.url}/a/{INTENT}/-/alias")

    class Forger(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Forger)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_form_on_another_origin_is_refused(
    web: Browser, site: BrowserSite, other_origin: str
) -> None:
    web.use_token(site.editor)
    before = snapshot(site)
    web.driver.get(other_origin)
    web.submit("#forged-submit")  # the browser sends the cookie: same site, other port
    assert web.path.startswith(f"/a/{INTENT}/-/alias"), web.path
    assert web.has("#error") and web.text("#error").strip()
    assert snapshot(site) == before
