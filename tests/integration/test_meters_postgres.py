"""Meters on a real PostgreSQL: the same hand-computed table as the SQLite unit tests.

The facts are written with COPY into JSONB columns and aggregated with ``->>``, NUMERIC
sums and ``date_trunc(..., 'UTC')`` windows; every answer must equal the one SQLite gives
(tests/projections/test_meters_projection.py), and a rebuild must reconcile with the log.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.app.service import CreditLedger
from ledger.metering.meters import MeterDefinition
from ledger.metering.usage import UsageBatch
from projections import ProjectionRunner, open_views, reconcile_views
from projections.catalog import METERS
from projections.engine.store import ViewStore
from projections.rebuild import rebuild
from tests.support.builders import FakeClock, make_ledger
from tests.support.meters import CASES, TYPE, record_batches, series_of, usage


@pytest.fixture
def ledger(postgres_url: str, pg_schema: str) -> Iterator[CreditLedger]:
    url = f"{postgres_url}{'&' if '?' in postgres_url else '?'}schema={pg_schema}"
    app = make_ledger(url, clock=FakeClock())
    yield app
    app.close()


@pytest.fixture
def views(ledger: CreditLedger, pg_schema: str) -> Iterator[ViewStore]:
    store = open_views(ledger.env, application_name=f"meters-{pg_schema}")
    yield store
    store.close()


def test_every_aggregation_matches_the_hand_computed_table(
    ledger: CreditLedger, views: ViewStore
) -> None:
    record_batches(ledger)
    ProjectionRunner(ledger, views, batch_size=2).catch_up()
    mismatches = {
        name: series_of(views, definition, window, group_by)
        for name, definition, window, group_by, expected in CASES
        if series_of(views, definition, window, group_by) != expected
    }
    assert mismatches == {}


def test_a_rebuilt_meters_view_reconciles_and_answers_the_same(
    ledger: CreditLedger, views: ViewStore
) -> None:
    record_batches(ledger)
    ProjectionRunner(ledger, views).catch_up()
    before = series_of(views, MeterDefinition(TYPE, "unique_count", "subject.user_id"), "day", [])
    report = rebuild(ledger, views, METERS.name, drop_grace=0)
    after = series_of(views, MeterDefinition(TYPE, "unique_count", "subject.user_id"), "day", [])
    assert report.generations == {"meters": 2}
    assert after == before == [("2026-01-31", {}, 1), ("2026-02-01", {}, 3), ("2026-03-01", {}, 1)]
    assert reconcile_views(ledger, views, names=[METERS.name]) == []


def test_text_postgres_cannot_hold_is_stored_and_matched_alike(
    ledger: CreditLedger, views: ViewStore
) -> None:
    # A NUL in a type, an id or a property must not wedge the projection.
    odd = usage("nul\x00id", "2026-01-01T00:00:00Z", {"model": "m1"}, 4, {"note": "a\x00b"})
    ledger.save(UsageBatch.record(received_at="2026-01-01T00:00:00Z", usage=[{**odd}]))
    nul_type = {**odd, "event_id": "other", "type": "odd\x00type"}
    ledger.save(UsageBatch.record(received_at="2026-01-01T00:00:00Z", usage=[nul_type]))
    ProjectionRunner(ledger, views).catch_up()
    latest = series_of(views, MeterDefinition(TYPE, "latest", "properties.note"), "day", [])
    odd_total = series_of(
        views, MeterDefinition("odd\x00type", "sum", "quantities.output_tokens"), "day", []
    )
    assert latest == [("2026-01-01", {}, "a\x00b")]
    assert odd_total == [("2026-01-01", {}, 4)]
