"""The closed set of errors: stable codes, their members, and which one wins (precedence)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

import ledger.domain.errors as errors_module
from ledger.app.commands import (
    CaptureHold,
    Debit,
    GrantCredits,
    PlaceHold,
    Refund,
    SetBudget,
    VoidGrant,
)
from ledger.app.service import CreditLedger
from ledger.domain.errors import (
    BudgetExceeded,
    CaptureExceedsHold,
    GrantExists,
    HoldExists,
    HoldNotFound,
    HoldNotOpen,
    IdempotencyConflict,
    InsufficientCredits,
    LedgerError,
    ValidationFailed,
    WalletNotFound,
)
from tests.support.builders import T0, make_ledger, open_funded_wallet
from tests.support.wallets import grant, open_wallet, version

CONTRACT_CODES = {
    "validation_error",
    "wallet_not_found",
    "wallet_exists",
    "idempotency_conflict",
    "grant_not_found",
    "grant_exists",
    "grant_not_voidable",
    "hold_not_found",
    "hold_exists",
    "hold_not_open",
    "capture_exceeds_hold",
    "debit_not_found",
    "refund_exceeds_debit",
    "budget_not_found",
    "allowance_not_found",
    "price_book_not_found",
    "meter_not_found",
    "webhook_not_found",
    "unknown_model",
    "budget_exceeded",
    "insufficient_credits",
    "contention",
    "overloaded",
}


def _public_errors() -> list[type[LedgerError]]:
    found: list[type[LedgerError]] = []
    pending = list(LedgerError.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if not cls.__name__.startswith("_"):
            found.append(cls)
    return found


def test_every_error_has_a_unique_snake_case_code_from_the_contract() -> None:
    # Given every public LedgerError subclass
    classes = _public_errors()

    # When their codes are collected
    codes = [cls.code for cls in classes]

    # Then each is snake_case, none repeats, and together they are the contract's set
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", code) for code in codes)
    assert len(codes) == len(set(codes))
    assert set(codes) == CONTRACT_CODES
    assert {cls.__name__ for cls in classes} <= set(errors_module.__all__)


def test_only_contention_and_overload_are_transient() -> None:
    # Given every public error / Then only contention and overload may be retried as is
    transient = {cls.code for cls in _public_errors() if cls.transient}
    assert transient == {"contention", "overloaded"}


def test_error_members_are_the_contract_members() -> None:
    # Given one error of each kind with members
    insufficient = InsufficientCredits(available=5, requested=9)
    budget = BudgetExceeded("b", limit=100, spent=90, requested=20, period_end=T0)

    # When their details are read / Then they carry exactly the documented members
    assert insufficient.details() == {"available": 5, "requested": 9}
    assert budget.details() == {
        "budget_id": "b",
        "limit": 100,
        "spent": 90,
        "requested": 20,
        "period_end": T0,
    }
    assert HoldNotOpen("h", "expired").details() == {"status": "expired"}
    assert CaptureExceedsHold(held=5, requested=6).details() == {"held": 5, "requested": 6}


def _unknown_wallet_command(ledger: CreditLedger, command: Any) -> Callable[[], Any]:
    methods: dict[type, Callable[[Any], Any]] = {
        Debit: ledger.debit,
        GrantCredits: ledger.grant,
        PlaceHold: ledger.place_hold,
        CaptureHold: ledger.capture_hold,
        Refund: ledger.refund,
        SetBudget: ledger.set_budget,
    }
    return lambda: methods[type(command)](command)


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(Debit(wallet_id="nope", amount=0), id="debit"),
        pytest.param(
            GrantCredits(wallet_id="nope", amount=0, category="paid"),
            id="grant",
        ),
        pytest.param(PlaceHold(wallet_id="nope", amount=-1), id="hold"),
        pytest.param(
            CaptureHold(wallet_id="nope", hold_id="h", amount=0),
            id="capture",
        ),
        pytest.param(
            Refund(wallet_id="nope", debit_id="d", amount=0),
            id="refund",
        ),
        pytest.param(
            SetBudget(wallet_id="nope", budget_id="b", limit=-1, period="day"), id="budget"
        ),
    ],
)
def test_validation_error_comes_before_wallet_not_found(command: Any) -> None:
    # Given a ledger without wallet "nope"
    ledger = make_ledger()

    # When a malformed command addresses it / Then the input is refused first
    with pytest.raises(ValidationFailed):
        _unknown_wallet_command(ledger, command)()


def test_wallet_not_found_for_a_well_formed_command() -> None:
    # Given a ledger without wallet "nope"
    ledger = make_ledger()

    # When a valid debit addresses it / Then wallet_not_found
    with pytest.raises(WalletNotFound) as refused:
        ledger.debit(Debit(wallet_id="nope", amount=1))
    assert refused.value.code == "wallet_not_found"


def test_validation_error_comes_before_idempotency_conflict() -> None:
    # Given key k used for a debit of 10
    ledger = make_ledger()
    open_funded_wallet(ledger)
    ledger.debit(Debit(wallet_id="acme", amount=10, idempotency_key="k"))

    # When a malformed debit reuses k / Then validation_error, not idempotency_conflict
    with pytest.raises(ValidationFailed):
        ledger.debit(Debit(wallet_id="acme", amount=0, idempotency_key="k"))


def test_validation_error_comes_before_debit_not_found() -> None:
    # Given a funded wallet
    ledger = make_ledger()
    open_funded_wallet(ledger)

    # When a refund of 0 names an unknown debit / Then validation_error
    with pytest.raises(ValidationFailed):
        ledger.refund(Refund(wallet_id="acme", debit_id="unknown", amount=0))


def test_validation_error_comes_before_grant_exists() -> None:
    # Given grant g1
    ledger = make_ledger()
    open_funded_wallet(ledger)

    # When g1 is granted again with amount 0 / Then validation_error wins
    with pytest.raises(ValidationFailed):
        ledger.grant(GrantCredits(wallet_id="acme", grant_id="g1", amount=0, category="paid"))
    with pytest.raises(GrantExists):
        ledger.grant(GrantCredits(wallet_id="acme", grant_id="g1", amount=1, category="paid"))


def test_idempotency_conflict_comes_before_the_addressed_object() -> None:
    # Given key k used for a debit
    ledger = make_ledger()
    open_funded_wallet(ledger)
    ledger.debit(Debit(wallet_id="acme", amount=10, idempotency_key="k"))

    # When k is reused to void a grant that does not exist / Then idempotency_conflict
    with pytest.raises(IdempotencyConflict):
        ledger.void_grant(VoidGrant(wallet_id="acme", grant_id="nope", idempotency_key="k"))


def test_idempotency_conflict_comes_before_insufficient_credits() -> None:
    # Given key k used for a debit of 10
    ledger = make_ledger()
    open_funded_wallet(ledger)
    ledger.debit(Debit(wallet_id="acme", amount=10, idempotency_key="k"))

    # When k is reused for a debit the wallet cannot pay / Then idempotency_conflict
    with pytest.raises(IdempotencyConflict):
        ledger.debit(Debit(wallet_id="acme", amount=5000, idempotency_key="k"))


def test_budget_exceeded_comes_before_insufficient_credits() -> None:
    # Given 10 credits and a hard budget of 5
    ledger = make_ledger()
    open_wallet(ledger)
    grant(ledger, "acme", "g1", 10)
    ledger.set_budget(SetBudget(wallet_id="acme", budget_id="b", limit=5, period="day"))

    # When 20 are debited, which both the budget and the balance refuse
    with pytest.raises(BudgetExceeded) as refused:
        ledger.debit(Debit(wallet_id="acme", amount=20))

    # Then the budget answers
    assert refused.value.code == "budget_exceeded"


def test_hold_exists_comes_before_budget_and_balance() -> None:
    # Given open hold h1, 1000 credits, and a hard budget of 100
    ledger = make_ledger()
    open_funded_wallet(ledger)
    ledger.set_budget(SetBudget(wallet_id="acme", budget_id="b", limit=100, period="day"))
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=10))

    # When h1 is placed again for more than either allows / Then hold_exists
    with pytest.raises(HoldExists):
        ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=5000))


def test_capture_exceeds_hold_comes_before_balance() -> None:
    # Given hold h1 of 10 on a wallet with 1000 credits
    ledger = make_ledger()
    open_funded_wallet(ledger)
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=10))

    # When 5000 are captured without overage / Then capture_exceeds_hold
    with pytest.raises(CaptureExceedsHold):
        ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h1", amount=5000))


def test_hold_not_found_only_for_a_hold_that_never_existed() -> None:
    # Given hold h1 captured
    ledger = make_ledger()
    open_funded_wallet(ledger)
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=10))
    ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h1", amount=10))
    before = version(ledger, "acme")

    # When h1 and the never-placed h2 are captured
    with pytest.raises(HoldNotOpen) as resolved:
        ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h1"))
    with pytest.raises(HoldNotFound) as unknown:
        ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h2"))

    # Then h1 is not open (captured) and h2 is not found
    assert (resolved.value.code, resolved.value.details()) == (
        "hold_not_open",
        {"status": "captured"},
    )
    assert unknown.value.code == "hold_not_found"
    assert version(ledger, "acme") == before
