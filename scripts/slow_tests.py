"""Write tests/slow_tests.txt: the test functions ``make check`` leaves to ``make test``.

Reads pytest's ``--durations=0 --durations-min=0`` lines on stdin (``make slow-list`` runs
the no-server tests that way) and keeps every test function whose setup, call and teardown,
summed over its parameters, took at least ``THRESHOLD`` seconds.
"""

from __future__ import annotations

import collections
import re
import sys
from pathlib import Path

THRESHOLD = 0.3  # seconds per test function; ~130 functions, ~80% of the no-server test time
LINE = re.compile(r"^(?P<secs>[0-9.]+)s (?:setup|call|teardown)\s+(?P<node>\S+)")
OUT = Path(__file__).resolve().parents[1] / "tests" / "slow_tests.txt"


def main() -> int:
    spent: collections.Counter[str] = collections.Counter()
    for line in sys.stdin:
        match = LINE.match(line)
        if match:
            spent[match["node"].split("[", 1)[0]] += float(match["secs"])
    if not spent:
        print("no pytest --durations lines on stdin", file=sys.stderr)
        return 1
    slow = sorted(node for node, secs in spent.items() if secs >= THRESHOLD)
    header = (
        "# Test functions make check leaves to make test: each took >= 0.3 s (all its\n"
        "# parameters together) in a no-server run. Regenerate with: make slow-list\n"
    )
    OUT.write_text(header + "".join(f"{node}\n" for node in slow))
    print(f"{len(slow)} slow test functions of {len(spent)} written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
