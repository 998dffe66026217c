"""Writes from the pages, in a real browser, by a token with a write scope: moving an alias and
editing an asset's labels and description. Each lands in the store (read back from the bucket,
not through the server), shows on the page, and is audited under the token's name.
"""

from __future__ import annotations

from tests.browser.browser_assets import INTENT, BrowserSite
from tests.browser.browser_pages import Browser


def test_moving_an_alias_from_the_asset_page(web: Browser, site: BrowserSite) -> None:
    before = site.store.read_alias(INTENT, "production")
    target = "1.1" if before.version == "1.0" else "1.0"
    web.use_token(site.editor)
    web.open(f"/a/{INTENT}")
    web.choose("form#move-alias [name=alias]", "production")
    web.choose("form#move-alias [name=version]", target)
    web.submit("#move-alias-submit")

    assert web.text("#flash").strip(), "no word that the alias moved"
    assert not web.has("#error") or not web.text("#error").strip(), web.text("#error")
    moved = site.store.read_alias(INTENT, "production")
    assert (moved.version, moved.previous, moved.seq) == (target, before.version, before.seq + 1)
    assert moved.who == "editor"
    record = [r for r in site.store.log(INTENT) if r.get("action") == "alias"][-1]
    assert (record["alias"], record["version"], record["user"]) == ("production", target, "editor")

    web.open(f"/a/{INTENT}")  # the page shows it where it now is
    rows = {
        row.find_element("css selector", "a.version-link").text.strip(): row.text
        for row in web.find_all("table#versions tr.version")
    }
    assert "production" in rows[target] and "production" not in rows[before.version or ""]
    assert "editor" in web.text("table#alias-history")


def test_editing_labels_and_description_from_the_asset_page(
    web: Browser, site: BrowserSite
) -> None:
    web.use_token(site.editor)
    web.open(f"/a/{INTENT}")
    web.fill("form#edit-notes textarea[name=labels]", "stage=staging\nowner=ana\nreviewed")
    web.fill(
        "form#edit-notes textarea[name=description]",
        "Intent of a *support* message.\n\n| intent | share |\n|---|---|\n| refund | 0.4 |\n",
    )
    web.submit("#edit-notes-submit")

    assert web.text("#flash").strip(), "no word that the notes were saved"
    labels = {li.text.strip() for li in web.find_all("ul#labels li.label")}
    assert {"reviewed"} <= labels, labels
    assert any("stage" in label and "staging" in label for label in labels), labels
    assert any("owner" in label and "ana" in label for label in labels), labels
    assert web.find("#description em").text == "support"  # rendered Markdown
    assert web.find_all("#description table tr")

    audited = [r for r in site.store.log(INTENT) if r.get("action") == "label"]
    assert audited, site.store.log(INTENT)
    record = audited[-1]
    assert record["user"] == "editor"
    assert "stage=staging" in record["labels"] and "reviewed" in record["labels"]
    assert record["description_changed"] is True

    # and search finds it by its new label (the catalog follows the store's log: at once, or
    # within its next poll)
    def found() -> bool:
        web.open("/?label=owner%3Dana")
        links = web.find_all("table#assets a.asset-link")
        return [a.get_attribute("href") for a in links] == [f"{site.url}/a/{INTENT}"]

    web.wait_until(found, "the search to find the new label")
