"""Malformed input is refused with validation_error naming the field, and records nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from ledger.app.commands import Debit, GrantCredits, OpenWallet, PlaceHold, SetBudget
from ledger.app.service import CreditLedger
from ledger.domain.errors import ValidationFailed
from ledger.domain.validation import MAX_AMOUNT
from tests.support.builders import T0, make_ledger, open_funded_wallet
from tests.support.wallets import version

NAIVE = datetime(2026, 6, 1)  # noqa: DTZ001 - deliberately without an offset
LATER = T0 + timedelta(days=30)

BAD_AMOUNTS = [
    pytest.param(1.5, id="float"),
    pytest.param(10.0, id="integral-float"),
    pytest.param(True, id="bool"),
    pytest.param("10", id="string"),
    pytest.param(0, id="zero"),
    pytest.param(-5, id="negative"),
    pytest.param(MAX_AMOUNT + 1, id="above-2**53-1"),
]


def _refused_field(ledger: CreditLedger, command: Callable[[], Any]) -> str:
    """Run a command that must fail validation on acme; return the single field it named."""
    before = version(ledger, "acme")
    with pytest.raises(ValidationFailed) as refused:
        command()
    assert refused.value.code == "validation_error"
    assert version(ledger, "acme") == before
    (error,) = refused.value.details()["errors"]
    return str(error["field"])


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_debit_amount_must_be_a_positive_safe_integer(amount: Any) -> None:
    # Given a funded wallet
    ledger = make_ledger()
    open_funded_wallet(ledger)

    # When a debit of a bad amount is made / Then amount is named and nothing is recorded
    assert _refused_field(ledger, lambda: ledger.debit(Debit(wallet_id="acme", amount=amount))) == (
        "amount"
    )


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_grant_amount_must_be_a_positive_safe_integer(amount: Any) -> None:
    # Given a funded wallet
    ledger = make_ledger()
    open_funded_wallet(ledger)

    # When a grant of a bad amount is made / Then amount is named
    field = _refused_field(
        ledger, lambda: ledger.grant(GrantCredits(wallet_id="acme", amount=amount, category="paid"))
    )
    assert field == "amount"


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_hold_amount_must_be_a_positive_safe_integer(amount: Any) -> None:
    # Given a funded wallet
    ledger = make_ledger()
    open_funded_wallet(ledger)

    # When a hold of a bad amount is placed / Then amount is named
    field = _refused_field(
        ledger, lambda: ledger.place_hold(PlaceHold(wallet_id="acme", amount=amount))
    )
    assert field == "amount"


def test_largest_safe_integer_is_a_valid_amount() -> None:
    # Given an open wallet
    ledger = make_ledger()
    ledger.open_wallet(OpenWallet(wallet_id="acme"))

    # When 2**53 - 1 credits are granted twice and debited once
    ledger.grant(GrantCredits(wallet_id="acme", amount=MAX_AMOUNT, category="paid"))
    ledger.grant(GrantCredits(wallet_id="acme", amount=MAX_AMOUNT, category="paid"))
    body = ledger.debit(Debit(wallet_id="acme", amount=MAX_AMOUNT)).body

    # Then integers stay exact beyond 2**53
    assert body["balance"]["available"] == MAX_AMOUNT


@pytest.mark.parametrize(
    ("options", "field"),
    [
        pytest.param({"effective_at": NAIVE}, "effective_at", id="naive-effective_at"),
        pytest.param({"expires_at": NAIVE}, "expires_at", id="naive-expires_at"),
        pytest.param({"effective_at": LATER, "expires_at": LATER}, "expires_at", id="equal"),
        pytest.param(
            {"effective_at": LATER, "expires_at": LATER - timedelta(seconds=1)},
            "expires_at",
            id="expires-before-effective",
        ),
        pytest.param({"expires_at": T0}, "expires_at", id="expires-now"),
        pytest.param({"category": "gift"}, "category", id="unknown-category"),
        pytest.param({"grant_id": "has space"}, "grant_id", id="id-with-space"),
        pytest.param({"grant_id": "a/b"}, "grant_id", id="id-with-slash"),
        pytest.param({"grant_id": ""}, "grant_id", id="empty-id"),
        pytest.param({"grant_id": "x" * 129}, "grant_id", id="id-too-long"),
        pytest.param({"priority": -1}, "priority", id="negative-priority"),
        pytest.param({"cost_basis": (100, "usd")}, "cost_basis.currency", id="bad-currency"),
        pytest.param({"cost_basis": (-1, "USD")}, "cost_basis.amount_minor", id="negative-cost"),
    ],
)
def test_grant_input_is_validated(options: dict[str, Any], field: str) -> None:
    # Given a funded wallet at T0
    ledger = make_ledger()
    open_funded_wallet(ledger)
    command: dict[str, Any] = {"wallet_id": "acme", "amount": 10, "category": "paid", **options}

    # When the malformed grant is made / Then the offending field is named
    assert _refused_field(ledger, lambda: ledger.grant(GrantCredits(**command))) == field


def test_longest_valid_id_is_accepted() -> None:
    # Given a funded wallet
    ledger = make_ledger()
    open_funded_wallet(ledger)

    # When a grant id of 128 allowed characters is used
    grant_id = ("Az09._:-" * 16)[:128]
    body = ledger.grant(
        GrantCredits(wallet_id="acme", grant_id=grant_id, amount=1, category="paid")
    )

    # Then it is kept as given
    assert body.body["grant_id"] == grant_id


@pytest.mark.parametrize(
    ("subject", "field"),
    [
        pytest.param({"customer": "c1"}, "subject.customer", id="unknown-key"),
        pytest.param({"user_id": ""}, "subject.user_id", id="empty-value"),
        pytest.param({"model": 4}, "subject.model", id="non-string-value"),
    ],
)
def test_debit_subject_keys_are_limited(subject: dict[str, Any], field: str) -> None:
    # Given a funded wallet
    ledger = make_ledger()
    open_funded_wallet(ledger)

    # When a debit carries a bad subject / Then the subject key is named
    assert (
        _refused_field(
            ledger, lambda: ledger.debit(Debit(wallet_id="acme", amount=1, subject=subject))
        )
        == field
    )


def test_every_documented_subject_key_is_accepted() -> None:
    # Given a funded wallet
    ledger = make_ledger()
    open_funded_wallet(ledger)
    keys = ("user_id", "team_id", "agent_id", "project_id", "feature", "model")
    subject = dict.fromkeys(keys, "x")

    # When a debit names all six keys
    ledger.debit(Debit(wallet_id="acme", amount=1, subject=subject))

    # Then it is recorded with that subject
    assert ledger.wallet_events("acme", 2)["events"][0]["data"]["subject"] == subject


@pytest.mark.parametrize(
    ("occurred_at", "field"),
    [
        pytest.param(NAIVE, "occurred_at", id="naive"),
        pytest.param(T0 + timedelta(minutes=5, seconds=1), "occurred_at", id="too-far-ahead"),
    ],
)
def test_debit_occurred_at_must_be_aware_and_not_in_the_future(
    occurred_at: datetime, field: str
) -> None:
    # Given a funded wallet at T0
    ledger = make_ledger()
    open_funded_wallet(ledger)

    # When a debit is dated badly / Then occurred_at is named
    command = Debit(wallet_id="acme", amount=1, occurred_at=occurred_at)
    assert _refused_field(ledger, lambda: ledger.debit(command)) == field


@pytest.mark.parametrize(
    ("expires_at", "hold_id", "field"),
    [
        pytest.param(NAIVE, "h1", "expires_at", id="naive"),
        pytest.param(T0, "h1", "expires_at", id="now"),
        pytest.param(T0 + timedelta(days=7, microseconds=1), "h1", "expires_at", id="over-7-days"),
        pytest.param(T0 + timedelta(minutes=1), "h 1", "hold_id", id="bad-hold-id"),
        pytest.param(T0 + timedelta(minutes=1), "", "hold_id", id="empty-id"),
    ],
)
def test_hold_input_is_validated(expires_at: datetime, hold_id: str, field: str) -> None:
    # Given a funded wallet at T0
    ledger = make_ledger()
    open_funded_wallet(ledger)

    # When a malformed hold is placed / Then the field is named
    command = PlaceHold(wallet_id="acme", hold_id=hold_id, amount=1, expires_at=expires_at)
    assert _refused_field(ledger, lambda: ledger.place_hold(command)) == field


@pytest.mark.parametrize(
    ("options", "field"),
    [
        pytest.param({"wallet_id": "a b"}, "wallet_id", id="bad-wallet-id"),
        pytest.param({"overdraft_limit": -1}, "overdraft_limit", id="negative-overdraft"),
        pytest.param({"overdraft_limit": 1.0}, "overdraft_limit", id="float-overdraft"),
    ],
)
def test_open_wallet_input_is_validated(options: dict[str, Any], field: str) -> None:
    # Given an empty ledger
    ledger = make_ledger()

    # When a wallet is opened with bad input
    with pytest.raises(ValidationFailed) as refused:
        ledger.open_wallet(OpenWallet(**{"wallet_id": "acme", **options}))

    # Then the field is named
    assert [e["field"] for e in refused.value.details()["errors"]] == [field]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        pytest.param({"period": "year"}, "period", id="unknown-period"),
        pytest.param({"timezone": "Mars/Olympus"}, "timezone", id="unknown-zone"),
        pytest.param({"timezone": "localtime"}, "timezone", id="host-zone"),
        pytest.param({"mode": "strict"}, "mode", id="unknown-mode"),
        pytest.param({"limit": -1}, "limit", id="negative-limit"),
        pytest.param({"scope": {"tenant": "t"}}, "subject.tenant", id="unknown-scope-key"),
        pytest.param({"budget_id": "b/1"}, "budget_id", id="bad-budget-id"),
        pytest.param({"alert_thresholds_bps": [0]}, "alert_thresholds[0]", id="zero-threshold"),
    ],
)
def test_budget_input_is_validated(options: dict[str, Any], field: str) -> None:
    # Given a funded wallet
    ledger = make_ledger()
    open_funded_wallet(ledger)
    command: dict[str, Any] = {
        "wallet_id": "acme",
        "budget_id": "b1",
        "limit": 100,
        "period": "month",
        **options,
    }

    # When a malformed budget is set / Then the field is named
    assert _refused_field(ledger, lambda: ledger.set_budget(SetBudget(**command))) == field
