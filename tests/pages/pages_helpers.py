"""What the pages tests share: assets written straight into a store, and HTML read back."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
from starlette.testclient import TestClient

from modelshelf.manifest import FileEntry, Manifest
from modelshelf.registry.pages.session import LocalUser
from modelshelf.store.bucket import Store
from modelshelf.transfer.verified_upload import HashedBytes

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
CARD = "# The sentiment model\n\nTrained on *reviews*.\n\n<script>alert('card')</script>\n"


def blob(store: Store, data: bytes, path: str) -> FileEntry:
    hashed = HashedBytes(data)
    store.put_blob(hashed.sha256, hashed)
    return FileEntry(path, len(data), hashed.sha256)


def commit(
    store: Store,
    name: str,
    version: str,
    files: list[FileEntry],
    message: str = "",
    engine: str | None = None,
    created: str = "2026-12-07T00:00:00.000000Z",
) -> Manifest:
    """Commit a manifest and its audit record, as a push does."""
    extra = {"model": {"engine": engine, "runner": "x.y:Z"}} if engine else {}
    manifest = Manifest(
        name=name,
        version=version,
        kind="directory",
        files=tuple(sorted(files, key=lambda f: f.path)),
        created=created,
        author="pusher@laptop",
        message=message,
        source={"git_commit": "0123abcd", "path": "/src/model"},
        metadata={"task": "sentiment"},
        extra=extra,
    )
    store.commit_manifest(manifest)
    store.append_log(
        name, "push", version=version, message=message, files=len(files), size=manifest.size
    )
    return manifest


def fill_store(store: Store) -> None:
    """nlp/sentiment 1.0..1.2 (a card, aliases, labels), nlp/ner 1.0, cv/secret 1.0."""
    card = blob(store, CARD.encode(), "README.md")
    weights = [blob(store, f"weights {n}".encode(), "model/weights.bin") for n in range(3)]
    extra = blob(store, b"vocab", "model/vocab.txt")
    commit(
        store,
        "nlp/sentiment",
        "1.0",
        [card, weights[0], extra],
        "first " + HOSTILE,
        "sklearn",
        "2026-12-01T00:00:00.000000Z",
    )
    moved = FileEntry("vocab/vocab.txt", extra.size, extra.sha256)
    commit(
        store,
        "nlp/sentiment",
        "1.1",
        [card, weights[1], moved],
        "second",
        "sklearn",
        "2026-12-02T00:00:00.000000Z",
    )
    commit(
        store,
        "nlp/sentiment",
        "1.2",
        [card, weights[2], moved],
        "third, retrained",
        "sklearn",
        "2026-12-03T00:00:00.000000Z",
    )
    commit(
        store, "nlp/ner", "1.0", [weights[0]], "ner model", "torch", "2026-12-04T00:00:00.000000Z"
    )
    commit(
        store,
        "cv/secret",
        "1.0",
        [weights[1]],
        "secret cv words",
        "onnx",
        "2026-12-05T00:00:00.000000Z",
    )
    for version in ("1.0", "1.1"):
        record = store.set_alias("nlp/sentiment", "production", version)
        store.append_log(
            "nlp/sentiment",
            "alias",
            alias="production",
            version=version,
            previous=record.previous,
            seq=record.seq,
        )
    store.set_alias("cv/secret", "production", "1.0")
    store.write_notes(
        "nlp/sentiment", None, labels={"team": "nlp", "gpu": ""}, description="", expected_seq=0
    )
    store.write_notes("cv/secret", None, labels={"team": "cv"}, description="", expected_seq=0)


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        if found.get("id"):
            self.ids.add(str(found["id"]))


def parsed(html: str) -> _Ids:
    parser = _Ids()
    parser.feed(html)
    return parser


def ids_of(answer: httpx.Response) -> set[str]:
    return parsed(answer.text).ids


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


UI_BASE = "http://127.0.0.1:8090"
"""Where the ui tests' app is reached (as ``modelshelf ui`` listens by default)."""


def open_ui(client: TestClient, user: LocalUser) -> None:
    """Do what the user of ``modelshelf ui`` does: open the URL it printed (sets the cookie)."""
    user.access.listen("127.0.0.1", 8090)
    answer = client.get(user.access.entry_url(UI_BASE), follow_redirects=False)
    assert answer.status_code == 303, answer.text
