"""``az://`` stores against a real Azurite on loopback: the layout's needs, races and bad input.

Azurite is started once per session and shared (tests/servers/azurite.py, installed by ``make
azurite``); each test gets a fresh container of its own. Nothing here reaches real Azure.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.test_races import PUSH_RACER, RaceStore, race, run_racers
from tests.servers.azurite import ACCOUNT, Azurite, container_name
from tests.servers.remote import RemoteStore
from tests.unit.test_backends import BackendConformance

from modelshelf import Shelf
from modelshelf.backends import Backend, open_backend
from modelshelf.backends.azure import AzureBackend
from modelshelf.cli.main import main
from modelshelf.errors import (
    AliasConflictError,
    IntegrityError,
    ObjectExistsError,
    ObjectNotFoundError,
    StoreAuthError,
    StoreError,
    StoreUnreachableError,
    VersionExistsError,
)
from modelshelf.shelf import _push_read as _upload
from modelshelf.store.bucket import Store


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    yield Azurite.shared()  # one per session, shared with the conformance suite


@pytest.fixture
def az_store(azurite: Azurite, request: pytest.FixtureRequest) -> RemoteStore:
    return azurite.new_store(request.node.name)


@pytest.fixture
def az_env(az_store: RemoteStore, monkeypatch: pytest.MonkeyPatch) -> RemoteStore:
    """``az_store`` with its AZURE_* settings in the environment (for the CLI and children)."""
    for name in list(os.environ):
        if name.startswith(("AZURE_", "AZURITE_")):
            monkeypatch.delenv(name)
    for name, value in az_store.env.items():
        monkeypatch.setenv(name, value)
    return az_store


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def closed_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TestAzureBackend(BackendConformance):
    @pytest.fixture
    def backend(self, az_store: RemoteStore) -> Backend:
        backend = open_backend(az_store.url, **az_store.options)
        assert isinstance(backend, AzureBackend)
        return backend

    def test_create_only_refuses_an_existing_blob(self, backend: Backend) -> None:
        backend.put("records/r1", b"first", mode="create")
        with pytest.raises(ObjectExistsError):
            backend.put("records/r1", b"second", mode="create")
        assert backend.read("records/r1") == b"first"

    def test_keys_live_under_the_prefix(self, backend: Backend, az_store: RemoteStore) -> None:
        backend.put("a/b", b"x")
        container = az_store.url.removeprefix("az://").split("/")[0]
        whole = open_backend(f"az://{container}", **az_store.options)
        assert [m.path for m in whole.list("")] == ["shelf/a/b"]


# -- the facade over Azure --------------------------------------------------------------------


def test_push_pull_round_trip_byte_exact(az_store: RemoteStore, tmp_path: Path) -> None:
    files = {
        "model.bin": os.urandom(3 * 1024 * 1024 + 17),
        "tok/vocab.txt": b"a\nb\n",
        "empty": b"",
    }
    folder = make_tree(tmp_path / "model", files)
    shelf = Shelf(az_store.url, **az_store.options)
    assert shelf.push(folder, "nlp/sentiment", message="m").version == "1.0"
    assert shelf.push(folder, "nlp/sentiment").version == "1.1"
    assert shelf.versions("nlp/sentiment") == ["1.1", "1.0"]

    reader = Shelf(az_store.url, cache_dir=tmp_path / "other-cache", **az_store.options)
    path = reader.pull("nlp/sentiment:1")
    pulled = {
        p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()
    }
    assert pulled == files
    assert reader.pull("nlp/sentiment:1.0/tok/vocab.txt").read_bytes() == b"a\nb\n"


def test_a_version_exists_once(az_store: RemoteStore, tmp_path: Path) -> None:
    folder = make_tree(tmp_path / "m", {"w": b"1"})
    shelf = Shelf(az_store.url, **az_store.options)
    shelf.push(folder, "m:1.0")
    make_tree(folder, {"w": b"2"})
    with pytest.raises(VersionExistsError):
        shelf.push(folder, "m:1.0")
    # the conditional create itself refuses, not only the early check
    with pytest.raises(VersionExistsError):
        shelf.store.commit_manifest(shelf.store.read_manifest("m", "1.0"))


@pytest.mark.parametrize("early_check", ["check", "nocheck"])
def test_two_processes_race_for_one_version(
    az_env: RemoteStore, tmp_path: Path, early_check: str
) -> None:
    contents, argv = {}, {}
    for me in ("a", "b"):
        contents[me] = me.encode() * (3 * 1024 * 1024)
        source = make_tree(tmp_path / f"src-{me}", {"weights.bin": contents[me]})
        argv[me] = [PUSH_RACER, az_env.url, str(source), str(tmp_path / "barrier"), me,
                    early_check]  # fmt: skip
    codes, outputs = run_racers(tmp_path, argv)

    assert sorted(codes.values()) == [0, 1], outputs
    winner = next(me for me, code in codes.items() if code == 0)
    loser = next(me for me, code in codes.items() if code == 1)
    assert outputs[loser].startswith("VersionExistsError: race/model:1.0 already exists"), outputs
    shelf = Shelf(az_env.url)
    assert shelf.versions("race/model") == ["1.0"]
    assert (shelf.pull("race/model:1.0") / "weights.bin").read_bytes() == contents[winner]
    assert len([r for r in shelf.store.log("race/model") if r["action"] == "push"]) == 1


def test_alias_compare_and_swap(az_store: RemoteStore, tmp_path: Path) -> None:
    shelf = Shelf(az_store.url, **az_store.options)
    for i in range(2):
        shelf.push(make_tree(tmp_path / str(i), {"v": str(i).encode()}), "m")
    shelf.set_alias("m@prod", "1.0", expected="")
    shelf.set_alias("m@prod", "1.1", expected="1.0")
    with pytest.raises(AliasConflictError):
        shelf.set_alias("m@prod", "1.0", expected="1.0")
    assert [r.version for r in shelf.store.alias_history("m", "prod")] == ["1.0", "1.1"]
    reader = Shelf(az_store.url, cache_dir=tmp_path / "c2", **az_store.options)
    assert (reader.pull("m@prod") / "v").read_bytes() == b"1"


def test_racing_alias_moves_each_get_their_own_record(az_env: RemoteStore, tmp_path: Path) -> None:
    shelf = Shelf(az_env.url)
    for content in ("one", "two", "three"):
        shelf.push(make_tree(tmp_path / f"src-{content}", {"f": content.encode()}), "aliased/m")
    statements = {
        me: f"shelf.set_alias('aliased/m@prod', '{version}').seq"
        for me, version in (("a", "1.1"), ("b", "1.2"))
    }
    seqs = race(RaceStore(az_env.url, az_env.env), tmp_path, statements)

    assert sorted(seqs.values()) == ["1", "2"]  # nobody lost a move, nobody shared a number
    history = shelf.store.alias_history("aliased/m", "prod")
    assert [r.seq for r in history] == [1, 2] and history[1].previous == history[0].version
    assert shelf.resolve("aliased/m@prod").version == history[1].version


def test_a_blob_corrupted_in_the_container_is_refused(
    az_store: RemoteStore, tmp_path: Path
) -> None:
    data = b"good bytes" * 100
    shelf = Shelf(az_store.url, **az_store.options)
    digest = shelf.push(make_tree(tmp_path / "m", {"w.bin": data}), "m").files[0].sha256
    # behind modelshelf's back: another client overwrites the blob in the container
    open_backend(az_store.url, **az_store.options).put(Store.blob_key(digest), b"X" * len(data))
    with pytest.raises(IntegrityError) as info:
        shelf.pull("m:1.0")
    assert info.value.expected == digest
    assert info.value.actual == hashlib.sha256(b"X" * len(data)).hexdigest()
    assert not shelf.cache.has_blob(digest)


# -- credentials: anonymous, emulator defaults ----------------------------------------------------


def test_anonymous_access_pulls_from_a_public_container(azurite: Azurite, tmp_path: Path) -> None:
    container = container_name("public")
    azurite.create_container(container, public=True)
    url = f"az://{container}/shelf"
    Shelf(url, **azurite.options()).push(make_tree(tmp_path / "m", {"w": b"open"}), "m")

    anonymous = {"account_name": ACCOUNT, "endpoint": azurite.endpoint, "anonymous": True}
    reader = Shelf(url, cache_dir=tmp_path / "anon-cache", **anonymous)
    assert (reader.pull("m:1.0") / "w").read_bytes() == b"open"
    with pytest.raises(StoreAuthError):  # reading is public, writing is not
        reader.push(make_tree(tmp_path / "n", {"w": b"x"}), "n")


def test_anonymous_access_to_a_private_container_is_refused(az_store: RemoteStore) -> None:
    anonymous = {"account_name": ACCOUNT, "endpoint": az_store.options["endpoint"]}
    with pytest.raises(StoreAuthError, match="403"):
        Shelf(az_store.url, anonymous=True, **anonymous).versions("m")


def test_a_sas_token_pushes_and_pulls(
    az_store: RemoteStore, azurite: Azurite, tmp_path: Path
) -> None:
    container = az_store.url.removeprefix("az://").split("/")[0]
    signed = {"account_name": ACCOUNT, "endpoint": azurite.endpoint}
    shelf = Shelf(az_store.url, sas_token="?" + azurite.sas_token(container), **signed)
    shelf.push(make_tree(tmp_path / "m", {"w": b"sas"}), "m")
    read_only = azurite.sas_token(container, "rl")
    reader = Shelf(az_store.url, cache_dir=tmp_path / "ro", sas_token=read_only, **signed)
    assert (reader.pull("m:1.0") / "w").read_bytes() == b"sas"
    with pytest.raises(StoreAuthError) as info:
        reader.push(make_tree(tmp_path / "n", {"w": b"x"}), "n")
    assert "sig=" not in str(info.value) and read_only not in str(info.value)
    assert reader.assets() == ["m"]


def test_a_large_file_goes_up_in_blocks_and_comes_back_exact(
    az_store: RemoteStore, azurite: Azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Files up to 64 MiB go up from memory in one request; this one takes the streamed path.
    monkeypatch.setattr(_upload, "SINGLE_PASS_MAX", -1)
    data = os.urandom(40 * 1024 * 1024 + 5)  # over the 16 MiB part size: a multipart upload
    shelf = Shelf(az_store.url, **az_store.options)
    manifest = shelf.push(make_tree(tmp_path / "m", {"big.bin": data}), "big")
    assert manifest.files[0].sha256 == hashlib.sha256(data).hexdigest()
    container = az_store.url.removeprefix("az://").split("/")[0]
    blob = f"{container}/shelf/{Store.blob_key(manifest.files[0].sha256)}"
    status, listing = azurite.request("GET", blob, {"comp": "blocklist"})
    assert status == 200 and listing.count(b"<Block>") > 1  # committed as several blocks
    reader = Shelf(az_store.url, cache_dir=tmp_path / "c2", **az_store.options)
    pulled = (reader.pull("big:1.0") / "big.bin").read_bytes()
    assert hashlib.sha256(pulled).digest() == hashlib.sha256(data).digest()


def test_use_emulator_finds_azurite_without_account_or_key(
    az_store: RemoteStore, azurite: Azurite, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AZURITE_BLOB_STORAGE_URL", f"http://127.0.0.1:{azurite.port}")
    shelf = Shelf(az_store.url, use_emulator=True)
    shelf.push(make_tree(tmp_path / "m", {"w": b"1"}), "m")
    assert Shelf(az_store.url, **az_store.options).versions("m") == ["1.0"]
    assert shelf.store.backend.store_identity()["endpoint"] == azurite.endpoint


def test_requests_go_where_the_identity_says(
    az_store: RemoteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # obstore reads AZURE_STORAGE_USE_EMULATOR itself; an explicit endpoint must still win
    monkeypatch.setenv("AZURE_STORAGE_USE_EMULATOR", "true")
    monkeypatch.setenv("AZURE_SKIP_SIGNATURE", "true")
    backend = open_backend(az_store.url, **az_store.options)
    backend.put("k", b"v")
    assert backend.store_identity()["endpoint"] == az_store.options["endpoint"]
    assert backend.read("k") == b"v"


# -- bad input: one line naming the store and what to check --------------------------------------


def test_a_missing_container_is_named_with_the_next_step(azurite: Azurite) -> None:
    backend = open_backend("az://no-such-container/p", **azurite.options())
    for call in (lambda: list(backend.list("")), lambda: backend.read("k"),
                 lambda: backend.put("k", b"x"), lambda: backend.put("k", b"x", mode="create"),
                 lambda: backend.get_range("k", 0, 1)):  # fmt: skip
        with pytest.raises(StoreError) as info:
            call()
        message = str(info.value)
        assert not isinstance(info.value, ObjectNotFoundError), message
        assert "'no-such-container'" in message and "does not exist" in message
        assert "create it" in message and "\n" not in message and "AWS" not in message


def test_cli_on_a_missing_container_says_one_line(
    az_env: RemoteStore, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in (["ls"], ["versions", "m"], ["pull", "m"]):
        code = main(["--store", "az://no-such-container", *args])
        out, err = capsys.readouterr()
        assert code == 1 and out == "", args
        assert err.startswith("error: ") and len(err.splitlines()) == 1, err
        assert "no-such-container" in err and "create it" in err


def cli(args: list[str], env: dict[str, str], cache: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh process with only these Azure settings."""
    child = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "AZURITE_"))}
    child.update(env, MODELSHELF_CACHE_DIR=str(cache))
    command = [str(Path(sys.executable).parent / "modelshelf"), *args]
    return subprocess.run(command, env=child, capture_output=True, text=True, timeout=60)


