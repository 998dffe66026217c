"""A webhook delivery timeline under a failing receiver, with the default backoff.

Run from the project root::

    .venv/bin/python benchmarks/webhook_timeline.py [OUT]   # default: webhook-timeline.txt

Starts the registry app over a fresh ``file://`` store (uvicorn in a thread, lifespan on: the
dispatcher runs with the documented retry policy, 1 s doubling, and the default 10 s timeout;
only the log poll and the hook listing are made faster, to start at once) and a receiver on
127.0.0.1 that answers one event of asset ``nlp/bert`` with 500, 500, 503, a hang past the
timeout, 502, then 204; an event of ``cv/yolo`` written at the same time is answered at once.
Prints, and writes to OUT, each attempt: its offset from the write, the receiver's status or
the error, what the registry did next (from the hook's delivery log in the store).
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.registry.webhook_helpers import Receiver, served_registry

from modelshelf.backends.registry import open_backend
from modelshelf.registry.tokens import TokenBook
from modelshelf.registry.webhooks.deliveries import DeliveryLog
from modelshelf.registry.webhooks.dispatcher import WebhookSettings
from modelshelf.registry.webhooks.signing import TIME_FORMAT
from modelshelf.store.bucket import Store

ANSWERS = [(500, 0.0), (500, 0.0), (503, 0.0), (200, 15.0), (502, 0.0), (204, 0.0)]
"""What the receiver does on each try of the failing event: (status, seconds it waits first);
15 s is past the 10 s timeout, so that try counts as no answer."""


def _epoch(iso: str) -> float:
    return datetime.strptime(iso, TIME_FORMAT).replace(tzinfo=UTC).timestamp()


def main(out: Path) -> None:
    settings = replace(WebhookSettings(), poll_every=0.2, hooks_every=0.5, settle_seconds=2.0)

    def decide(body: dict[str, object], seen: int) -> tuple[int, float]:
        if body["asset"] != "nlp/bert":
            return 204, 0.0
        return ANSWERS[min(seen, len(ANSWERS) - 1)]

    with TemporaryDirectory(dir="/var/tmp") as folder:
        store = Store(open_backend(Path(folder).as_uri()))
        store.create()
        token, _ = TokenBook(store).create("ops", ["admin:*"], None, created_by="timeline")
        with Receiver(decide) as receiver, served_registry(store, settings) as base:
            payload = {"url": receiver.url, "events": ["push"]}
            auth = {"Authorization": f"Bearer {token}"}
            answer = httpx.post(f"{base}/api/v1/webhooks", json=payload, headers=auth)
            hook = answer.json()["hook"]["id"]
            time.sleep(1.0)
            written = time.time()
            store.append_log("nlp/bert", "push", version="1.4", message="retrained")
            store.append_log("cv/yolo", "push", version="2.0", message="other asset")
            receiver.wait(lambda got: any(r.status == 204 and r.data["asset"] == "nlp/bert"
                                          for r in got), timeout=300)  # fmt: skip
            time.sleep(0.5)
            records = list(reversed(DeliveryLog(store).newest(hook, 100)))
        lines = [
            "webhook delivery timeline: one hook, the default policy (first retry after 1 s,"
            " doubling, at most 1 h apart, for 24 h; 10 s timeout)",
            "receiver: nlp/bert's event gets 500, 500, 503, a 15 s hang, 502, then 204;"
            " cv/yolo's event (written at the same time) 204 at once",
            "",
            f"{'t (s)':>7}  {'asset':<9} {'attempt':>7}  {'answer':<28} {'took':>8}  outcome"
            "     next try in",
        ]
        for row in records:
            at = _epoch(row["at"])
            answer_text = f"HTTP {row['status']}" if row["status"] is not None else row["error"]
            later = ""
            if row["next_try"]:
                after = _epoch(row["next_try"]) - (at + row["duration_ms"] / 1000)
                later = f"{after:.1f} s"
            lines.append(
                f"{at - written:7.2f}  {row['asset']:<9} {row['attempt']:>7}  {answer_text:<28}"
                f" {row['duration_ms']:>6.0f}ms  {row['outcome']:<10}  {later}"
            )
        text = "\n".join(lines) + "\n"
    print(text, end="")
    out.write_text(text)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("webhook-timeline.txt"))
