"""Usage ingest is exactly-once on real stores: repeats, concurrent repeats, failed writes.

Each test runs on PostgreSQL (a fresh schema) and on an SQLite file. The usage-id rows are
written by the recorder inside the events' transaction (``ledger.store.recorders``), so:
a batch sent twice, or from many threads and two ledgers at once, is counted once and bills
once; a write that fails after the ids were inserted leaves no id seen and no event, and a
retry then accepts everything.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import DataError, IntegrityError
from eventsourcing.sqlite import SQLiteApplicationRecorder

from ledger.app.commands import GrantCredits, OpenWallet, PutPriceBook
from ledger.app.service import CreditLedger
from ledger.domain.errors import Overloaded
from ledger.metering.usage import USAGE_BATCH_TOPIC, UsageBatch
from ledger.store.recorders import UsagePostgresRecorder, UsageSQLiteRecorder
from tests.support.builders import FakeClock, make_ledger
from tests.support.postgres import schema_url

GPT = {"model": "gpt", "input_per_million": 20_000, "output_per_million": 80_000}
WALLETS = 10
BILLED_WALLETS = 3  # w0..w2 bill their events: 52 credits each
EVENTS = 200
THREADS = 8


class FailingPostgresRecorder(UsagePostgresRecorder):
    """Fails the transaction (a database error) after the usage ids and events were inserted."""

    fail_next = False

    def _insert_stored_events(self, curs: Any, stored_events: Any, **kwargs: Any) -> None:
        super()._insert_stored_events(curs, stored_events, **kwargs)
        if self.fail_next:
            self.fail_next = False
            with curs.connection.pipeline():  # synced here: a DataError, not "pipeline aborted"
                curs.execute("SELECT 1/0")


class _FailAfterIds(SQLiteApplicationRecorder):
    """Sits between the usage-id insert and SQLite's events insert (see FailingSQLite...)."""

    fail_next = False

    def _insert_events(self, c: Any, stored_events: Any, **kwargs: Any) -> Any:
        if self.fail_next:
            self.fail_next = False
            raise DataError("simulated failure after the usage ids were inserted")
        return super()._insert_events(c, stored_events, **kwargs)


class FailingSQLiteRecorder(UsageSQLiteRecorder, _FailAfterIds):
    """UsageSQLiteRecorder inserts the ids, then _FailAfterIds fails before the events."""


