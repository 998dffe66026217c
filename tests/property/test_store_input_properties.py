"""Properties of the trust boundary: mutated manifests reach the deep checks, joins stay inside.

Random JSON mostly stops at the first check a manifest meets (its ``format``), so these tests
start from valid manifests and mutate one to three fields, as the spec tests mutate valid specs.
Each example records with ``event()`` whether parsing reached the file-entry checks; see them
with ``pytest tests/property -p no:cacheprovider --hypothesis-show-statistics``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from tests.property.test_outside_input_properties import json_values, manifests
from tests.unit.test_hostile_store import DictBackend

from modelshelf import Shelf, trust
from modelshelf.cache.cache import Cache
from modelshelf.errors import InvalidManifestError, ModelshelfError, UntrustedStoreDataError
from modelshelf.manifest import CORE_KEYS, Manifest

pytestmark = pytest.mark.property

SETTINGS = settings(max_examples=300, deadline=None)
ROOT = Path("/nonexistent/cache-root")  # joins are lexical: nothing is created

# Values a hostile store would try, beside arbitrary JSON.
hostile_values = st.one_of(
    json_values,
    st.sampled_from(
        [
            "..",
            "../x",
            "/abs",
            "a\\b",
            "a\x00b",
            "",
            ".",
            "a//b",
            "a/../../b",
            "1.0",
            "01.0",
            "1.0/../x",
            "A" * 64,
            "0" * 64,
            2**62,
            2**50,
            -1,
            True,
            5.0,
            None,
            [],
            {},
        ]
    ),
)
file_fields = st.sampled_from(["path", "size", "sha256", "other"])
top_keys = st.sampled_from([*sorted(CORE_KEYS), "runner"])


@st.composite
def mutated_manifests(draw: st.DrawFn) -> dict[str, Any]:
    """A valid manifest's JSON object with one to three fields replaced, removed or added."""
    data = draw(manifests()).to_dict()
    for _ in range(draw(st.integers(1, 3))):
        files = data.get("files")
        where = draw(st.sampled_from(["file", "file", "file", "top", "drop", "add"]))
        if where == "top":
            data[draw(top_keys)] = draw(hostile_values)
        elif where == "drop":
            data.pop(draw(top_keys), None)
        elif not isinstance(files, list) or not files:
            data["files"] = draw(hostile_values)
        elif where == "add":
            # a copy of an entry, or an empty one; the list may hold hostile non-objects already
            copied = draw(st.sampled_from(files)) if draw(st.booleans()) else {}
            files.append(dict(copied) if isinstance(copied, dict) else {})
        else:
            entry = draw(st.sampled_from(files))
            if isinstance(entry, dict):
                if draw(st.booleans()):
                    entry[draw(file_fields)] = draw(hostile_values)
                else:
                    entry.pop(draw(file_fields), None)
    return data


def parse_counting(raw: str) -> tuple[Manifest | None, InvalidManifestError | None, int]:
    """Parse, counting the file entries that reached :func:`trust.check_file_entry`."""
    with mock.patch.object(trust, "check_file_entry", wraps=trust.check_file_entry) as spy:
        try:
            return Manifest.from_json(raw, where="s3://b/k"), None, spy.call_count
        except InvalidManifestError as exc:
            return None, exc, spy.call_count


def check_invariants(manifest: Manifest) -> None:
    """What every accepted manifest guarantees to the code after it."""
    trust.check_name(manifest.name)
    trust.check_version(manifest.version)
    assert manifest.files and (manifest.kind == "directory" or len(manifest.files) == 1)
    paths = [entry.path for entry in manifest.files]
    assert len(set(paths)) == len(paths)
    for entry in manifest.files:
        trust.check_relative_path(entry.path)
        assert type(entry.size) is int and 0 <= entry.size < trust.MAX_SIZE
        trust.check_sha256(entry.sha256)
        joined = trust.inside(ROOT, entry.path)
        assert os.path.normpath(joined).startswith(str(ROOT) + "/")
    assert CORE_KEYS.isdisjoint(manifest.extra)
    assert Manifest.from_json(manifest.to_json()) == manifest


