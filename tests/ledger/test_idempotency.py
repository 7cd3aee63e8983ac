"""Idempotency keys: a repeat returns the first result and records nothing new."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ledger.app.commands import (
    CaptureHold,
    Command,
    Debit,
    GrantCredits,
    OpenWallet,
    PlaceHold,
    Refund,
    ReleaseHold,
    RemoveBudget,
    SetBudget,
    VoidGrant,
)
from ledger.app.executor import Outcome
from ledger.app.service import CreditLedger
from ledger.domain.errors import (
    IdempotencyConflict,
    InsufficientCredits,
    WalletExists,
    WalletNotFound,
)
from tests.support.builders import FakeClock, make_ledger, open_funded_wallet
from tests.support.wallets import events, grant, version


def _send(ledger: CreditLedger, command: Command) -> Outcome:
    """Dispatch any wallet command to its CreditLedger method."""
    methods: dict[type[Command], Callable[[Any], Outcome]] = {
        OpenWallet: ledger.open_wallet,
        GrantCredits: ledger.grant,
        VoidGrant: ledger.void_grant,
        Debit: ledger.debit,
        Refund: ledger.refund,
        PlaceHold: ledger.place_hold,
        CaptureHold: ledger.capture_hold,
        ReleaseHold: ledger.release_hold,
        SetBudget: ledger.set_budget,
        RemoveBudget: ledger.remove_budget,
    }
    return methods[type(command)](command)


def _prepared() -> CreditLedger:
    """acme with g1 = 1000, open holds h1 and h2 of 10, budget "old", and one debit (key d0)."""
    ledger = make_ledger()
    open_funded_wallet(ledger)
    grant(ledger, "acme", "g2", 5)
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=10))
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h2", amount=10))
    ledger.set_budget(SetBudget(wallet_id="acme", budget_id="old", limit=10_000, period="day"))
    ledger.debit(Debit(wallet_id="acme", amount=40, idempotency_key="d0"))
    return ledger


def _debit_id(ledger: CreditLedger) -> str:
    return str(events(ledger, "acme")[-1]["data"]["debit_id"])


COMMANDS: list[Any] = [
    pytest.param(lambda _: GrantCredits(wallet_id="acme", amount=5, category="paid"), id="grant"),
    pytest.param(lambda _: VoidGrant(wallet_id="acme", grant_id="g2"), id="void"),
    pytest.param(lambda _: Debit(wallet_id="acme", amount=7), id="debit"),
    pytest.param(lambda ledger: Refund(wallet_id="acme", debit_id=_debit_id(ledger)), id="refund"),
    pytest.param(lambda _: PlaceHold(wallet_id="acme", amount=3), id="hold-generated-id"),
    pytest.param(lambda _: PlaceHold(wallet_id="acme", hold_id="h9", amount=3), id="hold"),
    pytest.param(lambda _: CaptureHold(wallet_id="acme", hold_id="h1", amount=4), id="capture"),
    pytest.param(lambda _: ReleaseHold(wallet_id="acme", hold_id="h2"), id="release"),
    pytest.param(
        lambda _: SetBudget(wallet_id="acme", budget_id="b", limit=99, period="month"), id="budget"
    ),
    pytest.param(lambda _: RemoveBudget(wallet_id="acme", budget_id="old"), id="remove-budget"),
]


@pytest.mark.parametrize("make", COMMANDS)
def test_repeat_with_the_same_key_replays_the_first_result(
    make: Callable[[CreditLedger], Command],
) -> None:
    # Given a command already done once with key k
    ledger = _prepared()
    command = make(ledger)
    keyed = type(command)(**{**vars(command), "idempotency_key": "k"})
    first = _send(ledger, keyed)
    recorded = version(ledger, "acme")

    # When it is sent again with the same key
    again = _send(ledger, keyed)

    # Then the first body comes back, marked replayed, and nothing new is recorded
    assert (first.replayed, again.replayed) == (False, True)
    assert again.body == first.body
    assert version(ledger, "acme") == recorded


@pytest.mark.parametrize("make", COMMANDS)
def test_same_key_for_a_different_request_is_a_conflict(
    make: Callable[[CreditLedger], Command],
) -> None:
    # Given key d0 was used for a debit of 40
    ledger = _prepared()
    command = make(ledger)
    before = version(ledger, "acme")

    # When another request is sent with key d0
    with pytest.raises(IdempotencyConflict) as refused:
        _send(ledger, type(command)(**{**vars(command), "idempotency_key": "d0"}))

    # Then idempotency_conflict, and nothing is recorded
    assert refused.value.code == "idempotency_conflict"
    assert version(ledger, "acme") == before


def test_debit_differing_only_in_amount_is_a_conflict() -> None:
    # Given a debit of 40 with key d0
    ledger = _prepared()

    # When a debit of 41 reuses d0 / Then idempotency_conflict
    with pytest.raises(IdempotencyConflict):
        ledger.debit(Debit(wallet_id="acme", amount=41, idempotency_key="d0"))


def test_keys_are_scoped_to_the_wallet() -> None:
    # Given two funded wallets
    ledger = make_ledger()
    open_funded_wallet(ledger, "acme")
    open_funded_wallet(ledger, "beta")

    # When each debits 10 with the same key k
    a = ledger.debit(Debit(wallet_id="acme", amount=10, idempotency_key="k"))
    b = ledger.debit(Debit(wallet_id="beta", amount=10, idempotency_key="k"))

    # Then both are new debits with distinct ids
    assert (a.replayed, b.replayed) == (False, False)
    assert a.body["debit_id"] != b.body["debit_id"]
    assert ledger.wallet("acme")["balance"]["available"] == 990
    assert ledger.wallet("beta")["balance"]["available"] == 990


def test_wallet_creation_keys_are_scoped_to_the_server() -> None:
    # Given wallet acme opened with key k
    ledger = make_ledger()
    first = ledger.open_wallet(OpenWallet(wallet_id="acme", idempotency_key="k"))

    # When acme is opened again with k, and beta with k
    again = ledger.open_wallet(OpenWallet(wallet_id="acme", idempotency_key="k"))
    with pytest.raises(IdempotencyConflict):
        ledger.open_wallet(OpenWallet(wallet_id="beta", idempotency_key="k"))

    # Then acme's replay is the first body and beta was never opened
    assert (again.replayed, again.body) == (True, first.body)
    with pytest.raises(WalletNotFound):
        ledger.wallet("beta")


def test_wallet_key_and_wallet_command_key_are_independent() -> None:
    # Given wallet acme opened with key k
    ledger = make_ledger()
    ledger.open_wallet(OpenWallet(wallet_id="acme", idempotency_key="k"))

    # When a grant on acme uses key k
    outcome = ledger.grant(
        GrantCredits(wallet_id="acme", amount=5, category="paid", idempotency_key="k")
    )

    # Then it is a new grant, not a conflict with the wallet's creation
    assert outcome.replayed is False
    assert ledger.wallet("acme")["balance"]["available"] == 5


def test_existing_wallet_without_a_key_is_wallet_exists() -> None:
    # Given wallet acme
    ledger = make_ledger()
    ledger.open_wallet(OpenWallet(wallet_id="acme", idempotency_key="k"))

    # When it is opened again without a key, or with another key
    for key in (None, "other"):
        with pytest.raises(WalletExists) as refused:
            ledger.open_wallet(OpenWallet(wallet_id="acme", idempotency_key=key))
        # Then wallet_exists
        assert refused.value.code == "wallet_exists"


def test_denied_command_keeps_nothing_so_its_retry_can_succeed() -> None:
    # Given a wallet with 1000 credits
    clock = FakeClock()
    ledger = make_ledger(clock=clock)
    open_funded_wallet(ledger)
    before = version(ledger, "acme")

    # When a debit of 1500 with key k is refused, credits are added, and it is retried
    with pytest.raises(InsufficientCredits):
        ledger.debit(Debit(wallet_id="acme", amount=1500, idempotency_key="k"))
    assert version(ledger, "acme") == before
    grant(ledger, "acme", "g2", 1000)
    retried = ledger.debit(Debit(wallet_id="acme", amount=1500, idempotency_key="k"))

    # Then the retry is a new, successful debit
    assert retried.replayed is False
    assert retried.body["balance"]["available"] == 500


def test_replay_after_the_balance_changed_returns_the_original_body() -> None:
    # Given a debit of 10 with key k, then other debits
    ledger = make_ledger()
    open_funded_wallet(ledger)
    first = ledger.debit(Debit(wallet_id="acme", amount=10, idempotency_key="k"))
    ledger.debit(Debit(wallet_id="acme", amount=100))
    ledger.debit(Debit(wallet_id="acme", amount=890))
    drained = version(ledger, "acme")

    # When the first debit is repeated, though the wallet now could not pay it
    again = ledger.debit(Debit(wallet_id="acme", amount=10, idempotency_key="k"))

    # Then the original body, balance 990 included, comes back and nothing is recorded
    assert again.replayed is True
    assert again.body == first.body
    assert again.body["balance"]["available"] == 990
    assert version(ledger, "acme") == drained
    assert ledger.wallet("acme")["balance"]["available"] == 0


def test_debits_without_a_key_are_distinct() -> None:
    # Given a funded wallet
    ledger = make_ledger()
    open_funded_wallet(ledger)

    # When the same debit is sent twice without a key
    a = ledger.debit(Debit(wallet_id="acme", amount=10))
    b = ledger.debit(Debit(wallet_id="acme", amount=10))

    # Then both are recorded as separate debits
    assert a.body["debit_id"] != b.body["debit_id"]
    assert ledger.wallet("acme")["balance"]["available"] == 980
