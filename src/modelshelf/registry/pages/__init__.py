"""The registry's pages: server-rendered HTML for people, beside the JSON API.

Owns the routes under ``/`` (assets and search, an asset, a version, a diff, the audit log,
sign-in), their Jinja templates and the one CSS file (package data, no build step, nothing
fetched from outside the package), the sign-in cookie and CSRF tokens (:mod:`.session`), the
card renderer (:mod:`.markdown`: Markdown made harmless), and the in-memory catalog that makes
search fast on big stores (:mod:`.catalog`, :mod:`.search`). Mounted by
:func:`modelshelf.registry.app.create_app` (``pages=True``) through :func:`.mount.add_pages`.

May import: what ``registry`` may (store, shelf's pure helpers, transfer, the vocabulary) and the
registry's own modules; no page route writes without a CSRF token.
"""
