"""Holds: reserve from pinned grants, then resolve exactly once (capture or release)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from ledger.app.commands import CaptureHold, PlaceHold, ReleaseHold
from ledger.app.service import CreditLedger
from ledger.domain.errors import (
    HoldExists,
    HoldNotFound,
    HoldNotOpen,
)
from tests.support.builders import T0, FakeClock, make_ledger
from tests.support.wallets import grant, held_wallet, open_wallet, postings, version

CONSUMED = "platform:credits:consumed"
G1, G2 = "wallet:acme:grant:g1", "wallet:acme:grant:g2"
HOLDS = "wallet:acme:holds"


def test_hold_pins_grants_and_moves_credits_to_holds() -> None:
    # Given g1 of 30 (priority 0) and g2 of 100
    ledger = make_ledger()
    open_wallet(ledger)
    grant(ledger, "acme", "g1", 30, priority=0)
    grant(ledger, "acme", "g2", 100)

    # When a hold of 50 is placed
    body = ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=50)).body

    # Then g1's 30 and 20 of g2 move DR grant / CR holds
    assert body["allocations"] == [
        {"grant_id": "g1", "amount": 30},
        {"grant_id": "g2", "amount": 20},
    ]
    assert postings(ledger, "acme", 3) == [
        {"debit": G1, "credit": HOLDS, "amount": 30},
        {"debit": G2, "credit": HOLDS, "amount": 20},
    ]
    assert (body["status"], body["balance"]) == ("open", {"available": 80, "held": 50, "debt": 0})
    assert body["expires_at"] == T0 + timedelta(minutes=15)  # the default duration
    held = {g["grant_id"]: (g["remaining"], g["held"]) for g in ledger.wallet("acme")["grants"]}
    assert held == {"g1": (0, 30), "g2": (80, 20)}


def test_partial_capture_consumes_in_pinned_order_and_releases_the_rest() -> None:
    # Given hold h1 of 50 = g1 30 + g2 20
    ledger, before = held_wallet()

    # When 30 are captured
    body = ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h1", amount=30)).body

    # Then g1's 30 are consumed and g2's 20 go back to g2
    assert postings(ledger, "acme", before) == [
        {"debit": HOLDS, "credit": CONSUMED, "amount": 30},
        {"debit": HOLDS, "credit": G2, "amount": 20},
    ]
    assert {k: body[k] for k in ("status", "captured", "released", "overage", "debt_incurred")} == {
        "status": "captured",
        "captured": 30,
        "released": 20,
        "overage": 0,
        "debt_incurred": 0,
    }
    assert body["balance"] == {"available": 100, "held": 0, "debt": 0}


def test_capture_without_amount_captures_everythingheld_wallet() -> None:
    # Given hold h1 of 50
    ledger, before = held_wallet()

    # When it is captured without an amount
    body = ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h1")).body

    # Then all 50 are consumed and nothing released
    assert (body["captured"], body["released"]) == (50, 0)
    assert postings(ledger, "acme", before) == [
        {"debit": HOLDS, "credit": CONSUMED, "amount": 30},
        {"debit": HOLDS, "credit": CONSUMED, "amount": 20},
    ]
    assert body["balance"] == {"available": 80, "held": 0, "debt": 0}


def test_release_returns_every_held_credit_to_its_grant() -> None:
    # Given hold h1 of 50 = g1 30 + g2 20
    ledger, before = held_wallet()

    # When it is released
    body = ledger.release_hold(ReleaseHold(wallet_id="acme", hold_id="h1")).body

    # Then DR holds / CR each grant, and the wallet is back to 130
    assert postings(ledger, "acme", before) == [
        {"debit": HOLDS, "credit": G1, "amount": 30},
        {"debit": HOLDS, "credit": G2, "amount": 20},
    ]
    assert (body["status"], body["released"]) == ("released", 50)
    assert body["balance"] == {"available": 130, "held": 0, "debt": 0}


def _capture(ledger: CreditLedger) -> Any:
    return ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h1", amount=10))


def _release(ledger: CreditLedger) -> Any:
    return ledger.release_hold(ReleaseHold(wallet_id="acme", hold_id="h1"))


@pytest.mark.parametrize(
    ("first", "second", "status"),
    [
        pytest.param(_capture, _capture, "captured", id="capture-then-capture"),
        pytest.param(_capture, _release, "captured", id="capture-then-release"),
        pytest.param(_release, _capture, "released", id="release-then-capture"),
        pytest.param(_release, _release, "released", id="release-then-release"),
    ],
)
def test_hold_resolves_exactly_once(
    first: Callable[[CreditLedger], Any], second: Callable[[CreditLedger], Any], status: str
) -> None:
    # Given hold h1 resolved once
    ledger, _ = held_wallet()
    first(ledger)
    before = version(ledger, "acme")

    # When it is resolved again
    with pytest.raises(HoldNotOpen) as refused:
        second(ledger)

    # Then hold_not_open names how it was resolved, and nothing is recorded
    assert refused.value.details() == {"status": status}
    assert version(ledger, "acme") == before


@pytest.mark.parametrize(
    "resolve", [None, _capture, _release], ids=["open", "captured", "released"]
)
def test_hold_id_can_never_be_reused(resolve: Callable[[CreditLedger], Any] | None) -> None:
    # Given hold h1, open or already resolved
    ledger, _ = held_wallet()
    if resolve is not None:
        resolve(ledger)
    before = version(ledger, "acme")

    # When another hold is placed with id h1
    with pytest.raises(HoldExists) as refused:
        ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=1))

    # Then hold_exists, and nothing is recorded
    assert refused.value.code == "hold_exists"
    assert version(ledger, "acme") == before


@pytest.mark.parametrize("swept", [False, True], ids=["expiry-unrecorded", "expiry-recorded"])
def test_expired_hold_id_can_never_be_reused(swept: bool) -> None:
    # Given hold h1 past its expiry, its expiry recorded by a sweep or not yet
    clock = FakeClock(T0)
    ledger = make_ledger(clock=clock)
    open_wallet(ledger)
    grant(ledger, "acme", "g1", 100)
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=10))
    clock.advance(minutes=20)
    if swept:
        ledger.sweep()
    before = version(ledger, "acme")

    # When another hold is placed with id h1 / Then hold_exists, and nothing is recorded
    with pytest.raises(HoldExists):
        ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=1))
    assert version(ledger, "acme") == before


@pytest.mark.parametrize(
    ("resolve", "expected"),
    [
        pytest.param(None, {"status": "open", "amount": 50}, id="open"),
        pytest.param(
            _capture,
            {"status": "captured", "captured": 10, "released": 40, "overage": 0},
            id="captured",
        ),
        pytest.param(
            _release,
            {"status": "released", "captured": 0, "released": 50, "overage": 0},
            id="released",
        ),
    ],
)
def test_get_hold_reports_its_state(
    resolve: Callable[[CreditLedger], Any] | None, expected: dict[str, Any]
) -> None:
    # Given hold h1 of 50, maybe resolved
    ledger, _ = held_wallet()
    if resolve is not None:
        resolve(ledger)

    # When it is read
    view = ledger.hold("acme", "h1")

    # Then it reports its status and outcome, and keeps its allocations
    assert {k: view[k] for k in expected} == expected
    assert (view["hold_id"], view["amount"]) == ("h1", 50)
    assert view["allocations"] == [
        {"grant_id": "g1", "amount": 30},
        {"grant_id": "g2", "amount": 20},
    ]


def test_unknown_hold_is_hold_not_found() -> None:
    # Given a wallet with hold h1 only
    ledger, _ = held_wallet()

    # When h2 is read, captured or released / Then hold_not_found each time
    with pytest.raises(HoldNotFound):
        ledger.hold("acme", "h2")
    with pytest.raises(HoldNotFound):
        ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h2"))
    with pytest.raises(HoldNotFound):
        ledger.release_hold(ReleaseHold(wallet_id="acme", hold_id="h2"))
