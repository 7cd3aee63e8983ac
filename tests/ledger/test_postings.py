"""Double entry: well-formed postings, the chart of accounts, and a zero trial balance."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ledger.app.commands import CaptureHold, Debit, PlaceHold, Refund, VoidGrant
from ledger.domain.postings import (
    Posting,
    assert_balanced,
    consumed_account,
    debt_account,
    expired_account,
    grant_account,
    holds_account,
    issued_account,
    postings_from_dicts,
    postings_to_dicts,
    voided_account,
)
from tests.support.builders import T0, FakeClock, at, make_ledger
from tests.support.wallets import account_balances, events, grant, open_wallet, postings


@pytest.mark.parametrize(
    "amount",
    [
        pytest.param(0, id="zero"),
        pytest.param(-1, id="negative"),
        pytest.param(1.5, id="float"),
        pytest.param(1.0, id="integral-float"),
        pytest.param(True, id="bool"),
    ],
)
def test_assert_balanced_rejects_non_positive_or_non_integer_amounts(amount: Any) -> None:
    # Given an otherwise fine posting with a bad amount
    posting = Posting("wallet:acme:grant:g1", "platform:credits:consumed", amount)

    # When it is checked / Then it is refused
    with pytest.raises(AssertionError, match="positive int"):
        assert_balanced([posting])


def test_assert_balanced_rejects_a_posting_to_and_from_one_account() -> None:
    # Given a posting that debits and credits the same account
    posting = Posting("wallet:acme:holds", "wallet:acme:holds", 5)

    # When it is checked / Then it is refused
    with pytest.raises(AssertionError, match="one account"):
        assert_balanced([posting])


def test_assert_balanced_accepts_well_formed_postings() -> None:
    # Given two well-formed postings, and no postings at all
    rows = [Posting("a", "b", 1), Posting("b", "c", 2)]

    # When they are checked / Then nothing is raised
    assert_balanced(rows)
    assert_balanced([])


def test_postings_round_trip_through_plain_dicts() -> None:
    # Given postings
    rows = [Posting("a", "b", 1), Posting("c", "d", 20)]

    # When stored as dicts and read back / Then they are unchanged
    stored = postings_to_dicts(rows)
    assert stored == [
        {"debit": "a", "credit": "b", "amount": 1},
        {"debit": "c", "credit": "d", "amount": 20},
    ]
    assert postings_from_dicts(stored) == rows


def test_chart_of_accounts_names() -> None:
    # Given wallet acme and unit credits / Then the accounts are named as the design's chart
    assert grant_account("acme", "g1") == "wallet:acme:grant:g1"
    assert holds_account("acme") == "wallet:acme:holds"
    assert debt_account("acme") == "wallet:acme:debt"
    assert issued_account("credits", "paid") == "platform:credits:issued:paid"
    assert consumed_account("credits") == "platform:credits:consumed"
    assert expired_account("credits") == "platform:credits:expired"
    assert voided_account("credits") == "platform:credits:voided"


def test_accounts_of_different_wallets_never_share_a_name() -> None:
    # Given two valid (wallet, grant) ids built to collide through ':'
    # When their accounts are named / Then they differ
    assert grant_account("a", "x:holds") != holds_account("a:grant:x")
    assert grant_account("a", "g:debt") != debt_account("a:grant:g")


def test_mixed_history_postings_match_state_and_trial_balance_is_zero() -> None:
    # Given a wallet (overdraft 100) through grants, debits, holds, captures, releases,
    # expiries, a void, refunds, overage into debt and a debt settlement
    clock = FakeClock(T0)
    ledger = make_ledger(clock=clock)
    open_wallet(ledger, overdraft_limit=100)
    grant(ledger, "acme", "g1", 500, expires_at=at("2026-01-01T01:00"))
    grant(ledger, "acme", "g2", 300, category="promotional")
    grant(ledger, "acme", "g3", 100, effective_at=at("2026-01-01T03:00"))
    d1 = ledger.debit(Debit(wallet_id="acme", amount=100)).body["debit_id"]  # g1 400
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=250))  # g1 150
    h2_end = T0 + timedelta(minutes=20)
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h2", amount=50, expires_at=h2_end))
    clock.set(at("2026-01-01T00:10"))
    ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h1", amount=200))  # g1 150
    ledger.refund(Refund(wallet_id="acme", debit_id=d1, amount=30))  # g1 180
    grant(ledger, "acme", "g5", 40, category="trial", expires_at=at("2026-01-01T05:00"))
    ledger.void_grant(VoidGrant(wallet_id="acme", grant_id="g5"))  # 40 voided
    clock.set(at("2026-01-01T00:30"))  # h2 expired at 00:20: g1 230
    d2 = ledger.debit(Debit(wallet_id="acme", amount=500)).body["debit_id"]  # g1 0, g2 30
    clock.set(at("2026-01-01T01:30"))  # g1 expired with nothing left
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h3", amount=30))  # g2 0
    ledger.capture_hold(  # 90 over, nothing usable (g3 pending): debt 90
        CaptureHold(wallet_id="acme", hold_id="h3", amount=120, allow_overage=True)
    )
    clock.set(at("2026-01-01T02:00"))
    grant(ledger, "acme", "g4", 50)  # settles 50: debt 40
    clock.set(at("2026-01-01T03:30"))
    ledger.debit(Debit(wallet_id="acme", amount=10))  # g3 90
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h4", amount=20))  # g3 70
    # g2 +270 of which 40 pay the debt (decision 0007), 10 expired
    ledger.refund(Refund(wallet_id="acme", debit_id=d2, amount=280))

    # When every posting recorded for the wallet is summed per account (debits - credits)
    balances = account_balances(postings(ledger, "acme"))
    view = ledger.wallet("acme")

    # Then each account holds what was hand-computed above
    assert balances == {
        "platform:credits:issued:paid": 650,
        "platform:credits:issued:promotional": 300,
        "platform:credits:issued:trial": 40,
        "wallet:acme:grant:g1": 0,
        "wallet:acme:grant:g2": -230,
        "wallet:acme:grant:g3": -70,
        "wallet:acme:grant:g4": 0,
        "wallet:acme:grant:g5": 0,
        "wallet:acme:holds": -20,
        "wallet:acme:debt": 0,
        "platform:credits:consumed": -620,
        "platform:credits:expired": -10,
        "platform:credits:voided": -40,
    }
    # And they agree with the wallet's state: grant = remaining, holds = Σ held, debt = debt
    for g in view["grants"]:
        assert -balances[grant_account("acme", g["grant_id"])] == g["remaining"]
    assert -balances["wallet:acme:holds"] == view["balance"]["held"] == 20
    assert sum(g["held"] for g in view["grants"]) == 20
    assert balances["wallet:acme:debt"] == view["balance"]["debt"] == 0
    assert view["balance"] == {"available": 300, "held": 20, "debt": 0}
    # And the trial balance is zero, with every posting a positive int between two accounts
    assert sum(balances.values()) == 0
    for event in events(ledger, "acme"):
        assert_balanced(postings_from_dicts(event["data"]["postings"]))
