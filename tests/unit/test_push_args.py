"""A push checks every argument before it writes anything, so a refused push can be retried."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from tests.wrapped_backend import WrappedBackend

from modelshelf import Shelf
from modelshelf.backends import open_backend
from modelshelf.backends.base import PutMode
from modelshelf.backends.local import LocalBackend
from modelshelf.cli.main import main
from modelshelf.errors import InvalidInputError, InvalidSpecError, ModelshelfError, StoreError


class NoWrites(WrappedBackend):
    """Records every put; a refused push must make none."""

    def __init__(self, url: str) -> None:
        super().__init__(open_backend(url))
        self.puts: list[str] = []

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        self.puts.append(key)
        self.inner.put(key, data, mode=mode)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    root.mkdir()
    (root / "w.bin").write_bytes(b"weights")
    return root


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = (tmp_path / "store").as_uri()
    monkeypatch.setenv("MODELSHELF_STORE", url)
    return url


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["-a", "latest"], "latest"),
        (["-a", "prod", "-a", "latest"], "latest"),
        (["-a", "Bad Alias"], "Bad Alias"),
        (["--meta", "novalue"], "KEY=VALUE"),
        (["--meta", "k=1", "--meta", "k=2"], "twice"),
    ],
)
def test_cli_push_with_a_bad_argument_writes_nothing(
    model: Path, store: str, capsys: pytest.CaptureFixture[str], extra: list[str], said: str
) -> None:
    assert main(["push", str(model), "m", *extra]) != 0
    assert said in capsys.readouterr().err
    assert not LocalBackend.path_for(store).exists()  # not even the store's folder was made
    assert main(["push", str(model), "m", "-q"]) == 0
    assert capsys.readouterr().out == "m:1.0\n"  # the retry takes the number the refusal kept


@pytest.mark.parametrize(
    ("kwargs", "error", "said"),
    [
        ({"aliases": ["latest"]}, InvalidInputError, "latest"),
        ({"aliases": ["prod", "no good"]}, InvalidSpecError, "no good"),
        ({"metadata": {"k": 1}}, InvalidInputError, "metadata"),
        ({"metadata": {2: "v"}}, InvalidInputError, "metadata"),
        ({"message": b"bytes"}, InvalidInputError, "message"),
        ({"major": True, "spec": "m:2.0"}, InvalidInputError, "major=True"),
        ({"path": "absent"}, ModelshelfError, "no such file"),
    ],
)
def test_library_push_with_a_bad_argument_writes_nothing(
    model: Path, tmp_path: Path, kwargs: dict[str, Any], error: type[Exception], said: str
) -> None:
    backend = NoWrites((tmp_path / "store").as_uri())
    path = tmp_path / kwargs.pop("path") if "path" in kwargs else model
    spec = kwargs.pop("spec", "m")
    with pytest.raises(error, match=said):
        Shelf(backend).push(path, spec, **kwargs)
    assert backend.puts == []


def test_library_push_points_aliases_at_the_new_version(model: Path) -> None:
    shelf = Shelf("memory://aliases")
    shelf.push(model, "m", aliases=["prod"])
    manifest = shelf.push(model, "m", aliases=["staging", "canary"])
    assert manifest.version == "1.1"
    pointed = {alias: record.version for alias, record in shelf.aliases("m").items()}
    assert pointed == {"prod": "1.0", "staging": "1.1", "canary": "1.1"}


class AliasesDown(WrappedBackend):
    """The store refuses alias records, as a store can fail between two writes."""

    def put(self, key: str, data: bytes | Path | BinaryIO, *, mode: PutMode = "overwrite") -> None:
        if "/aliases/" in key:
            raise StoreError(f"{self.url}: {key}: 500 Internal Server Error")
        self.inner.put(key, data, mode=mode)


def test_alias_failing_after_the_commit_says_the_version_exists(
    model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shelf = Shelf(AliasesDown(open_backend("memory://alias-down")))
    with caplog.at_level(logging.WARNING, logger="modelshelf"), pytest.raises(StoreError):
        shelf.push(model, "m", aliases=["prod"])
    assert shelf.versions("m") == ["1.0"]
    assert "m:1.0 was pushed" in caplog.text
    assert "modelshelf alias set m@prod 1.0" in caplog.text