@pytest.fixture(params=["postgres", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    postgres_url = request.getfixturevalue("postgres_url")
    return schema_url(postgres_url, request.getfixturevalue("pg_schema"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def open_ledger(store: str, clock: FakeClock, **env: str) -> CreditLedger:
    return make_ledger(store, clock=clock, env=env)


@pytest.fixture
def ledger(store: str, clock: FakeClock) -> Iterator[CreditLedger]:
    app = open_ledger(store, clock)
    for n in range(WALLETS):
        app.open_wallet(OpenWallet(wallet_id=f"w{n}"))
        app.grant(GrantCredits(wallet_id=f"w{n}", amount=100_000, category="paid"))
    app.put_price_book(PutPriceBook(price_book_id="default", rates=[GPT]))
    yield app
    app.close()


def batch(count: int = EVENTS, prefix: str = "e") -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"{prefix}-{i}",
            "wallet_id": f"w{i % WALLETS}",
            "type": "llm.completion",
            "occurred_at": "2026-01-01T00:00:00Z",
            "subject": {"model": "gpt"},
            "quantities": {"input_tokens": 1200, "output_tokens": 350},
            "bill": i % WALLETS < BILLED_WALLETS,
        }
        for i in range(count)
    ]


def recorded_ids(ledger: CreditLedger) -> list[tuple[str, str]]:
    page = ledger.recorder.select_notifications(start=1, limit=10_000, topics=[USAGE_BATCH_TOPIC])
    batches: list[object] = [ledger.repository.get(UUID(str(n.originator_id))) for n in page]
    return [
        (r["wallet_id"], r["event_id"])
        for b in batches
        if isinstance(b, UsageBatch)
        for r in b.usage
    ]


def spent(ledger: CreditLedger) -> int:
    return sum(
        100_000 - int(ledger.wallet(f"w{n}")["balance"]["available"]) for n in range(WALLETS)
    )


def billed_total(events: list[dict[str, Any]]) -> int:
    return 52 * sum(1 for e in events if e["bill"])


def test_the_same_batch_sent_twice_counts_once(ledger: CreditLedger) -> None:
    events = batch()

    first = ledger.ingest_usage(events)
    second = ledger.ingest_usage(events)

    assert (first.body["accepted"], first.body["duplicates"]) == (EVENTS, 0)
    assert (second.body["accepted"], second.body["duplicates"]) == (0, EVENTS)
    assert len(recorded_ids(ledger)) == EVENTS
    assert spent(ledger) == billed_total(events)


def test_the_same_batch_from_many_threads_and_two_ledgers_counts_once(
    ledger: CreditLedger, store: str, clock: FakeClock
) -> None:
    events = batch()
    other = open_ledger(store, clock)
    barrier = threading.Barrier(THREADS)
    answers: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def send(app: CreditLedger) -> None:
        barrier.wait()
        try:
            body = app.ingest_usage(events).body
        except BaseException as error:
            with lock:
                errors.append(error)
            return
        with lock:
            answers.append(body)

    threads = [
        threading.Thread(target=send, args=(ledger if n % 2 else other,)) for n in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.close()

    assert errors == [], [repr(e.__cause__) for e in errors]
    assert sum(a["accepted"] for a in answers) == EVENTS
    assert sum(a["duplicates"] for a in answers) == EVENTS * (THREADS - 1)
    assert sorted(recorded_ids(ledger)) == sorted((e["wallet_id"], e["event_id"]) for e in events)
    assert spent(ledger) == billed_total(events)


def test_overlapping_batches_at_once_record_each_event_once(
    ledger: CreditLedger, store: str, clock: FakeClock
) -> None:
    events = batch(300)
    # Thread n sends events [25n, 25n + 100): every event is in up to four batches.
    slices = [events[25 * n : 25 * n + 100] for n in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    accepted: list[int] = []
    lock = threading.Lock()

    def send(part: list[dict[str, Any]]) -> None:
        barrier.wait()
        body = ledger.ingest_usage(part).body
        with lock:
            accepted.append(body["accepted"])

    threads = [threading.Thread(target=send, args=(part,)) for part in slices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    sent = {(e["wallet_id"], e["event_id"]) for part in slices for e in part}
    assert sum(accepted) == len(sent)
    assert sorted(recorded_ids(ledger)) == sorted(sent)
    assert spent(ledger) == billed_total(
        [e for e in events if (e["wallet_id"], e["event_id"]) in sent]
    )


def test_a_failure_mid_write_records_nothing_and_a_retry_accepts_all(
    store: str, clock: FakeClock
) -> None:
    recorder = FailingPostgresRecorder if store.startswith("postgres") else FailingSQLiteRecorder
    topic = f"{recorder.__module__}:{recorder.__name__}"
    app = open_ledger(store, clock, APPLICATION_RECORDER_TOPIC=topic)
    try:
        for n in range(WALLETS):
            app.open_wallet(OpenWallet(wallet_id=f"w{n}"))
            app.grant(GrantCredits(wallet_id=f"w{n}", amount=100_000, category="paid"))
        app.put_price_book(PutPriceBook(price_book_id="default", rates=[GPT]))
        events = batch()
        assert isinstance(app.recorder, recorder)
        app.recorder.fail_next = True

        with pytest.raises(Overloaded):
            app.ingest_usage(events)

        keys = [(e["wallet_id"], e["event_id"]) for e in events]
        assert app.usage_ids.existing_usage_ids(keys) == set()
        assert recorded_ids(app) == []
        assert spent(app) == 0
        retry = app.ingest_usage(events)
        assert (retry.body["accepted"], retry.body["duplicates"]) == (EVENTS, 0)
        assert spent(app) == billed_total(events)
    finally:
        app.close()


def test_an_id_taken_inside_the_transaction_is_an_integrity_error(ledger: CreditLedger) -> None:
    # What the retry loop relies on: the hook's unique violation is eventsourcing's
    # IntegrityError (in Postgres pipeline mode it surfaces at the sync), and nothing stays.
    ledger.ingest_usage(batch(1))
    before = ledger.recorder.max_notification_id()
    taken = [("w0", "e-0")]

    with pytest.raises(IntegrityError):
        ledger.save(
            UsageBatch.record(received_at="2026-01-01T00:00:00Z", usage=[]), usage_ids=taken
        )

    assert ledger.recorder.max_notification_id() == before


def test_the_usage_id_table_lives_in_the_configured_schema(
    postgres_url: str, pg_schema: str
) -> None:
    make_ledger(schema_url(postgres_url, pg_schema)).close()

    with psycopg.connect(postgres_url) as conn:
        found = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (pg_schema,),
        ).fetchall()
    assert ("ledger_usage_ids",) in found


def test_refuses_to_start_where_inserts_would_skip_the_usage_ids(
    postgres_url: str, pg_schema: str
) -> None:
    # eventsourcing's database-function insert path never calls the recorder hook.
    with pytest.raises(ValueError, match="POSTGRES_ENABLE_DB_FUNCTIONS"):
        make_ledger(schema_url(postgres_url, pg_schema), env={"POSTGRES_ENABLE_DB_FUNCTIONS": "y"})
