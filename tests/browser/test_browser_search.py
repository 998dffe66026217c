"""The front page's search, in a real browser, through its form: by name substring, by glob,
by label (``k`` and ``k=v``), by engine and by text in messages, descriptions and cards; the
result count says how many matched.
"""

from __future__ import annotations

import pytest
from tests.browser.browser_assets import INTENT, PRIVATE, RESNET, SENTIMENT, TEXT_WORD, BrowserSite
from tests.browser.browser_pages import Browser, count_of


def search(web: Browser, **fields: str) -> list[str]:
    """Fill the search form from the front page, submit it, and return the names listed."""
    web.open("/")
    for name, value in fields.items():
        web.choose(f"form#search [name={name}]", value)
    web.submit("#search-submit")
    return listed(web)


def listed(web: Browser) -> list[str]:
    names = []
    for link in web.find_all("table#assets tr.asset a.asset-link"):
        href = str(link.get_attribute("href"))
        assert "/a/" in href, href
        names.append(href.split("/a/", 1)[1].rstrip("/"))
    return names


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"q": "senti"}, [SENTIMENT]),
        ({"q": "nlp/*"}, [INTENT, SENTIMENT]),
        ({"q": "*/res*"}, [RESNET]),
        ({"label": "team=vision"}, [RESNET]),
        ({"label": "gpu"}, [SENTIMENT]),
        ({"label": "team"}, [PRIVATE, RESNET, SENTIMENT]),
        ({"engine": "onnx"}, [RESNET]),
        ({"text": TEXT_WORD}, [SENTIMENT]),  # a message of 1.3
        ({"text": "ImageNet"}, [RESNET]),  # its card
        ({"text": "product reviews"}, [SENTIMENT]),  # its description and card
        ({"q": "nlp/*", "label": "gpu"}, [SENTIMENT]),  # the filters combine
        ({"q": "no-such-model"}, []),
    ],
    ids=lambda v: "-".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else None,
)
def test_search_from_the_form(
    web: Browser, site: BrowserSite, fields: dict[str, str], expected: list[str]
) -> None:
    web.use_token(site.admin)
    found = search(web, **fields)
    assert sorted(found) == sorted(expected)
    assert count_of(web.text("#result-count")) == len(expected)
    # the page's URL holds the search: it can be shared and reloaded
    for name in fields:
        assert f"{name}=" in web.path, web.path
    web.driver.refresh()
    assert sorted(listed(web)) == sorted(expected)


def test_the_front_page_lists_newest_push_first_and_by_name(
    web: Browser, site: BrowserSite
) -> None:
    web.use_token(site.admin)
    web.open("/")
    # pushed last: the private model, then resnet (browser_assets.AssetFiller.fill)
    assert listed(web) == [PRIVATE, RESNET, INTENT, SENTIMENT]
    web.open("/?sort=name")
    assert listed(web) == sorted([PRIVATE, RESNET, INTENT, SENTIMENT])
    assert not web.has("a#next-page") and not web.has("a#prev-page")  # 4 assets: one page
