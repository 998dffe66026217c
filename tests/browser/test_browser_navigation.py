"""From the front page to an asset, a version and a diff, by clicking, in a real browser: what
each page shows (versions newest first with their aliases, labels, card, the file tree with
sha256, the pull command, the diff's added/removed/changed/moved files and section diffs).
"""

from __future__ import annotations

import re

from tests.browser.browser_assets import SENTIMENT, BrowserSite
from tests.browser.browser_pages import Browser

SHA256 = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")


def open_sentiment(web: Browser) -> None:
    web.open("/?q=sentiment")
    links = [
        a for a in web.find_all("table#assets a.asset-link") if SENTIMENT in a.get_attribute("href")
    ]
    assert links, "nlp/sentiment is not listed"
    links[0].click()
    web.wait_until(lambda: web.path.startswith(f"/a/{SENTIMENT}"), "the asset page")


def test_an_asset_shows_its_versions_aliases_labels_and_card(
    web: Browser, site: BrowserSite
) -> None:
    web.use_token(site.admin)
    open_sentiment(web)
    assert web.path == f"/a/{SENTIMENT}"

    rows = web.find_all("table#versions tr.version")
    versions = [row.find_element("css selector", "a.version-link").text.strip() for row in rows]
    assert versions == ["1.4", "1.3", "1.2", "1.1", "1.0"]  # newest first
    aliases = {
        version: sorted(a.text.strip() for a in row.find_elements("css selector", "span.alias"))
        for version, row in zip(versions, rows, strict=True)
    }
    assert any("production" in a for a in aliases["1.2"]), aliases
    assert any("candidate" in a for a in aliases["1.4"]), aliases
    assert not aliases["1.0"] and not aliases["1.3"], aliases

    labels = {li.text.strip() for li in web.find_all("ul#labels li.label")}
    assert any(label.startswith("team") and "nlp" in label for label in labels), labels
    assert any(label.strip() == "gpu" for label in labels), labels
    assert "English" in web.text("#description")
    assert web.find("#description strong").text == "English"  # Markdown rendered
    assert web.has("#card")
    history = web.text("table#alias-history")
    assert "production" in history and "candidate" in history and "admin" in history


def test_a_version_shows_its_files_model_and_pull_command(web: Browser, site: BrowserSite) -> None:
    web.use_token(site.admin)
    open_sentiment(web)
    link = next(a for a in web.find_all("table#versions a.version-link") if a.text.strip() == "1.4")
    link.click()
    web.wait_until(lambda: "/-/v/1.4" in web.path, "the version page")
    assert web.path == f"/a/{SENTIMENT}/-/v/1.4"

    files = web.find_all("#files tr.file")
    assert len(files) == 6  # model.pt config.json README.md vocab.txt reports/eval.csv metrics
    for row in files:
        assert SHA256.search(row.get_attribute("textContent") or ""), row.text
    folders = web.find_all("#files details")
    assert folders, "folders do not fold"
    summaries = " ".join(f.find_element("css selector", "summary").text for f in folders)
    assert "tokenizer" in summaries and "reports" in summaries
    assert "torch" in web.text("#model")
    assert f"{SENTIMENT}:1.4" in web.text("code#pull-command")
    assert f"{SENTIMENT}:1.4" in web.find("code#python-snippet").get_attribute("textContent")
    assert "candidate" in web.text("#version-aliases")
    assert web.has("#metadata") and web.has("#source")
    assert web.find_all("#card table tr"), "the card's table is not rendered"


def test_the_diff_form_opens_the_diff_of_two_versions(web: Browser, site: BrowserSite) -> None:
    web.use_token(site.admin)
    open_sentiment(web)
    web.choose("form#diff-form [name=a]", "1.3")
    web.choose("form#diff-form [name=b]", "1.4")
    web.submit("#diff-submit")
    assert web.path == f"/a/{SENTIMENT}/-/diff/1.3...1.4"

    def section(css: str) -> str:
        return str(web.find(css).get_attribute("textContent"))

    assert "metrics.json" in section("#files-added")
    assert "tokenizer/NOTES.txt" in section("#files-removed")
    changed = section("#files-changed")
    assert "model.pt" in changed and "config.json" in changed
    moved = section("#files-moved")
    assert "eval.csv" in moved and "reports/eval.csv" in moved
    sections = section("#section-diffs")
    assert "message" in sections and "card" in sections
    assert "distillation from the large teacher" in sections  # a's message, line by line


def test_the_short_diff_address_redirects_to_the_diff(web: Browser, site: BrowserSite) -> None:
    web.use_token(site.admin)
    web.open(f"/a/{SENTIMENT}/diff/1.0...1.1")
    assert web.path == f"/a/{SENTIMENT}/-/diff/1.0...1.1"
    assert web.has("#files-changed")


def test_every_page_links_its_json_twin(web: Browser, site: BrowserSite) -> None:
    web.use_token(site.admin)
    for path in ("/", f"/a/{SENTIMENT}", f"/a/{SENTIMENT}/-/v/1.4",
                 f"/a/{SENTIMENT}/-/diff/1.3...1.4", "/log"):  # fmt: skip
        web.open(path)
        twin = web.find("a#json-twin").get_attribute("href")
        assert twin and "/api/v1/" in twin, (path, twin)
        alternate = web.find("link[rel=alternate][type='application/json']")
        assert alternate.get_attribute("href") == twin, path
        web.driver.get(twin)  # the cookie reads the API for GET
        assert web.driver.execute_script("return document.contentType") == "application/json"


def test_the_log_filters_by_asset_action_and_who(web: Browser, site: BrowserSite) -> None:
    web.use_token(site.admin)
    web.open("/log")
    web.choose("form#log-filter [name=asset]", SENTIMENT)
    web.choose("form#log-filter [name=action]", "alias")
    web.choose("form#log-filter [name=who]", "admin")
    web.submit("#log-filter-submit")
    rows = [row.text for row in web.find_all("table#log tr.log-record")]
    assert len(rows) == 2, rows  # production and candidate, set once each by the filler
    for row in rows:
        assert "alias" in row and SENTIMENT in row and "admin" in row, row
    # newest first: candidate was set after production
    assert "candidate" in rows[0] or "1.4" in rows[0], rows
