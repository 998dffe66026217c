"""Two ``modelshelf registry serve`` processes over one SeaweedFS bucket prefix behave as one
registry: every piece of state is in the store, none in a process.

Racing pushes of one explicit version through the two replicas have exactly one winner; an
alias moved through one is read through the other at once; a token revoked through one is
refused by the other at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.test_s3_shelf import make_tree
from tests.push_race import race_one_version
from tests.servers.registry import RegistryProcess, RegistryS3Stores, admin_token
from tests.servers.remote import RemoteStore

from modelshelf import Shelf
from modelshelf.cli.main import main
from modelshelf.errors import StoreAuthError

pytestmark = pytest.mark.integration


class Replicas:
    """Two registries (``a``, ``b``) in front of one store, and its admin token."""

    def __init__(self, stores: RegistryS3Stores, backing: RemoteStore) -> None:
        self.backing = backing
        self.admin = admin_token(backing)
        self.a: RegistryProcess = stores.serve(backing)
        self.b: RegistryProcess = stores.serve(backing)
        self.shelves: list[Shelf] = []

    def shelf(self, replica: RegistryProcess, cache: Path, token: str | None = None) -> Shelf:
        """A client of ``replica`` (with the admin token unless told), closed with the test."""
        shelf = Shelf(replica.url, cache_dir=cache, token=token or self.admin)
        self.shelves.append(shelf)
        return shelf

    def close(self) -> None:
        for shelf in self.shelves:  # each HTTP store holds a pool of connections
            close = getattr(shelf.store, "close", None)
            if close is not None:
                close()


@pytest.fixture
def replicas(request: pytest.FixtureRequest) -> Iterator[Replicas]:
    stores = RegistryS3Stores()
    stores.start()
    try:
        replicas = Replicas(stores, stores.backing_store(request.node.name))
        yield replicas
        replicas.close()
    finally:
        stores.stop()


def test_racing_pushes_through_two_replicas_have_one_winner(
    replicas: Replicas, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shelves = {
        name: replicas.shelf(replica, tmp_path / f"cache-{name}")
        for name, replica in (("a", replicas.a), ("b", replicas.b))
    }
    winner = race_one_version(shelves, tmp_path, monkeypatch)
    for replica in (replicas.a, replicas.b):  # both say so, and serve the winner's bytes whole
        reader = replicas.shelf(replica, tmp_path / f"read-{replica.port}")
        assert reader.versions("race") == ["1.0"]
        assert (reader.pull("race:1.0") / "w.bin").read_bytes() == winner.encode() * 1000


def test_an_alias_moved_through_one_replica_is_read_through_the_other_at_once(
    replicas: Replicas, tmp_path: Path
) -> None:
    a = replicas.shelf(replicas.a, tmp_path / "a")
    b = replicas.shelf(replicas.b, tmp_path / "b")
    for i in range(3):
        a.push(make_tree(tmp_path / str(i), {"v": str(i).encode()}), "m", progress=False)
    for version in ("1.0", "1.2", "1.1"):
        a.set_alias("m@prod", version)
        assert b.store.read_alias("m", "prod").version == version
        assert (b.pull("m@prod", progress=False) / "v").read_bytes() == version[-1].encode()
    # a compare-and-swap through B sees the move made through A
    b.set_alias("m@prod", "1.0", expected="1.1")
    assert a.store.read_alias("m", "prod").version == "1.0"


def test_a_token_revoked_through_one_replica_is_refused_by_the_other_at_once(
    replicas: Replicas,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Made through A, with the admin token, by the CLI (the routes, not the bucket).
    monkeypatch.setenv("MODELSHELF_TOKEN", replicas.admin)
    code = main(["--json", "registry", "token", "create", "reader", "--scope", "read:*",
                 "--store", replicas.a.url])  # fmt: skip
    created, err = capsys.readouterr()
    assert code == 0, err
    reader_token = json.loads(created)["token"]
    assert reader_token not in err
    via_b = replicas.shelf(replicas.b, tmp_path / "b", token=reader_token)
    assert via_b.assets() == []  # B knows the token (and has read its record)
    # Revoked through A.
    code = main(["registry", "token", "revoke", "reader", "--store", replicas.a.url])
    _, err = capsys.readouterr()
    assert code == 0, err
    with pytest.raises(StoreAuthError) as info:
        via_b.assets()
    assert "reader" in str(info.value) and reader_token not in str(info.value)
    # Listed as revoked through either replica; never with a secret.
    code = main(["registry", "token", "ls", "--json", "--store", replicas.b.url])
    listing, err = capsys.readouterr()
    assert code == 0, err
    assert '"revoked": true' in listing and reader_token.split("_", 2)[2] not in listing
