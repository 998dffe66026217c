"""The package's version, in the vocabulary so that any layer can name it.

``modelshelf.__version__`` re-exports it; code inside the package imports it from here, never from
the package itself: ``modelshelf/__init__`` sits above every layer, so importing it from one is an
upward import (``models.register`` did, and made a circle through the public API).
"""

__version__ = "0.1.0"
"""The version of modelshelf installed (PEP 440), as `modelshelf --version` prints it."""