@SETTINGS
@given(mutated_manifests())
def test_mutated_manifests_are_valid_or_refused_in_one_line(data: dict[str, Any]) -> None:
    manifest, error, reached = parse_counting(json.dumps(data))
    event("reached file-entry validation" if reached else "stopped before the file entries")
    if error is not None:
        event(f"refused: {str(error).split(': ', 2)[-1][:24]}")
        assert "\n" not in str(error)
        assert str(error).startswith("s3://b/k ")
    else:
        assert manifest is not None
        event("accepted")
        check_invariants(manifest)


# -- any string from a store, joined into the cache, stays under the root ---------------------

store_strings = st.one_of(
    st.text(max_size=40),
    st.text(st.sampled_from(list("./\\\x00a1~ :")), max_size=20),
    st.lists(st.sampled_from(["..", ".", "", "a", "1.0", "/", "~"]), max_size=6).map("/".join),
)


def joins(cache: Cache, text: str) -> dict[str, Any]:
    """Every cache path built from a store string, as a thunk, by the string's role."""
    return {
        "alias version -> snapshot": lambda: cache.snapshot_dir("sid", "m", text),
        "alias version -> manifest": lambda: cache._manifest_path("sid", "m", text),
        "alias version -> marker": lambda: cache.complete_marker("sid", "m", text),
        "manifest name -> snapshot": lambda: cache.snapshot_dir("sid", text, "1.0"),
        "ref -> alias": lambda: cache._ref_path("sid", "m", f"aliases:{text}"),
        "ref -> version": lambda: cache._ref_path("sid", "m", f"versions:{text}"),
        "sha -> blob": lambda: cache.blob_path(text),
        "manifest path -> file": lambda: trust.inside(cache.snapshot_dir("s", "m", "1"), text),
    }


@SETTINGS
@given(store_strings)
def test_store_strings_joined_into_the_cache_stay_under_the_root(text: str) -> None:
    cache = Cache(ROOT)
    for role, join in joins(cache, text).items():
        try:
            path = join()
        except UntrustedStoreDataError as exc:
            assert "\n" not in str(exc)
            event(f"{role}: refused")
            continue
        event(f"{role}: joined")
        assert os.path.normpath(path).startswith(str(ROOT) + "/"), (role, path)
    try:
        folder = trust.inside(ROOT, "manifests", "sid", text, "versions")
    except UntrustedStoreDataError:
        return
    assert os.path.normpath(folder).startswith(str(ROOT) + "/")


@SETTINGS
@given(store_strings)
def test_whatever_trust_accepts_joins_without_error(text: str) -> None:
    cache = Cache(ROOT)
    accepted = []
    for check in (trust.check_version, trust.check_name, trust.check_relative_path):
        try:
            check(text)
        except ValueError:
            continue
        accepted.append(check.__name__)
    if "check_version" in accepted:
        cache.snapshot_dir("sid", "m", text)
        cache.complete_marker("sid", "m", text)
        cache._ref_path("sid", "m", f"versions:{text}")
    if "check_name" in accepted:
        cache.snapshot_dir("sid", text, "1.0")
    if "check_relative_path" in accepted:
        trust.inside(ROOT, text)
    event(f"accepted by {len(accepted)} checks")


@settings(max_examples=60, deadline=None)
@given(store_strings)
def test_a_forged_alias_version_never_writes_outside_the_cache(text: str) -> None:
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        top = Path(tmp)
        cache_root = top / "a" / "b" / "cache"
        cache_root.mkdir(parents=True)
        backend = DictBackend()
        model = top / "model"
        model.mkdir()
        (model / "w").write_bytes(b"hello")
        shelf = Shelf(backend, cache_dir=cache_root)
        manifest = shelf.push(model, "m", progress=False)
        record = {"alias": "prod", "version": text, "previous": None, "seq": 1}
        record |= {"who": "u", "host": "h", "when": "t"}
        backend.put("assets/m/aliases/prod/00000001.json", json.dumps(record).encode())
        forged = json.loads(manifest.to_json()) | {"version": text}
        backend.put(f"assets/m/versions/{text}.json", json.dumps(forged).encode())
        before = {p for p in top.rglob("*") if not p.is_relative_to(cache_root)}
        try:
            shelf.pull("m@prod", progress=False)
            event("pulled")
            trust.check_version(text)  # only a real version text gets this far
        except ModelshelfError as exc:
            event("refused")
            assert "\n" not in str(exc)
        assert {p for p in top.rglob("*") if not p.is_relative_to(cache_root)} == before
