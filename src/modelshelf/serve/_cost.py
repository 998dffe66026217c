"""What decoding a request body builds, estimated from its bytes before it is built.

Pure: the body budget (:mod:`modelshelf.serve._body`) charges these estimates before JSON is
decoded or tensors are split, so a body cannot expand past the budget once it has been read.
"""

from __future__ import annotations

__all__ = ["BYTES_ELEMENT", "json_cost"]

# What decoding builds per JSON token, in bytes, as measured on CPython 3.11 and rounded up:
# a value is a list or dict slot plus at most a float or short int (40); a string adds its
# header (~52 per pair of quotes); an object or array its header (64); a key-value pair its
# dict entry and the table's growth (120). Ratios to the body: empty objects 24x, records 14x.
_COSTS = ((b"{", 64), (b"[", 64), (b",", 40), (b'"', 26), (b":", 120))
# A BYTES element is a bytes object (33 bytes and its data) in a list and an object array.
BYTES_ELEMENT = 33 + 8 + 8


def json_cost(text: bytes, end: int | None = None) -> int:
    """An upper estimate of the bytes ``json.loads(text[:end])`` holds: the decoded text and
    the objects it builds, from counts of the structural bytes (no parsing).

    A byte inside a string counts as if it were structural, which only raises the estimate.
    The decoded text takes a byte a character when it is ASCII, else up to four (one astral
    character makes every character of a Python str four bytes wide).
    """
    end = len(text) if end is None else end
    width = 1 if (text if end == len(text) else text[:end]).isascii() else 4
    return width * end + sum(weight * text.count(token, 0, end) for token, weight in _COSTS)
