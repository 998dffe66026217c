"""Shell completion (issue 21, CLI item 13): names, versions and aliases from the cache's last
listings, never from the store.

Completion is driven as a shell drives it: ``_MODELSHELF_COMPLETE=bash_complete`` with
``COMP_WORDS``/``COMP_CWORD`` (click's protocol), through click's ``CliRunner`` and, once, through
the real entry point in a subprocess.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import modelshelf
from modelshelf.cache import listings as _listings
from modelshelf.cli.main import cli, main


def complete(line: str, env: dict[str, str] | None = None) -> list[str]:
    """What bash would be offered for the last word of ``line`` (a trailing space: a new word)."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    result = CliRunner().invoke(
        cli,
        prog_name="modelshelf",
        env={
            "_MODELSHELF_COMPLETE": "bash_complete",
            "COMP_WORDS": line,
            "COMP_CWORD": str(cword),
            **(env or {}),
        },
    )
    assert result.exit_code == 0, result.output
    return [row.split(",", 1)[1] for row in result.stdout.splitlines() if row]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A store with nlp/sentiment 1.0, 1.1 (@prod -> 1.0), nlp/topics 1.0 and vision/detector."""
    url = (tmp_path / "store").as_uri()
    monkeypatch.setenv("MODELSHELF_STORE", url)
    weights = tmp_path / "w.bin"
    weights.write_bytes(os.urandom(64))
    shelf = modelshelf.Shelf(url)
    for name in ("nlp/sentiment", "nlp/sentiment", "nlp/topics", "vision/detector"):
        shelf.push(weights, name, progress=False)
    shelf.set_alias("nlp/sentiment@prod", "1.0")
    return url


def test_nothing_is_offered_before_a_listing(store: str) -> None:
    assert complete("modelshelf pull n") == []


def test_ls_records_the_names_that_complete(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "ls")[0] == 0
    assert complete("modelshelf pull n") == ["nlp/sentiment", "nlp/topics"]
    assert complete("modelshelf show ") == ["nlp/sentiment", "nlp/topics", "vision/detector"]
    assert complete("modelshelf versions v") == ["vision/detector"]
    assert complete("modelshelf log nlp/t") == ["nlp/topics"]
    assert complete("modelshelf ls nl") == ["nlp/sentiment", "nlp/topics"]


def test_versions_records_versions_and_aliases(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "versions", "nlp/sentiment")[0] == 0
    assert complete("modelshelf pull nlp/sentiment:") == [
        "nlp/sentiment:1.1",
        "nlp/sentiment:1.0",
    ]
    assert complete("modelshelf pull nlp/sentiment:1.0") == ["nlp/sentiment:1.0"]
    assert complete("modelshelf export nlp/sentiment@") == [
        "nlp/sentiment@prod",
        "nlp/sentiment@latest",
    ]
    assert complete("modelshelf alias set nlp/sentiment@staging ") == ["1.1", "1.0"]
    assert complete("modelshelf rm nlp/sentiment") == [
        "nlp/sentiment",
        "nlp/sentiment:1.1",
        "nlp/sentiment:1.0",
        "nlp/sentiment@prod",
    ]
    # A ls that lists a subset leaves the rest of what is known.
    assert run(capsys, "ls", "vision")[0] == 0
    assert complete("modelshelf pull ") == ["nlp/sentiment", "vision/detector"]


def test_pull_and_show_record_what_they_resolved(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "pull", "nlp/topics")[0] == 0
    assert run(capsys, "show", "nlp/sentiment@prod")[0] == 0
    assert complete("modelshelf pull nlp/") == ["nlp/sentiment", "nlp/topics"]
    assert complete("modelshelf pull nlp/topics:") == ["nlp/topics:1.0"]
    assert complete("modelshelf pull nlp/sentiment@p") == ["nlp/sentiment@prod"]


def test_completion_asks_no_store(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsys, "versions", "nlp/sentiment")[0] == 0

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("completion opened a store")

    monkeypatch.setattr(sys.modules["modelshelf.backends.registry"], "_open", refuse)
    (tmp_path / "store").rename(tmp_path / "gone")  # and the store is gone as well
    assert complete("modelshelf pull nlp/sentiment:") == ["nlp/sentiment:1.1", "nlp/sentiment:1.0"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


def test_a_store_behind_a_closed_port_completes_from_the_cache(tmp_path: Path) -> None:
    port = _closed_port()
    url, endpoint = "s3://models/shelf", f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "MODELSHELF_STORE": url,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_REGION": "us-east-1",
    }
    # What an earlier `modelshelf versions nlp/sentiment` recorded for that store.
    probe = (
        "import os, modelshelf; s = modelshelf.Shelf(); print(s.cache.root, s.store_id, sep='\\n')"
    )
    root, store_id = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    _listings.record_versions(Path(root), store_id, "nlp/sentiment", ["1.1", "1.0"], {"prod": 1})
    words = "modelshelf pull nlp/sentiment:"
    done = subprocess.run(
        [sys.executable, "-m", "modelshelf"],
        env={
            **env,
            "_MODELSHELF_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": "2",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == ["plain,nlp/sentiment:1.1", "plain,nlp/sentiment:1.0"]


def test_completion_never_fails_loudly(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "ls")
    config = tmp_path / "bad.toml"
    config.write_text("[stores.x\n")  # not TOML: any command would fail on it
    monkeypatch.setenv("MODELSHELF_CONFIG", str(config))
    assert complete("modelshelf pull n", {"MODELSHELF_STORE": "x"}) == []
    assert complete("modelshelf --store nosuchstore pull n") == []
    assert complete("modelshelf --store ftp://x pull n") == []


def test_a_damaged_listing_completes_only_what_is_valid(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    shelf = modelshelf.Shelf(store)
    path = shelf.cache.root / "listings" / f"{shelf.store_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "format": 1,
                "names": ["good/name", "bad name", "x\n--evil", 3, "../up"],
                "versions": {"good/name": ["1.0", "1.0; rm -rf", None], "bad name": ["1.0"]},
                "aliases": {"good/name": ["prod", "Bad Alias"]},
            }
        )
    )
    assert complete("modelshelf pull ") == ["good/name"]
    assert complete("modelshelf pull good/name") == ["good/name", "good/name:1.0", "good/name@prod"]
    path.write_text("not json")
    assert complete("modelshelf pull ") == []
    path.unlink()
    path.mkdir()  # not even a file
    assert complete("modelshelf pull ") == []
    path.rmdir()
    good = path.with_name("elsewhere.json")
    good.write_text(json.dumps({"format": 1, "names": ["linked/name"]}))
    path.symlink_to(good)  # read without following a link
    assert complete("modelshelf pull ") == []
    path.unlink()
    os.mkfifo(path)  # a FIFO would block a plain open: completion must not hang
    assert complete("modelshelf pull ") == []


def test_the_listing_stays_bounded(tmp_path: Path) -> None:
    names = [f"a/n{i:05d}" for i in range(_listings.MAX_NAMES + 10)]
    _listings.record_names(tmp_path, "sid", names)
    for i in range(_listings.MAX_DETAILED + 5):
        versions = [f"1.{j}" for j in range(_listings.MAX_PER_NAME + 3)]
        _listings.record_versions(tmp_path, "sid", f"a/n{i:05d}", versions, {})
    listing = _listings.read_listing(tmp_path, "sid")
    assert len(listing.names) == _listings.MAX_NAMES
    assert len(listing.versions) == _listings.MAX_DETAILED
    assert "a/n00000" not in listing.versions  # the ones recorded first went
    assert all(len(v) == _listings.MAX_PER_NAME for v in listing.versions.values())
    assert (tmp_path / "listings" / "sid.json").stat().st_size < 8 << 20


def test_a_cache_that_cannot_take_the_listing_does_not_fail_the_command(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    shelf = modelshelf.Shelf(store)
    shelf.cache.root.mkdir(parents=True, exist_ok=True)
    (shelf.cache.root / "listings").write_text("a file where the folder goes")
    assert run(capsys, "ls") == (0, "nlp/sentiment\nnlp/topics\nvision/detector\n", "")
    assert run(capsys, "versions", "nlp/topics")[0] == 0
    assert complete("modelshelf pull ") == []


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_any_json_in_the_listing_file_reads_safely(data: object) -> None:
    listing = _listings._parse({"format": 1, "names": data, "versions": data, "aliases": data})
    offered = [*listing.names, *(v for vs in listing.versions.values() for v in vs)]
    offered += [a for found in listing.aliases.values() for a in found]
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9._/-]*", text) for text in offered)


def test_the_completion_command_prints_each_shells_script(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for shell, needle in (
        ("bash", "complete -o nosort -F"),
        ("zsh", "compdef"),
        ("fish", "complete"),
    ):
        code, out, _ = run(capsys, "completion", shell)
        assert code == 0 and needle in out and "_MODELSHELF_COMPLETE" in out
    assert "COMP_WORDBREAKS" in run(capsys, "completion", "bash")[1]
    assert run(capsys, "completion", "tcsh")[0] == 2
