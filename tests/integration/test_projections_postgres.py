"""Projections on a real PostgreSQL.

* The views equal the log (rebuilt or incremental, reconciled, every query as ``ledger.app.audit``).
* A worker PROCESS killed with SIGKILL while it is behind, and restarted, neither misses nor
  doubles a posting: its batches and positions commit together.
* ``run_forever`` survives its view connections being terminated by the server.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from ledger.app import audit
from ledger.app.commands import Debit, GrantCredits
from ledger.app.service import CreditLedger
from projections import (
    ProjectionRunner,
    queries,
    reconcile_views,
    wait_for_position,
)
from projections.catalog import PROJECTIONS
from projections.engine.store import ViewStore
from projections.entrypoints import run_worker
from projections.positions import live_positions
from projections.rebuild import rebuild
from tests.support.builders import FakeClock, make_ledger
from tests.support.postgres import schema_url
from tests.support.projections import (
    assert_views_match_audit,
    open_wallets,
    random_ops,
    run_history,
    snapshot,
)


@pytest.fixture
def ledger(postgres_url: str, pg_schema: str, clock: FakeClock) -> Iterator[CreditLedger]:
    app = make_ledger(schema_url(postgres_url, pg_schema), clock=clock)
    yield app
    app.close()


def test_views_on_postgres_equal_the_log(
    ledger: CreditLedger, clock: FakeClock, views: ViewStore
) -> None:
    # Given a random history, projected in small batches along the way
    runner = ProjectionRunner(ledger, views, batch_size=3)

    def project(steps: int) -> None:
        for _ in range(steps):
            runner.step()

    history = random_ops(random.Random(2026), 160)
    history[10::15] = [("project", 5)] * len(history[10::15])
    run_history(ledger, clock, history, project)
    runner.catch_up()
    incremental = snapshot(views)
    # Then a rebuild of every projection gives the same views
    rebuild(ledger, views, list(PROJECTIONS), drop_grace=0)
    assert snapshot(views) == incremental
    # and they reconcile clean and answer as the log scan does
    assert reconcile_views(ledger, views) == []
    assert_views_match_audit(ledger, views, random.Random(7))


def _worker_process(url: str) -> None:
    """A projection worker process, as ``ledger project`` runs it (killed by the test)."""
    run_worker(url, threading.Event(), batch_size=20, poll_interval=0.02)


def _debit_burst(ledger: CreditLedger, count: int) -> None:
    for i in range(count):
        ledger.debit(Debit(wallet_id="a", amount=1 + i % 3, subject={"user_id": f"u{i % 4}"}))


def _journal_pages(read: Callable[..., dict[str, Any]]) -> list[dict[str, Any]]:
    pages, after = [], 0
    while True:
        page = read(after=after, limit=1000)
        pages.append(page)
        if not page["entries"]:
            return pages
        after = page["next_after"]


def test_a_worker_killed_mid_stream_misses_and_doubles_nothing(
    postgres_url: str, pg_schema: str, ledger: CreditLedger, views: ViewStore
) -> None:
    url = schema_url(postgres_url, pg_schema)
    open_wallets(ledger)
    ledger.grant(GrantCredits(wallet_id="a", amount=10**9, category="paid", grant_id="g"))
    spawn = multiprocessing.get_context("spawn")
    kills = 0
    for _ in range(3):
        # Given a worker process following a stream of writes
        worker = spawn.Process(target=_worker_process, args=(url,), daemon=True)
        worker.start()
        try:
            deadline = time.monotonic() + 20
            start = min(live_positions(views).values(), default=0)
            while time.monotonic() < deadline:
                _debit_burst(ledger, 25)
                reached = min(live_positions(views).values(), default=0)
                if reached > start and reached < (ledger.recorder.max_notification_id() or 0):
                    break
            # When it is killed outright while it is still behind the head
            os.kill(worker.pid or 0, signal.SIGKILL)
            worker.join(10)
            kills += worker.exitcode == -signal.SIGKILL
        finally:
            if worker.is_alive():
                worker.kill()
                worker.join(10)
            worker.close()
        _debit_burst(ledger, 10)
    assert kills == 3
    # Then a restarted worker catches up
    worker = spawn.Process(target=_worker_process, args=(url,), daemon=True)
    worker.start()
    try:
        head = ledger.recorder.max_notification_id() or 0
        assert wait_for_position(views, head, timeout=30)
    finally:
        worker.kill()
        worker.join(10)
        worker.close()
    # and no posting is missing or doubled
    assert reconcile_views(ledger, views) == []
    assert _journal_pages(lambda **kw: queries.journal(views, **kw)) == _journal_pages(
        lambda **kw: audit.journal(ledger, **kw)
    )


def test_run_forever_survives_terminated_view_connections(
    postgres_url: str, pg_schema: str, ledger: CreditLedger, views: ViewStore
) -> None:
    open_wallets(ledger)
    ledger.grant(GrantCredits(wallet_id="a", amount=10**9, category="paid", grant_id="g"))
    runner = ProjectionRunner(ledger, views, batch_size=10, poll_interval=0.02, max_backoff=0.2)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run_forever, args=(stop,))
    thread.start()
    try:
        # Given a running worker that has caught up
        _debit_burst(ledger, 20)
        assert runner.wait_for(ledger.recorder.max_notification_id() or 0, timeout=15)
        # When the server terminates every view connection (the pool's and the LISTEN one)
        _debit_burst(ledger, 30)
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            killed = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = %s",
                (f"views-{pg_schema}",),
            ).fetchall()
        assert killed
        # Then the worker reconnects and keeps following the log
        _debit_burst(ledger, 20)
        assert runner.wait_for(ledger.recorder.max_notification_id() or 0, timeout=20)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert reconcile_views(ledger, views) == []
