"""The CLI as a user meets it: exit codes, stdout for results, one-line errors on stderr."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from modelshelf.cli._errors import error_hint, format_error
from modelshelf.cli.main import main
from modelshelf.cli.push import parse_meta
from modelshelf.errors import (
    AliasNotFoundError,
    InvalidInputError,
    ModelshelfError,
    VersionNotFoundError,
)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "tokenizer").mkdir(parents=True)
    (root / "weights.bin").write_bytes(os.urandom(4096))
    (root / "tokenizer" / "vocab.txt").write_text("a\nb\n")
    return root


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = (tmp_path / "store").as_uri()
    monkeypatch.setenv("MODELSHELF_STORE", url)
    monkeypatch.setenv("MODELSHELF_CACHE_DIR", str(tmp_path / "cache"))
    return url


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_push_pull_round_trip(model: Path, store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "push", str(model), "nlp/sentiment", "-q")[:2] == (0, "nlp/sentiment:1.0\n")
    assert run(capsys, "push", str(model), "nlp/sentiment", "-q")[1] == "nlp/sentiment:1.1\n"
    assert run(capsys, "push", str(model), "nlp/sentiment", "--major")[1] == "nlp/sentiment:2.0\n"
    code, out, _ = run(capsys, "pull", "nlp/sentiment:1")
    snapshot = Path(out.strip())
    assert code == 0 and snapshot.name == "1.1"
    assert (snapshot / "tokenizer" / "vocab.txt").read_text() == "a\nb\n"
    code, out, _ = run(capsys, "pull", "nlp/sentiment:1.0/tokenizer/vocab.txt")
    assert Path(out.strip()).read_text() == "a\nb\n"


def test_pull_output_gives_writable_copies(
    model: Path, store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "push", str(model), "m")
    code, out, _ = run(capsys, "pull", "m", "-o", str(tmp_path / "here"))
    assert code == 0 and Path(out.strip()) == tmp_path / "here"
    copied = tmp_path / "here" / "weights.bin"
    assert copied.read_bytes() == (model / "weights.bin").read_bytes()
    assert copied.stat().st_mode & stat.S_IWUSR
    copied.write_bytes(b"edited")  # a copy, so the cache is untouched
    _, out, _ = run(capsys, "pull", "m")
    assert (Path(out.strip()) / "weights.bin").read_bytes() == (model / "weights.bin").read_bytes()


def test_json_outputs(model: Path, store: str, capsys: pytest.CaptureFixture[str]) -> None:
    pushed = json.loads(run(capsys, "push", str(model), "a/b", "--json", "--meta", "k=v")[1])
    assert pushed["version"] == "1.0" and pushed["metadata"] == {"k": "v"}
    assert json.loads(run(capsys, "ls", "--json")[1]) == ["a/b"]
    assert json.loads(run(capsys, "alias", "set", "a/b@prod", "1", "--json")[1])["version"] == "1.0"
    listed = json.loads(run(capsys, "versions", "a/b", "--json")[1])
    assert listed == {"name": "a/b", "versions": ["1.0"], "aliases": {"prod": "1.0"}}
    shown = json.loads(run(capsys, "show", "a/b@prod", "--json")[1])
    assert [f["path"] for f in shown["files"]] == ["tokenizer/vocab.txt", "weights.bin"]
    pulled = json.loads(run(capsys, "pull", "a/b@prod", "--json")[1])
    assert pulled["version"] == "1.0" and Path(pulled["path"]).is_dir()
    assert [r["action"] for r in json.loads(run(capsys, "log", "a/b", "--json")[1])] == [
        "push",
        "alias",
    ]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["pull", "nope"], "no asset named 'nope'"),
        (["pull", "Bad Spec"], "invalid spec"),
        (["push", "/does/not/exist", "x"], "no such file or folder"),
        (["pull", "m:9"], "no version matching 9"),
        (["pull", "m@prod"], "has no alias 'prod'"),
        (["pull", "m:1.0/missing.txt"], "has no file or folder 'missing.txt'"),
        (["push", "MODEL", "m", "--meta", "novalue"], "not KEY=VALUE"),
        (["--store", "ftp://x", "ls"], "unknown store scheme"),
    ],
)
def test_user_errors_exit_1_with_one_line(
    model: Path,
    store: str,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    needle: str,
) -> None:
    run(capsys, "push", str(model), "m")
    args = [str(model) if a == "MODEL" else a for a in args]
    code, out, err = run(capsys, *args)
    assert code == 1
    assert out == ""
    assert err.startswith("error: ") and needle in err


def test_version_exists_is_refused_and_store_unchanged(
    model: Path, store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "push", str(model), "m:3.0")
    other = tmp_path / "other"
    other.mkdir()
    (other / "x").write_text("different")
    code, _, err = run(capsys, "push", str(other), "m:3.0")
    assert code == 1 and "already exists" in err
    _, out, _ = run(capsys, "pull", "m:3.0")
    assert sorted(p.name for p in Path(out.strip()).iterdir()) == ["tokenizer", "weights.bin"]


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pull"]) == 2
    assert "Missing argument" in capsys.readouterr().err


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "push" in capsys.readouterr().out
    assert main(["push", "--help"]) == 0
    assert "Examples" in capsys.readouterr().out
    assert main(["--version"]) == 0


def test_offline_pull_warns_and_uses_refs(
    model: Path, store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, "push", str(model), "m")
    _, online, _ = run(capsys, "pull", "m")
    monkeypatch.setenv("MODELSHELF_OFFLINE", "1")
    code, out, err = run(capsys, "pull", "m")
    assert code == 0 and out == online
    assert "warning:" in err and "cached resolution" in err
    code, _, err = run(capsys, "pull", "never-pulled")
    assert code == 1 and "never pulled" in err


def test_parse_meta() -> None:
    assert parse_meta(("a=1", "b=x=y", "c=")) == {"a": "1", "b": "x=y", "c": ""}
    for bad in (("noequals",), ("=v",), ("a=1", "a=2")):
        with pytest.raises(InvalidInputError):
            parse_meta(bad)


def test_lookups_have_hints_apart_from_the_message() -> None:
    # The hint is its own field (--json's "hint"), never text appended to the message.
    assert "modelshelf versions" in (error_hint(VersionNotFoundError("no 9")) or "")
    assert format_error(VersionNotFoundError("no 9")) == "no 9"
    assert "alias ls" in (error_hint(AliasNotFoundError("no prod")) or "")
    assert format_error(ModelshelfError("plain")) == "plain"
    assert error_hint(ModelshelfError("plain")) is None


@pytest.mark.parametrize(
    "args", [["push", "MODEL", "m"], ["alias", "set", "m@prod", "1.0"], ["ls"], ["versions", "m"]]
)
def test_offline_refuses_what_needs_the_store(
    model: Path,
    store: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
) -> None:
    run(capsys, "push", str(model), "m")
    monkeypatch.setenv("MODELSHELF_OFFLINE", "1")
    code, _, err = run(capsys, *[str(model) if a == "MODEL" else a for a in args])
    assert code == 1 and "MODELSHELF_OFFLINE is set" in err


def test_unwritable_output_is_one_line_not_a_traceback(
    model: Path, store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "push", str(model), "m")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a folder is needed")
    code, _, err = run(capsys, "pull", "m", "-o", str(blocked / "sub"))
    assert code == 1 and err.startswith("error: ") and "Traceback" not in err


def test_push_with_aliases_points_them_at_the_new_version(
    model: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "push", str(model), "m", "-a", "staging", "--alias", "canary")
    pushed = json.loads(run(capsys, "push", str(model), "m", "-a", "staging", "--json")[1])
    assert pushed["version"] == "1.1" and pushed["aliases"] == ["staging"]
    listed = json.loads(run(capsys, "versions", "m", "--json")[1])
    assert listed["aliases"] == {"canary": "1.0", "staging": "1.1"}


def test_push_with_a_bad_alias_uploads_nothing(
    model: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "push", str(model), "m", "-a", "Bad Alias")
    assert code == 1 and "invalid spec" in err
    assert not Path(store.removeprefix("file://")).exists()  # not even the store's folder


def test_versions_long_shows_who_when_and_message(
    model: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "push", str(model), "m", "-m", "first")
    run(capsys, "push", str(model), "m", "-m", "second")
    code, out, _ = run(capsys, "versions", "m", "-l")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("1.1\t") and lines[0].endswith("\tsecond")
    assert "@latest" in lines[0] and lines[1].endswith("\tfirst")
    listed = json.loads(run(capsys, "versions", "m", "-l", "--json")[1])
    assert [m["message"] for m in listed["manifests"]] == ["second", "first"]


def test_show_prints_user_text_verbatim(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "[bold]x.txt").write_text("x")
    run(capsys, "push", str(odd), "m", "-m", "fix [red]bug[/red]", "--meta", "k=[b]v")
    code, out, _ = run(capsys, "show", "m")
    assert code == 0
    assert "fix [red]bug[/red]" in out and "k=[b]v" in out and "[bold]x.txt" in out
