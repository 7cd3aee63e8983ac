"""The read models over a sharded ledger on Postgres: every shard's log projected, the
waker listening on every shard's channel, the worker and the admin commands on all shards."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from ledger.app import audit
from ledger.app.commands import Debit
from ledger.app.service import CreditLedger
from ledger.app.shards import decode_position
from projections import queries
from projections.catalog import PROJECTIONS
from projections.engine.connect import open_views
from projections.engine.store import ViewStore
from projections.entrypoints import rebuild as rebuild_url
from projections.entrypoints import reconcile as reconcile_url
from projections.entrypoints import run_worker
from projections.entrypoints import status as status_url
from projections.positions import wait_for_position
from projections.rebuild import rebuild
from projections.reconcile import reconcile_views
from projections.runner import ProjectionRunner
from projections.status import projection_status
from tests.support.builders import FakeClock, make_ledger
from tests.support.postgres import schema_url
from tests.support.projections import snapshot
from tests.support.shards import (
    SHARDS,
    assert_same_views,
    populate,
    wallet_in,
)


@pytest.fixture
def url(postgres_url: str, pg_schema: str) -> str:
    return schema_url(postgres_url, pg_schema, pool_size=2)


@pytest.fixture
def ledger(url: str, clock: FakeClock) -> Iterator[CreditLedger]:
    app = make_ledger(url, clock=clock, env={"SHARDS": str(SHARDS)})
    yield app
    app.close()


def test_sharded_views_on_postgres_equal_an_unsharded_ledgers(
    ledger: CreditLedger, views: ViewStore, clock: FakeClock
) -> None:
    # Given the same commands on a sharded Postgres ledger and an unsharded one in memory
    plain_clock = FakeClock(clock.now)
    positions = populate(ledger, clock)
    plain = make_ledger(clock=plain_clock)
    plain_views = open_views(plain.env)
    try:
        populate(plain, plain_clock)
        runner = ProjectionRunner(ledger, views, batch_size=7)
        # A shard-1 position is not reached before the runner ran, and is after
        position = positions[wallet_in(1)]
        runner.install()
        assert not wait_for_position(views, position, timeout=0)
        runner.catch_up()
        ProjectionRunner(plain, plain_views).catch_up()
        assert wait_for_position(views, position, timeout=0)
        # Then the views are equal (the journal but for its positions)
        assert_same_views(views, plain_views)
    finally:
        plain_views.close()
        plain.close()
    # and they reconcile with every shard's log, with the log scan's journal and a
    # balanced trial balance; the status sums the shards
    assert reconcile_views(ledger, views) == []
    assert queries.journal(views, limit=1000) == audit.journal(ledger, limit=1000)
    assert queries.trial_balance(views, as_of=ledger.now())["balanced"] is True
    head = sum(shard.recorder.max_notification_id() or 0 for shard in ledger.shards)
    for entry in projection_status(ledger, views):
        assert (entry["position"], entry["head"], entry["lag"]) == (head, head, 0)
    # and a rebuild of every view builds every shard and yields the same views
    before = snapshot(views)
    report = rebuild(ledger, views, list(PROJECTIONS), drop_grace=0)
    assert report.notifications == head
    assert snapshot(views) == before
    assert reconcile_views(ledger, views) == []


def test_a_running_worker_follows_every_shards_log(
    ledger: CreditLedger, url: str, clock: FakeClock
) -> None:
    # Given the `ledger project` worker on the sharded store (it reads the shard map)
    stop = threading.Event()
    worker = threading.Thread(
        target=run_worker, args=(url, stop), kwargs={"batch_size": 5, "poll_interval": 0.05}
    )
    views = open_views(ledger.env, application_name="views-worker-test")
    worker.start()
    try:
        # When wallets of every shard are written to
        positions = populate(ledger, clock)
        last = {decode_position(p)[0]: p for p in sorted(positions.values())}
        assert sorted(last) == list(range(SHARDS))
        outcome = ledger.debit(Debit(wallet_id=wallet_in(2), amount=1))
        assert outcome.position is not None
        # Then the views reach each shard's last position
        for position in [*last.values(), outcome.position]:
            assert wait_for_position(views, position, timeout=30)
    finally:
        stop.set()
        worker.join(30)
        views.close()
    # and the admin commands see every shard
    assert reconcile_url(url) == []
    head = sum(shard.recorder.max_notification_id() or 0 for shard in ledger.shards)
    entries = status_url(url)
    assert {e["name"] for e in entries} == set(PROJECTIONS)
    assert all((e["position"], e["lag"]) == (head, 0) for e in entries)
    report = rebuild_url(url, "journal", drop_grace=0)
    assert report.notifications == head
    assert reconcile_url(url) == []


def test_the_waker_listens_on_every_shards_channel(
    ledger: CreditLedger, views: ViewStore, clock: FakeClock
) -> None:
    # Given a runner that polls only every two minutes, so only NOTIFY wakes it in time
    runner = ProjectionRunner(ledger, views, poll_interval=120)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run_forever, args=(stop,))
    runner.catch_up()
    thread.start()
    try:
        # When wallets of every shard are written to
        position = populate(ledger, clock)[wallet_in(2)]
        assert decode_position(position)[0] == 2
        # Then the runner wakes for them (its poll would come long after this wait ends)
        assert runner.wait_for(position, timeout=60)
    finally:
        stop.set()
        # A write wakes the idle runner, which then sees stop
        ledger.debit(Debit(wallet_id=wallet_in(0), amount=1))
        thread.join(60)
    assert not thread.is_alive()
