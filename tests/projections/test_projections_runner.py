"""The runner: exactly-once batches, invariant checks, supervision, read-your-writes."""

from __future__ import annotations

import itertools
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path

import pytest

from ledger.app import audit
from ledger.app.commands import Debit, GrantCredits
from ledger.app.service import CreditLedger
from ledger.domain.events import DebtIncurred
from projections import (
    InvariantViolation,
    ProjectionRunner,
    open_views,
    projection_status,
    queries,
    reconcile_views,
    wait_for_position,
)
from projections.catalog import BALANCES, JOURNAL
from projections.engine.base import Change
from projections.engine.log import LogReader
from projections.engine.meta import TrackingConflict
from projections.engine.store import Tx, ViewStore
from projections.models.balances import BalancesProjection
from projections.positions import live_positions
from projections.runner import apply_batch, utc_now
from tests.support.builders import FakeClock, make_ledger
from tests.support.projections import random_ops, run_history, snapshot


@pytest.fixture
def ledger(clock: FakeClock) -> Iterator[CreditLedger]:
    app = make_ledger(clock=clock)
    run_history(app, clock, random_ops(random.Random(5), 50))
    yield app
    app.close()


class _Exploding(BalancesProjection):
    """Writes its rows, then fails on its third batch: a crash inside the transaction."""

    name = "exploding"
    batches = 0

    def apply(self, tx: Tx, generation: int, changes: Sequence[Change]) -> None:
        super().apply(tx, generation, changes)
        self.batches += 1
        if self.batches == 3:
            raise RuntimeError("crash mid-batch")


def test_a_batch_that_fails_half_way_leaves_no_trace(
    ledger: CreditLedger, views: ViewStore
) -> None:
    # Given a runner whose third batch fails after the journal and balances were written
    runner = ProjectionRunner(ledger, views, [JOURNAL, BALANCES, _Exploding()], batch_size=4)
    with pytest.raises(RuntimeError, match="crash"):
        runner.catch_up()
    # Then neither view kept anything of that batch: both stopped at the second batch
    positions = live_positions(views)
    assert positions["journal"] == positions["balances"] == positions["exploding"]
    assert 0 < positions["journal"] < (ledger.recorder.max_notification_id() or 0)
    with views.read() as tx:
        (beyond,) = tx.all(
            "SELECT COUNT(*) FROM journal_g1 WHERE position > ?", (positions["journal"],)
        )
    assert beyond == (0,)
    # and a runner started afterwards completes without missing or doubling a posting
    ProjectionRunner(ledger, views).catch_up()
    assert reconcile_views(ledger, views) == []


def test_a_stale_batch_is_refused_rather_than_applied_twice(
    ledger: CreditLedger, views: ViewStore, clock: FakeClock
) -> None:
    runner = ProjectionRunner(ledger, views)
    targets = runner.targets()
    batch = runner.reader.read(0, 10)
    apply_batch(views, targets, batch, clock.now)
    with pytest.raises(TrackingConflict):
        apply_batch(views, targets, batch, clock.now)  # the same batch from a second writer
    runner.catch_up()
    assert reconcile_views(ledger, views) == []


def _record_broken_event(ledger: CreditLedger, clock: FakeClock) -> int:
    """A posting whose two legs are one account: the domain would never make it."""
    wallet = ledger.load_wallet("a")
    posting = {"debit": "wallet:a:debt", "credit": "wallet:a:debt", "amount": 5}
    wallet.trigger_event(
        DebtIncurred, occurred_at=clock.now, postings=[posting], amount=0, cause="corrupt"
    )
    recordings = ledger.save(wallet)
    return int(max(r.notification.id for r in recordings))


def test_an_event_breaking_double_entry_stops_the_views_before_it(
    ledger: CreditLedger, clock: FakeClock, views: ViewStore
) -> None:
    # Given a corrupt event in the log
    bad = _record_broken_event(ledger, clock)
    runner = ProjectionRunner(ledger, views, batch_size=1)
    # Then catching up raises at that event and writes nothing of it
    with pytest.raises(InvariantViolation, match=f"position {bad}"):
        runner.catch_up()
    assert set(live_positions(views).values()) == {bad - 1}
    assert queries.journal(views, after=bad - 1)["entries"] == []


