"""No request leaves this machine: every socket the client opens goes to the loopback server.

The child process is traced with ``strace -e connect``: a request to the cloud metadata address
(169.254.169.254), a DNS lookup or a real cloud endpoint would show up as a non-loopback address.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.servers.remote import RemoteStore

CHILD = r"""
import json, sys
from pathlib import Path
from modelshelf import Shelf
from modelshelf.errors import ModelshelfError
url, options, folder = sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3])
shelf = Shelf(url, **options)
try:
    shelf.push(folder, "m", progress=False)
    print("pushed", shelf.pull("m", progress=False))
except ModelshelfError as exc:  # the emulator's gaps: the requests were still made
    print("failed:", type(exc).__name__)
"""
_ADDRESS = re.compile(r'inet_(?:addr|pton)\((?:AF_INET6, )?"([^"]+)"\)')


def test_every_connection_is_to_loopback(remote_store: RemoteStore, tmp_path: Path) -> None:
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "w").write_bytes(b"weights")
    trace = tmp_path / "trace.txt"
    done = subprocess.run(
        [strace, "-f", "-qq", "-e", "trace=connect", "-o", str(trace), sys.executable, "-c", CHILD,
         remote_store.url, json.dumps(remote_store.options), str(folder)],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"),
             "MODELSHELF_CACHE_DIR": str(tmp_path / "cache"),
             # a run from a checkout (PYTHONPATH=src) traces that checkout's code
             **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}},
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    if "ptrace" in done.stderr and "not permitted" in done.stderr:
        pytest.skip(f"strace cannot trace here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    addresses = set(_ADDRESS.findall(trace.read_text()))
    assert addresses, "the client made no request at all"
    assert addresses <= {"127.0.0.1"}, addresses
