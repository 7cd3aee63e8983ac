"""Budget counting: holds, spend recounted from history, changes, removal and refunds."""

from __future__ import annotations

import pytest

from ledger.app.commands import (
    CaptureHold,
    Debit,
    PlaceHold,
    Refund,
    ReleaseHold,
    RemoveBudget,
    SetBudget,
)
from ledger.domain.errors import BudgetExceeded, BudgetNotFound
from tests.support.builders import at
from tests.support.wallets import budget_ledger, event_types, set_budget

T1 = {"team_id": "t1"}


def test_holds_count_as_spent_until_released_or_expired() -> None:
    # Given a hard budget of 100 and a hold of 60 expiring 00:15
    ledger, clock = budget_ledger()
    set_budget(ledger, 100)
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=60))
    assert ledger.budget("acme", "b")["spent"] == 60

    # When it is released, and then another hold of 70 expires
    ledger.release_hold(ReleaseHold(wallet_id="acme", hold_id="h1"))
    released = ledger.budget("acme", "b")["spent"]
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h2", amount=70))
    clock.advance(minutes=15)

    # Then neither counts any more
    assert (released, ledger.budget("acme", "b")["spent"]) == (0, 0)


def test_captured_hold_counts_what_was_captured() -> None:
    # Given a hard budget of 100 and a hold of 60
    ledger, _ = budget_ledger()
    set_budget(ledger, 100)
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=60))

    # When 25 of it are captured
    ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h1", amount=25))

    # Then the budget counts 25
    assert ledger.budget("acme", "b")["spent"] == 25


def test_budget_created_mid_period_counts_earlier_spend_of_its_scope() -> None:
    # Given, before the budget exists: 100 by t1 last month; this month 30 by t1, 20 by t2,
    # a hold of 40 by t1 captured for 25, a debit of 7 by t1 refunded, an open hold of 10 by t1
    ledger, clock = budget_ledger(at("2025-12-31T12:00"))
    ledger.debit(Debit(wallet_id="acme", amount=100, subject=T1))
    clock.set(at("2026-01-05T00:00"))
    ledger.debit(Debit(wallet_id="acme", amount=30, subject=T1))
    ledger.debit(Debit(wallet_id="acme", amount=20, subject={"team_id": "t2"}))
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=40, subject=T1))
    ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h1", amount=25))
    refunded = ledger.debit(Debit(wallet_id="acme", amount=7, subject=T1)).body["debit_id"]
    ledger.refund(Refund(wallet_id="acme", debit_id=refunded))
    clock.set(at("2026-01-10T00:00"))
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h2", amount=10, subject=T1))

    # When a monthly budget for t1 is created on the 10th
    set_budget(ledger, 1000, scope=T1)

    # Then it counts 30 + 25 + 7 - 7 = 55 from history plus the open hold's 10
    assert ledger.budget("acme", "b")["spent"] == 65


def test_changing_only_the_limit_keeps_the_running_count() -> None:
    # Given a budget of 100 for t1 with 60 spent
    ledger, _ = budget_ledger()
    set_budget(ledger, 100, scope=T1)
    ledger.debit(Debit(wallet_id="acme", amount=60, subject=T1))

    # When its limit is lowered to 70
    ledger.set_budget(
        SetBudget(wallet_id="acme", budget_id="b", limit=70, period="month", scope=T1)
    )

    # Then 60 still count: 11 more is refused, 10 is allowed
    with pytest.raises(BudgetExceeded) as refused:
        ledger.debit(Debit(wallet_id="acme", amount=11, subject=T1))
    assert (refused.value.spent, refused.value.limit) == (60, 70)
    ledger.debit(Debit(wallet_id="acme", amount=10, subject=T1))


def test_changing_the_scope_recounts_from_history() -> None:
    # Given a budget for t1 with 60 spent by t1 and 20 by t2
    ledger, _ = budget_ledger()
    set_budget(ledger, 100, scope=T1)
    ledger.debit(Debit(wallet_id="acme", amount=60, subject=T1))
    ledger.debit(Debit(wallet_id="acme", amount=20, subject={"team_id": "t2"}))

    # When it is re-scoped to t2
    body = ledger.set_budget(
        SetBudget(
            wallet_id="acme", budget_id="b", limit=100, period="month", scope={"team_id": "t2"}
        )
    ).body

    # Then it counts t2's 20, and it is a change, not a creation
    assert (body["spent"], body["created"]) == (20, False)


