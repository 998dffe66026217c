"""A token that may only read ``nlp/`` in a real browser: no write controls anywhere, and what it
may not read (``vision/resnet``, ``team/private/...``) appears on no page: not in search
results, not in the result count, not in the log, not behind a guessed address.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, quote_plus

import pytest
from tests.browser.browser_assets import (
    INTENT,
    PRIVATE,
    PRIVATE_WORD,
    RESNET,
    SENTIMENT,
    BrowserSite,
)
from tests.browser.browser_pages import Browser, count_of, visible_text

HIDDEN = (PRIVATE, RESNET, PRIVATE_WORD, "fraud-model", "vision/")


def assert_nothing_hidden(web: Browser, query: str = "") -> None:
    """No hidden name or word in the page's text, fields, links or source; what the page only
    repeats of its own query (the search field, the JSON twin's address) is left out."""
    echoes = []
    for _, value in parse_qsl(query):
        echoes += [value, quote(value), quote(value, safe=""), quote_plus(value), query]
    text, source = visible_text(web), web.page_source()
    for echo in sorted(echoes, key=len, reverse=True):
        text, source = text.replace(echo, ""), source.replace(echo, "")
    for word in HIDDEN:
        assert word not in text and word not in source, f"{word!r} shown at {web.path}"


def test_a_reader_sees_no_write_controls(web: Browser, site: BrowserSite) -> None:
    web.use_token(site.reader)
    for path in (f"/a/{SENTIMENT}", f"/a/{INTENT}", f"/a/{SENTIMENT}/-/v/1.4"):
        web.open(path)
        assert not web.has("form#move-alias"), path
        assert not web.has("form#edit-notes"), path
        assert not web.has("#move-alias-submit") and not web.has("#edit-notes-submit"), path
    web.open(f"/a/{SENTIMENT}")
    assert web.has("form#diff-form")  # reading controls stay


def test_an_editor_sees_the_write_controls(web: Browser, site: BrowserSite) -> None:
    # the other side of the test above: the same page with a write scope
    web.use_token(site.editor)
    web.open(f"/a/{SENTIMENT}")
    assert web.has("form#move-alias") and web.has("form#edit-notes")


def test_the_front_page_lists_and_counts_only_what_the_reader_may_read(
    web: Browser, site: BrowserSite
) -> None:
    web.use_token(site.reader)
    web.open("/")
    names = [a.get_attribute("href").split("/a/", 1)[1] for a in web.find_all("a.asset-link")]
    assert sorted(names) == [INTENT, SENTIMENT]
    assert count_of(web.text("#result-count")) == 2
    assert_nothing_hidden(web)


@pytest.mark.parametrize(
    "query",
    [
        f"q={PRIVATE}",
        "q=*",
        "q=team/*",
        f"text={PRIVATE_WORD}",
        f"label=team%3D{PRIVATE_WORD}",
        "label=team%3Dvision",
        "engine=onnx",
    ],
)
def test_search_finds_nothing_the_reader_may_not_read(
    web: Browser, site: BrowserSite, query: str
) -> None:
    web.use_token(site.reader)
    web.open(f"/?{query}")
    names = [a.get_attribute("href").split("/a/", 1)[1] for a in web.find_all("a.asset-link")]
    assert set(names) <= {INTENT, SENTIMENT}
    assert count_of(web.text("#result-count")) == len(names)
    assert_nothing_hidden(web, query)


def test_the_log_shows_only_what_the_reader_may_read(web: Browser, site: BrowserSite) -> None:
    web.use_token(site.reader)
    web.open("/log")
    records = web.find_all("table#log tr.log-record")
    assert records, "the reader's log is empty"
    assert_nothing_hidden(web)
    for query in (f"asset={PRIVATE}", f"asset={RESNET}", "who=admin", "action=label"):
        web.open(f"/log?{query}")
        assert_nothing_hidden(web, query)
    web.open(f"/log?asset={PRIVATE}")
    assert not web.find_all("table#log tr.log-record")


@pytest.mark.parametrize(
    "path",
    [
        f"/a/{PRIVATE}",
        f"/a/{PRIVATE}/-/v/1.0",
        f"/a/{RESNET}/-/diff/1.0...1.1",
        f"/api/v1/search?text={PRIVATE_WORD}",
        f"/api/v1/log?asset={PRIVATE}",
        f"/api/v1/assets/{PRIVATE}/-/overview",
    ],
)
def test_a_guessed_address_shows_nothing_hidden(web: Browser, site: BrowserSite, path: str) -> None:
    web.use_token(site.reader)
    web.open(path)
    assert_nothing_hidden_but_the_address(web, path)


def assert_nothing_hidden_but_the_address(web: Browser, path: str) -> None:
    """The page may repeat the address asked for (an error naming it); nothing else."""
    source = web.page_source().replace(path, "").replace(path.split("?")[0], "")
    for word in (PRIVATE_WORD, "private weights", "Codename", "onnx graph"):
        assert word not in source, f"{word!r} shown at {path}"
