"""Reading a stored model file: an engine's refusal of a damaged or hostile file is one line.

A model file in a version is outside input. When an engine library cannot parse it (a pickle
that is not one, a skops file that is not a zip, an ONNX protobuf that does not decode, a
TorchScript archive torch's reader refuses), it raises its own exception, with its own text
(which may quote the file); and torch prints warnings of its own while it tries. Loading through
:func:`reading` turns every such failure into one :class:`UntrustedStoreDataError` naming the
file, the format and the cause (cut, escaped), and keeps the library's warnings off stderr.
Our own refusals (trust, bounds) and a missing library pass through as they are.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from modelshelf import trust
from modelshelf.errors import ModelshelfError, UnknownModelFormatError, UntrustedStoreDataError

__all__ = ["reading"]


@contextmanager
def reading(label: str, what: str) -> Iterator[None]:
    """Load the file ``label`` (as the message names it) of the format ``what``; see above.

    Raises:
        UntrustedStoreDataError: the engine could not read the file, or a bound refused it.
    """
    with warnings.catch_warnings():
        # torch warns (UserWarning, DeprecationWarning) about what it is asked to read; those
        # lines are not ours to print, and they land on stderr even under --json.
        warnings.simplefilter("ignore")
        try:
            yield
        except UnknownModelFormatError as exc:  # a bound of ours (a zip bomb, a bad header)
            # A trusted load skips the archive bounds: the way out for a file the user vouches for.
            raise _damaged(label, what, exc.reason).with_fix(
                "; if you trust the store, load it with {trust}"
            ) from None
        except (ModelshelfError, ImportError):
            raise  # trust refusals and our own lines; a missing library (a requirement)
        except Exception as exc:  # the engine's refusal, whatever its class
            cause = " ".join(str(exc).split()) or type(exc).__name__
            raise _damaged(label, what, f"{type(exc).__name__}: {cause}") from None


def _damaged(label: str, what: str, cause: str) -> UntrustedStoreDataError:
    return UntrustedStoreDataError(
        f"the model file {trust.show(label, 100)} could not be read as {what}"
        f" ({trust.show(cause, 200)}); the version is damaged or was tampered with: push it"
        " again from the original"
    )
