"""Budget status view: spent per budget and period from sets, charges and refunds."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.app.commands import (
    CaptureHold,
    Debit,
    GrantCredits,
    OpenWallet,
    PlaceHold,
    Refund,
    RemoveBudget,
    SetBudget,
)
from ledger.app.service import CreditLedger
from projections import ProjectionRunner, queries
from projections.engine.store import ViewStore
from tests.support.builders import FakeClock, at

T1 = {"team_id": "t1"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(at("2026-01-10T09:00"))


def _budget(views: ViewStore, budget_id: str, **kwargs: Any) -> dict[str, Any]:
    status = queries.budget_status(views, "acme", **kwargs)
    budgets: list[dict[str, Any]] = status["budgets"]
    (budget,) = [b for b in budgets if b["budget_id"] == budget_id]
    return budget


def _spend(ledger: CreditLedger, clock: FakeClock) -> str:
    """A monthly team budget charged by debits and a capture, with a partial refund."""
    ledger.open_wallet(OpenWallet(wallet_id="acme"))
    ledger.grant(GrantCredits(wallet_id="acme", amount=5000, category="paid", grant_id="g1"))
    ledger.set_budget(
        SetBudget(wallet_id="acme", budget_id="team", scope=T1, limit=500, period="month")
    )
    first = ledger.debit(Debit(wallet_id="acme", amount=100, subject=T1)).body["debit_id"]
    ledger.debit(Debit(wallet_id="acme", amount=50, subject={"team_id": "t2"}))
    ledger.place_hold(PlaceHold(wallet_id="acme", amount=40, hold_id="h1", subject=T1))
    clock.advance(minutes=1)
    ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h1", amount=30))
    ledger.refund(Refund(wallet_id="acme", debit_id=first, amount=20))
    return str(first)


def test_charges_captures_and_refunds_count_in_their_period(
    ledger: CreditLedger, clock: FakeClock, views: ViewStore
) -> None:
    # Given 100 debited and 30 captured for team t1, 20 of the debit refunded
    _spend(ledger, clock)
    # and 10 more in February
    clock.set(at("2026-02-02T08:00"))
    ledger.debit(Debit(wallet_id="acme", amount=10, subject=T1))
    ProjectionRunner(ledger, views).catch_up()
    # Then January spent 110, February 10, newest period first
    budget = _budget(views, "team", at=clock.now)
    assert [(p["period_start"], p["spent"], p["remaining"]) for p in budget["periods"]] == [
        (at("2026-02-01"), 10, 490),
        (at("2026-01-01"), 110, 390),
    ]
    assert (budget["period_start"], budget["period_end"]) == (at("2026-02-01"), at("2026-03-01"))
    assert (budget["spent"], budget["remaining"], budget["limit"]) == (10, 490, 500)
    assert (budget["scope"], budget["period"], budget["mode"]) == (T1, "month", "hard")
    # and the current period agrees with the wallet's own budget view (no open holds)
    assert ledger.budget("acme", "team")["spent"] == budget["spent"]


def test_a_new_period_without_charges_shows_zero(
    ledger: CreditLedger, clock: FakeClock, views: ViewStore
) -> None:
    _spend(ledger, clock)
    ProjectionRunner(ledger, views).catch_up()
    budget = _budget(views, "team", at=at("2026-03-05T00:00"))
    assert (budget["period_start"], budget["spent"]) == (at("2026-03-01"), 0)
    assert "period_start" not in _budget(views, "team")


def test_rescoping_recounts_and_removal_hides(
    ledger: CreditLedger, clock: FakeClock, views: ViewStore
) -> None:
    # Given the team budget re-scoped to every subject (the ledger recounts the period)
    _spend(ledger, clock)
    ledger.set_budget(SetBudget(wallet_id="acme", budget_id="team", limit=900, period="month"))
    ProjectionRunner(ledger, views).catch_up()
    recounted = _budget(views, "team", at=clock.now)
    assert (recounted["scope"], recounted["limit"]) == ({}, 900)
    assert recounted["spent"] == ledger.budget("acme", "team")["spent"] == 160
    # When it is removed
    ledger.remove_budget(RemoveBudget(wallet_id="acme", budget_id="team"))
    ProjectionRunner(ledger, views).catch_up()
    # Then dashboards no longer list it unless asked to
    assert queries.budget_status(views, "acme")["budgets"] == []
    (removed,) = queries.budget_status(views, "acme", include_removed=True)["budgets"]
    assert removed["removed"] is True
    assert queries.budget_status(views, "nobody") == {"wallet_id": "nobody", "budgets": []}
