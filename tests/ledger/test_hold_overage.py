"""Capturing more than held, holds on expiring grants, and the limits of a hold."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.app.commands import CaptureHold, Debit, PlaceHold, SetBudget
from ledger.domain.errors import (
    BudgetExceeded,
    CaptureExceedsHold,
    InsufficientCredits,
)
from tests.support.builders import T0, FakeClock, at, make_ledger
from tests.support.wallets import event_types, grant, held_wallet, open_wallet, postings, version

CONSUMED = "platform:credits:consumed"
EXPIRED = "platform:credits:expired"
G1, G2 = "wallet:acme:grant:g1", "wallet:acme:grant:g2"
HOLDS, DEBT = "wallet:acme:holds", "wallet:acme:debt"


def test_capture_beyond_the_hold_needs_allow_overage() -> None:
    # Given hold h1 of 50
    ledger, before = held_wallet()

    # When 51 are captured without allow_overage
    with pytest.raises(CaptureExceedsHold) as refused:
        ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h1", amount=51))

    # Then capture_exceeds_hold; the hold is still open and nothing recorded
    assert refused.value.code == "capture_exceeds_hold"
    assert refused.value.details() == {"held": 50, "requested": 51}
    assert version(ledger, "acme") == before
    assert ledger.hold("acme", "h1")["status"] == "open"


def test_overage_is_debited_from_grants_in_policy_order() -> None:
    # Given hold h1 of 50 (g1 30 + g2 20), g2 has 80 left
    ledger, before = held_wallet()

    # When 70 are captured with allow_overage
    body = ledger.capture_hold(
        CaptureHold(wallet_id="acme", hold_id="h1", amount=70, allow_overage=True)
    ).body

    # Then the 50 held are consumed and the 20 extra are debited from g2
    assert postings(ledger, "acme", before) == [
        {"debit": HOLDS, "credit": CONSUMED, "amount": 30},
        {"debit": HOLDS, "credit": CONSUMED, "amount": 20},
        {"debit": G2, "credit": CONSUMED, "amount": 20},
    ]
    assert (body["captured"], body["overage"], body["debt_incurred"]) == (70, 20, 0)
    assert body["balance"] == {"available": 60, "held": 0, "debt": 0}


def test_overage_shortfall_becomes_debt_within_the_overdraft_limit() -> None:
    # Given overdraft 100 and hold h1 of 50 (g1 30 + g2 20), g2 has 10 left
    ledger, before = held_wallet(overdraft_limit=100, g2=30)

    # When 120 are captured with allow_overage: 70 extra, 10 from g2, 60 short
    body = ledger.capture_hold(
        CaptureHold(wallet_id="acme", hold_id="h1", amount=120, allow_overage=True)
    ).body

    # Then the 60 short are DR debt / CR consumed
    assert event_types(ledger, "acme", before) == ["HoldCaptured", "DebtIncurred"]
    assert postings(ledger, "acme", before) == [
        {"debit": HOLDS, "credit": CONSUMED, "amount": 30},
        {"debit": HOLDS, "credit": CONSUMED, "amount": 20},
        {"debit": G2, "credit": CONSUMED, "amount": 10},
        {"debit": DEBT, "credit": CONSUMED, "amount": 60},
    ]
    assert (body["overage"], body["debt_incurred"]) == (70, 60)
    assert body["balance"] == {"available": -60, "held": 0, "debt": 60}


def test_overage_beyond_the_overdraft_limit_is_refused_and_records_nothing() -> None:
    # Given overdraft 20 and hold h1 of 50 (g1 30 + g2 20), g2 has 10 left
    ledger, before = held_wallet(overdraft_limit=20, g2=30)

    # When 100 are captured with allow_overage: 50 extra, 10 from g2, 40 short > 20
    with pytest.raises(InsufficientCredits) as refused:
        ledger.capture_hold(
            CaptureHold(wallet_id="acme", hold_id="h1", amount=100, allow_overage=True)
        )

    # Then insufficient_credits (10 available + 20 overdraft against 50 extra), nothing recorded
    assert refused.value.details() == {"available": 30, "requested": 50}
    assert version(ledger, "acme") == before
    assert ledger.hold("acme", "h1")["status"] == "open"


def test_capture_after_pinned_grant_expired_still_captures_and_rest_expires() -> None:
    # Given g1 of 100 expiring 00:10, with hold h1 of 80 on it expiring 00:30
    clock = FakeClock(T0)
    ledger = make_ledger(clock=clock)
    open_wallet(ledger)
    grant(ledger, "acme", "g1", 100, expires_at=at("2026-01-01T00:10"))
    ledger.place_hold(
        PlaceHold(wallet_id="acme", hold_id="h1", amount=80, expires_at=at("2026-01-01T00:30"))
    )
    before = version(ledger, "acme")

    # When 30 are captured at 00:12
    clock.set(at("2026-01-01T00:12"))
    body = ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h1", amount=30)).body

    # Then g1's unheld 20 expire, 30 are consumed from the hold, the released 50 expire too
    assert event_types(ledger, "acme", before) == ["GrantExpired", "HoldCaptured"]
    assert postings(ledger, "acme", before) == [
        {"debit": G1, "credit": EXPIRED, "amount": 20},
        {"debit": HOLDS, "credit": CONSUMED, "amount": 30},
        {"debit": HOLDS, "credit": EXPIRED, "amount": 50},
    ]
    assert (body["captured"], body["released"]) == (30, 50)
    assert body["balance"] == {"available": 0, "held": 0, "debt": 0}


def test_hold_beyond_available_is_refused() -> None:
    # Given 130 credits with 50 on hold (80 available)
    ledger, before = held_wallet()

    # When a hold of 81 is placed
    with pytest.raises(InsufficientCredits) as refused:
        ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h2", amount=81))

    # Then insufficient_credits and nothing recorded
    assert refused.value.details() == {"available": 80, "requested": 81}
    assert version(ledger, "acme") == before


def test_hold_may_last_exactly_seven_days() -> None:
    # Given a funded wallet at T0
    ledger, _ = held_wallet()

    # When a hold expiring in exactly 7 days is placed
    body = ledger.place_hold(
        PlaceHold(wallet_id="acme", hold_id="h2", amount=1, expires_at=T0 + timedelta(days=7))
    ).body

    # Then it is open until then
    assert (body["status"], body["expires_at"]) == ("open", T0 + timedelta(days=7))


def test_open_hold_counts_against_budget_until_captured() -> None:
    # Given a hard budget of 100 and hold h1 of 80
    ledger = make_ledger()
    open_wallet(ledger)
    grant(ledger, "acme", "g1", 1000)
    ledger.set_budget(SetBudget(wallet_id="acme", budget_id="b", limit=100, period="month"))
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=80))

    # When 30 are debited while it is open
    with pytest.raises(BudgetExceeded) as refused:
        ledger.debit(Debit(wallet_id="acme", amount=30))

    # Then the hold counted as spent: 80 + 30 > 100
    assert (refused.value.spent, refused.value.requested) == (80, 30)

    # And once only 50 of it are captured, 30 fit: 50 + 30 <= 100
    ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h1", amount=50))
    body = ledger.debit(Debit(wallet_id="acme", amount=30)).body
    assert body["budgets"][0]["spent"] == 80


def test_debt_from_several_overages_is_bounded_by_the_overdraft_limit() -> None:
    # Given overdraft 100, g1 of 100 fully held by h1 (50) and h2 (50)
    ledger = make_ledger()
    open_wallet(ledger, overdraft_limit=100)
    grant(ledger, "acme", "g1", 100)
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=50))
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h2", amount=50))
    ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h1", amount=110, allow_overage=True))
    assert ledger.wallet("acme")["balance"] == {"available": -60, "held": 50, "debt": 60}
    before = version(ledger, "acme")

    # When h2 is captured for 100 (50 more debt: 110 > 100), then for 90 (40 more: 100)
    with pytest.raises(InsufficientCredits) as refused:
        ledger.capture_hold(
            CaptureHold(wallet_id="acme", hold_id="h2", amount=100, allow_overage=True)
        )
    unchanged = version(ledger, "acme")
    body = ledger.capture_hold(
        CaptureHold(wallet_id="acme", hold_id="h2", amount=90, allow_overage=True)
    ).body

    # Then the first is refused (headroom 100 - 60 = 40) and the second reaches the limit
    assert refused.value.details() == {"available": 40, "requested": 50}
    assert unchanged == before
    assert body["debt_incurred"] == 40
    assert body["balance"] == {"available": -100, "held": 0, "debt": 100}


def test_overage_is_checked_against_hard_budgets() -> None:
    # Given a hard budget of 100 and hold h1 of 80
    ledger = make_ledger()
    open_wallet(ledger)
    grant(ledger, "acme", "g1", 1000)
    ledger.set_budget(SetBudget(wallet_id="acme", budget_id="b", limit=100, period="month"))
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=80))

    # When 110 are captured with overage (30 more), then 100 (20 more)
    with pytest.raises(BudgetExceeded) as refused:
        ledger.capture_hold(
            CaptureHold(wallet_id="acme", hold_id="h1", amount=110, allow_overage=True)
        )
    ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h1", amount=100, allow_overage=True))

    # Then the first is refused (the hold's 80 already count) and the second fills the budget
    assert (refused.value.spent, refused.value.requested) == (80, 30)
    view = ledger.budget("acme", "b")
    assert (view["spent"], view["remaining"]) == (100, 0)