def test_removed_budget_no_longer_limits_or_answers() -> None:
    # Given a hard budget of 10
    ledger, _ = budget_ledger()
    set_budget(ledger, 10)

    # When it is removed
    ledger.remove_budget(RemoveBudget(wallet_id="acme", budget_id="b"))

    # Then debits beyond it pass and reading or removing it is budget_not_found
    assert event_types(ledger, "acme")[-1] == "BudgetRemoved"
    ledger.debit(Debit(wallet_id="acme", amount=50))
    assert ledger.wallet("acme")["budgets"] == []
    with pytest.raises(BudgetNotFound) as refused:
        ledger.budget("acme", "b")
    assert refused.value.code == "budget_not_found"
    with pytest.raises(BudgetNotFound):
        ledger.remove_budget(RemoveBudget(wallet_id="acme", budget_id="b"))


def test_refund_in_the_same_period_gives_budget_room_back() -> None:
    # Given a hard budget of 100 fully spent by one debit
    ledger, _ = budget_ledger()
    set_budget(ledger, 100)
    debit_id = ledger.debit(Debit(wallet_id="acme", amount=100)).body["debit_id"]

    # When 40 of it are refunded
    ledger.refund(Refund(wallet_id="acme", debit_id=debit_id, amount=40))

    # Then 40 fit again
    assert ledger.budget("acme", "b")["spent"] == 60
    ledger.debit(Debit(wallet_id="acme", amount=40))


def test_refund_in_a_later_period_does_not_free_the_new_period() -> None:
    # Given a monthly budget: 100 spent in January, 10 in February
    ledger, clock = budget_ledger(at("2026-01-31T12:00"))
    set_budget(ledger, 100)
    debit_id = ledger.debit(Debit(wallet_id="acme", amount=100)).body["debit_id"]
    clock.set(at("2026-02-01T00:00"))
    ledger.debit(Debit(wallet_id="acme", amount=10))

    # When the January debit is refunded in February
    ledger.refund(Refund(wallet_id="acme", debit_id=debit_id))

    # Then February still counts its 10
    assert ledger.budget("acme", "b")["spent"] == 10


def test_refund_frees_a_budget_created_after_the_debit() -> None:
    # Given a debit of 30 by t1, then a budget for t1 created later that month (spent 30)
    ledger, clock = budget_ledger()
    debit_id = ledger.debit(Debit(wallet_id="acme", amount=30, subject=T1)).body["debit_id"]
    clock.advance(days=1)
    set_budget(ledger, 100, scope=T1)

    # When the debit is refunded
    ledger.refund(Refund(wallet_id="acme", debit_id=debit_id))

    # Then the budget no longer counts it
    assert ledger.budget("acme", "b")["spent"] == 0


def test_refund_of_old_scope_debit_leaves_a_rescoped_budget_alone() -> None:
    # Given a debit of 100 by t1 under budget b (t1), then b re-scoped to t2 and t2 spends 50
    ledger, _ = budget_ledger()
    set_budget(ledger, 1000, scope=T1)
    debit_id = ledger.debit(Debit(wallet_id="acme", amount=100, subject=T1)).body["debit_id"]
    set_budget(ledger, 1000, scope={"team_id": "t2"})
    ledger.debit(Debit(wallet_id="acme", amount=50, subject={"team_id": "t2"}))

    # When the t1 debit is refunded
    ledger.refund(Refund(wallet_id="acme", debit_id=debit_id))

    # Then b still counts t2's 50
    assert ledger.budget("acme", "b")["spent"] == 50


def test_refund_frees_a_budget_whose_period_changed() -> None:
    # Given a monthly budget with a debit of 20 today, then the budget switched to daily
    ledger, _ = budget_ledger(at("2026-01-15T10:00"))
    set_budget(ledger, 100)
    debit_id = ledger.debit(Debit(wallet_id="acme", amount=20)).body["debit_id"]
    set_budget(ledger, 100, period="day")
    assert ledger.budget("acme", "b")["spent"] == 20

    # When the debit is refunded the same day
    ledger.refund(Refund(wallet_id="acme", debit_id=debit_id))

    # Then the daily budget no longer counts it
    assert ledger.budget("acme", "b")["spent"] == 0
