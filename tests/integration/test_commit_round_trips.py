"""A committed batch is one round trip to PostgreSQL, and a failed one leaves nothing behind.

``UsagePostgresRecorder.insert_events`` sends eventsourcing's transaction (BEGIN, the events
table lock, NOTIFY, the insert, COMMIT) as one pipeline with one sync. Counted here from
libpq's own protocol trace of the connection: messages sent, then received, once.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from ledger.app.commands import Debit
from ledger.app.service import CreditLedger
from ledger.store.recorders import UsagePostgresRecorder
from tests.support.builders import FakeClock, make_ledger, open_funded_wallet
from tests.support.postgres import schema_url, traced


@pytest.fixture
def ledger(postgres_url: str, pg_schema: str) -> Iterator[CreditLedger]:
    app = make_ledger(schema_url(postgres_url, pg_schema), FakeClock(), group_commit=False)
    open_funded_wallet(app, amount=100)
    yield app
    app.close()


def round_trips(lines: list[str]) -> int:
    """Runs of messages sent followed by messages received: each is one wait."""
    directions = [line.split("\t", 1)[0] for line in lines if line[:1] in {"F", "B"}]
    return sum(1 for pair in itertools.pairwise(directions) if pair == ("F", "B"))


def debit_events(ledger: CreditLedger, amount: int) -> list[StoredEvent]:
    wallet = ledger.load_wallet("acme")
    wallet.debit(
        debit_id=f"d{amount}",
        amount=amount,
        subject={},
        usage_at=ledger.now(),
        metadata={},
        idempotency_key=None,
        at=ledger.now(),
    )
    return [ledger.mapper.to_stored_event(e) for e in wallet.collect_events()]


def test_a_committed_batch_is_one_round_trip(ledger: CreditLedger, tmp_path: Path) -> None:
    recorder = ledger.recorder
    assert isinstance(recorder, UsagePostgresRecorder)
    events = debit_events(ledger, 7)
    head = recorder.max_notification_id() or 0

    with traced(recorder.datastore, tmp_path / "trace") as lines:
        ids = recorder.insert_events(events)

    assert round_trips(lines) == 1
    assert sum('"COMMIT"' in line for line in lines if line.startswith("F")) == 1
    assert ids == list(range(head + 1, head + 1 + len(events)))
    assert ledger.wallet("acme")["balance"]["available"] == 93


def test_a_conflicting_batch_is_rolled_back_whole_and_the_connection_reused(
    ledger: CreditLedger, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = ledger.recorder
    assert isinstance(recorder, UsagePostgresRecorder)
    taken = debit_events(ledger, 7)
    recorder.insert_events(taken)
    head = recorder.max_notification_id()
    other = debit_events(ledger, 9)  # the next version of the wallet: free
    caplog.set_level(logging.WARNING, logger="psycopg.pool")

    with pytest.raises(IntegrityError):
        recorder.insert_events([*other, *taken])  # the same versions again: all refused

    assert recorder.max_notification_id() == head
    assert not [r for r in caplog.records if "rolling back" in r.getMessage()]
    ledger.debit(Debit(wallet_id="acme", amount=9, idempotency_key="after"))
    assert ledger.wallet("acme")["balance"]["available"] == 100 - 7 - 9
