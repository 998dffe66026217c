"""`rm` of an asset's last version (issue 21, CLI 1): a success, saying no version is left;
and what the other commands then say of an asset whose versions were all removed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelshelf import Shelf
from modelshelf.cli.main import main
from modelshelf.errors import AssetNotFoundError


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://cli1-rm"
    (tmp_path / "s").mkdir()  # an existing store (reading a missing one is StoreNotFoundError)
    return (tmp_path / "s").as_uri()


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    root.mkdir()
    (root / "w.bin").write_bytes(b"weights")
    return root


def run(capsys: pytest.CaptureFixture[str], store: str, *args: str) -> tuple[int, str, str]:
    code = main(["--store", store, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_rm_of_the_last_version_succeeds_and_says_none_is_left(
    store: str, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, store, "push", str(model), "m", "-q")[0] == 0
    code, out, err = run(capsys, store, "rm", "m:1.0", "-m", "gone")
    assert code == 0, err
    assert out.startswith("removed m:1.0")
    assert "m has no versions left" in out + err
    assert "error" not in err


def test_rm_of_one_of_two_versions_does_not_say_none_is_left(
    store: str, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, store, "push", str(model), "m", "-q")
    run(capsys, store, "push", str(model), "m", "-q")
    code, out, err = run(capsys, store, "rm", "m:1.0")
    assert code == 0 and out.startswith("removed m:1.0") and "no versions left" not in out + err


def test_rm_json_of_the_last_version(
    store: str, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, store, "push", str(model), "m", "-q")
    run(capsys, store, "alias", "set", "m@prod", "1.0")
    code, out, err = run(capsys, store, "rm", "m:1.0", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["version"] == "1.0" and data["versions_left"] == [] and data["aliases"] == ["prod"]


def test_rm_dry_run_of_the_last_version_leaves_it(
    store: str, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, store, "push", str(model), "m", "-q")
    code, out, _ = run(capsys, store, "rm", "m:1.0", "--dry-run", "--json")
    assert code == 0 and json.loads(out)["versions_left"] == []  # what the removal would leave
    code, out, _ = run(capsys, store, "rm", "m:1.0", "--dry-run")
    assert code == 0 and out == "would remove m:1.0; m would have no versions left\n"
    assert run(capsys, store, "versions", "m")[1] == "1.0\t@latest\n"


def test_an_asset_whose_versions_were_all_removed_is_known_but_empty(
    store: str, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shelf = Shelf(store)
    shelf.push(model, "m", progress=False)
    shelf.remove("m:1.0")
    assert shelf.versions("m") == [] and shelf.aliases("m") == {}
    assert [r["action"] for r in shelf.log("m")] == ["push", "remove"]
    code, out, err = run(capsys, store, "versions", "m")
    assert code == 0 and out == "" and "m has no versions left" in err
    assert json.loads(run(capsys, store, "versions", "m", "--json")[1])["versions"] == []
    code, out, err = run(capsys, store, "alias", "ls", "m")
    assert code == 0 and out == ""
    # Pulling it says why there is nothing, rather than "no asset named".
    code, _, err = run(capsys, store, "pull", "m")
    assert code == 1 and "m has no versions left" in err and "1.0" in err
    with pytest.raises(AssetNotFoundError, match="no versions left"):
        shelf.resolve("m")


def test_an_asset_that_never_was_is_still_unknown(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(AssetNotFoundError, match="no asset named 'ghost'"):
        Shelf(store).versions("ghost")
    code, _, err = run(capsys, store, "versions", "ghost")
    assert code == 1 and "no asset named 'ghost'" in err
