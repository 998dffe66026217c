"""``modelshelf registry webhook add | ls | rm | test | deliveries``, end to end: through a real
``registry serve`` process (with an admin token), and on the bucket store directly. The secret
is printed once by ``add`` and never again: ``ls`` shows its fingerprint."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from tests.registry.webhook_helpers import Receiver
from tests.servers.registry import RegistryProcess, admin_token
from tests.servers.remote import RemoteStore

from modelshelf import Shelf
from modelshelf.cli.main import main
from modelshelf.registry import verify_webhook

SECRET = re.compile(r"mswh_[A-Za-z0-9_-]{40,}")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.integration
def test_the_webhook_commands_through_a_registry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    backing = RemoteStore(kind="file", url=(tmp_path / "store").as_uri())
    token = admin_token(backing)
    monkeypatch.setenv("MODELSHELF_TOKEN", token)
    with (
        Receiver() as receiver,
        RegistryProcess(backing.url, tmp_path / "proc") as registry,
    ):
        base = ("--store", registry.url)
        code, out, err = run(capsys, "registry", "webhook", "add", receiver.url,
                             "--events", "push,alias,label", "--prefix", "nlp/", *base)  # fmt: skip
        assert code == 0, err
        secret = out.strip()
        assert SECRET.fullmatch(secret) and "will not be shown again" in err
        hook_id = re.search(r"wh-[0-9a-f]{16}", err).group(0)  # type: ignore[union-attr]

        code, out, err = run(capsys, "registry", "webhook", "ls", *base)
        assert code == 0 and hook_id in out and receiver.url in out and "push,alias,label" in out
        code, as_json, _ = run(capsys, "registry", "webhook", "ls", "--json", *base)
        (row,) = json.loads(as_json)["hooks"]
        assert row["prefix"] == "nlp/" and len(row["fingerprint"]) == 12
        assert secret not in out + as_json and "secret" not in row

        code, out, err = run(capsys, "registry", "webhook", "test", hook_id, *base)
        assert code == 0 and "HTTP 200" in out, out + err
        ping = receiver.got()[-1]
        assert verify_webhook(secret, ping.body, ping.headers)["event"] == "ping"

        folder = tmp_path / "model"
        folder.mkdir()
        (folder / "w.bin").write_bytes(b"weights")
        shelf = Shelf(registry.url, cache_dir=tmp_path / "cache", token=token)
        shelf.push(folder, "nlp/bert", message="first")
        shelf.push(folder, "cv/yolo", message="not under nlp/")
        receiver.wait(lambda got: any(r.data["event"] == "push" for r in got), timeout=60)
        time.sleep(1.5)  # cv/yolo would be delivered by now, if it were
        pushes = [r.data for r in receiver.got() if r.data["event"] == "push"]
        assert [(p["asset"], p["record"]["version"]) for p in pushes] == [("nlp/bert", "1.0")]
        assert pushes[0]["record"]["user"] == "admin"  # the registry's audit record
        code, out, err = run(capsys, "label", "set", "nlp/bert", "team=nlp", *base)
        assert code == 0, err
        receiver.wait(lambda got: any(r.data["event"] == "label" for r in got), timeout=60)
        label = next(r for r in receiver.got() if r.data["event"] == "label")
        assert verify_webhook(secret, label.body, label.headers)["record"]["labels"] == "team=nlp"

        code, out, err = run(capsys, "registry", "webhook", "deliveries", hook_id, "--json",
                             *base)  # fmt: skip
        rows = json.loads(out)["deliveries"]
        assert code == 0 and [(r["event"], r["status"], r["outcome"]) for r in rows] == [
            ("label", 200, "delivered"), ("push", 200, "delivered"), ("ping", 200, "delivered"),
        ]  # fmt: skip
        code, out, _ = run(capsys, "registry", "webhook", "deliveries", hook_id, *base)
        assert code == 0 and "nlp/bert" in out and "HTTP 200" in out

        code, out, err = run(capsys, "registry", "webhook", "rm", hook_id, *base)
        assert code == 0 and f"removed {hook_id}" in out
        code, out, err = run(capsys, "registry", "webhook", "ls", "--json", *base)
        assert json.loads(out)["hooks"] == []
        code, out, err = run(capsys, "registry", "webhook", "test", hook_id, *base)
        assert code == 1 and "no webhook" in err
    log = (tmp_path / "proc" / "registry.log").read_text()
    assert secret not in log


def test_the_webhook_commands_on_the_bucket_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ("--store", (tmp_path / "store").as_uri())
    (tmp_path / "store").mkdir()
    code, out, err = run(capsys, "registry", "webhook", "add", "ftp://example.com/x", *store)
    assert code == 1 and "http:// or https://" in err
    code, out, err = run(capsys, "registry", "webhook", "add", "https://h.example/x",
                         "--events", "push,deploy", *store)  # fmt: skip
    assert code == 1 and "'deploy' is not a webhook event" in err
    code, out, err = run(capsys, "registry", "webhook", "add", "https://h.example/x",
                         "--json", *store)  # fmt: skip
    assert code == 0, err
    added = json.loads(out)
    assert added["hook"]["events"] == ["push", "alias", "remove", "label"]
    code, out, err = run(capsys, "registry", "webhook", "ls", "--json", *store)
    assert added["secret"] not in out
    assert [h["id"] for h in json.loads(out)["hooks"]] == [added["hook"]["id"]]
    code, out, err = run(capsys, "registry", "webhook", "deliveries", added["hook"]["id"], *store)
    assert code == 0 and "no deliveries" in err
    code, out, err = run(capsys, "registry", "webhook", "rm", "wh-nothex", *store)
    assert code == 1 and "is not a webhook id" in err
    code, out, err = run(capsys, "registry", "webhook", "rm", added["hook"]["id"], *store)
    assert code == 0
    assert not list((tmp_path / "store" / "registry" / "webhooks").rglob("*.json"))
