"""The catalog: built from the store, then kept current from the store's log, including writes
another process made through its own Store."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.pages.pages_helpers import blob, commit, fill_store

from modelshelf.backends.registry import open_backend
from modelshelf.registry.pages.catalog import Catalog
from modelshelf.registry.pages.search import PER_PAGE, Query, search
from modelshelf.store.bucket import Store

ROOT = Path(__file__).resolve().parents[2]
PUSH = """
import sys
sys.path[:0] = [{src!r}, {root!r}]
from modelshelf.backends.registry import open_backend
from modelshelf.store.bucket import Store
from tests.pages.pages_helpers import blob, commit
store = Store(open_backend({url!r}))
commit(store, "nlp/late", "1.0", [blob(store, b"late", "w.bin")], "pushed elsewhere", "onnx")
record = store.set_alias("nlp/sentiment", "production", "1.2")
store.append_log("nlp/sentiment", "alias", alias="production", version="1.2",
                 previous=record.previous, seq=record.seq)
store.remove_version("nlp/ner", "1.0", "gone")
store.append_log("nlp/ner", "remove", version="1.0", message="gone")
"""


def _file_store(tmp_path: Path) -> Store:
    store = Store(open_backend((tmp_path / "store").as_uri()))
    store.create()
    fill_store(store)
    return store


def test_a_write_by_another_process_appears_after_a_poll(tmp_path: Path) -> None:
    store = _file_store(tmp_path)
    catalog = Catalog(store)
    catalog.build()
    assert catalog.ready and catalog.progress(True) is None
    assert sorted(a.name for a in catalog.assets()) == ["cv/secret", "nlp/ner", "nlp/sentiment"]
    assert catalog.asset("nlp/sentiment").aliases == {"production": "1.1"}  # type: ignore[union-attr]
    code = PUSH.format(src=str(ROOT / "src"), root=str(ROOT), url=store.url)
    subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True, timeout=120)
    assert catalog.poll() > 0
    names = sorted(a.name for a in catalog.assets())
    assert names == ["cv/secret", "nlp/late", "nlp/sentiment"]  # nlp/ner has no live version
    assert catalog.asset("nlp/sentiment").aliases == {"production": "1.2"}  # type: ignore[union-attr]
    late = catalog.asset("nlp/late")
    assert late is not None and late.versions[0].engine == "onnx"
    actions = [r["action"] for _, r in catalog.log_records()]
    assert actions[-3:] == ["push", "alias", "remove"]
    assert catalog.poll() == 0  # each change once


def test_the_build_counts_what_it_indexed(tmp_path: Path) -> None:
    store = _file_store(tmp_path)
    catalog = Catalog(store)
    assert catalog.progress(True) == "indexed 0 of 0 versions"
    catalog.build()
    assert (catalog.indexed, catalog.total) == (5, 5)
    assert set(catalog.pushers("nlp/sentiment")) == {"1.0", "1.1", "1.2"}  # from the store's log


def test_search_pages_and_counts_only_what_may_be_read(tmp_path: Path) -> None:
    store = Store(open_backend((tmp_path / "many").as_uri()))
    store.create()
    weights = blob(store, b"w", "w.bin")
    for n in range(PER_PAGE + 5):
        when = f"2026-12-01T00:00:{n % 60:02d}.{n:06d}Z"
        commit(store, f"team/m{n:03d}", "1.0", [weights], created=when)
    commit(store, "other/x", "1.0", [weights])
    catalog = Catalog(store)
    catalog.build()
    assets = catalog.assets()
    first = search(assets, Query(sort="name"), lambda n: n.startswith("team/"))
    assert first.total == PER_PAGE + 5 and len(first.assets) == PER_PAGE and first.has_next
    assert first.assets[0].name == "team/m000"
    second = search(assets, Query(sort="name", page=2), lambda n: n.startswith("team/"))
    assert [a.name for a in second.assets][-1] == f"team/m{PER_PAGE + 4:03d}" and second.has_prev
    newest = search(assets, Query(), lambda n: n.startswith("team/")).assets[0]
    assert newest.name == f"team/m{PER_PAGE + 4:03d}"  # newest push first
    assert search(assets, Query(q="other"), lambda n: n.startswith("team/")).total == 0
