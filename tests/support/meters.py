"""Usage batches and meter series shared by the meter tests (projection, API, Postgres)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.app.service import CreditLedger
from ledger.metering.meters import MeterDefinition
from ledger.metering.usage import UsageBatch, UsageRecord
from projections.engine.store import ViewStore
from projections.meter_queries import meter_series
from tests.support.builders import usage_record

__all__ = [
    "BATCHES",
    "CASES",
    "LATENCY",
    "OUT",
    "TYPE",
    "U1M1",
    "U1M2",
    "U2M1",
    "Point",
    "record_batches",
    "series_of",
    "usage",
]


TYPE = "llm.completion"


def usage(
    event_id: str,
    occurred_at: str,
    subject: dict[str, str],
    output_tokens: int | None = None,
    properties: dict[str, Any] | None = None,
    *,
    wallet_id: str = "acme",
    type_: str = TYPE,
) -> UsageRecord:
    """One recorded usage event, keys as ledger.metering.usage documents them."""
    return usage_record(
        event_id,
        wallet_id=wallet_id,
        type=type_,
        occurred_at=occurred_at,
        subject=subject,
        quantities={} if output_tokens is None else {"output_tokens": output_tokens},
        properties=properties or {},
    )


U1M1 = {"user_id": "u1", "model": "m1"}


U1M2 = {"user_id": "u1", "model": "m2"}


U2M1 = {"user_id": "u2", "model": "m1"}


# latency_ms: only e1, late-b and e6 hold integers (80.5, "90" and true are skipped).
BATCHES: list[list[UsageRecord]] = [
    [
        usage("e1", "2026-01-31T23:30:00Z", U1M1, 10, {"latency_ms": 120, "region": "eu"}),
        usage("e2", "2026-02-01T00:10:00Z", U1M2, 20, {"latency_ms": 80.5, "region": "us"}),
        usage("e3", "2026-02-01T00:50:00Z", U2M1, 5, {"latency_ms": "90", "region": "eu"}),
        usage("x-type", "2026-02-01T00:20:00Z", U1M1, 1000, type_="embedding"),
        usage("x-wallet", "2026-02-01T00:20:00Z", U1M1, 500, wallet_id="other"),
    ],
    [
        # Two events at the same instant: the later in the log (late-a) is the latest.
        usage("late-b", "2026-02-01T01:20:00Z", U1M1, 7, {"latency_ms": 40, "region": 5}),
        usage("late-a", "2026-02-01T01:20:00Z", U2M1, 3, {"latency_ms": True, "region": "5"}),
        usage("e6", "2026-02-01T01:40:00Z", {"user_id": "u3"}, 12, {"latency_ms": 61}),
    ],
    [usage("e7", "2026-03-01T00:00:00Z", U1M1, 1)],
]


OUT = "quantities.output_tokens"


LATENCY = "properties.latency_ms"


Point = tuple[str, dict[str, Any], Any]


CASES: list[tuple[str, MeterDefinition, str, list[str], list[Point]]] = [
    (
        "count per day",
        MeterDefinition(TYPE, "count", None),
        "day",
        [],
        [("2026-01-31", {}, 1), ("2026-02-01", {}, 5), ("2026-03-01", {}, 1)],
    ),
    (
        "sum per day and model, an event without a model in group None",
        MeterDefinition(TYPE, "sum", OUT, ["model"]),
        "day",
        ["model"],
        [
            ("2026-01-31", {"model": "m1"}, 10),
            ("2026-02-01", {"model": "m1"}, 15),
            ("2026-02-01", {"model": "m2"}, 20),
            ("2026-02-01", {"model": None}, 12),
            ("2026-03-01", {"model": "m1"}, 1),
        ],
    ),
    (
        "sum per month by user and model",
        MeterDefinition(TYPE, "sum", OUT),
        "month",
        ["user_id", "subject.model"],
        [
            ("2026-01-01", {"user_id": "u1", "subject.model": "m1"}, 10),
            ("2026-02-01", {"user_id": "u1", "subject.model": "m1"}, 7),
            ("2026-02-01", {"user_id": "u1", "subject.model": "m2"}, 20),
            ("2026-02-01", {"user_id": "u2", "subject.model": "m1"}, 8),
            ("2026-02-01", {"user_id": "u3", "subject.model": None}, 12),
            ("2026-03-01", {"user_id": "u1", "subject.model": "m1"}, 1),
        ],
    ),
    (
        "unique users per hour",
        MeterDefinition(TYPE, "unique_count", "subject.user_id"),
        "hour",
        [],
        [
            ("2026-01-31T23:00", {}, 1),
            ("2026-02-01T00:00", {}, 2),
            ("2026-02-01T01:00", {}, 3),
            ("2026-03-01T00:00", {}, 1),
        ],
    ),
    (
        "unique users per day: 3 on Feb 1, not the 5 of its hours",
        MeterDefinition(TYPE, "unique_count", "subject.user_id"),
        "day",
        [],
        [("2026-01-31", {}, 1), ("2026-02-01", {}, 3), ("2026-03-01", {}, 1)],
    ),
    (
        "unique users per month",
        MeterDefinition(TYPE, "unique_count", "subject.user_id"),
        "month",
        [],
        [("2026-01-01", {}, 1), ("2026-02-01", {}, 3), ("2026-03-01", {}, 1)],
    ),
    (
        "unique regions: 5 and '5' are two values",
        MeterDefinition(TYPE, "unique_count", "properties.region"),
        "day",
        [],
        [("2026-01-31", {}, 1), ("2026-02-01", {}, 4)],
    ),
    (
        "sum of integer latencies only; a day without one is absent",
        MeterDefinition(TYPE, "sum", LATENCY),
        "day",
        [],
        [("2026-01-31", {}, 120), ("2026-02-01", {}, 101)],
    ),
    (
        "min latency",
        MeterDefinition(TYPE, "min", LATENCY),
        "day",
        [],
        [("2026-01-31", {}, 120), ("2026-02-01", {}, 40)],
    ),
    (
        "max latency",
        MeterDefinition(TYPE, "max", LATENCY),
        "day",
        [],
        [("2026-01-31", {}, 120), ("2026-02-01", {}, 61)],
    ),
    (
        "avg latency",
        MeterDefinition(TYPE, "avg", LATENCY),
        "month",
        [],
        [("2026-01-01", {}, 120.0), ("2026-02-01", {}, 50.5)],
    ),
    (
        "latest per day and model: the tie goes to the later log entry",
        MeterDefinition(TYPE, "latest", OUT),
        "day",
        ["model"],
        [
            ("2026-01-31", {"model": "m1"}, 10),
            ("2026-02-01", {"model": "m1"}, 3),
            ("2026-02-01", {"model": "m2"}, 20),
            ("2026-02-01", {"model": None}, 12),
            ("2026-03-01", {"model": "m1"}, 1),
        ],
    ),
    (
        "latest region per month, as the event held it",
        MeterDefinition(TYPE, "latest", "properties.region"),
        "month",
        [],
        [("2026-01-01", {}, "eu"), ("2026-02-01", {}, "5")],
    ),
    (
        "group by a property",
        MeterDefinition(TYPE, "count", None),
        "month",
        ["properties.region"],
        [
            ("2026-01-01", {"properties.region": "eu"}, 1),
            ("2026-02-01", {"properties.region": "5"}, 1),
            ("2026-02-01", {"properties.region": "eu"}, 1),
            ("2026-02-01", {"properties.region": "us"}, 1),
            ("2026-02-01", {"properties.region": 5}, 1),
            ("2026-02-01", {"properties.region": None}, 1),
            ("2026-03-01", {"properties.region": None}, 1),
        ],
    ),
]


def record_batches(ledger: CreditLedger) -> None:
    for batch in BATCHES:
        ledger.save(UsageBatch.record(received_at="2026-03-01T00:00:00Z", usage=batch))


def series_of(
    views: ViewStore,
    definition: MeterDefinition,
    window: str,
    group_by: list[str],
    *,
    from_: datetime | None = None,
    to: datetime | None = None,
) -> list[Point]:
    """The series as (window start text, group, value), for comparing with CASES."""
    dimensions = [name if "." in name else f"subject.{name}" for name in group_by]
    answer = meter_series(
        views,
        wallet_id="acme",
        definition=definition,
        from_=from_,
        to=to,
        window=window,
        dimensions=dimensions,
        labels=group_by,
    )
    return [
        (
            p["window_start"].strftime("%Y-%m-%dT%H:%M" if window == "hour" else "%Y-%m-%d"),
            p["group"],
            p["value"],
        )
        for p in answer["series"]
    ]
