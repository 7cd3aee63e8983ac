"""Grants and debits: their postings, the balance they leave, and their refusals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ledger.app.commands import Debit, GrantCredits, PlaceHold
from ledger.domain.errors import GrantExists, InsufficientCredits
from tests.support.builders import T0, FakeClock, make_ledger, open_funded_wallet
from tests.support.wallets import event_types, events, grant, open_wallet, postings, version

CONSUMED = "platform:credits:consumed"
G1 = "wallet:acme:grant:g1"


@pytest.mark.parametrize("category", ["paid", "promotional", "trial", "refund", "rollover"])
def test_grant_posts_from_issued_category_to_grant_account(category: str) -> None:
    # Given an open wallet
    ledger = make_ledger()
    open_wallet(ledger)

    # When 1000 credits of the category are granted as g1
    body = ledger.grant(
        GrantCredits(wallet_id="acme", grant_id="g1", amount=1000, category=category)
    ).body

    # Then DR platform:credits:issued:<category> / CR the grant's account, 1000
    assert postings(ledger, "acme", after_version=1) == [
        {"debit": f"platform:credits:issued:{category}", "credit": G1, "amount": 1000}
    ]
    assert (body["amount"], body["remaining"], body["held"], body["status"]) == (
        1000,
        1000,
        0,
        "active",
    )
    assert body["debt_settled"] == 0


def test_debit_posts_from_grant_account_to_consumed() -> None:
    # Given 1000 paid credits in g1
    ledger = make_ledger()
    open_funded_wallet(ledger)
    before = version(ledger, "acme")

    # When 30 is debited
    body = ledger.debit(Debit(wallet_id="acme", amount=30)).body

    # Then DR grant g1 / CR consumed, 30, and 970 are left
    assert event_types(ledger, "acme", before) == ["CreditsDebited"]
    assert postings(ledger, "acme", before) == [{"debit": G1, "credit": CONSUMED, "amount": 30}]
    assert body["allocations"] == [{"grant_id": "g1", "amount": 30}]
    assert body["balance"] == {"available": 970, "held": 0, "debt": 0}


def test_balance_separates_available_held_and_debt() -> None:
    # Given 1000 credits, a hold of 50 and a debit of 10
    ledger = make_ledger()
    open_funded_wallet(ledger)
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h", amount=50))
    ledger.debit(Debit(wallet_id="acme", amount=10))

    # When the wallet is read
    view = ledger.wallet("acme")

    # Then 1000 - 50 - 10 = 940 are available and 50 held (the contract's example)
    assert view["balance"] == {"available": 940, "held": 50, "debt": 0}
    (g1,) = view["grants"]
    assert (g1["remaining"], g1["held"]) == (940, 50)


def test_debit_beyond_available_is_refused_and_records_nothing() -> None:
    # Given 1000 credits
    ledger = make_ledger()
    open_funded_wallet(ledger)
    before = version(ledger, "acme")

    # When 1001 is debited
    with pytest.raises(InsufficientCredits) as refused:
        ledger.debit(Debit(wallet_id="acme", amount=1001))

    # Then it is refused naming what was available and requested, and nothing changed
    assert refused.value.code == "insufficient_credits"
    assert refused.value.details() == {"available": 1000, "requested": 1001}
    assert version(ledger, "acme") == before
    assert ledger.wallet("acme")["balance"] == {"available": 1000, "held": 0, "debt": 0}


def test_debit_of_exactly_the_available_balance_is_allowed() -> None:
    # Given 1000 credits
    ledger = make_ledger()
    open_funded_wallet(ledger)

    # When exactly 1000 is debited
    body = ledger.debit(Debit(wallet_id="acme", amount=1000)).body

    # Then the wallet is at zero and g1 is depleted
    assert body["balance"] == {"available": 0, "held": 0, "debt": 0}
    assert ledger.wallet("acme")["grants"][0]["status"] == "depleted"


def test_grant_with_a_used_grant_id_is_refused() -> None:
    # Given g1 exists
    ledger = make_ledger()
    open_funded_wallet(ledger)
    before = version(ledger, "acme")

    # When g1 is granted again
    with pytest.raises(GrantExists) as refused:
        grant(ledger, "acme", "g1", 5)

    # Then grant_exists, and nothing was recorded
    assert refused.value.code == "grant_exists"
    assert version(ledger, "acme") == before


def test_pending_grant_is_not_available_until_effective() -> None:
    # Given 1000 credits in g1 and 500 in g2 effective tomorrow
    clock = FakeClock(T0)
    ledger = make_ledger(clock=clock)
    open_funded_wallet(ledger)
    grant(ledger, "acme", "g2", 500, effective_at=T0 + timedelta(days=1))

    # When the wallet is read today and 1001 is debited
    view = ledger.wallet("acme")
    with pytest.raises(InsufficientCredits) as refused:
        ledger.debit(Debit(wallet_id="acme", amount=1001))

    # Then g2 is pending and not counted
    assert view["balance"]["available"] == 1000
    assert {g["grant_id"]: g["status"] for g in view["grants"]} == {"g1": "active", "g2": "pending"}
    assert refused.value.details() == {"available": 1000, "requested": 1001}

    # And from tomorrow on it is
    clock.advance(days=1)
    assert ledger.wallet("acme")["balance"]["available"] == 1500


def test_every_event_of_a_grant_and_debit_is_dated_in_business_time() -> None:
    # Given a clock at 10:00
    clock = FakeClock(T0 + timedelta(hours=10))
    ledger = make_ledger(clock=clock)
    open_funded_wallet(ledger)

    # When a debit is made at 10:05
    clock.advance(minutes=5)
    ledger.debit(Debit(wallet_id="acme", amount=1))

    # Then each event's occurred_at is the clock's time when it was decided
    dated: list[Any] = [e["occurred_at"] for e in events(ledger, "acme")]
    assert dated == [
        T0 + timedelta(hours=10),
        T0 + timedelta(hours=10),
        T0 + timedelta(hours=10, minutes=5),
    ]
