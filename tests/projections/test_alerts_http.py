"""Webhooks against a real HTTP receiver on 127.0.0.1 that verifies every signature."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from ledger.app.commands import Debit, PlaceHold
from tests.support.alerts import Harness, Receiver, free_port, harness, receiving
from tests.support.builders import T0, open_funded_wallet


@pytest.fixture
def h() -> Iterator[Harness]:
    with harness() as running:
        open_funded_wallet(running.ledger, "acme", 5000)
        yield running


def _three_alerts(h: Harness) -> list[str]:
    """A budget crossing, a low balance and an expired hold; their ids."""
    h.settings("acme", low=4500)
    h.budget()
    h.ledger.place_hold(
        PlaceHold(wallet_id="acme", amount=5, hold_id="h1", expires_at=T0 + timedelta(minutes=1))
    )
    h.clock.advance(minutes=2)
    h.ledger.debit(Debit(wallet_id="acme", amount=600))
    h.project()
    ids = h.alert_ids()
    assert len(ids) == 3
    return ids


def test_signed_deliveries_verify_and_500s_are_retried_until_delivered(h: Harness) -> None:
    receiver = Receiver(fail_first=2)
    with receiving(receiver) as url:
        h.webhook("ops", url)
        h.budget()
        h.ledger.debit(Debit(wallet_id="acme", amount=500))
        h.project()
        worker = h.delivery()
        for _ in range(4):
            worker.tick()
            h.clock.advance(seconds=10)

    assert receiver.bad_signatures == 0
    assert receiver.calls == 3
    assert receiver.accepted_ids() == ["budget.threshold_crossed:acme:b:2026-01-01T00:00:00Z:0.5"]
    assert [(e["attempt"], e["status"], e["response_status"]) for e in h.log("ops")] == [
        (0, "pending", None),
        (1, "retrying", 500),
        (2, "retrying", 500),
        (3, "delivered", 204),
    ]


def test_a_receiver_that_was_down_gets_every_alert_once_it_is_back(h: Harness) -> None:
    port = free_port()
    h.webhook("ops", f"http://127.0.0.1:{port}/hook")
    ids = _three_alerts(h)
    worker = h.delivery(timeout_seconds=2.0)
    for _ in range(3):  # nobody listens: every attempt is refused and rescheduled
        worker.tick()
        h.clock.advance(minutes=1)
    down = h.log("ops")

    receiver = Receiver()
    with receiving(receiver, port):
        h.clock.advance(minutes=10)
        worker.tick()
        h.clock.advance(minutes=10)
        worker.tick()

    assert {e["status"] for e in down} == {"pending", "retrying"}
    assert all(e["error"] for e in down if e["status"] == "retrying")
    assert receiver.bad_signatures == 0
    assert receiver.accepted_ids() == sorted(ids)
    delivered = [e["alert_id"] for e in h.log("ops") if e["status"] == "delivered"]
    assert sorted(delivered) == sorted(ids)


def test_each_alert_id_is_stable_across_retries(h: Harness) -> None:
    receiver = Receiver(fail_first=3)
    with receiving(receiver) as url:
        h.webhook("ops", url)
        ids = _three_alerts(h)
        worker = h.delivery()
        for _ in range(4):
            worker.tick()
            h.clock.advance(minutes=1)

    assert receiver.calls == 6  # three refused with 500 (one round), then three accepted
    assert receiver.accepted_ids() == sorted(ids)
