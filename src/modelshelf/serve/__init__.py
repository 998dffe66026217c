"""``modelshelf serve``: predictions over HTTP in our JSON and in the Open Inference Protocol V2.

Needs the ``serve`` extra (``pip install 'modelshelf[serve]'``).
"""
