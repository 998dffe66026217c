"""Every test module has its own basename: pytest imports them by basename (rootdir-relative
packages are not used here), so two ``test_x.py`` in two folders stop the whole run at
collection. Twice a merge of parallel work made such a pair; this says so before pytest does."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_two_test_modules_share_a_basename() -> None:
    seen: dict[str, list[str]] = defaultdict(list)
    for folder in ("tests", "benchmarks"):
        for path in (ROOT / folder).rglob("test_*.py"):
            seen[path.name].append(path.relative_to(ROOT).as_posix())
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}
