"""Usage ingest on the in-memory store: per-event checks, exactly-once, late and future events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from ledger.app import service_usage
from ledger.app.service import CreditLedger
from ledger.domain.errors import ValidationFailed
from ledger.metering.ingest import MAX_BATCH
from tests.support.builders import T0, FakeClock, make_ledger, open_funded_wallet
from tests.support.usage import batches, recorded, usage

RECORD_KEYS = {
    "wallet_id",
    "event_id",
    "type",
    "occurred_at",
    "received_at",
    "subject",
    "quantities",
    "properties",
    "bill",
    "late",
    "billed",
    "debt",
    "uncollected",
    "debit_id",
    "rating",
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(clock: FakeClock) -> Iterator[CreditLedger]:
    app = make_ledger(clock=clock)
    open_funded_wallet(app)
    yield app
    app.close()


def test_records_a_batch_as_one_stored_event_with_every_documented_key(
    ledger: CreditLedger,
) -> None:
    outcome = ledger.ingest_usage(
        [usage("e-1"), usage("e-2", occurred_at="2025-12-31T23:00:00+01:00")]
    )

    assert outcome.body == {
        "accepted": 2,
        "duplicates": 0,
        "late": 0,
        "rejected": [],
        "uncollected": 0,
        "uncollected_events": [],
    }
    assert outcome.position is not None
    (batch,) = batches(ledger)
    assert [set(r) for r in batch.usage] == [RECORD_KEYS, RECORD_KEYS]
    first, second = batch.usage
    assert first["occurred_at"] == "2026-01-01T00:00:00Z"
    assert second["occurred_at"] == "2025-12-31T22:00:00Z"  # stored in UTC
    assert first["received_at"] == "2026-01-01T00:00:00Z"
    assert (first["bill"], first["billed"], first["debit_id"], first["rating"]) == (
        False,
        0,
        None,
        None,
    )


def test_an_empty_batch_accepts_nothing_and_records_nothing(ledger: CreditLedger) -> None:
    outcome = ledger.ingest_usage([])

    assert outcome.body == {
        "accepted": 0,
        "duplicates": 0,
        "late": 0,
        "rejected": [],
        "uncollected": 0,
        "uncollected_events": [],
    }
    assert outcome.position is None
    assert batches(ledger) == []


def test_refuses_a_batch_over_the_limit_and_records_nothing(ledger: CreditLedger) -> None:
    events = [usage(f"e-{i}") for i in range(MAX_BATCH + 1)]

    with pytest.raises(ValidationFailed) as refused:
        ledger.ingest_usage(events)

    assert [e.field for e in refused.value.errors] == ["events"]
    assert batches(ledger) == []


def test_the_same_batch_sent_twice_counts_once(ledger: CreditLedger) -> None:
    events = [usage("e-1"), usage("e-2")]
    ledger.ingest_usage(events)

    again = ledger.ingest_usage(events)

    assert again.body == {
        "accepted": 0,
        "duplicates": 2,
        "late": 0,
        "rejected": [],
        "uncollected": 0,
        "uncollected_events": [],
    }
    assert again.position is None
    assert [r["event_id"] for r in recorded(ledger)] == ["e-1", "e-2"]


def test_a_repeat_within_a_batch_is_a_duplicate_and_the_first_is_kept(
    ledger: CreditLedger,
) -> None:
    outcome = ledger.ingest_usage([usage("e-1", type="first"), usage("e-1", type="second")])

    assert outcome.body["accepted"] == 1
    assert outcome.body["duplicates"] == 1
    assert [r["type"] for r in recorded(ledger)] == ["first"]


def test_dedup_is_per_wallet(ledger: CreditLedger) -> None:
    open_funded_wallet(ledger, "other")

    outcome = ledger.ingest_usage([usage("e-1"), usage("e-1", wallet_id="other")])

    assert outcome.body["accepted"] == 2


def test_a_partly_new_batch_keeps_only_the_new_events(ledger: CreditLedger) -> None:
    ledger.ingest_usage([usage("e-1")])

    outcome = ledger.ingest_usage([usage("e-1"), usage("e-2")])

    assert (outcome.body["accepted"], outcome.body["duplicates"]) == (1, 1)
    assert [r["event_id"] for r in recorded(ledger)] == ["e-1", "e-2"]


def test_rejects_event_in_the_future_beyond_five_minutes(
    ledger: CreditLedger, clock: FakeClock
) -> None:
    edge = (T0 + timedelta(minutes=5)).isoformat()
    beyond = (T0 + timedelta(minutes=5, seconds=1)).isoformat()

    outcome = ledger.ingest_usage(
        [usage("e-1", occurred_at=edge), usage("e-2", occurred_at=beyond)]
    )

    assert outcome.body["accepted"] == 1
    assert outcome.body["rejected"] == [
        {
            "index": 1,
            "code": "occurred_at_in_future",
            "detail": "occurred_at is more than 5 minutes in the future",
        }
    ]


def test_flags_events_older_than_the_grace_window_as_late(
    ledger: CreditLedger, clock: FakeClock
) -> None:
    clock.set(T0 + timedelta(hours=24, seconds=1))

    outcome = ledger.ingest_usage(
        [usage("old"), usage("edge", occurred_at=(T0 + timedelta(seconds=1)).isoformat())]
    )

    assert outcome.body["late"] == 1
    assert [(r["event_id"], r["late"]) for r in recorded(ledger)] == [
        ("old", True),
        ("edge", False),
    ]


def test_the_grace_window_is_a_setting(clock: FakeClock) -> None:
    app = make_ledger(clock=clock, env={"LEDGER_USAGE_LATE_GRACE_SECONDS": "60"})
    open_funded_wallet(app)
    clock.advance(seconds=61)

    outcome = app.ingest_usage([usage("e-1")])

    assert outcome.body["late"] == 1
    app.close()


def test_rejects_events_of_unknown_wallets_alone(ledger: CreditLedger) -> None:
    outcome = ledger.ingest_usage([usage("e-1", wallet_id="nobody"), usage("e-2")])

    assert outcome.body["accepted"] == 1
    assert outcome.body["rejected"] == [
        {"index": 0, "code": "wallet_not_found", "detail": "wallet 'nobody' not found"}
    ]


def test_a_wallet_opened_after_a_rejection_is_found(ledger: CreditLedger) -> None:
    ledger.ingest_usage([usage("e-1", wallet_id="late-wallet")])
    open_funded_wallet(ledger, "late-wallet")

    assert ledger.ingest_usage([usage("e-1", wallet_id="late-wallet")]).body["accepted"] == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_id": ""}, "event_id"),
        ({"event_id": "a b"}, "event_id"),
        ({"event_id": 7}, "event_id"),
        ({"wallet_id": "x" * 129}, "wallet_id"),
        ({"type": ""}, "type"),
        ({"type": "t" * 129}, "type"),
        ({"occurred_at": "2026-01-01T00:00:00"}, "occurred_at"),
        ({"occurred_at": "2026-01-01"}, "occurred_at"),
        ({"occurred_at": "2026-13-01T00:00:00Z"}, "occurred_at"),
        ({"occurred_at": 1767225600}, "occurred_at"),
        ({"occurred_at": "0001-01-01T00:00:00+01:00"}, "occurred_at"),
        ({"occurred_at": "9999-12-31T23:59:59-01:00"}, "occurred_at"),
        ({"subject": {"colour": "red"}}, "subject.colour"),
        ({"subject": {"user_id": 5}}, "subject.user_id"),
        ({"subject": []}, "subject"),
        ({"quantities": {"input_tokens": -1}}, "quantities.input_tokens"),
        ({"quantities": {"input_tokens": 1.5}}, "quantities.input_tokens"),
        ({"quantities": {"input_tokens": True}}, "quantities.input_tokens"),
        ({"quantities": {"input_tokens": "3"}}, "quantities.input_tokens"),
        ({"quantities": {f"k{i}": 1 for i in range(33)}}, "quantities"),
        ({"quantities": {"bad key": 1}}, "quantities"),
        ({"properties": []}, "properties"),
        ({"properties": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}}, "properties"),
        ({"properties": {"list": list(range(300))}}, "properties"),
        ({"properties": {"s": "x" * 1025}}, "properties"),
        ({"bill": "yes"}, "bill"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_rejects_a_malformed_event_naming_the_field(
    ledger: CreditLedger, change: dict[str, Any], field: str
) -> None:
    outcome = ledger.ingest_usage([usage("good"), {**usage("bad"), **change}])

    (rejection,) = outcome.body["rejected"]
    assert rejection["index"] == 1
    assert rejection["code"] == "validation_error"
    assert rejection["detail"].startswith(f"{field}:")
    assert outcome.body["accepted"] == 1


@pytest.mark.parametrize("missing", ["event_id", "wallet_id", "type", "occurred_at"])
def test_rejects_an_event_missing_a_required_field(ledger: CreditLedger, missing: str) -> None:
    event = usage("e-1")
    del event[missing]

    (rejection,) = ledger.ingest_usage([event]).body["rejected"]

    assert rejection["detail"] == f"{missing}: required field is missing"


def test_rejects_an_event_that_is_not_an_object(ledger: CreditLedger) -> None:
    (rejection,) = ledger.ingest_usage([["not", "an", "object"]]).body["rejected"]

    assert rejection == {
        "index": 0,
        "code": "validation_error",
        "detail": "events[0]: must be an object",
    }


def test_a_rejected_event_does_not_mark_its_id_as_seen(ledger: CreditLedger) -> None:
    ledger.ingest_usage([usage("e-1", occurred_at="2027-01-01T00:00:00Z")])

    assert ledger.ingest_usage([usage("e-1")]).body["accepted"] == 1


def test_optional_fields_default_to_empty_and_unbilled(ledger: CreditLedger) -> None:
    event = {
        "event_id": "e-1",
        "wallet_id": "acme",
        "type": "t",
        "occurred_at": "2026-01-01T00:00:00Z",
    }

    ledger.ingest_usage([event])

    (record,) = recorded(ledger)
    assert (record["subject"], record["quantities"], record["properties"], record["bill"]) == (
        {},
        {},
        {},
        False,
    )


@pytest.mark.parametrize(
    ("given", "recorded_as"),
    [
        ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
        ("2026-01-01t00:00:00z", "2026-01-01T00:00:00Z"),
        ("2026-01-01 01:00:00+01:00", "2026-01-01T00:00:00Z"),
        ("2025-12-31T23:59:59.250Z", "2025-12-31T23:59:59.250000Z"),
    ],
)
def test_occurred_at_is_recorded_in_utc_with_z(
    ledger: CreditLedger, given: str, recorded_as: str
) -> None:
    ledger.ingest_usage([usage("e-1", occurred_at=given)])

    assert recorded(ledger)[0]["occurred_at"] == recorded_as


def test_known_wallets_stay_found_when_the_cache_of_wallet_ids_overflows(
    ledger: CreditLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a cache of known wallet ids bounded at two entries and already full (acme, w2)
    monkeypatch.setattr(service_usage, "_KNOWN_WALLETS_MAX", 2)
    open_funded_wallet(ledger, "w2")
    open_funded_wallet(ledger, "w3")
    assert ledger.ingest_usage([usage("e-1"), usage("e-2", wallet_id="w2")]).body["accepted"] == 2

    # When a batch names a cached wallet and a new one, overflowing the cache
    outcome = ledger.ingest_usage([usage("e-3"), usage("e-4", wallet_id="w3")])

    # Then both are found: forgetting the cache never forgets this batch's wallets
    assert outcome.body["rejected"] == []
    assert outcome.body["accepted"] == 2


def test_a_batch_sent_again_is_answered_as_duplicates_without_counting_a_conflict(
    ledger: CreditLedger,
) -> None:
    # An unbilled batch is saved without first asking which ids are recorded: the id insert
    # fails, the batch is decided again with the query, and that is no write conflict.
    conflicts: list[str] = []
    ledger.on_conflict = conflicts.append
    ledger.ingest_usage([usage("e-1"), usage("e-2")])

    outcome = ledger.ingest_usage([usage("e-1"), usage("e-3"), usage("e-2")])

    assert outcome.body == {
        "accepted": 1,
        "duplicates": 2,
        "late": 0,
        "rejected": [],
        "uncollected": 0,
        "uncollected_events": [],
    }
    assert [r["event_id"] for r in recorded(ledger)] == ["e-1", "e-2", "e-3"]
    assert conflicts == []
