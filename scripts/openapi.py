"""Print or write the OpenAPI document the app serves at ``/schema/openapi.json``.

    python scripts/openapi.py            # write docs/openapi.json (after a deliberate change)
    python scripts/openapi.py --check    # exit 1 if docs/openapi.json differs from the served one

tests/api/test_openapi_document.py (which runs this with --check) fails when the served
document and the committed copy differ byte for byte, so a change to the HTTP contract is
always a visible diff.
"""

from __future__ import annotations

import sys
from pathlib import Path

from litestar.testing import TestClient

from api.app import create_app
from api.settings import Settings

__all__ = ["COPY", "served_document"]

COPY = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


def served_document() -> bytes:
    """The document's bytes exactly as an in-memory app serves them."""
    with TestClient(create_app(Settings(database_url="memory://"))) as client:
        response = client.get("/schema/openapi.json")
        response.raise_for_status()
        return response.content


def main(argv: list[str]) -> int:
    document = served_document()
    if "--check" in argv:
        if COPY.read_bytes() != document:
            sys.stderr.write(f"docs/{COPY.name} differs from the served document\n")
            return 1
        return 0
    COPY.write_bytes(document)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
