"""Checking a manifest's paths takes time linear in its files (it was quadratic: 19% of a
20,000-file pull went to looking up each parent folder in the list of all paths)."""

from __future__ import annotations

import pytest

from modelshelf.manifest import check_paths


class NoScans(list[str]):
    """A list of paths that fails if anyone searches it element by element."""

    def __contains__(self, item: object) -> bool:
        raise AssertionError("a path was looked up in the list: one scan per path is O(n^2)")


def test_parent_folders_are_looked_up_in_a_set_not_the_list() -> None:
    paths = NoScans(f"shard-{i % 50}/deeper/file-{i}.bin" for i in range(2_000))
    check_paths(paths)


def test_a_file_that_is_also_a_folder_is_still_refused() -> None:
    with pytest.raises(ValueError, match="both a file and a folder"):
        check_paths(NoScans(["a/b", "a/b/c.bin", "z"]))
