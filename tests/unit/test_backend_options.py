"""Custom backends with options, credentials flags, and secrets kept out of every output.

The plugin is a separate distribution (tests/plugin_pkg): its folder is copied to a temporary
sys.path entry with a ``.dist-info`` holding ``entry_points.txt``, so importlib.metadata finds
its ``modelshelf.backends`` entry point exactly as after ``pip install``.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from modelshelf import Shelf
from modelshelf.backends.s3 import S3Backend
from modelshelf.cli.main import main
from modelshelf.errors import (
    InvalidInputError,
    StoreAuthError,
    StoreUnreachableError,
    UnsupportedStoreError,
)

PLUGIN_SRC = Path(__file__).parents[1] / "plugin_pkg"


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    site = tmp_path / "site"
    shutil.copytree(PLUGIN_SRC, site)
    monkeypatch.syspath_prepend(str(site))
    registry = importlib.import_module("modelshelf.backends.registry")
    monkeypatch.setattr(registry, "_entry_points_loaded", False)  # read entry points again
    import shelf_plugin

    shelf_plugin.reset()
    yield shelf_plugin
    shelf_plugin.reset()
    registry._registry.pop("plain", None)
    sys.modules.pop("shelf_plugin", None)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    root.mkdir()
    (root / "weights.bin").write_bytes(b"w" * 3000)
    (root / "config.json").write_text("{}")
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_entry_point_backend_by_scheme_with_options_from_python(
    plugin: ModuleType, model: Path
) -> None:
    shelf = Shelf("plain://team", backend_kwargs={"token": plugin.TOKEN, "page_size": 7})
    shelf.push(model, "m")
    assert (shelf.pull("m:1.0") / "weights.bin").read_bytes() == b"w" * 3000
    assert plugin.RECEIVED[-1] == {
        "name": "team", "token": plugin.TOKEN, "shard": "a", "page_size": 7
    }  # fmt: skip


def test_import_path_backend_sees_the_same_store(plugin: ModuleType, model: Path) -> None:
    Shelf("plain://team", token=plugin.TOKEN).push(model, "m")  # **backend_options still work
    by_path = Shelf(
        "shelf_plugin:PlainBackend", backend_kwargs={"name": "team"}, token=plugin.TOKEN
    )
    assert by_path.versions("m") == ["1.0"]


def test_options_from_the_cli_arrive_as_text(
    plugin: ModuleType, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "--store", "plain://cli", "--backend-opt", f"token={plugin.TOKEN}",
        "push", str(model), "m", "--backend-opt", "page_size=9",
    )  # fmt: skip
    assert code == 0, err
    assert plugin.RECEIVED[-1]["page_size"] == "9"
    code, out, err = run(
        capsys, "versions", "m", "--store", "shelf_plugin:PlainBackend",
        "--backend-opt", "name=cli", "--backend-opt", f"token={plugin.TOKEN}", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert "1.0" in out


def test_an_option_selects_the_store_and_keys_the_cache(plugin: ModuleType, model: Path) -> None:
    Shelf("plain://t", token=plugin.TOKEN, shard="x").push(model, "m")
    assert Shelf("plain://t", token=plugin.TOKEN, shard="y").assets() == []
    a = Shelf("plain://t", token=plugin.TOKEN, shard="x")
    b = Shelf("plain://t", token="rotated-key", shard="x")
    assert a.store_id == b.store_id  # a credential never selects the store
    assert a.store_id != Shelf("plain://t", token=plugin.TOKEN, shard="y").store_id


def test_secret_options_never_show(
    plugin: ModuleType, model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "wrong-token-31415"
    code, out, err = run(
        capsys, "--store", "plain://s", "--backend-opt", f"token={secret}", "versions", "m"
    )
    assert code == 1
    assert secret not in out + err
    assert err.startswith("error: cannot open the store plain://s: PermissionError: token")
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(UnsupportedStoreError) as caught:
        Shelf("plain://s", backend_kwargs={"token": secret}).assets()
    assert secret not in str(caught.value) and secret not in repr(caught.value)
    # The good token: not in --json output, reprs, or anything written to the cache.
    shelf = Shelf("plain://s", token=plugin.TOKEN)
    shelf.push(model, "m")
    shelf.pull("m")
    assert plugin.TOKEN not in repr(shelf)
    code, out, err = run(
        capsys, "--store", "plain://s", "--backend-opt", f"token={plugin.TOKEN}",
        "show", "m", "--json",
    )  # fmt: skip
    assert code == 0 and plugin.TOKEN not in out + err
    for path in tmp_path.rglob("*"):
        assert plugin.TOKEN not in path.name
        if path.is_file() and "site" not in path.parts:
            assert plugin.TOKEN.encode() not in path.read_bytes(), path


def test_an_option_the_backend_does_not_take_is_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "--store", "memory://x", "--backend-opt", "colour=red", "ls")
    assert code == 1
    assert "memory://x" in err and "colour" in err and "--backend-opt" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("bad", ["novalue", "=x", "a b=c"])
def test_malformed_backend_opt_is_a_usage_error(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--backend-opt", bad, "ls")
    assert code == 2 and "KEY=VALUE" in err


def test_an_option_given_twice_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="given twice"):
        Shelf("memory://x", backend_kwargs={"a": 1}, a=2)


# -- a custom backend's own exceptions -------------------------------------------------------


def test_a_custom_backends_own_errors_become_store_errors(
    plugin: ModuleType, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shelf = Shelf("plain://ail", token=plugin.TOKEN)
    shelf.push(model, "m")
    shelf.pull("m:1.0")
    plugin.FAILURES["list"] = ConnectionError(f"no route to host (token {plugin.TOKEN})")
    with pytest.raises(StoreUnreachableError) as caught:
        Shelf("plain://ail", token=plugin.TOKEN).versions("m")
    message = str(caught.value)
    assert message.startswith("the store plain://ail/assets/m/versions failed to list")
    assert plugin.TOKEN not in message and "***" in message
    # Unreachable like any store: the last resolution in the cache still serves `m`.
    assert Shelf("plain://ail", token=plugin.TOKEN).pull("m").name == "1.0"
    capsys.readouterr()
    plugin.FAILURES["list"] = KeyError("shard")
    code, out, err = run(
        capsys, "--store", "plain://ail", "--backend-opt", f"token={plugin.TOKEN}", "versions", "m"
    )
    assert code == 1 and out == ""
    assert err.startswith("error: the store plain://ail/assets/m/versions failed to list (KeyError")
    assert len(err.strip().splitlines()) == 1


def test_a_failing_custom_backend_leaves_no_half_version(plugin: ModuleType, model: Path) -> None:
    shelf = Shelf("plain://half", token=plugin.TOKEN)
    plugin.FAILURES["put_record"] = PermissionError("read-only token")
    with pytest.raises(StoreAuthError, match=r"plain://half/assets/m/versions/1\.0\.json"):
        shelf.push(model, "m")
    plugin.FAILURES.clear()
    assert shelf.assets() == []  # blobs only: no manifest, no version
    assert shelf.push(model, "m").version == "1.0"


# -- credentials ------------------------------------------------------------------------------


@pytest.fixture
def aws_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    creds = tmp_path / "aws-credentials"
    creds.write_text("[team]\naws_access_key_id = AKIATEAM\naws_secret_access_key = sk-team-999\n")
    config = tmp_path / "aws-config"
    config.write_text("[profile team]\nregion = eu-west-3\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    return creds


def _s3_config(backend: object) -> dict[str, object]:
    store = backend._store  # type: ignore[attr-defined]
    return dict(store.config)


def test_profile_flag_picks_the_aws_profile(aws_files: Path) -> None:
    shelf = Shelf(
        "s3://bucket/p", backend_kwargs={"profile": "team", "endpoint": "http://127.0.0.1:9"}
    )
    config = _s3_config(shelf.store.backend)
    assert config["access_key_id"] == "AKIATEAM"
    assert config["region"] == "eu-west-3"
    assert "sk-team-999" not in repr(shelf.store.backend)


def test_unknown_profile_is_one_line(aws_files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--store", "s3://bucket/p", "--profile", "nope", "ls")
    assert code == 1
    assert "AWS profile 'nope' was not found" in err
    assert len(err.strip().splitlines()) == 1


def test_anonymous_flag_sends_unsigned_requests() -> None:
    shelf = Shelf("s3://public-bucket", backend_kwargs={"anonymous": True})
    backend = shelf.store.backend
    assert isinstance(backend, S3Backend)
    config = _s3_config(backend)
    assert config.get("skip_signature") in (True, "true") and "access_key_id" not in config
    # Without it, no credentials is an error that says what to set.
    with pytest.raises(StoreAuthError, match="AWS_ACCESS_KEY_ID"):
        Shelf("s3://public-bucket").store  # noqa: B018


def test_anonymous_as_text_is_read_as_a_boolean() -> None:
    with pytest.raises(StoreAuthError):  # "false" must not switch signing off
        Shelf("s3://b", backend_kwargs={"anonymous": "false"}).store  # noqa: B018
    with pytest.raises(InvalidInputError, match="true or false"):
        Shelf("s3://b", backend_kwargs={"anonymous": "maybe"})


def test_profile_and_anonymous_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--store", "s3://b", "--profile", "x", "--anonymous", "ls")
    assert code == 2 and "not both" in err


def test_json_list_with_options_shows_no_secret(
    capsys: pytest.CaptureFixture[str], plugin: ModuleType, model: Path
) -> None:
    Shelf("plain://j", token=plugin.TOKEN).push(model, "m")
    code, out, _ = run(
        capsys, "ls", "--json", "--store", "plain://j", "--backend-opt", f"token={plugin.TOKEN}"
    )
    assert code == 0 and json.loads(out) and plugin.TOKEN not in out


def test_serve_refuses_settings_it_cannot_hand_to_its_workers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "serve", "m", "--store", "memory://x", "--backend-opt", "a=b")
    assert code == 1
    assert "declare the store with its settings in the config file" in err
