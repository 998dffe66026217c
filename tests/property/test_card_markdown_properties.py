"""Hypothesis properties of the card renderer (:func:`render_markdown`): whatever Markdown a
store holds, the HTML it gives runs nothing: no script or style element, no ``on*`` attribute,
no ``javascript:``, ``vbscript:`` or ``data:`` URL, only allowlisted tags.

Checked by parsing the output as a browser would (html.parser), so text that merely mentions
``<script>`` (escaped) is allowed; plus a raw check that no ``<script`` appears at all.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from modelshelf.registry.pages.markdown import render_markdown

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=300, deadline=None)

ALLOWED = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "kbd",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "background", "poster"}
SAFE_SCHEMES = ("http:", "https:", "mailto:")

PIECES = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//x/x.js>",
    "<img src=x onerror=alert(1)>",
    "<a href='javascript:alert(1)'>x</a>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "![i](data:image/png,x)",
    "[x](vbscript:msgbox(1))",
    "<iframe src=//x>",
    "<style>*{}</style>",
    '<div onclick="x">',
    "<svg/onload=alert(1)>",
    "`code`",
    "# head",
    "* item",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "[ref]: javascript:alert(1)\n[ref]",
    '<a href="&#106;avascript:alert(1)">e</a>',
    "[x](&#106;avascript:alert(1))",
    "<details open ontoggle=alert(1)>",
    "**b**",
    "\n\n",
    "<",
    ">",
    '"',
    "'",
    "&",
    "=",
    "on",
    "onerror=",
    "javascript:",
]
markdown = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=20)), max_size=12).map(
    "".join
)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    handle_startendtag = handle_starttag


def _harmless(html: str) -> None:
    assert "<script" not in html.lower()
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag in ALLOWED, tag
        for name, value in attrs:
            assert not name.lower().startswith("on"), (tag, name)
            assert name.lower() != "style", (tag, name)
            if name.lower() in URL_ATTRIBUTES and value:
                squashed = "".join(value.split()).lower()
                assert ":" not in squashed.split("/")[0] or squashed.startswith(SAFE_SCHEMES), value
                assert "javascript:" not in squashed and "data:" not in squashed, value
        if tag == "a" and any(n == "href" for n, _ in attrs):
            rel = dict(attrs).get("rel") or ""
            assert {"nofollow", "noopener", "noreferrer"} <= set(rel.split()), rel


@SETTINGS
@given(markdown)
@example("<script>alert(1)</script>")
@example("[x](javascript:alert(1)) <img src=x onerror=alert(1)> ![d](data:image/png;base64,AA)")
def test_any_markdown_renders_to_html_that_runs_nothing(text: str) -> None:
    _harmless(render_markdown(text))


@pytest.mark.parametrize("hostile", PIECES)
def test_each_hostile_piece_alone_is_harmless(hostile: str) -> None:
    _harmless(render_markdown(hostile))


def test_plain_markdown_keeps_its_shape() -> None:
    html = render_markdown(
        "# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[site](https://example.org)"
    )
    assert "<h2>Title</h2>" in html and "<table>" in html and "<td>1</td>" in html
    assert '<a href="https://example.org" rel="nofollow noopener noreferrer">site</a>' in html
