"""The JSON budget counts every string, and no store JSON holds a non-finite number (issue 20
round two, P2).

Class of attack: amplification past the budget, and records modelshelf cannot write back.
``check_json_budget`` subtracted every ``\\"`` from the quotes, also the closing quote of a
string ending in an escaped backslash (``"ab\\\\"``): such strings counted as half a string, and
a manifest of them decoded to ~5.4 times its size instead of ~3.5. ``1e999999``, ``NaN`` and
``Infinity`` were accepted (as ``inf``/``nan``) and written back as non-standard JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tests.unit.test_hostile_store import (
    ALIAS_KEY,
    LOG_KEY,
    alias_record,
    log_record,
    manifest_dict,
)

from modelshelf import Shelf
from modelshelf._bounds import check_json_budget, count_json_strings, loads_json
from modelshelf.backends import open_backend
from modelshelf.errors import InvalidManifestError, ModelshelfError
from modelshelf.manifest import Manifest


def _strings(value: Any) -> int:
    """The strings json.loads builds for ``value`` (keys included)."""
    if isinstance(value, str):
        return 1
    if isinstance(value, dict):
        return sum(1 + _strings(v) for v in value.values())
    if isinstance(value, list):
        return sum(_strings(v) for v in value)
    return 0


def test_strings_ending_in_an_escaped_backslash_are_counted_whole() -> None:
    # 4 MB of '"\\",': 666,000 strings, over the 452,000 the budget allows; the old count
    # (quotes minus every backslash-quote) saw 333,000 and let them through.
    raw = b"[" + b",".join([b'"\\\\"'] * 666_000) + b"]"
    assert len(json.loads(raw)) == 666_000
    with pytest.raises(ValueError, match="666000 strings"):
        check_json_budget(raw)


def test_a_manifest_of_such_strings_is_refused_before_decoding() -> None:
    pairs = b",".join(b'"%07d\\\\":"\\\\"' % i for i in range(400_000))
    data = json.loads(json.dumps(manifest_dict()))
    raw = json.dumps(data).encode()[:-1] + b', "junk": {' + pairs + b"}}"
    with pytest.raises(InvalidManifestError, match="strings"):
        Manifest.from_json(raw)


_TEXT = st.text(st.sampled_from('ab\\"/\n\u00e9\U0001f600'), max_size=6)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_TEXT, inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=500, deadline=None)
@given(_JSON, st.booleans(), st.booleans(), st.integers(min_value=0, max_value=40))
@example(["\\", "a\\"], True, False, 0)
@example({"\\\\": "\\"}, False, True, 2)
def test_the_string_count_never_undercounts(
    value: Any, ascii_only: bool, indent: bool, budget: int
) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only, indent=2 if indent else None).encode()
    counted = count_json_strings(raw, budget)
    assert counted >= _strings(value), raw
    if counted > budget:  # over the budget the count is exact: no real manifest refused
        assert counted == _strings(value), raw


@pytest.mark.parametrize("number", [b"1e999999", b"-1e400", b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_numbers_are_refused(number: bytes) -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        loads_json(b'{"x": [1, ' + number + b"]}")
    raw = json.dumps(manifest_dict()).encode()[:-1] + b', "model": {"x": ' + number + b"}}"
    with pytest.raises(InvalidManifestError, match="not a finite number") as info:
        Manifest.from_json(raw, where="s3://b/assets/m/versions/1.1.json")
    assert "assets/m/versions/1.1.json" in str(info.value)


def test_finite_numbers_still_read() -> None:
    assert loads_json(b'{"x": [1.5, -2e10, 1e308, 0.0, 12345678901234567890]}') == {
        "x": [1.5, -2e10, 1e308, 0.0, 12345678901234567890]
    }


def test_a_section_with_a_non_finite_number_is_not_pushed(tmp_path: Path) -> None:
    # Push already refused it (its own check); pinned here: a writer refuses what readers do.
    shelf = Shelf(open_backend(f"memory://nan-{tmp_path.name}"), cache_dir=tmp_path / "c")
    (tmp_path / "w.bin").write_bytes(b"weights")
    with pytest.raises(ModelshelfError, match="nan, which JSON cannot hold"):
        shelf.push(tmp_path / "w.bin", "m", sections={"model": {"x": float("nan")}}, progress=False)
    assert shelf.assets() == []


@pytest.mark.parametrize(
    ("key", "record", "read"),
    [
        (ALIAS_KEY, alias_record(), lambda shelf: shelf.aliases("m")),
        (LOG_KEY, log_record(), lambda shelf: shelf.store.log("m")),
    ],
    ids=["alias record", "audit record"],
)
@pytest.mark.parametrize("number", ["NaN", "1e999999"])
def test_a_record_with_a_non_finite_number_is_refused(
    tmp_path: Path, key: str, record: dict[str, Any], read: Any, number: str
) -> None:
    backend = open_backend(f"memory://nanrec-{tmp_path.name}")
    shelf = Shelf(backend, cache_dir=tmp_path / "c")
    (tmp_path / "w.bin").write_bytes(b"weights")
    shelf.push(tmp_path / "w.bin", "m", progress=False)
    shelf.set_alias("m@prod", "1.0")
    backend.put(key, json.dumps(record).encode()[:-1] + f', "extra": {number}}}'.encode())
    with pytest.raises(ModelshelfError, match="not a finite number") as info:
        read(shelf)
    assert key in str(info.value)
