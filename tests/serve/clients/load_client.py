"""A bounded load of OIP infer requests on a few keep-alive connections; prints every answer.

Usage:

    load_client.py URL MODEL COUNT CONNECTIONS CONTROL_DIR

Each of CONNECTIONS threads keeps one HTTP/1.1 connection and sends FP64 requests of shape
[1, 3] with values that identify the request. The run is bounded: it sends at least COUNT
requests; after the first 10% it creates ``CONTROL_DIR/started`` (so the caller can change the
server under load); once the caller creates ``CONTROL_DIR/stop``, each connection sends
TAIL more requests and ends, and no run sends more than MAX_TOTAL. A request that fails at the
transport is recorded as failed (status 0), never retried. Prints one JSON line:
``{"results": [{"i", "x", "status", "version", "output", "error", "after_stop"}...],
"sent": n}``.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

TAIL = 25
MAX_TOTAL = 20_000
MAX_SECONDS = 240.0


class Run:
    def __init__(self, count: int, connections: int, control: Path) -> None:
        self.count = count
        self.quota = -(-count // connections)  # each connection's share of COUNT
        self.control = control
        self.lock = threading.Lock()
        self.next_index = 0
        self.done = 0
        self.results: list[dict[str, Any]] = []
        self.deadline = time.monotonic() + MAX_SECONDS

    def take(self) -> int | None:
        """The next request index, or None when this connection should stop."""
        with self.lock:
            if self.next_index >= MAX_TOTAL or time.monotonic() > self.deadline:
                return None
            index = self.next_index
            self.next_index += 1
            return index

    def record(self, result: dict[str, Any]) -> None:
        with self.lock:
            self.results.append(result)
            self.done += 1
            if self.done == max(1, self.count // 10):
                (self.control / "started").touch()


def one_request(
    conn: http.client.HTTPConnection, path: str, model: str, index: int
) -> dict[str, Any]:
    x = [float(index), float(index) + 0.25, -float(index)]
    body = json.dumps(
        {
            "id": f"load-{index}",
            "inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": x}],
        }
    ).encode()
    result: dict[str, Any] = {"i": index, "x": x, "status": 0, "version": None, "output": None}
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        payload = response.read()
        result["status"] = response.status
        if response.status == 200:
            doc = json.loads(payload)
            result["version"] = doc.get("model_version")
            result["model_name"] = doc.get("model_name")
            result["output"] = doc["outputs"][0]["data"]
        else:
            result["error"] = payload[:500].decode(errors="replace")
    except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
        result["error"] = repr(exc)
        conn.close()  # the next request opens a fresh connection
    return result


def connection_loop(run: Run, host: str, port: int, model: str) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=60)
    path = f"/v2/models/{model}/infer"
    sent = 0
    after_stop = 0
    try:
        while True:
            if (run.control / "stop").exists():
                if sent >= run.quota and after_stop >= TAIL:
                    return
                after_stop += 1
            index = run.take()
            if index is None:
                return
            result = one_request(conn, path, model, index)
            result["after_stop"] = after_stop > 0  # sent after the caller created `stop`
            run.record(result)
            sent += 1
    finally:
        conn.close()


def main(url: str, model: str, count: int, connections: int, control: Path) -> dict[str, Any]:
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1", "the load client only talks to loopback"
    run = Run(count, connections, control)
    threads = [
        threading.Thread(target=connection_loop, args=(run, parts.hostname, parts.port, model))
        for _ in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"sent": run.next_index, "results": sorted(run.results, key=lambda r: r["i"])}


if __name__ == "__main__":
    url, model, count, connections, control = sys.argv[1:6]
    print(json.dumps(main(url, model, int(count), int(connections), Path(control))))
