"""Voiding grants, and debt: incurred by overage, settled first by the next grant."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.app.commands import (
    CaptureHold,
    Debit,
    GrantCredits,
    PlaceHold,
    Refund,
    ReleaseHold,
    VoidGrant,
)
from ledger.app.service import CreditLedger
from ledger.domain.errors import GrantNotFound, GrantNotVoidable, InsufficientCredits
from tests.support.builders import T0, FakeClock, make_ledger, open_funded_wallet
from tests.support.wallets import event_types, grant, open_wallet, postings, version

ISSUED_PAID = "platform:credits:issued:paid"
VOIDED = "platform:credits:voided"
G1 = "wallet:acme:grant:g1"
HOLDS = "wallet:acme:holds"
DEBT = "wallet:acme:debt"


def _wallet_in_debt(ledger: CreditLedger, debt: int) -> None:
    """acme (overdraft 100) held and captured 50 + ``debt`` with overage: debt = ``debt``."""
    open_wallet(ledger, "acme", overdraft_limit=100)
    grant(ledger, "acme", "g1", 50)
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h", amount=50))
    ledger.capture_hold(
        CaptureHold(wallet_id="acme", hold_id="h", amount=50 + debt, allow_overage=True)
    )


def test_void_moves_what_is_left_to_voided() -> None:
    # Given g1 of 1000 with 300 consumed
    ledger = make_ledger()
    open_funded_wallet(ledger)
    ledger.debit(Debit(wallet_id="acme", amount=300))
    before = version(ledger, "acme")

    # When g1 is voided
    body = ledger.void_grant(VoidGrant(wallet_id="acme", grant_id="g1", reason="fraud")).body

    # Then the 700 left go DR grant / CR platform:credits:voided and nothing is available
    assert postings(ledger, "acme", before) == [{"debit": G1, "credit": VOIDED, "amount": 700}]
    assert (body["status"], body["remaining"]) == ("voided", 0)
    assert ledger.wallet("acme")["balance"] == {"available": 0, "held": 0, "debt": 0}


def test_void_leaves_held_credits_held_and_their_release_goes_to_voided() -> None:
    # Given g1 of 1000 with 50 on hold
    ledger = make_ledger()
    open_funded_wallet(ledger)
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h", amount=50))
    before = version(ledger, "acme")

    # When g1 is voided
    body = ledger.void_grant(VoidGrant(wallet_id="acme", grant_id="g1")).body

    # Then only the 950 not held are voided; the 50 stay held
    assert postings(ledger, "acme", before) == [{"debit": G1, "credit": VOIDED, "amount": 950}]
    assert (body["remaining"], body["held"]) == (0, 50)
    assert ledger.wallet("acme")["balance"] == {"available": 0, "held": 50, "debt": 0}

    # And releasing the hold later sends the 50 to voided, not back to the voided grant
    after_void = version(ledger, "acme")
    ledger.release_hold(ReleaseHold(wallet_id="acme", hold_id="h"))
    assert postings(ledger, "acme", after_void) == [
        {"debit": HOLDS, "credit": VOIDED, "amount": 50}
    ]
    assert ledger.wallet("acme")["balance"] == {"available": 0, "held": 0, "debt": 0}


def test_void_of_a_voided_grant_is_refused() -> None:
    # Given g1 already voided
    ledger = make_ledger()
    open_funded_wallet(ledger)
    ledger.void_grant(VoidGrant(wallet_id="acme", grant_id="g1"))
    before = version(ledger, "acme")

    # When it is voided again
    with pytest.raises(GrantNotVoidable) as refused:
        ledger.void_grant(VoidGrant(wallet_id="acme", grant_id="g1"))

    # Then grant_not_voidable with status voided
    assert refused.value.code == "grant_not_voidable"
    assert refused.value.details() == {"status": "voided"}
    assert version(ledger, "acme") == before


def test_void_of_an_expired_grant_is_refused() -> None:
    # Given g1 that expired an hour ago (its expiry not yet recorded)
    clock = FakeClock(T0)
    ledger = make_ledger(clock=clock)
    open_wallet(ledger)
    grant(ledger, "acme", "g1", 100, expires_at=T0 + timedelta(hours=1))
    clock.advance(hours=2)
    before = version(ledger, "acme")

    # When it is voided
    with pytest.raises(GrantNotVoidable) as refused:
        ledger.void_grant(VoidGrant(wallet_id="acme", grant_id="g1"))

    # Then grant_not_voidable with status expired, and not even the expiry was recorded
    assert refused.value.details() == {"status": "expired"}
    assert version(ledger, "acme") == before


def test_void_of_an_unknown_grant_is_grant_not_found() -> None:
    # Given a funded wallet
    ledger = make_ledger()
    open_funded_wallet(ledger)

    # When a grant that does not exist is voided
    with pytest.raises(GrantNotFound) as refused:
        ledger.void_grant(VoidGrant(wallet_id="acme", grant_id="nope"))

    # Then grant_not_found
    assert refused.value.code == "grant_not_found"


def test_next_grant_settles_debt_first() -> None:
    # Given a wallet 30 in debt
    ledger = make_ledger()
    _wallet_in_debt(ledger, 30)
    assert ledger.wallet("acme")["balance"] == {"available": -30, "held": 0, "debt": 30}
    before = version(ledger, "acme")

    # When 100 credits are granted as g2
    body = ledger.grant(GrantCredits(wallet_id="acme", grant_id="g2", amount=100, category="paid"))

    # Then 30 of them pay the debt: DR grant g2 / CR debt, 30
    assert event_types(ledger, "acme", before) == ["CreditsGranted", "DebtSettled"]
    assert postings(ledger, "acme", before) == [
        {"debit": ISSUED_PAID, "credit": "wallet:acme:grant:g2", "amount": 100},
        {"debit": "wallet:acme:grant:g2", "credit": DEBT, "amount": 30},
    ]
    assert (body.body["remaining"], body.body["debt_settled"]) == (70, 30)
    assert ledger.wallet("acme")["balance"] == {"available": 70, "held": 0, "debt": 0}


def test_grant_smaller_than_debt_settles_part_of_it() -> None:
    # Given a wallet 30 in debt
    ledger = make_ledger()
    _wallet_in_debt(ledger, 30)

    # When 20 credits are granted
    body = ledger.grant(GrantCredits(wallet_id="acme", grant_id="g2", amount=20, category="paid"))

    # Then all 20 pay debt: 10 debt is left and g2 is depleted
    assert (body.body["remaining"], body.body["debt_settled"], body.body["status"]) == (
        0,
        20,
        "depleted",
    )
    assert ledger.wallet("acme")["balance"] == {"available": -10, "held": 0, "debt": 10}


def test_debit_is_refused_while_debt_exceeds_credits() -> None:
    # Given a wallet 30 in debt
    ledger = make_ledger()
    _wallet_in_debt(ledger, 30)

    # When 1 credit is debited
    with pytest.raises(InsufficientCredits) as refused:
        ledger.debit(Debit(wallet_id="acme", amount=1))

    # Then available is reported as -30
    assert refused.value.details() == {"available": -30, "requested": 1}


def test_debt_is_settled_by_a_future_grant_before_its_credits_expire() -> None:
    # Given a wallet 30 in debt, and g2 of 100 effective 01:00, expiring 02:00, never used
    clock = FakeClock(T0)
    ledger = make_ledger(clock=clock)
    _wallet_in_debt(ledger, 30)
    grant(
        ledger,
        "acme",
        "g2",
        100,
        effective_at=T0 + timedelta(hours=1),
        expires_at=T0 + timedelta(hours=2),
    )

    # When the expiries after 02:00 are recorded
    clock.set(T0 + timedelta(hours=3))
    ledger.sweep()

    # Then g2 paid the 30 of debt and only the 70 left of it expired
    expired = sum(p["amount"] for p in postings(ledger, "acme") if p["credit"].endswith(":expired"))
    assert ledger.wallet("acme")["balance"]["debt"] == 0
    assert expired == 70


def test_a_refund_while_in_debt_pays_the_debt_before_its_credits_can_expire() -> None:
    # Given overdraft 100; g1 100 expiring in a day; debit 40; hold 60 captured at 160
    clock = FakeClock(T0)
    ledger = make_ledger(clock=clock)
    open_wallet(ledger, "acme", overdraft_limit=100)
    grant(ledger, "acme", "g1", 100, expires_at=T0 + timedelta(days=1))
    debit_id = ledger.debit(Debit(wallet_id="acme", amount=40)).body["debit_id"]
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h", amount=60))
    ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h", amount=160, allow_overage=True))
    assert ledger.wallet("acme")["balance"]["debt"] == 100

    # When the debit is refunded, and two days later the expiries are swept
    ledger.refund(Refund(wallet_id="acme", debit_id=debit_id))
    clock.advance(days=2)
    ledger.sweep()

    # Then the 40 returned paid debt at once (60 still owed) and nothing expired as breakage
    assert ledger.wallet("acme")["balance"]["debt"] == 60
    expired = sum(p["amount"] for p in postings(ledger, "acme") if p["credit"].endswith(":expired"))
    assert expired == 0
    assert "DebtSettled" in event_types(ledger, "acme")


def test_a_released_hold_while_in_debt_pays_the_debt() -> None:
    # Given a wallet 30 in debt, a new grant of 100 (pays the 30), a hold of 50 on it, and
    # then 20 more of debt (an overage with nothing left to draw on)
    ledger = make_ledger()
    _wallet_in_debt(ledger, 30)
    grant(ledger, "acme", "g2", 100)
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h2", amount=50))
    _owe_more(ledger, 20)

    # When the hold is released
    ledger.release_hold(ReleaseHold(wallet_id="acme", hold_id="h2"))

    # Then the 50 coming back to g2 pay the 20 owed first: 30 left, no debt
    assert ledger.wallet("acme")["balance"] == {"available": 30, "held": 0, "debt": 0}


def _owe_more(ledger: CreditLedger, amount: int) -> None:
    """Run the wallet ``amount`` further into debt with an overage capture of a tiny hold."""
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="tiny", amount=20))
    ledger.capture_hold(
        CaptureHold(wallet_id="acme", hold_id="tiny", amount=20 + amount, allow_overage=True)
    )
