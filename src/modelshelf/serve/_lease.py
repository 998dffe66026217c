"""The lease: one pinned model version, the seam between the batcher and the model slot.

The batcher takes an :data:`Acquire` (``ModelSlot.acquire`` in the app) and runs each batch
inside one lease, so that every request of a batch is answered by the same version even when a
new one is swapped in meanwhile. The slot (:mod:`modelshelf.serve._slot`) hands these out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Acquire", "Lease"]


class Lease(Protocol):
    """One pinned model version, held for the duration of a batch (``_slot.py`` hands these out)."""

    @property
    def version(self) -> str:
        """The version that answers (``"1.2"``, or ``"local"`` for a file)."""
        ...

    @property
    def signature(self) -> Any:
        """What the version takes and gives (a ``Signature``), or ``None``: its output names
        name the answer."""
        ...

    def preprocess(self, data: Any) -> Any:
        """Turn one request body into runner input."""
        ...

    def predict(self, prepared: Any) -> Any:
        """Run the model on (possibly merged) prepared input."""
        ...

    def postprocess(self, output: Any) -> Any:
        """Turn one request's slice of the output into its answer."""
        ...


Acquire = Callable[[], contextlib.AbstractContextManager[Lease]]