WRONG_KEY = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ=="


def test_cli_with_a_wrong_key_fails_in_one_line(az_store: RemoteStore, tmp_path: Path) -> None:
    env = dict(az_store.env, AZURE_STORAGE_ACCOUNT_KEY=WRONG_KEY)
    done = cli(["--store", az_store.url, "versions", "m"], env, tmp_path / "c")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1, done.stderr
    assert az_store.url in done.stderr and "refused access" in done.stderr
    assert WRONG_KEY not in done.stderr


def test_cli_with_a_wrong_key_names_azure_settings(az_store: RemoteStore, tmp_path: Path) -> None:
    env = dict(az_store.env, AZURE_STORAGE_ACCOUNT_KEY=WRONG_KEY)
    done = cli(["--store", az_store.url, "versions", "m"], env, tmp_path / "c")
    assert "AZURE_STORAGE_ACCOUNT_KEY" in done.stderr and "AWS_" not in done.stderr


def test_cli_on_an_unreachable_endpoint_fails_in_one_line(
    az_store: RemoteStore, tmp_path: Path
) -> None:
    down = f"http://127.0.0.1:{closed_loopback_port()}/{ACCOUNT}"
    env = dict(az_store.env, AZURE_STORAGE_ENDPOINT=down)
    done = cli(["--store", az_store.url, "versions", "m"], env, tmp_path / "c")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1, done.stderr
    assert "cannot reach the store" in done.stderr and az_store.url in done.stderr


