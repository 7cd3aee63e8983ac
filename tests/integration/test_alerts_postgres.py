"""Alerts on a real PostgreSQL: projected, retried and delivered to a real HTTP receiver."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from ledger.app.commands import Debit, PlaceHold
from projections.entrypoints import run_worker
from projections.rebuild import rebuild
from tests.support.alerts import Harness, Receiver, harness, receiving
from tests.support.builders import T0, open_funded_wallet


def _store_url(postgres_url: str, schema: str) -> str:
    return f"{postgres_url}{'&' if '?' in postgres_url else '?'}schema={schema}"


@pytest.fixture
def h(postgres_url: str, pg_schema: str) -> Iterator[Harness]:
    with harness(_store_url(postgres_url, pg_schema)) as running:
        open_funded_wallet(running.ledger, "acme", 5000)
        yield running


def test_alerts_are_retried_after_500s_and_delivered_once_each(h: Harness) -> None:
    receiver = Receiver(fail_first=3)
    with receiving(receiver) as url:
        h.webhook("ops", url)
        h.settings("acme", low=4500)
        h.budget()
        h.ledger.place_hold(
            PlaceHold(
                wallet_id="acme", amount=5, hold_id="h1", expires_at=T0 + timedelta(minutes=1)
            )
        )
        h.clock.advance(minutes=2)
        h.ledger.debit(Debit(wallet_id="acme", amount=600))
        h.project()
        ids = h.alert_ids()
        worker = h.delivery()
        for _ in range(4):
            worker.tick()
            h.clock.advance(minutes=1)
        rebuild(h.ledger, h.views, "alerts", drop_grace=0, clock=h.clock)
        h.project()
        worker.tick()

    assert len(ids) == 3
    assert h.alert_ids() == ids  # the rebuild found every alert already in the outbox
    assert receiver.bad_signatures == 0
    assert receiver.calls == 6
    assert receiver.accepted_ids() == sorted(ids)
    statuses = [e["status"] for e in h.log("ops")]
    assert statuses.count("delivered") == 3
    assert statuses.count("retrying") == 3


def test_the_projection_worker_process_delivers_alerts(
    h: Harness, postgres_url: str, pg_schema: str
) -> None:
    receiver = Receiver(fail_first=1)
    stop = threading.Event()
    with receiving(receiver) as url:
        h.webhook("ops", url)
        h.ledger.place_hold(
            PlaceHold(
                wallet_id="acme", amount=5, hold_id="h1", expires_at=T0 + timedelta(minutes=1)
            )
        )
        h.clock.advance(minutes=2)
        h.ledger.debit(Debit(wallet_id="acme", amount=1))
        # What `ledger project` runs: the runner, and the delivery worker on the real clock.
        worker = threading.Thread(
            target=run_worker, args=(_store_url(postgres_url, pg_schema), stop)
        )
        worker.start()
        try:
            deadline = time.monotonic() + 30
            while not receiver.accepted_ids() and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            stop.set()
            worker.join(60)

    assert receiver.accepted_ids() == ["hold.expired:acme:h1"]
    assert receiver.calls == 2  # a 500, then again after the backoff
    assert [e["status"] for e in h.log("ops")] == ["pending", "retrying", "delivered"]
