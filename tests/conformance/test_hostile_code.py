"""A store never chooses code that runs, on every kind of remote store.

A manifest written behind modelshelf's back names, as its runner or hooks, paths that reach
shell commands through modules that imported them, dunders, modelshelf internals, or a module
nobody allowed; loading refuses each with one UntrustedStoreDataError naming the version and the
store, and the command (which would create a marker file) never runs, nor does the module's
top level.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.conformance.test_hostile import pushed, put_raw
from tests.servers.gcs import expect_emulator_gap
from tests.servers.remote import MIRROR, RemoteStore
from tests.unit.test_code_trust import make_dist
from tests.unit.test_hostile_store import manifest_dict

from modelshelf import Shelf, load_model
from modelshelf.errors import StoreError, UntrustedStoreDataError
from modelshelf.mirror.run import mirror

ECHO = "tests.code_trust_fixtures:EchoRunner"
HOOKS = [
    "modelshelf.models.load:os.system",
    "modelshelf.shelf.source:subprocess.run",
    "tests.code_trust_fixtures:run",
    "tests.code_trust_fixtures:Holder.launch",
    "tests.code_trust_fixtures:public_hook.__globals__",
    "modelshelf.cache.cache:_clear_way",
    "subprocess:run",
]


def forge_model(remote: RemoteStore, shelf: Shelf, version: str, section: dict[str, Any]) -> str:
    """``m:<version>``: the files of ``m:1.0`` and the model section a hostile writer chose."""
    files = [
        {"path": f.path, "size": f.size, "sha256": f.sha256} for f in shelf.manifest("m:1.0").files
    ]
    data = manifest_dict(version=version, files=files, size=sum(f["size"] for f in files))
    data["model"] = section
    put_raw(remote, f"assets/m/versions/{version}.json", json.dumps(data).encode())
    return f"m:{version}"


def reader(remote: RemoteStore, tmp_path: Path, name: str) -> Shelf:
    return Shelf(remote.url, cache_dir=tmp_path / name, **remote.options)


def test_a_forged_hook_is_refused_and_runs_nothing(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_emulator_gap(remote_store, request)
    shelf = pushed(remote_store, tmp_path)
    marker = tmp_path / "ran"
    touch = f"touch {shlex.quote(str(marker))}"
    for index, hook in enumerate(HOOKS):
        role = ("preprocess", "postprocess")[index % 2]
        section = {"runner": ECHO, "requirements": [], "artifacts": [], role: hook}
        spec = forge_model(remote_store, shelf, f"1.{index + 1}", section)
        with pytest.raises(UntrustedStoreDataError) as caught:
            loaded = load_model(spec, store=reader(remote_store, tmp_path, f"r{index}"))
            loaded.predict(touch if hook.endswith("system") else ["sh", "-c", touch])
        message = str(caught.value)
        assert "\n" not in message and role in message and spec in message
        assert not marker.exists()


def test_a_store_cannot_pick_a_module_to_import(
    remote_store: RemoteStore,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expect_emulator_gap(remote_store, request)
    shelf = pushed(remote_store, tmp_path)
    site = tmp_path / "site"
    imported = make_dist(site, "ms_t20_conf_other", requires_us=False)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "ms_t20_conf_other", raising=False)
    section = {"runner": "ms_t20_conf_other:R", "requirements": [], "artifacts": []}
    spec = forge_model(remote_store, shelf, "2.0", section)
    with pytest.raises(UntrustedStoreDataError, match="nor allowed") as caught:
        load_model(spec, store=reader(remote_store, tmp_path, "r"))
    assert "\n" not in str(caught.value)
    assert not imported.exists() and "ms_t20_conf_other" not in sys.modules


def test_a_manifest_placing_git_files_is_refused_and_nothing_is_written(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """``.git/config`` (any case) in a version would be obeyed by the next ``git status``."""
    expect_emulator_gap(remote_store, request)
    shelf = pushed(remote_store, tmp_path)
    digest = shelf.manifest("m:1.0").files[0]
    for index, path in enumerate([".git/config", "sub/.GIT/config", "git~1/config"]):
        version = f"3.{index}"
        entry = {"path": path, "size": digest.size, "sha256": digest.sha256}
        data = manifest_dict(version=version, files=[entry], size=digest.size)
        key = f"assets/m/versions/{version}.json"
        put_raw(remote_store, key, json.dumps(data).encode())
        out = tmp_path / f"out{index}"
        fresh = reader(remote_store, tmp_path, f"g{index}")
        for output in (None, out):  # into the cache, and into a folder of the user's
            with pytest.raises(UntrustedStoreDataError, match=r"\.git folder") as caught:
                fresh.pull(f"m:{version}", output=output, progress=False)
            assert "\n" not in str(caught.value) and key in str(caught.value)
        assert not out.exists()
        assert not [p for p in fresh.cache.root.rglob("*") if p.name.lower() == ".git"]


@pytest.mark.bucket_only(MIRROR)
def test_mirror_refuses_a_bucket_git_folder_unless_asked(
    remote_store: RemoteStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # The emulator also drops the raw upload of a ".git" key (connection closed): OSError.
    expect_emulator_gap(remote_store, request, raises=(StoreError, OSError))
    put_raw(remote_store, "repo/.git/config", b'[core]\n\tfsmonitor = "touch /tmp/x"\n')
    put_raw(remote_store, "repo/w.bin", b"weights")
    dest = tmp_path / "dest"
    with pytest.raises(UntrustedStoreDataError, match=r"\.git.*include_git=True"):
        mirror(f"{remote_store.url}/repo", dest, **remote_store.options)
    assert not dest.exists()
    result = mirror(f"{remote_store.url}/repo", dest, include_git=True, **remote_store.options)
    assert result.fetched == 2
    assert [p.name for p in dest.rglob("config") if p.parent.name == ".git"] == ["config"]
