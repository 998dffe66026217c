"""Two registry processes over one SeaweedFS bucket prefix deliver each webhook event: once in
steady state (only the lease holder delivers), and at least once when the holder is killed (the
other takes the lease over once it expires and starts from the persisted cursor)."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from tests.registry.webhook_helpers import Receiver, RegistryApp
from tests.servers.seaweed import SeaweedStores

from modelshelf.backends.registry import open_backend
from modelshelf.registry.tokens import TokenBook
from modelshelf.registry.webhooks.lease import LEASE_PREFIX
from modelshelf.store.bucket import Store

pytestmark = pytest.mark.integration


def lease_holder_pid(store: Store) -> int:
    keys = sorted(m.path for m in store.backend.list(LEASE_PREFIX))
    record = json.loads(b"".join(store.backend.get(keys[-1], chunk_size=1 << 16)))
    return int(str(record["holder"]).split(":")[1])


def test_two_replicas_deliver_each_event_once_and_the_second_takes_over(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    seaweed = SeaweedStores("modelshelf-webhooks")
    seaweed.start()
    remote = seaweed.new_store(request.node.name)
    store = Store(open_backend(remote.url, **remote.options))
    store.create()
    token, _ = TokenBook(store).create("ops", ["admin:*"], None, created_by="tests")
    replicas = [
        RegistryApp(remote.url, tmp_path / name, env=remote.env, options=remote.options).start()
        for name in ("a", "b")
    ]
    try:
        with Receiver() as receiver:
            answer = httpx.post(
                f"{replicas[0].url}/api/v1/webhooks",
                json={"url": receiver.url, "events": ["push"]},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 201, answer.text
            for n in range(10):
                store.append_log(f"team/m{n % 3}", "push", version=str(n))
            receiver.wait(lambda got: len({r.delivery for r in got}) >= 10, timeout=60)
            time.sleep(1.0)  # a second delivery, if any, would come now
            steady = Counter(r.delivery for r in receiver.got())
            assert len(steady) == 10 and set(steady.values()) == {1}, steady

            holder = lease_holder_pid(store)
            killed = next(r for r in replicas if r.pid == holder)
            killed.kill()
            for n in range(10, 15):
                store.append_log(f"team/m{n % 3}", "push", version=str(n))
            receiver.wait(lambda got: len({r.delivery for r in got}) >= 15, timeout=90)
            survivor = next(r for r in replicas if r is not killed)
            assert lease_holder_pid(store) == survivor.pid
            got = receiver.got()
    finally:
        for replica in replicas:
            replica.stop()
    versions = sorted(int(r.data["record"]["version"]) for r in got)
    assert sorted(set(versions)) == list(range(15))  # every event, at least once
    assert all(r.status == 200 for r in got)
