"""The HTTP API of the credit ledger: litestar routes, schemas and middleware over ledger.app.

Build the ASGI app with :func:`api.app.create_app`. Modules here may import ``projections`` and
``ledger``; nothing below ``api`` imports back (import-linter enforces the layers).
"""

__all__: list[str] = []
