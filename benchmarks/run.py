"""Benchmark modelshelf push/pull against cp, boto3, s5cmd and an hf-style HTTP download.

Run from the project root::

    .venv/bin/python benchmarks/run.py [--size-mib 1024] [--files 64] [--repeat 3]

Prints one Markdown table per scenario (local store, SeaweedFS S3 on 127.0.0.1) and exits 0
when every operation succeeded and produced a correct copy.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The project root, so that `benchmarks` and `tests.servers` import as packages.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.suite import main

if __name__ == "__main__":
    sys.exit(main())
