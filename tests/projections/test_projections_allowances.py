"""Read models and alerts with allowance events: the journal, balances and trial balance see
allowance grants and rollovers, reconciliation is clean, and ``grant.expiring`` fires for
allowance grants (their lead before the period end)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from ledger.app.commands import Debit, OpenWallet, RemoveAllowance, SetAllowance
from ledger.app.service import CreditLedger
from projections import ProjectionRunner, queries, reconcile_views
from projections.engine.store import ViewStore
from tests.support.alerts import Harness, harness
from tests.support.builders import T0, FakeClock, at

JAN, FEB = "plan:2026-01-01T00:00:00Z", "plan:2026-02-01T00:00:00Z"


def _months(ledger: CreditLedger, clock: FakeClock) -> None:
    """acme from 1 January: 1000 a month rolling at most 300; 600 spent in January; swept on
    1 February (300 carried, 100 expired, February issued); removed on 10 February."""
    ledger.open_wallet(OpenWallet(wallet_id="acme"))
    ledger.set_allowance(
        SetAllowance(
            wallet_id="acme",
            allowance_id="plan",
            amount=1000,
            period="month",
            rollover={"max_amount": 300},
        )
    )
    clock.set(at("2026-01-20T00:00"))
    ledger.debit(Debit(wallet_id="acme", amount=600))
    clock.set(at("2026-02-01T00:00"))
    ledger.sweep()
    clock.set(at("2026-02-10T00:00"))
    ledger.remove_allowance(RemoveAllowance(wallet_id="acme", allowance_id="plan"))


def test_the_journal_has_the_allowance_and_rollover_legs(
    ledger: CreditLedger, clock: FakeClock, views: ViewStore
) -> None:
    _months(ledger, clock)
    ProjectionRunner(ledger, views).catch_up()

    entries = queries.journal(views, limit=100)["entries"]

    legs = [
        (e["event"]["type"], e["account"], e["debit"], e["credit"], e["occurred_at"])
        for e in entries
        if e["event"]["type"] != "CreditsDebited"
    ]
    feb = at("2026-02-01T00:00")
    jan_account = "wallet:acme:grant:plan%3A2026-01-01T00%3A00%3A00Z"
    feb_account = "wallet:acme:grant:plan%3A2026-02-01T00%3A00%3A00Z"
    assert legs == [
        ("AllowanceGranted", "platform:credits:issued:promotional", 1000, 0, T0),
        ("AllowanceGranted", jan_account, 0, 1000, T0),
        ("RolloverGranted", jan_account, 300, 0, feb),
        ("RolloverGranted", f"{feb_account}%3Arollover", 0, 300, feb),
        ("GrantExpired", jan_account, 100, 0, feb),
        ("GrantExpired", "platform:credits:expired", 0, 100, feb),
        ("AllowanceGranted", "platform:credits:issued:promotional", 1000, 0, feb),
        ("AllowanceGranted", feb_account, 0, 1000, feb),
    ]


def test_balances_and_the_trial_balance_count_only_the_rest_as_breakage(
    ledger: CreditLedger, clock: FakeClock, views: ViewStore
) -> None:
    _months(ledger, clock)
    ProjectionRunner(ledger, views).catch_up()

    totals = queries.trial_balance(views, as_of=at("2026-03-01T00:00"))
    by_account = {a["account"]: a["balance"] for a in totals["accounts"]}

    assert totals["balanced"] is True
    assert totals["debit_total"] == totals["credit_total"] == 3000  # 1000 + 600 + 300 + 100 + 1000
    assert by_account["platform:credits:expired"] == -100
    assert by_account["platform:credits:issued:promotional"] == 2000
    assert by_account["platform:credits:consumed"] == -600


def test_views_with_allowance_events_reconcile_clean(
    ledger: CreditLedger, clock: FakeClock, views: ViewStore
) -> None:
    _months(ledger, clock)
    ProjectionRunner(ledger, views, batch_size=3).catch_up()

    assert reconcile_views(ledger, views) == []


@pytest.fixture
def h() -> Iterator[Harness]:
    with harness() as running:
        running.ledger.open_wallet(OpenWallet(wallet_id="acme"))
        running.webhook("ops", "http://127.0.0.1:9/hook")
        yield running


def test_grant_expiring_fires_for_period_and_rollover_grants(h: Harness) -> None:
    # Given 1000 a month from 1 January, rolling over uncapped, 3 days' lead (the default)
    h.ledger.set_allowance(
        SetAllowance(
            wallet_id="acme",
            allowance_id="plan",
            amount=1000,
            period="month",
            rollover={"max_amount": None},
        )
    )
    h.project()
    worker = h.delivery(send=lambda *_: 204)

    # When time passes to 3 days before each month's end, swept on 1 February
    h.clock.set(at("2026-01-29T00:00"))
    worker.tick()
    january = h.alerts()
    h.clock.set(at("2026-02-01T00:00"))
    h.ledger.sweep()
    h.project()
    h.clock.set(at("2026-02-26T00:00") - timedelta(seconds=1))
    worker.tick()
    too_early = h.alert_ids("grant.")
    h.clock.set(at("2026-02-26T00:00"))
    worker.tick()

    # Then January's grant alerted once, and February's grant and rollover each once
    assert january == [
        (
            f"grant.expiring:acme:{JAN}:2026-02-01T00:00:00Z",
            {
                "wallet_id": "acme",
                "grant_id": JAN,
                "expires_at": "2026-02-01T00:00:00Z",
                "remaining": 1000,
            },
        )
    ]
    assert too_early == [f"grant.expiring:acme:{JAN}:2026-02-01T00:00:00Z"]
    assert sorted(h.alert_ids("grant.")) == [
        f"grant.expiring:acme:{JAN}:2026-02-01T00:00:00Z",
        f"grant.expiring:acme:{FEB}:2026-03-01T00:00:00Z",
        f"grant.expiring:acme:{FEB}:rollover:2026-03-01T00:00:00Z",
    ]
    rollover = dict(h.alerts())[f"grant.expiring:acme:{FEB}:rollover:2026-03-01T00:00:00Z"]
    assert rollover["remaining"] == 1000
