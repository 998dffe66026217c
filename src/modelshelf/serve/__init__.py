"""``modelshelf serve``: predictions over HTTP in our JSON and in the Open Inference Protocol V2.

Needs the ``serve`` extra (``pip install 'modelshelf[serve]'``). :func:`create_app` returns the
ASGI app (FastAPI) that ``modelshelf serve`` runs, for mounting in your own app or serving a model
object already in memory.

Example:
    >>> # from modelshelf.serve import ServeOptions, create_app
    >>> # app = create_app("team/svc@production", options=ServeOptions(max_batch_size=32))
"""

from modelshelf.serve._app import create_app
from modelshelf.serve._model import ServeOptions

__all__ = ["ServeOptions", "create_app"]
