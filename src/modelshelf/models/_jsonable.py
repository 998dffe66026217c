"""Predictions as JSON can carry them: shared by ``modelshelf predict`` and ``modelshelf serve``."""

from __future__ import annotations

from typing import Any

__all__ = ["plain"]


def plain(value: Any) -> Any:
    """Arrays and tensors (anything with ``tolist``) as lists, inside dicts, lists and tuples."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else value
