"""Search over the catalog: which assets a query selects, in what order, one page at a time.

Pure: the catalog's summaries in, a page of results out. Parameters (the front page's form and
``/api/v1/search`` take the same):

- ``q``: a name substring (``sent``), or a glob when it holds ``*``, ``?`` or ``[`` (``nlp/*``,
  as :mod:`modelshelf._name_glob` matches them);
- ``label``: ``KEY`` (the asset has that label) or ``KEY=VALUE``;
- ``engine``: a version of the asset records that engine (``sklearn``);
- ``text``: words found (case-insensitive) in a version's message, the description or the card;
- ``sort``: ``pushed`` (newest push first, the default) or ``name``;
- ``page``: 1, 2, ... (:data:`PER_PAGE` a page).

What the caller may not read is dropped before anything is counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from modelshelf._name_glob import MAX_WILDCARDS, is_glob, name_matches
from modelshelf.errors import InvalidInputError
from modelshelf.registry.pages.catalog import AssetSummary

__all__ = ["PER_PAGE", "Query", "SearchPage", "page_number", "parse_query", "search"]

PER_PAGE = 50
MAX_PARAM = 200
"""The most characters of one search parameter."""
MAX_PAGE = 100_000
SORTS = ("pushed", "name")


@dataclass(frozen=True)
class Query:
    q: str = ""
    label: str = ""
    engine: str = ""
    text: str = ""
    sort: str = "pushed"
    page: int = 1

    def params(self, **changed: Any) -> dict[str, str]:
        """The query as URL parameters (the empty ones left out), with ``changed`` applied."""
        values = {
            "q": self.q,
            "label": self.label,
            "engine": self.engine,
            "text": self.text,
            "sort": self.sort if self.sort != "pushed" else "",
            "page": str(self.page) if self.page != 1 else "",
        }
        values.update({k: str(v) for k, v in changed.items()})
        return {k: v for k, v in values.items() if v and not (k == "page" and v == "1")}


def parse_query(params: Mapping[str, str]) -> Query:
    """The query of a request's parameters, bounded and checked.

    Raises:
        InvalidInputError: a parameter too long, a glob with too many wildcards, an unknown
            sort or a page that is not a number.
    """
    values = {}
    for key in ("q", "label", "engine", "text"):
        value = params.get(key, "").strip()
        if len(value) > MAX_PARAM:
            raise InvalidInputError(
                f"the search parameter {key} takes at most {MAX_PARAM} characters"
            )
        values[key] = value
    if is_glob(values["q"]) and sum(values["q"].count(c) for c in "*?[") > MAX_WILDCARDS:
        raise InvalidInputError(f"a name glob holds at most {MAX_WILDCARDS} wildcards")
    sort = params.get("sort", "") or "pushed"
    if sort not in SORTS:
        raise InvalidInputError(f"sort is {' or '.join(SORTS)}, not {sort[:40]!r}")
    return Query(sort=sort, page=page_number(params.get("page", "")), **values)


_PAGE_DIGITS = re.compile(r"[0-9]{1,7}")


def page_number(text: str | None, maximum: int = MAX_PAGE) -> int:
    """The ``page`` parameter of every route that takes one: ASCII digits (at most 7, so
    never a long number to convert), from 1 to ``maximum``; missing or empty is 1.

    Raises:
        InvalidInputError: anything else (``²``, ``-1``, ``1e3``, 5,000 digits, ``0``).
    """
    if not text:
        return 1
    number = int(text) if _PAGE_DIGITS.fullmatch(text) else 0
    if not 1 <= number <= maximum:
        raise InvalidInputError(f"page is a number from 1 to {maximum}, not {text[:20]!r}")
    return number


@dataclass(frozen=True)
class SearchPage:
    """One page of results and the total the caller may see."""

    query: Query
    total: int
    assets: list[AssetSummary]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PER_PAGE))

    @property
    def has_next(self) -> bool:
        return self.query.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.query.page > 1


def _selects(query: Query) -> Callable[[AssetSummary], bool]:
    q, text = query.q.lower(), query.text.lower()
    glob = is_glob(query.q)
    key, has_value, value = query.label.partition("=")
    key = key.strip().lower()

    def selects(asset: AssetSummary) -> bool:
        if q and not (name_matches(query.q, asset.name) if glob else q in asset.name.lower()):
            return False
        if key and not asset.has_label(key, value if has_value else None):
            return False
        if query.engine and not any(v.engine == query.engine for v in asset.versions):
            return False
        return not text or asset.has_text(text)

    return selects


def search(
    assets: Iterable[AssetSummary], query: Query, can_read: Callable[[str], bool]
) -> SearchPage:
    """The page ``query`` asks for of the assets the caller may read that it selects."""
    selects = _selects(query)
    found = [a for a in assets if can_read(a.name) and selects(a)]
    if query.sort == "name":
        found.sort(key=lambda a: a.name)
    else:
        found.sort(key=lambda a: (a.last_push, a.name), reverse=True)
    start = (query.page - 1) * PER_PAGE
    return SearchPage(query, len(found), found[start : start + PER_PAGE])
