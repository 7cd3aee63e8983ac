"""Fixtures shared by the Postgres tests of the read models.

Each test module brings its own ``ledger`` (on ``pg_schema``, sharded or not); ``views`` is
the view store beside it. A module that needs another clock or view store defines its own
fixture of the same name, which takes precedence over these.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.app.service import CreditLedger
from projections import open_views
from projections.engine.store import ViewStore
from tests.support.builders import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def views(ledger: CreditLedger, pg_schema: str) -> Iterator[ViewStore]:
    # Named by schema: tests run side by side on one server, each in its own schema.
    store = open_views(ledger.env, application_name=f"views-{pg_schema}")
    yield store
    store.close()
