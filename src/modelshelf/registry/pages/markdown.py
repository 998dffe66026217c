"""Cards: Markdown from the store rendered to HTML that cannot run anything.

The text is outside input (anyone who may push writes a README). markdown-it-py renders it with
CommonMark rules, raw HTML off (``html=False``: a ``<script>`` in the text is shown as text) and
tables on; then :func:`nh3.clean` keeps only an allowlist of tags and attributes: no script,
style, iframe, form or ``on*`` attribute survives, links and images keep only ``http``,
``https`` and ``mailto`` URLs (never ``javascript:`` or ``data:``), and every link gets
``rel="nofollow noopener noreferrer"``. The page's Content-Security-Policy is a second wall
(no script at all, images only from the registry). Headings move down one level so the page
keeps its one ``h1``.
"""

from __future__ import annotations

import functools

import nh3
from markdown_it import MarkdownIt

__all__ = ["MAX_CARD_CHARS", "render_markdown"]

MAX_CARD_CHARS = 256 * 1024
"""The most characters of a card rendered; the rest is cut (a card is read bounded anyway)."""

_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl",
        "dt", "em", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p",
        "pre", "s", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "th",
        "thead", "tr", "ul",
    }
)  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"align", "colspan", "rowspan", "scope"},
    "td": {"align", "colspan", "rowspan"},
    "ol": {"start"},
    "code": {"class"},
}
_SCHEMES = frozenset({"http", "https", "mailto"})
_HEADINGS = {f"h{level}": f"h{min(level + 1, 6)}" for level in range(1, 7)}


@functools.cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(text: str) -> str:
    """The HTML of a card's Markdown, sanitised (safe to insert into a page unescaped).

    Example:
        >>> render_markdown("# Model\\n<script>x</script>")
        '<h2>Model</h2>\\n<p>&lt;script&gt;x&lt;/script&gt;</p>\\n'
    """
    parser = _parser()
    tokens = parser.parse(text[:MAX_CARD_CHARS])
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = _HEADINGS.get(token.tag, token.tag)
    html = parser.renderer.render(tokens, parser.options, {})
    return nh3.clean(
        html,
        tags=set(_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(names) for tag, names in _ATTRIBUTES.items()},
        url_schemes=set(_SCHEMES),
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )
