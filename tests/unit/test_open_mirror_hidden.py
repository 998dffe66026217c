"""Mirror keys and URLs are refused for every character the escapes treat as hidden (issue 21,
open leftover 1): the Unicode categories Cc, Cf, Zl, Zp and Cs, computed in ``_text.py``, not a
hand-written list (which let a zero-width space or a soft hyphen into a local file name).
SeaweedFS: tests/integration/test_open_mirror_s3.py."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelshelf.cli.main import main
from modelshelf.errors import UnsupportedStoreError, UntrustedStoreDataError
from modelshelf.mirror.plan import check_key, split_url
from modelshelf.mirror.run import mirror
from modelshelf.trust import escape_controls

# Each is a format (Cf) or separator character the old list left out, and one it had.
HIDDEN = {
    "zero-width space": "\u200b",
    "zero-width joiner": "\u200d",
    "soft hyphen": "\u00ad",
    "word joiner": "\u2060",
    "arabic letter mark (bidi)": "\u061c",
    "left-to-right mark (bidi)": "\u200e",
    "right-to-left override (bidi)": "\u202e",
    "interlinear annotation": "\ufff9",
    "tag space (plane 14)": "\U000e0020",
    "musical symbol begin beam (plane 1)": "\U0001d173",
}
HIDDEN_CATEGORIES = ["Cc", "Cf", "Zl", "Zp", "Cs"]


@pytest.mark.parametrize("char", list(HIDDEN.values()), ids=list(HIDDEN))
def test_check_key_refuses_every_hidden_character(char: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"U+{ord(char):04X}")) as caught:
        check_key(f"models/evil{char}.bin")
    assert "control characters" in str(caught.value)


@pytest.mark.parametrize("char", list(HIDDEN.values()), ids=list(HIDDEN))
def test_a_mirror_url_with_a_hidden_character_is_refused(char: str) -> None:
    with pytest.raises(UnsupportedStoreError, match="control character"):
        split_url(f"s3://bucket/models{char}/lr")


@given(
    st.text(st.characters(codec="utf-8"), max_size=20),
    st.characters(categories=HIDDEN_CATEGORIES),  # type: ignore[arg-type]
    st.text(st.characters(codec="utf-8"), max_size=20),
)
def test_a_key_holding_any_hidden_character_is_refused(head: str, hidden: str, tail: str) -> None:
    with pytest.raises(ValueError):
        check_key(f"a/{head}{hidden}{tail}")


@given(st.text(max_size=40))
def test_a_key_check_accepts_only_what_the_escapes_leave_as_it_is(key: str) -> None:
    """One rule: a key the check accepts is one ``escape_controls`` would print unchanged."""
    try:
        accepted = check_key(key)
    except ValueError:
        return
    assert escape_controls(accepted) == accepted


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "bucket" / "tree"
    root.mkdir(parents=True)
    (root / "ok.txt").write_bytes(b"ok")
    return root


@pytest.mark.parametrize("char", list(HIDDEN.values()), ids=list(HIDDEN))
def test_a_file_store_key_with_a_hidden_character_refuses_the_mirror(
    source: Path, tmp_path: Path, char: str
) -> None:
    (source / f"weights{char}.bin").write_bytes(b"spoofed")
    dest = tmp_path / "dest"
    with pytest.raises(UntrustedStoreDataError, match="control characters") as caught:
        mirror(source.as_uri() + "/", dest)
    assert caught.value.key is not None and caught.value.key.endswith(f"weights{char}.bin")
    message = str(caught.value)
    assert char not in message and "nothing was written" in message
    assert not dest.exists()

    # The existing way out: leave such keys out, mirror the rest.
    result = mirror(source.as_uri() + "/", dest, exclude=[f"*{char}*"])
    written = [p.name for p in dest.rglob("*") if p.is_file()]
    assert result.fetched == 1 and sorted(written) == [".modelshelf-mirror.json", "ok.txt"]


def test_the_cli_refuses_in_one_escaped_line(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (source / "read\u200bme.txt").write_bytes(b"spoofed")
    (source / "a\u202etxt.exe").write_bytes(b"spoofed")
    assert main(["mirror", source.as_uri() + "/", str(tmp_path / "d")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: refusing to mirror") and err.count("\n") == 1
    assert "\u200b" not in err and "\u202e" not in err
    assert "control characters" in err and "(and 1 more)" in err and "--exclude" in err
    assert not (tmp_path / "d").exists()

    assert main(["mirror", source.as_uri() + "/", str(tmp_path / "d"), "--json"]) == 1
    error = json.loads(capsys.readouterr().err)
    assert "control characters" in error["error"] and error["exit"] == 1


def test_ordinary_non_ascii_keys_still_mirror(source: Path, tmp_path: Path) -> None:
    names = ["café.txt", "模型.bin", "données ñ/résumé.json", "emoji-🙂.txt"]
    for name in names:
        (source / name).parent.mkdir(exist_ok=True)
        (source / name).write_bytes(name.encode())
    result = mirror(source.as_uri() + "/", tmp_path / "d")
    assert result.fetched == len(names) + 1
    for name in names:
        got = tmp_path / "d" / source.relative_to("/") / name
        assert got.read_bytes() == name.encode()
    assert all(unicodedata.category(c) not in HIDDEN_CATEGORIES for n in names for c in n)
