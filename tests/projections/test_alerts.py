"""The alerts projection: each alert type lands in the outbox exactly once, with a stable id."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from ledger.app.commands import Debit, GrantCredits, PlaceHold, Refund
from projections.rebuild import rebuild
from tests.support.alerts import Harness, harness
from tests.support.builders import T0, at, open_funded_wallet

URL = "http://127.0.0.1:9/hook"


@pytest.fixture
def h() -> Iterator[Harness]:
    with harness() as running:
        open_funded_wallet(running.ledger, "acme", 5000)
        running.webhook("ops", URL)
        yield running


def _budget(h: Harness, thresholds: list[int]) -> None:
    h.budget("monthly", thresholds)


def test_a_budget_threshold_fires_once_per_period_and_again_next_period(h: Harness) -> None:
    _budget(h, [5000, 9000])
    first = h.ledger.debit(Debit(wallet_id="acme", amount=600))
    # Refunded below the threshold and crossing it again: the same period, so no new alert.
    h.ledger.refund(Refund(wallet_id="acme", debit_id=first.body["debit_id"], amount=200))
    h.ledger.debit(Debit(wallet_id="acme", amount=200))
    h.clock.set(at("2026-02-03T10:00"))
    h.ledger.debit(Debit(wallet_id="acme", amount=550))

    h.project()

    assert h.alert_ids("budget.") == [
        "budget.threshold_crossed:acme:monthly:2026-01-01T00:00:00Z:0.5",
        "budget.threshold_crossed:acme:monthly:2026-02-01T00:00:00Z:0.5",
    ]
    data = dict(h.alerts())["budget.threshold_crossed:acme:monthly:2026-01-01T00:00:00Z:0.5"]
    assert data == {
        "wallet_id": "acme",
        "budget_id": "monthly",
        "threshold": 0.5,
        "spent": 600,
        "limit": 1000,
        "period_start": "2026-01-01T00:00:00Z",
    }


def test_every_threshold_crossed_by_one_debit_fires(h: Harness) -> None:
    _budget(h, [5000, 7500, 10000])

    h.ledger.debit(Debit(wallet_id="acme", amount=1000))
    h.project()

    assert [i.rsplit(":", 1)[1] for i in h.alert_ids("budget.")] == ["0.5", "0.75", "1.0"]


def test_a_threshold_is_compared_exactly_in_integers(h: Harness) -> None:
    _budget(h, [3333])  # 0.3333 of 1000 is 333.3: 333 is below it, 334 reaches it

    h.ledger.debit(Debit(wallet_id="acme", amount=333))
    h.project()
    below = h.alert_ids("budget.")
    h.ledger.debit(Debit(wallet_id="acme", amount=1))
    h.project()

    assert below == []
    assert h.alert_ids("budget.") == [
        "budget.threshold_crossed:acme:monthly:2026-01-01T00:00:00Z:0.3333"
    ]


def test_balance_low_fires_when_falling_below_and_rearms_above(h: Harness) -> None:
    h.settings("acme", low=1000)
    h.ledger.debit(Debit(wallet_id="acme", amount=4500))  # 500 left: below
    h.ledger.debit(Debit(wallet_id="acme", amount=100))  # still below: no second alert
    h.ledger.grant(GrantCredits(wallet_id="acme", amount=2000, category="paid"))  # 2400: re-armed
    h.ledger.debit(Debit(wallet_id="acme", amount=1500))  # 900: below again

    h.project()

    alerts = [data for alert_id, data in h.alerts() if alert_id.startswith("wallet.balance_low")]
    assert sorted(a["available"] for a in alerts) == [500, 900]
    assert all(a["threshold"] == 1000 for a in alerts)


def test_no_balance_low_alert_without_a_threshold(h: Harness) -> None:
    h.ledger.debit(Debit(wallet_id="acme", amount=4999))
    h.project()

    assert h.alert_ids("wallet.balance_low") == []


def test_a_hold_that_expires_alerts_once(h: Harness) -> None:
    placed = h.ledger.place_hold(
        PlaceHold(wallet_id="acme", amount=70, hold_id="h1", expires_at=T0 + timedelta(minutes=5))
    )
    h.clock.advance(minutes=10)
    h.ledger.debit(Debit(wallet_id="acme", amount=1))  # records the expiry

    h.project()

    assert placed.body["hold_id"] == "h1"
    assert h.alerts() == [
        (
            "hold.expired:acme:h1",
            {
                "wallet_id": "acme",
                "hold_id": "h1",
                "released": 70,
                "expired_at": "2026-01-01T00:05:00Z",
            },
        )
    ]


def test_grant_expiring_comes_due_lead_seconds_before_expiry_once(h: Harness) -> None:
    expires = T0 + timedelta(days=10)
    h.promo_grant(expires)
    h.project()
    worker = h.delivery(send=lambda *_: 204)

    h.clock.set(expires - timedelta(days=3, seconds=1))
    worker.tick()
    early = h.alert_ids("grant.")
    h.clock.set(expires - timedelta(days=3))
    worker.tick()
    h.clock.advance(hours=1)
    worker.tick()

    assert early == []
    assert h.alerts() == [
        (
            "grant.expiring:acme:promo:2026-01-11T00:00:00Z",
            {
                "wallet_id": "acme",
                "grant_id": "promo",
                "expires_at": "2026-01-11T00:00:00Z",
                "remaining": 300,
            },
        )
    ]


@pytest.mark.parametrize("projected_between", [False, True])
def test_grant_expiring_reports_what_debits_left_of_the_grant(
    h: Harness, projected_between: bool
) -> None:
    # An expiring grant is spent first; the debits on it are projected in the grant's own
    # batch or in a later one (its row is then read ahead with the batch's wallets).
    expires = T0 + timedelta(days=10)
    h.promo_grant(expires)
    if projected_between:
        h.project()
    h.ledger.debit(Debit(wallet_id="acme", amount=100))
    h.ledger.debit(Debit(wallet_id="acme", amount=50))
    h.project()
    worker = h.delivery(send=lambda *_: 204)

    h.clock.set(expires - timedelta(days=3))
    worker.tick()

    assert [data["remaining"] for _, data in h.alerts()] == [150]


def test_the_grant_expiring_lead_follows_the_wallets_settings(h: Harness) -> None:
    expires = T0 + timedelta(days=10)
    h.ledger.grant(
        GrantCredits(
            wallet_id="acme", amount=300, category="paid", grant_id="p", expires_at=expires
        )
    )
    h.settings("acme", low=None, lead=3600)
    h.project()
    worker = h.delivery(send=lambda *_: 204)

    h.clock.set(expires - timedelta(hours=2))
    worker.tick()
    before_lead = h.alert_ids("grant.")
    h.clock.set(expires - timedelta(minutes=30))
    worker.tick()

    assert before_lead == []
    assert len(h.alert_ids("grant.")) == 1


def test_a_spent_or_expired_grant_does_not_alert(h: Harness) -> None:
    expires = T0 + timedelta(days=2)
    h.ledger.grant(
        GrantCredits(
            wallet_id="acme",
            amount=10,
            category="paid",
            grant_id="small",
            priority=1,
            expires_at=expires,
        )
    )
    h.ledger.debit(Debit(wallet_id="acme", amount=10))  # takes the expiring grant first
    h.project()
    worker = h.delivery(send=lambda *_: 204)

    h.clock.set(expires - timedelta(hours=1))
    worker.tick()
    h.clock.set(expires + timedelta(hours=1))
    worker.tick()

    assert h.alert_ids("grant.") == []


def test_replaying_and_rebuilding_do_not_duplicate_the_outbox(h: Harness) -> None:
    _budget(h, [5000])
    h.settings("acme", low=4500)
    h.ledger.place_hold(
        PlaceHold(wallet_id="acme", amount=5, hold_id="h1", expires_at=T0 + timedelta(minutes=1))
    )
    h.clock.advance(minutes=2)
    h.ledger.debit(Debit(wallet_id="acme", amount=700))
    h.project()
    before = (h.alerts(), h.count("alert_deliveries"), h.count("alert_log"))

    rebuild(h.ledger, h.views, "alerts", drop_grace=0, clock=h.clock)
    h.project()

    assert len(before[0]) == 3
    assert (h.alerts(), h.count("alert_deliveries"), h.count("alert_log")) == before


def test_alerts_go_to_the_webhooks_subscribed_to_their_type(h: Harness) -> None:
    h.webhook("holds-only", URL, ["hold.expired"])
    _budget(h, [5000])
    h.ledger.debit(Debit(wallet_id="acme", amount=600))
    h.project()

    assert [e["type"] for e in h.log("ops")] == ["budget.threshold_crossed"]
    assert h.log("holds-only") == []


def test_a_webhook_added_later_gets_only_later_alerts(h: Harness) -> None:
    _budget(h, [5000, 9000])
    h.ledger.debit(Debit(wallet_id="acme", amount=600))
    h.webhook("late", URL)
    h.ledger.debit(Debit(wallet_id="acme", amount=300))
    h.project()

    assert [e["alert_id"].rsplit(":", 1)[1] for e in h.log("late")] == ["0.9"]
    assert len(h.log("ops")) == 2


def test_a_threshold_set_above_the_balance_alerts_at_once_and_a_change_rearms(
    h: Harness,
) -> None:
    h.ledger.debit(Debit(wallet_id="acme", amount=4000))  # 1000 left
    h.settings("acme", low=2000)  # already below: alert
    h.settings("acme", low=500)  # now above the threshold: re-armed, no alert
    h.settings("acme", low=1500)  # below again: alert

    h.project()

    alerts = [data for alert_id, data in h.alerts() if alert_id.startswith("wallet.balance_low")]
    assert sorted((a["available"], a["threshold"]) for a in alerts) == [(1000, 1500), (1000, 2000)]
    settings = h.alerting.alert_settings("acme")
    assert settings["balance_low_threshold"] == 1500
