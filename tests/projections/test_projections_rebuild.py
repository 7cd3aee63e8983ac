"""Rebuilds build a new generation beside the live one, switch reads, and drop the old."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import pytest

from ledger.app.commands import Debit, GrantCredits
from ledger.app.service import CreditLedger
from projections import ProjectionRunner, open_views, projection_status, queries, reconcile_views
from projections.catalog import JOURNAL, PROJECTIONS, USAGE
from projections.engine.log import Batch, LogReader
from projections.engine.meta import read_generations
from projections.engine.store import ViewStore
from projections.positions import live_positions
from projections.rebuild import build, rebuild, start_generation
from tests.support.builders import FakeClock, make_ledger
from tests.support.projections import FAR_FUTURE, random_ops, run_history, snapshot


@pytest.fixture
def ledger(clock: FakeClock) -> Iterator[CreditLedger]:
    app = make_ledger(clock=clock)
    run_history(app, clock, random_ops(random.Random(7), 60))
    yield app
    app.close()


@pytest.fixture
def views(ledger: CreditLedger) -> Iterator[ViewStore]:
    store = open_views(ledger.env)
    ProjectionRunner(ledger, store).catch_up()
    yield store
    store.close()


def _tables(views: ViewStore) -> set[str]:
    with views.read() as tx:
        return {row[0] for row in tx.all("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_rebuild_switches_generation_and_drops_the_old_one(
    ledger: CreditLedger, views: ViewStore
) -> None:
    # Given live generation 1 of the journal
    before = snapshot(views)
    assert "journal_g1" in _tables(views)
    # When it is rebuilt
    report = rebuild(ledger, views, "journal", drop_grace=0)
    # Then generation 2 is live with the same rows, and generation 1 is gone
    assert (report.generations, report.previous) == ({"journal": 2}, {"journal": 1})
    assert report.notifications == ledger.recorder.max_notification_id()
    assert snapshot(views) == before
    assert "journal_g2" in _tables(views)
    assert "journal_g1" not in _tables(views)
    # and the runner keeps the new generation up to date
    ledger.debit(Debit(wallet_id="a", amount=1))
    ProjectionRunner(ledger, views).catch_up()
    assert reconcile_views(ledger, views) == []


def test_all_projections_rebuild_in_one_pass(ledger: CreditLedger, views: ViewStore) -> None:
    before = snapshot(views)
    report = rebuild(ledger, views, list(PROJECTIONS), drop_grace=0)
    assert report.generations == dict.fromkeys(PROJECTIONS, 2)
    assert report.events > 0
    assert snapshot(views) == before
    assert reconcile_views(ledger, views) == []


class _CrashingReader(LogReader):
    """Fails on its second read, like a rebuild process killed half way."""

    reads = 0

    def read(self, after: int, limit: int, *, stop: int | None = None, check: bool = True) -> Batch:
        self.reads += 1
        if self.reads == 2:
            raise RuntimeError("killed")
        return super().read(after, limit, stop=stop, check=check)


def test_an_interrupted_rebuild_resumes_where_it_stopped(
    ledger: CreditLedger, clock: FakeClock, views: ViewStore
) -> None:
    # Given a rebuild of the usage view that died after its first batch
    before = snapshot(views)
    generation = start_generation(views, USAGE, clock.now)
    with pytest.raises(RuntimeError, match="killed"):
        build(_CrashingReader(ledger), views, {USAGE: generation}, batch_size=5)
    # Then the status shows it rebuilding, with its progress
    (usage,) = [s for s in projection_status(ledger, views) if s["name"] == "usage"]
    assert usage["status"] == "rebuilding"
    assert usage["rebuild"]["generation"] == generation
    assert usage["rebuild"]["position"] > 0
    # When the rebuild runs again, it resumes that generation and finishes it
    report = rebuild(ledger, views, "usage", drop_grace=0)
    assert report.generations == {"usage": generation}
    assert report.notifications < (ledger.recorder.max_notification_id() or 0)
    assert snapshot(views) == before
    (usage,) = [s for s in projection_status(ledger, views) if s["name"] == "usage"]
    assert (usage["status"], usage["generation"], usage["rebuild"]) == ("stopped", 2, None)


def test_restart_discards_an_unfinished_generation(
    ledger: CreditLedger, clock: FakeClock, views: ViewStore
) -> None:
    # Given an interrupted rebuild of the journal
    generation = start_generation(views, JOURNAL, clock.now)
    with pytest.raises(RuntimeError, match="killed"):
        build(_CrashingReader(ledger), views, {JOURNAL: generation}, batch_size=5)
    # When the rebuild is restarted rather than resumed
    report = rebuild(ledger, views, "journal", drop_grace=0, restart=True)
    # Then it read the whole log again into a fresh generation
    assert report.notifications == ledger.recorder.max_notification_id()
    assert report.generations == {"journal": generation}
    assert "journal_g1" not in _tables(views)
    assert reconcile_views(ledger, views) == []


def test_unknown_projection_names_are_refused(ledger: CreditLedger, views: ViewStore) -> None:
    with pytest.raises(ValueError, match="unknown projection"):
        rebuild(ledger, views, "ledgers", drop_grace=0)


MAX_DEBITS = 500


def test_a_rebuild_beside_a_running_worker_loses_nothing(
    ledger: CreditLedger, views: ViewStore
) -> None:
    # Given a worker following the log while writes continue
    runner = ProjectionRunner(ledger, views, poll_interval=0.001)
    stop = threading.Event()
    worker = threading.Thread(target=runner.run_forever, args=(stop,))
    worker.start()
    try:
        ledger.grant(GrantCredits(wallet_id="a", amount=10_000, category="paid"))
        # When every projection is rebuilt meanwhile, with writes (at most MAX_DEBITS: a
        # rebuild reading 3 events a batch must be able to catch up) and queries throughout
        rebuilding = threading.Thread(
            target=rebuild,
            args=(ledger, views, list(PROJECTIONS)),
            kwargs={"batch_size": 3, "drop_grace": 0.1},
        )
        rebuilding.start()
        debits = 0
        while rebuilding.is_alive():
            if debits < MAX_DEBITS:
                ledger.debit(Debit(wallet_id="a", amount=1, subject={"model": "m1"}))
                debits += 1
            else:
                time.sleep(0.001)
            assert queries.trial_balance(views, as_of=FAR_FUTURE)["balanced"]
        rebuilding.join()
        assert debits > 0
        # Then the worker carries the new generations to the head
        assert runner.wait_for(ledger.recorder.max_notification_id() or 0, timeout=10)
    finally:
        stop.set()
        worker.join(timeout=5)
    assert set(live_positions(views)) == set(PROJECTIONS)
    with views.read() as tx:
        assert {g.live for g in read_generations(tx).values()} == {2}
    assert reconcile_views(ledger, views) == []
