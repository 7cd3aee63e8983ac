"""Fixtures shared by the app-tier tests: a fake clock, an in-memory ledger and its views.

A test module that needs a different clock, ledger or view store defines its own fixture of
the same name, which takes precedence over these.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.app.service import CreditLedger
from projections import open_views
from projections.engine.store import ViewStore
from tests.support.builders import FakeClock, make_ledger

__all__ = ["clock", "ledger", "views"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(clock: FakeClock) -> Iterator[CreditLedger]:
    app = make_ledger(clock=clock)
    yield app
    app.close()


@pytest.fixture
def views(ledger: CreditLedger) -> Iterator[ViewStore]:
    store = open_views(ledger.env)
    yield store
    store.close()
