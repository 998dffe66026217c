"""The model-like folder every benchmark moves, made once and reused, and checks of copies of it.

Layout for ``size_mib=1024, files=64``::

    model.safetensors            768 MiB   (three quarters of the total, one file)
    shards/shard-00000.bin ...   64 x 4 MiB (the last quarter, split evenly)

The content is random (incompressible, never deduplicated). A JSON record beside the folder
holds the parameters and every file's sha256; the folder is reused while that record matches.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
WRITE_CHUNK = 8 * MIB
LARGE_NAME = "model.safetensors"


@dataclass(frozen=True)
class DataFile:
    path: str  # relative, POSIX
    size: int
    sha256: str


@dataclass(frozen=True)
class Dataset:
    root: Path
    files: tuple[DataFile, ...]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def total_mib(self) -> float:
        return self.total_bytes / MIB


def layout(size_mib: int, files: int) -> list[tuple[str, int]]:
    """(path, size) of every file: one large file plus ``files`` equal small ones."""
    total = size_mib * MIB
    small_total = total // 4 if files > 0 else 0
    small_size = small_total // files if files > 0 else 0
    if files > 0 and small_size == 0:
        raise ValueError(f"{files} files do not fit in a quarter of {size_mib} MiB")
    plan = [(LARGE_NAME, total - small_size * files)]
    plan += [(f"shards/shard-{i:05d}.bin", small_size) for i in range(files)]
    return plan


def write_random(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb", buffering=0) as handle:
        remaining = size
        while remaining:
            chunk = os.urandom(min(WRITE_CHUNK, remaining))
            handle.write(chunk)
            digest.update(chunk)
            remaining -= len(chunk)
    return digest.hexdigest()


def uniform_layout(count: int, size: int, per_dir: int = 1000) -> list[tuple[str, int]]:
    """(path, size) of ``count`` files of ``size`` bytes, ``per_dir`` to a folder."""
    return [(f"files/{i // per_dir:03d}/{i:06d}.bin", size) for i in range(count)]


def ensure_files(data_dir: Path, name: str, plan: list[tuple[str, int]]) -> tuple[Dataset, bool]:
    """The folder ``data_dir/name`` holding ``plan``'s files, made (random) if it does not match.

    Returns the dataset and True if it was created now.
    """
    root = data_dir / name
    record = data_dir / f"{name}.json"
    params = {"plan": [list(entry) for entry in plan]}
    if record.is_file() and root.is_dir():
        saved = json.loads(record.read_text())
        entries = tuple(DataFile(**f) for f in saved["files"])
        on_disk_ok = all(
            (root / f.path).is_file() and (root / f.path).stat().st_size == f.size for f in entries
        )
        if saved.get("params") == params and on_disk_ok:
            return Dataset(root, entries), False
    shutil.rmtree(root, ignore_errors=True)
    record.unlink(missing_ok=True)
    entries = tuple(DataFile(path, size, write_random(root / path, size)) for path, size in plan)
    record.write_text(json.dumps({"params": params, "files": [f.__dict__ for f in entries]}))
    return Dataset(root, entries), True


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb", buffering=0) as handle:
        while chunk := handle.read(WRITE_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_copy(dataset: Dataset, root: Path, *, full: bool) -> None:
    """Raise if ``root`` does not hold exactly the dataset's files (sha256 too when ``full``).

    Run outside the timed region: it checks the benchmark, not the tool.
    """
    found = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    expected = sorted(f.path for f in dataset.files)
    if found != expected:
        missing = sorted(set(expected) - set(found))[:5]
        extra = sorted(set(found) - set(expected))[:5]
        raise AssertionError(f"{root}: wrong file set; missing {missing}, unexpected {extra}")
    for f in dataset.files:
        path = root / f.path
        if path.stat().st_size != f.size:
            raise AssertionError(f"{path}: {path.stat().st_size} bytes, expected {f.size}")
        if full and sha256_file(path) != f.sha256:
            raise AssertionError(f"{path}: content differs from the source")
