"""Review item: a hostile ``prefix`` glob on ``GET /assets`` (a backtracking regular expression
once froze the process). The server matches only the names the caller may read, and the
matcher's cost is bounded (steps counted, never timed)."""

from __future__ import annotations

import pytest
from tests.registry.registry_helpers import API, MakeClient, asset, error_of, manifest_of, put_blobs

from modelshelf import _name_glob
from modelshelf.errors import InvalidInputError
from modelshelf.registry.tokens import TokenBook
from modelshelf.store.bucket import Store

HOSTILE = "**?" * 5 + "Z"


@pytest.fixture
def seeded(store: Store, book: TokenBook, make_client: MakeClient) -> Store:
    admin, _ = book.create("seed", ["admin:*"], None, created_by="t")
    client = make_client(admin)
    for name in ("nlp/sentiment-analysis-multilingual-large", "cv/detector", "cv/segmenter"):
        files = put_blobs(store, name.encode())
        response = client.put(asset(name, "versions", "1"), content=manifest_of(name, "1", files))
        assert response.status_code == 201, response.text
    return store


def test_a_glob_is_matched_only_against_names_the_caller_may_read(
    seeded: Store, book: TokenBook, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, _ = book.create("nlp-reader", ["read:nlp/"], None, created_by="t")
    matched: list[tuple[str, int]] = []
    run = _name_glob._Glob.run

    def counted(self: _name_glob._Glob, name: str) -> tuple[bool, int]:
        answer = run(self, name)
        matched.append((name, answer[1]))
        return answer

    monkeypatch.setattr(_name_glob._Glob, "run", counted)
    response = make_client(token).get(f"{API}/assets", params={"prefix": HOSTILE})
    assert response.status_code == 200, response.text
    assert response.json() == {"assets": [], "next": None}
    assert [name for name, _ in matched] == ["nlp/sentiment-analysis-multilingual-large"]
    states = len(_name_glob._compiled(HOSTILE).moves)
    assert all(steps <= states * len(name) for name, steps in matched)


def test_a_glob_with_too_many_wildcards_is_a_400_naming_the_bound(
    seeded: Store, book: TokenBook, make_client: MakeClient
) -> None:
    token, _ = book.create("reader", ["read:*"], None, created_by="t")
    response = make_client(token).get(f"{API}/assets", params={"prefix": "**?" * 20 + "Z"})
    assert response.status_code == 400
    error = error_of(response)
    assert isinstance(error, InvalidInputError)
    assert f"more than the {_name_glob.MAX_WILDCARDS}" in str(error)


def test_globs_still_select_and_page_after_the_scope_filter(
    seeded: Store, book: TokenBook, make_client: MakeClient
) -> None:
    token, _ = book.create("cv-reader", ["read:cv/"], None, created_by="t")
    client = make_client(token)
    first = client.get(f"{API}/assets", params={"prefix": "*/*", "limit": 1}).json()
    assert first == {"assets": ["cv/detector"], "next": "cv/detector"}
    rest = client.get(f"{API}/assets", params={"prefix": "*/*", "after": first["next"]}).json()
    assert rest == {"assets": ["cv/segmenter"], "next": None}
    assert client.get(f"{API}/assets", params={"prefix": "cv/seg*"}).json()["assets"] == [
        "cv/segmenter"
    ]