def test_run_forever_logs_and_retries_a_failing_batch(
    ledger: CreditLedger, clock: FakeClock, views: ViewStore, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a corrupt event, the supervised loop keeps retrying it (and logging) until stopped
    _record_broken_event(ledger, clock)
    runner = ProjectionRunner(ledger, views, poll_interval=0.001, max_backoff=0.005)
    stop = threading.Event()
    worker = threading.Thread(target=runner.run_forever, args=(stop,))
    with caplog.at_level(logging.ERROR, logger="projections.runner"):
        worker.start()
        try:
            for _ in range(500):
                if len(caplog.records) >= 3:
                    break
                stop.wait(0.01)
        finally:
            stop.set()
            worker.join(timeout=5)
    assert not worker.is_alive()
    assert len(caplog.records) >= 3
    assert all("projection step failed" in r.getMessage() for r in caplog.records)


class _FlakyViews(ViewStore):
    """Delegates to a real store, but its first ``failures`` write transactions fail."""

    def __init__(self, inner: ViewStore, failures: int) -> None:
        self.inner, self.failures, self.dialect = inner, failures, inner.dialect

    def write(self) -> AbstractContextManager[Tx]:
        if self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("connection lost")
        return self.inner.write()

    def read(self) -> AbstractContextManager[Tx]:
        return self.inner.read()

    def is_missing_table(self, error: BaseException) -> bool:
        return self.inner.is_missing_table(error)

    def close(self) -> None:
        self.inner.close()


def test_run_forever_survives_lost_connections_and_serves_read_your_writes(
    ledger: CreditLedger, views: ViewStore, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a worker whose first four view transactions fail
    flaky = _FlakyViews(views, failures=4)
    runner = ProjectionRunner(ledger, flaky, poll_interval=0.005, max_backoff=0.02)
    stop = threading.Event()
    worker = threading.Thread(target=runner.run_forever, args=(stop,))
    with caplog.at_level(logging.ERROR, logger="projections.runner"):
        worker.start()
        try:
            # When a write happens, its position becomes visible in the views
            ledger.grant(GrantCredits(wallet_id="b", amount=5, category="paid"))
            outcome = ledger.debit(Debit(wallet_id="b", amount=1, subject={"model": "late"}))
            assert outcome.position is not None
            assert runner.wait_for(outcome.position, timeout=10)
            assert wait_for_position(views, outcome.position, timeout=1)
            # Then the last debit is in the journal and the failures were logged
            entries = queries.journal(views, wallet_id="b", after=outcome.position - 3)["entries"]
            assert any(e["event"]["type"] == "CreditsDebited" for e in entries)
            assert not wait_for_position(views, outcome.position + 10**6, timeout=0.05)
            assert len([r for r in caplog.records if "failed" in r.getMessage()]) == 4
            status = {s["name"]: s["status"] for s in projection_status(ledger, views)}
            assert set(status.values()) == {"running"}
        finally:
            stop.set()
            worker.join(timeout=5)
    later = projection_status(ledger, views, clock=lambda: utc_now() + timedelta(minutes=5))
    assert {s["status"] for s in later} == {"stopped"}
    assert reconcile_views(ledger, views) == []


def test_status_shows_lag_before_the_views_catch_up(ledger: CreditLedger, views: ViewStore) -> None:
    head = ledger.recorder.max_notification_id()
    ahead = projection_status(ledger, views, clock=lambda: utc_now() + timedelta(minutes=1))
    assert {(s["position"], s["head"], s["lag"], s["status"]) for s in ahead} == {
        (0, head, head, "stopped")
    }
    assert all(s["lag_seconds"] >= 60 for s in ahead)
    ProjectionRunner(ledger, views).catch_up()
    caught_up = projection_status(ledger, views)
    assert {(s["position"], s["lag"], s["lag_seconds"]) for s in caught_up} == {(head, 0, 0.0)}


def test_sqlite_file_views_sit_beside_the_events_file(tmp_path: Path) -> None:
    # Given a ledger on an SQLite file
    clock = FakeClock()
    events = tmp_path / "ledger.sqlite3"
    ledger = make_ledger(f"sqlite:///{events}", clock=clock)
    views = open_views(ledger.env)
    try:
        run_history(ledger, clock, random_ops(random.Random(3), 40))
        ProjectionRunner(ledger, views, batch_size=9).catch_up()
        # Then the views live in their own WAL-mode file and agree with the log
        views_file = tmp_path / "ledger.sqlite3.views.sqlite3"
        assert views_file.exists()
        with views.read() as tx:
            assert tx.one("PRAGMA journal_mode") == ("wal",)
        assert queries.journal(views, limit=1000) == audit.journal(ledger, limit=1000)
        assert reconcile_views(ledger, views) == []
        before = snapshot(views)
    finally:
        views.close()
    # and a second store on the same file reads the same views
    reopened = open_views(ledger.env)
    try:
        assert snapshot(reopened) == before
    finally:
        reopened.close()
        ledger.close()


def test_wallets_are_resolved_beyond_the_cache_and_the_batch(ledger: CreditLedger) -> None:
    # Given a reader that remembers a single wallet and starts after both wallets opened
    head = ledger.recorder.max_notification_id() or 0
    expected = [(c.position, c.wallet_id, c.unit) for c in LogReader(ledger).read(0, 1000).changes]
    small = LogReader(ledger, cache_size=1)
    # Then every event still gets its wallet id and unit (read from the wallet's first event)
    got = [(c.position, c.wallet_id, c.unit) for c in small.read(2, 1000).changes]
    assert got == [row for row in expected if row[0] > 2]
    assert {unit for _, _, unit in got} == {"credits", "tokens"}
    assert small.read(head, 10).count == 0


class _CountingRunner(ProjectionRunner):
    """A real runner that records when each step starts and how many events it carried."""

    steps: list[tuple[float, int]]

    def step(self) -> int:
        started = time.monotonic()
        count = super().step()
        self.steps.append((started, count))
        return count


def test_worker_gathers_commits_into_one_step_per_interval(
    ledger: CreditLedger, views: ViewStore
) -> None:
    # Given a worker that steps at most every 0.2 s and polls (never sleeps) in between
    runner = _CountingRunner(ledger, views, poll_interval=0.0, step_interval=0.2)
    runner.steps = []
    stop = threading.Event()
    worker = threading.Thread(target=runner.run_forever, args=(stop,))
    ledger.grant(GrantCredits(wallet_id="b", amount=100, category="paid"))
    worker.start()
    try:
        assert runner.wait_for(ledger.debit(Debit(wallet_id="b", amount=1)).position or 0, 10)
        # When twenty debits are committed one by one
        last = 0
        for _ in range(20):
            last = ledger.debit(Debit(wallet_id="b", amount=1)).position or 0
        assert runner.wait_for(last, timeout=10)
    finally:
        stop.set()
        worker.join(timeout=5)
    # Then steps start at least the interval apart, and the twenty arrive in a few steps
    starts = [started for started, _ in runner.steps]
    assert all(b - a >= 0.19 for a, b in itertools.pairwise(starts))
    carrying = [count for _, count in runner.steps if count]
    assert sum(carrying) >= 20
    assert len(carrying) <= 4
