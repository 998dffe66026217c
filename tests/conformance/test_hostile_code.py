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
from tests.servers.remote import RemoteStore
from tests.unit.test_code_trust import make_dist
from tests.unit.test_hostile_store import manifest_dict

from modelshelf import Shelf, load_model
from modelshelf.errors import UntrustedStoreDataError

ECHO = "tests.code_trust_fixtures:EchoRunner"
HOOKS = [
    "modelshelf.models.load:os.system",
    "modelshelf._source:subprocess.run",
    "tests.code_trust_fixtures:run",
    "tests.code_trust_fixtures:Holder.launch",
    "tests.code_trust_fixtures:public_hook.__globals__",
    "modelshelf.cache:_clear_way",
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
