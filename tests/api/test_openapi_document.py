"""The served OpenAPI document is byte for byte the committed copy in docs/openapi.json.

A deliberate change to the HTTP contract regenerates the copy with ``make openapi`` and shows
up as a diff of that file; an accidental one (a moved module renaming a schema, a changed
docstring) fails here.

The document is taken from a fresh process (``scripts/openapi.py --check``): litestar fills
some ``examples`` from a random generator whose state other tests in this process move on.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_served_openapi_document_is_the_committed_copy() -> None:
    check = subprocess.run(  # noqa: S603 - this repository's own script, fixed arguments
        [sys.executable, str(ROOT / "scripts" / "openapi.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert check.returncode == 0, (
        f"the OpenAPI document changed (run `make openapi`): {check.stderr}"
    )
