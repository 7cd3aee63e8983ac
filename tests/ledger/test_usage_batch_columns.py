"""The stored form of a usage batch: columns (version 2), and version 1 batches still read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from ledger.app.service import CreditLedger
from ledger.metering.usage import (
    RECORD_KEYS,
    REQUIRED_COLUMNS,
    USAGE_BATCH_TOPIC,
    UsageBatch,
    UsageBatchRecorded,
    columns_of,
    records_of,
)
from projections.engine.log import LogReader
from tests.support.builders import (
    USAGE_RECEIVED_AT,
    FakeClock,
    make_ledger,
    open_funded_wallet,
    usage_record,
)

RECEIVED = USAGE_RECEIVED_AT
record = usage_record


@pytest.fixture
def ledger() -> Iterator[CreditLedger]:
    app = make_ledger(clock=FakeClock())
    open_funded_wallet(app)
    yield app
    app.close()


def test_columns_left_at_their_defaults_are_not_stored() -> None:
    columns = columns_of([record("e-1"), record("e-2")], RECEIVED)

    assert set(columns) == {"wallet_id", "event_id", "type", "occurred_at", "subject", "quantities"}


def test_a_column_with_one_value_off_its_default_is_stored_whole() -> None:
    records = [record("e-1"), record("e-2", billed=0.0, late=True, received_at="other")]

    columns = columns_of(records, RECEIVED)

    assert columns["late"] == [False, True]
    assert columns["billed"] == [0, 0.0]  # 0.0 is not the integer default: kept as given
    assert columns["received_at"] == [RECEIVED, "other"]
    assert records_of(columns, RECEIVED) == records


def test_records_read_back_from_columns_have_every_key_and_their_own_properties() -> None:
    records = records_of(columns_of([record("e-1"), record("e-2")], RECEIVED), RECEIVED)

    assert records == [record("e-1"), record("e-2")]
    assert all(tuple(r) == RECORD_KEYS for r in records)
    assert records[0]["properties"] is not records[1]["properties"]


def test_a_record_without_every_documented_key_is_refused() -> None:
    partial = record("e-1")
    del partial["late"]

    with pytest.raises(ValueError, match="keys"):
        UsageBatch.record(received_at=RECEIVED, usage=[partial])


def test_a_batch_saved_and_read_back_holds_the_same_records(ledger: CreditLedger) -> None:
    records = [record("e-1"), record("e-2", bill=True, billed=5, debit_id="d", rating={"a": 1})]
    batch = UsageBatch.record(received_at=RECEIVED, usage=records)
    ledger.save(batch)

    loaded: object = ledger.repository.get(batch.id)

    assert isinstance(loaded, UsageBatch)
    assert loaded.usage == records


def version_1_batch(ledger: CreditLedger, records: list[dict[str, Any]]) -> StoredEvent:
    """A batch as version 1 stored it: the records themselves under ``usage``."""
    state = ledger.mapper.transcoder.encode(
        {
            "timestamp": datetime(2026, 3, 1, tzinfo=UTC),
            "originator_topic": "ledger:UsageBatch",
            "received_at": RECEIVED,
            "usage": records,
        }
    )
    return StoredEvent(
        originator_id=uuid4(), originator_version=1, topic=USAGE_BATCH_TOPIC, state=state
    )


def test_a_version_1_batch_decodes_to_the_same_records(ledger: CreditLedger) -> None:
    records = [record("e-1"), record("e-2", late=True, properties={"k": "v"})]

    event = ledger.mapper.to_domain_event(version_1_batch(ledger, records))

    assert isinstance(event, UsageBatchRecorded)
    assert event.usage == records
    assert set(event.columns) >= {"late", "properties"}


def test_a_version_1_batch_in_the_log_reads_like_a_new_one(ledger: CreditLedger) -> None:
    old = [record("e-1"), record("e-2", bill=True, billed=7, debit_id="d-2")]
    new = [record("e-3")]
    ledger.recorder.insert_events([version_1_batch(ledger, old)])
    ledger.save(UsageBatch.record(received_at=RECEIVED, usage=new))

    usage = LogReader(ledger).read(0, 1000).usage

    assert [u.record for u in usage] == [*old, *new]
    assert [u.index for u in usage] == [0, 1, 0]


def test_ingest_stores_exactly_the_columns_columns_of_keeps(ledger: CreditLedger) -> None:
    # Ingest builds its columns itself (no record dicts on the hot path): they must be the
    # reference's, defaults left out and every other column kept whole
    now = ledger.now().isoformat().replace("+00:00", "Z")
    event = {"wallet_id": "acme", "type": "llm.completion", "occurred_at": now}
    ledger.ingest_usage(
        [
            {**event, "event_id": "e-1", "quantities": {"output_tokens": 3}},
            {**event, "event_id": "e-2", "properties": {"region": "eu"}},
        ]
    )

    (stored,) = [
        n for n in ledger.recorder.select_notifications(1, 1000) if n.topic == USAGE_BATCH_TOPIC
    ]
    batch = ledger.mapper.to_domain_event(stored)
    assert isinstance(batch, UsageBatchRecorded)
    assert set(batch.columns) == {*REQUIRED_COLUMNS, "properties"}
    assert batch.columns == columns_of(batch.usage, batch.received_at)
