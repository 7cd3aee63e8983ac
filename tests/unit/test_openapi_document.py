"""The served OpenAPI document is byte for byte the committed copy in docs/openapi.json.

A deliberate change to the HTTP contract regenerates the copy with ``make openapi`` and shows
up as a diff of that file; an accidental one (a moved module renaming a schema, a changed
docstring) fails here.
"""

from __future__ import annotations

from pathlib import Path

from tests.unit.test_api_support import running_api

COPY = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_the_served_openapi_document_is_the_committed_copy() -> None:
    with running_api() as api:
        served = api.get("/schema/openapi.json", key=None).content

    assert served == COPY.read_bytes(), "the OpenAPI document changed: run `make openapi`"
