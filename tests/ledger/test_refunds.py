"""Refunds: credits of a debit go back to its grants, last-consumed first, at most once."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import uuid4

import pytest

from ledger.app.commands import Debit, PlaceHold, Refund, VoidGrant
from ledger.app.service import CreditLedger
from ledger.domain.errors import DebitNotFound, RefundExceedsDebit, ValidationFailed
from ledger.domain.ids import hold_record_id, wallet_uuid
from tests.support.builders import T0, FakeClock, at, make_ledger
from tests.support.wallets import event_types, grant, open_wallet, postings, version

CONSUMED = "platform:credits:consumed"
EXPIRED = "platform:credits:expired"
VOIDED = "platform:credits:voided"
G1, G2 = "wallet:acme:grant:g1", "wallet:acme:grant:g2"


def _debited(g1_expires_at: datetime | None = None) -> tuple[CreditLedger, FakeClock, str]:
    """acme: g1 of 30 (priority 0), g2 of 100; a debit of 50 took g1 30 then g2 20."""
    clock = FakeClock(T0)
    ledger = make_ledger(clock=clock)
    open_wallet(ledger)
    grant(ledger, "acme", "g1", 30, priority=0, expires_at=g1_expires_at)
    grant(ledger, "acme", "g2", 100)
    body = ledger.debit(Debit(wallet_id="acme", amount=50)).body
    assert body["allocations"] == [
        {"grant_id": "g1", "amount": 30},
        {"grant_id": "g2", "amount": 20},
    ]
    return ledger, clock, str(body["debit_id"])


def _refund(ledger: CreditLedger, debit_id: str, amount: int | None = None) -> dict[str, object]:
    body: dict[str, object] = ledger.refund(
        Refund(wallet_id="acme", debit_id=debit_id, amount=amount)
    ).body
    return body


def test_refund_returns_credits_last_consumed_first() -> None:
    # Given a debit of 50 that took g1 30 then g2 20
    ledger, _, debit_id = _debited()
    before = version(ledger, "acme")

    # When 25 are refunded
    body = _refund(ledger, debit_id, 25)

    # Then g2's 20 come back first, then 5 of g1's: DR consumed / CR grant
    assert body["allocations"] == [
        {"grant_id": "g2", "amount": 20, "to": "grant"},
        {"grant_id": "g1", "amount": 5, "to": "grant"},
    ]
    assert event_types(ledger, "acme", before) == ["DebitRefunded"]
    assert postings(ledger, "acme", before) == [
        {"debit": CONSUMED, "credit": G2, "amount": 20},
        {"debit": CONSUMED, "credit": G1, "amount": 5},
    ]
    assert (body["amount"], body["debit_id"]) == (25, debit_id)
    assert body["balance"] == {"available": 105, "held": 0, "debt": 0}


def test_refund_without_amount_returns_what_is_left() -> None:
    # Given a debit of 50 of which 25 were refunded (g2 20, g1 5)
    ledger, _, debit_id = _debited()
    _refund(ledger, debit_id, 25)

    # When it is refunded without an amount
    body = _refund(ledger, debit_id)

    # Then the remaining 25 all come from g1
    assert body["amount"] == 25
    assert body["allocations"] == [{"grant_id": "g1", "amount": 25, "to": "grant"}]
    assert body["balance"] == {"available": 130, "held": 0, "debt": 0}


def test_partial_refunds_accumulate_up_to_the_debit() -> None:
    # Given a debit of 50 refunded 10 three times
    ledger, _, debit_id = _debited()
    pieces = [_refund(ledger, debit_id, 10)["allocations"] for _ in range(3)]
    before = version(ledger, "acme")

    # When 21 more are asked for
    with pytest.raises(RefundExceedsDebit) as refused:
        _refund(ledger, debit_id, 21)

    # Then only 20 were left; the three refunds took g2 10, g2 10, g1 10
    assert refused.value.code == "refund_exceeds_debit"
    assert refused.value.details() == {"refundable": 20, "requested": 21}
    assert version(ledger, "acme") == before
    assert pieces == [
        [{"grant_id": "g2", "amount": 10, "to": "grant"}],
        [{"grant_id": "g2", "amount": 10, "to": "grant"}],
        [{"grant_id": "g1", "amount": 10, "to": "grant"}],
    ]


def test_refund_above_the_debit_is_refused() -> None:
    # Given a debit of 50
    ledger, _, debit_id = _debited()

    # When 51 are refunded / Then refund_exceeds_debit
    with pytest.raises(RefundExceedsDebit) as refused:
        _refund(ledger, debit_id, 51)
    assert refused.value.details() == {"refundable": 50, "requested": 51}


def test_refund_of_a_fully_refunded_debit_is_refused() -> None:
    # Given a debit of 50 refunded in full
    ledger, _, debit_id = _debited()
    _refund(ledger, debit_id)

    # When it is refunded again without an amount / Then nothing is left to refund
    with pytest.raises(RefundExceedsDebit) as refused:
        _refund(ledger, debit_id)
    assert refused.value.details()["refundable"] == 0


def test_refund_of_zero_is_a_validation_error() -> None:
    # Given a debit of 50
    ledger, _, debit_id = _debited()

    # When 0 is refunded / Then validation_error on amount
    with pytest.raises(ValidationFailed) as refused:
        _refund(ledger, debit_id, 0)
    assert refused.value.details()["errors"][0]["field"] == "amount"


def test_part_whose_grant_expired_goes_to_expired() -> None:
    # Given a debit of 50 (g1 30 then g2 20), g1 expiring at 01:00
    ledger, clock, debit_id = _debited(g1_expires_at=at("2026-01-01T01:00"))

    # When the whole debit is refunded at 02:00
    clock.set(at("2026-01-01T02:00"))
    before = version(ledger, "acme")
    body = _refund(ledger, debit_id)

    # Then g2 gets its 20 back and g1's 30 go DR consumed / CR expired
    assert body["allocations"] == [
        {"grant_id": "g2", "amount": 20, "to": "grant"},
        {"grant_id": "g1", "amount": 30, "to": "expired"},
    ]
    assert event_types(ledger, "acme", before) == ["GrantExpired", "DebitRefunded"]
    assert postings(ledger, "acme", before + 1) == [
        {"debit": CONSUMED, "credit": G2, "amount": 20},
        {"debit": CONSUMED, "credit": EXPIRED, "amount": 30},
    ]
    assert body["balance"] == {"available": 100, "held": 0, "debt": 0}


def test_part_whose_grant_was_voided_goes_to_voided() -> None:
    # Given a debit of 50 (g1 30 then g2 20), then g1 voided
    ledger, _, debit_id = _debited()
    ledger.void_grant(VoidGrant(wallet_id="acme", grant_id="g1"))
    before = version(ledger, "acme")

    # When 25 are refunded
    _refund(ledger, debit_id, 25)

    # Then g2 gets 20 back and g1's 5 go to voided, not back to the voided grant
    assert postings(ledger, "acme", before) == [
        {"debit": CONSUMED, "credit": G2, "amount": 20},
        {"debit": CONSUMED, "credit": VOIDED, "amount": 5},
    ]


@pytest.mark.parametrize(
    "debit_id",
    [
        pytest.param("not-a-uuid", id="garbage"),
        pytest.param(str(uuid4()), id="unknown-uuid"),
    ],
)
def test_unknown_debit_is_debit_not_found(debit_id: str) -> None:
    # Given a wallet with one debit
    ledger, _, _ = _debited()

    # When an unknown debit is refunded / Then debit_not_found
    with pytest.raises(DebitNotFound) as refused:
        _refund(ledger, debit_id, 1)
    assert refused.value.code == "debit_not_found"


def test_debit_of_another_wallet_is_debit_not_found() -> None:
    # Given a debit on wallet beta
    ledger, _, _ = _debited()
    open_wallet(ledger, "beta")
    grant(ledger, "beta", "g1", 100)
    beta_debit = ledger.debit(Debit(wallet_id="beta", amount=10)).body["debit_id"]

    # When it is refunded through acme / Then acme has no such debit
    with pytest.raises(DebitNotFound):
        _refund(ledger, beta_debit, 1)


def test_id_of_a_refund_is_not_a_debit() -> None:
    # Given a refund of a debit
    ledger, _, debit_id = _debited()
    refund_id = str(_refund(ledger, debit_id, 1)["refund_id"])

    # When the refund's id is refunded as if it were a debit / Then debit_not_found
    with pytest.raises(DebitNotFound):
        _refund(ledger, refund_id, 1)


@pytest.mark.parametrize(
    "debit_id",
    [
        pytest.param(str(wallet_uuid("acme")), id="wallet-aggregate-id"),
        pytest.param(str(hold_record_id("acme", "h1")), id="hold-record-id"),
    ],
)
def test_id_of_another_kind_of_record_is_debit_not_found(debit_id: str) -> None:
    # Given a wallet with a debit and a hold
    ledger, _, _ = _debited()
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=1))

    # When a refund names the uuid of the wallet or of the hold's record / Then debit_not_found
    with pytest.raises(DebitNotFound):
        _refund(ledger, debit_id, 1)


def test_refunded_credits_can_be_spent_again() -> None:
    # Given a wallet drained by debits of 50 and 80, with 25 of the first refunded
    ledger, clock, debit_id = _debited()
    ledger.debit(Debit(wallet_id="acme", amount=80))
    _refund(ledger, debit_id, 25)
    clock.advance(seconds=1)

    # When 25 are debited / Then they come from the grants the refund refilled, in policy order
    body = ledger.debit(Debit(wallet_id="acme", amount=25)).body
    assert body["allocations"] == [
        {"grant_id": "g1", "amount": 5},
        {"grant_id": "g2", "amount": 20},
    ]
    assert body["balance"]["available"] == 0


def test_refund_happens_at_the_clock_time_not_the_debit_time() -> None:
    # Given a debit at T0
    ledger, clock, debit_id = _debited()

    # When it is refunded a day later
    clock.advance(days=1)
    _refund(ledger, debit_id, 1)

    # Then the refund is dated then, and remembers when the debit happened
    event = ledger.wallet_events("acme", version(ledger, "acme") - 1)["events"][0]
    assert event["occurred_at"] == T0 + timedelta(days=1)
    assert event["data"]["debited_at"] == T0
