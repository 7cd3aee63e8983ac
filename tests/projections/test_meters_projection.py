"""Meters over the usage facts: every aggregation against hand-computed values.

The data set (:data:`BATCHES`) is shared with tests/integration/test_meters_postgres.py,
which checks the same table (:data:`CASES`) against PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from ledger.app.service import CreditLedger
from ledger.domain.errors import ValidationFailed
from ledger.metering.meters import MeterDefinition
from ledger.metering.usage import UsageBatch
from projections import ProjectionRunner, reconcile_views
from projections.catalog import METERS
from projections.engine.store import ViewStore
from projections.meter_queries import meter_series
from tests.support.builders import at
from tests.support.meters import (
    CASES,
    LATENCY,
    OUT,
    TYPE,
    U1M1,
    Point,
    record_batches,
    series_of,
    usage,
)


def _when(text: str) -> datetime:
    return at(text if "T" in text else f"{text}T00:00")


@pytest.fixture
def recorded(ledger: CreditLedger, views: ViewStore) -> ViewStore:
    record_batches(ledger)
    ProjectionRunner(ledger, views).catch_up()
    return views


@pytest.mark.parametrize(
    ("definition", "window", "group_by", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_meter_values_match_hand_computed_expectations(
    recorded: ViewStore,
    definition: MeterDefinition,
    window: str,
    group_by: list[str],
    expected: list[Point],
) -> None:
    assert series_of(recorded, definition, window, group_by) == expected


def test_avg_answers_a_json_number_and_the_rest_integers(recorded: ViewStore) -> None:
    avg = series_of(recorded, MeterDefinition(TYPE, "avg", LATENCY), "day", [])
    total = series_of(recorded, MeterDefinition(TYPE, "sum", LATENCY), "day", [])
    assert [type(value) for _, _, value in avg] == [float, float]
    assert [type(value) for _, _, value in total] == [int, int]


def test_from_and_to_select_occurred_at_in_a_half_open_range(recorded: ViewStore) -> None:
    # [01:20, 01:40) holds the two tied events, not e6 at 01:40
    points = series_of(
        recorded,
        MeterDefinition(TYPE, "count", None),
        "hour",
        [],
        from_=at("2026-02-01T01:20"),
        to=at("2026-02-01T01:40"),
    )
    assert points == [("2026-02-01T01:00", {}, 2)]


def test_other_wallets_and_event_types_have_their_own_facts(recorded: ViewStore) -> None:
    embedding = meter_series(
        recorded,
        wallet_id="acme",
        definition=MeterDefinition("embedding", "sum", OUT),
        from_=None,
        to=None,
        window="month",
        dimensions=[],
    )
    other = meter_series(
        recorded,
        wallet_id="other",
        definition=MeterDefinition(TYPE, "sum", OUT),
        from_=None,
        to=None,
        window="month",
        dimensions=[],
    )
    assert [p["value"] for p in embedding["series"]] == [1000]
    assert [p["value"] for p in other["series"]] == [500]


def test_an_unknown_window_is_refused(recorded: ViewStore) -> None:
    with pytest.raises(ValidationFailed):
        series_of(recorded, MeterDefinition(TYPE, "count", None), "week", [])


def test_reconcile_counts_the_facts_of_each_wallet(ledger: CreditLedger, views: ViewStore) -> None:
    record_batches(ledger)
    ProjectionRunner(ledger, views).catch_up()
    assert reconcile_views(ledger, views, names=[METERS.name]) == []
    with views.write() as tx:
        tx.execute(f"DELETE FROM {METERS.table('', 1)} WHERE event_id = 'e7'")  # noqa: S608
    differences = reconcile_views(ledger, views, names=[METERS.name])
    assert differences == ["meters.facts 'acme': view has 7, the log gives 8"]


def test_a_batch_is_applied_once_even_when_read_again(
    ledger: CreditLedger, views: ViewStore
) -> None:
    record_batches(ledger)
    runner = ProjectionRunner(ledger, views, batch_size=1)
    runner.catch_up()
    runner.catch_up()
    assert series_of(views, MeterDefinition(TYPE, "count", None), "month", []) == [
        ("2026-01-01", {}, 1),
        ("2026-02-01", {}, 5),
        ("2026-03-01", {}, 1),
    ]


def test_an_answer_beyond_the_point_limit_is_refused(
    recorded: ViewStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("projections.meter_queries.MAX_POINTS", 3)
    assert len(series_of(recorded, MeterDefinition(TYPE, "count", None), "day", [])) == 3
    with pytest.raises(ValidationFailed, match="more than 3 points"):
        series_of(recorded, MeterDefinition(TYPE, "count", None), "month", ["model"])


@pytest.mark.parametrize("aggregation", ["sum", "avg"])
def test_a_sum_past_64_bits_in_a_window_is_refused_not_a_crash(
    ledger: CreditLedger, views: ViewStore, aggregation: str
) -> None:
    big = 2**53 - 1  # 1,100 of them sum past 2**63 - 1, where SQLite's SUM stops
    for chunk in range(11):
        batch = [usage(f"big-{chunk}-{i}", "2026-02-01T00:10:00Z", U1M1, big) for i in range(100)]
        ledger.save(UsageBatch.record(received_at="2026-03-01T00:00:00Z", usage=batch))
    ProjectionRunner(ledger, views).catch_up()
    with pytest.raises(ValidationFailed, match="overflows 64 bits") as refused:
        series_of(views, MeterDefinition(TYPE, aggregation, OUT), "month", [])
    assert [error.field for error in refused.value.errors] == ["from"]
    assert series_of(views, MeterDefinition(TYPE, "count", None), "month", []) == [
        ("2026-02-01", {}, 1100)
    ]