def test_cli_on_an_unreachable_endpoint_names_azure_settings(
    az_store: RemoteStore, tmp_path: Path
) -> None:
    down = f"http://127.0.0.1:{closed_loopback_port()}/{ACCOUNT}"
    env = dict(az_store.env, AZURE_STORAGE_ENDPOINT=down)
    done = cli(["--store", az_store.url, "versions", "m"], env, tmp_path / "c")
    assert "AZURE_STORAGE_ENDPOINT" in done.stderr and "AWS_" not in done.stderr


def test_a_refused_push_leaves_no_version(az_store: RemoteStore, tmp_path: Path) -> None:
    wrong = dict(az_store.options, account_key=WRONG_KEY)
    with pytest.raises(StoreAuthError):
        Shelf(az_store.url, **wrong).push(make_tree(tmp_path / "m", {"w": b"w"}), "m")
    assert Shelf(az_store.url, **az_store.options).assets() == []


def test_an_unreachable_endpoint_raises_unreachable(az_store: RemoteStore) -> None:
    down = dict(az_store.options, endpoint=f"http://127.0.0.1:{closed_loopback_port()}/{ACCOUNT}")
    with pytest.raises(StoreUnreachableError, match="cannot reach the store"):
        Shelf(az_store.url, **down).versions("m")
