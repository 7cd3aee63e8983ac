"""Expiry: a grant is usable in [effective_at, expires_at); holds auto-release at expires_at."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from ledger.app.commands import CaptureHold, Debit, PlaceHold
from ledger.app.service import CreditLedger
from ledger.domain.errors import HoldNotOpen, InsufficientCredits, ValidationFailed, WalletNotFound
from tests.support.builders import T0, FakeClock, at, make_ledger
from tests.support.wallets import event_types, events, grant, open_wallet, postings, version

EXPIRED = "platform:credits:expired"
G1 = "wallet:acme:grant:g1"
HOLDS = "wallet:acme:holds"
US = timedelta(microseconds=1)


def _expiring_wallet() -> tuple[CreditLedger, FakeClock]:
    """acme at T0: g1 = 100 expiring 01:00, g2 = 10 never expiring."""
    clock = FakeClock(T0)
    ledger = make_ledger(clock=clock)
    open_wallet(ledger)
    grant(ledger, "acme", "g1", 100, expires_at=at("2026-01-01T01:00"))
    grant(ledger, "acme", "g2", 10)
    return ledger, clock


def test_grant_is_usable_from_its_effective_at() -> None:
    # Given g1 of 100 effective at 01:00
    clock = FakeClock(T0)
    ledger = make_ledger(clock=clock)
    open_wallet(ledger)
    grant(ledger, "acme", "g1", 100, effective_at=at("2026-01-01T01:00"))

    # When a debit is tried one microsecond before, and then exactly at 01:00
    clock.set(at("2026-01-01T01:00") - US)
    with pytest.raises(InsufficientCredits):
        ledger.debit(Debit(wallet_id="acme", amount=1))
    clock.set(at("2026-01-01T01:00"))
    body = ledger.debit(Debit(wallet_id="acme", amount=1)).body

    # Then only the second used g1
    assert body["allocations"] == [{"grant_id": "g1", "amount": 1}]


def test_grant_is_usable_until_just_before_expires_at() -> None:
    # Given g1 of 100 expiring at 01:00 and g2 of 10
    ledger, clock = _expiring_wallet()

    # When 100 is debited one microsecond before 01:00
    clock.set(at("2026-01-01T01:00") - US)
    body = ledger.debit(Debit(wallet_id="acme", amount=100)).body

    # Then g1 covered it
    assert body["allocations"] == [{"grant_id": "g1", "amount": 100}]


def test_debit_exactly_at_expires_at_cannot_use_the_grant() -> None:
    # Given g1 of 100 expiring at 01:00 and g2 of 10
    ledger, clock = _expiring_wallet()

    # When 11 is debited at exactly 01:00
    clock.set(at("2026-01-01T01:00"))
    with pytest.raises(InsufficientCredits) as refused:
        ledger.debit(Debit(wallet_id="acme", amount=11))

    # Then only g2's 10 were available
    assert refused.value.details() == {"available": 10, "requested": 11}


def test_expiry_is_recorded_at_expires_at_on_the_first_touch_after_it() -> None:
    # Given g1 of 100 expiring at 01:00, of which 40 were debited at 00:30
    ledger, clock = _expiring_wallet()
    clock.set(at("2026-01-01T00:30"))
    ledger.debit(Debit(wallet_id="acme", amount=40))
    before = version(ledger, "acme")

    # When the wallet is next touched at 01:30 (a debit of 5)
    clock.set(at("2026-01-01T01:30"))
    ledger.debit(Debit(wallet_id="acme", amount=5))

    # Then the expiry of the 60 left is recorded first, dated 01:00, then the debit at 01:30
    recorded = events(ledger, "acme", before)
    assert [(e["type"], e["occurred_at"]) for e in recorded] == [
        ("GrantExpired", at("2026-01-01T01:00")),
        ("CreditsDebited", at("2026-01-01T01:30")),
    ]
    assert recorded[0]["data"]["postings"] == [{"debit": G1, "credit": EXPIRED, "amount": 60}]
    assert recorded[1]["data"]["allocations"] == [{"grant_id": "g2", "amount": 5}]


def test_sweep_records_due_expiries_once() -> None:
    # Given g1 of 100 expiring at 01:00, and the clock at 03:00
    ledger, clock = _expiring_wallet()
    clock.set(at("2026-01-01T03:00"))
    before = version(ledger, "acme")

    # When the sweep runs twice
    first, second = ledger.sweep(), ledger.sweep()

    # Then the first recorded one expiry dated 01:00 and the second nothing
    assert (first, second) == (1, 0)
    (expiry,) = events(ledger, "acme", before)
    assert (expiry["type"], expiry["occurred_at"]) == ("GrantExpired", at("2026-01-01T01:00"))
    assert expiry["data"]["postings"] == [{"debit": G1, "credit": EXPIRED, "amount": 100}]


def test_expire_due_touches_only_the_named_wallet() -> None:
    # Given two wallets, each with a grant expiring at 01:00
    clock = FakeClock(T0)
    ledger = make_ledger(clock=clock)
    for wallet_id in ("acme", "beta"):
        open_wallet(ledger, wallet_id)
        grant(ledger, wallet_id, "g1", 100, expires_at=at("2026-01-01T01:00"))
    clock.set(at("2026-01-01T02:00"))

    # When expiries are recorded for acme only
    recorded = ledger.expire_due("acme")

    # Then acme has its GrantExpired and beta has not (yet)
    assert recorded == 1
    assert event_types(ledger, "acme")[-1] == "GrantExpired"
    assert event_types(ledger, "beta")[-1] == "CreditsGranted"


def test_read_at_expires_at_never_counts_the_grant_even_before_the_event_exists() -> None:
    # Given g1 of 100 expiring at 01:00 and g2 of 10, and nothing recorded since
    ledger, clock = _expiring_wallet()
    before = version(ledger, "acme")

    # When the wallet is read at exactly 01:00
    clock.set(at("2026-01-01T01:00"))
    view = ledger.wallet("acme")

    # Then g1 is expired and not counted, and the read recorded nothing
    assert view["balance"] == {"available": 10, "held": 0, "debt": 0}
    assert {g["grant_id"]: g["status"] for g in view["grants"]} == {"g1": "expired", "g2": "active"}
    assert view["version"] == before
    assert "GrantExpired" not in event_types(ledger, "acme")


@pytest.mark.parametrize(
    ("as_of", "available"),
    [
        pytest.param(at("2026-01-01T00:30") - US, 110, id="just-before-the-debit"),
        pytest.param(at("2026-01-01T00:30"), 70, id="at-the-debit"),
        pytest.param(at("2026-01-01T01:00") - US, 70, id="just-before-expiry"),
        pytest.param(at("2026-01-01T01:00"), 10, id="at-expiry"),
        pytest.param(at("2026-01-01T01:30"), 10, id="after-expiry"),
    ],
)
def test_as_of_read_answers_from_history_at_exact_boundaries(
    as_of: datetime, available: int
) -> None:
    # Given g1 100 (expiring 01:00) and g2 10 at T0, a debit of 40 at 00:30, a sweep at 02:00
    ledger, clock = _expiring_wallet()
    clock.set(at("2026-01-01T00:30"))
    ledger.debit(Debit(wallet_id="acme", amount=40))
    clock.set(at("2026-01-01T02:00"))
    ledger.sweep()

    # When the wallet is read as of a past instant
    view = ledger.wallet("acme", as_of=as_of)

    # Then the balance is the one the ledger had then
    assert view["balance"] == {"available": available, "held": 0, "debt": 0}


def test_as_of_an_event_time_includes_that_event() -> None:
    # Given the wallet at version 3, and a debit recorded at 00:30 as version 4
    ledger, clock = _expiring_wallet()
    clock.set(at("2026-01-01T00:30"))
    ledger.debit(Debit(wallet_id="acme", amount=40))
    clock.set(at("2026-01-01T00:45"))

    # When it is read as of just before 00:30 and as of 00:30 exactly
    before, on = (
        ledger.wallet("acme", as_of=at("2026-01-01T00:30") - US),
        ledger.wallet("acme", as_of=at("2026-01-01T00:30")),
    )

    # Then the first is version 3 without the debit and the second version 4 with it
    assert (before["version"], before["balance"]["available"]) == (3, 110)
    assert (on["version"], on["balance"]["available"]) == (4, 70)
    assert (before["as_of"], on["as_of"]) == (at("2026-01-01T00:30") - US, at("2026-01-01T00:30"))


def test_as_of_before_the_wallet_was_opened_is_wallet_not_found() -> None:
    # Given a wallet opened at T0
    ledger, clock = _expiring_wallet()
    clock.set(at("2026-01-01T02:00"))

    # When it is read as of a microsecond before T0 / Then it did not exist yet
    with pytest.raises(WalletNotFound):
        ledger.wallet("acme", as_of=T0 - US)


def test_as_of_without_an_offset_is_refused() -> None:
    # Given a wallet
    ledger, _ = _expiring_wallet()

    # When it is read as of a naive time / Then validation_error names as_of
    with pytest.raises(ValidationFailed) as refused:
        ledger.wallet("acme", as_of=datetime(2026, 1, 1))  # noqa: DTZ001
    assert refused.value.details()["errors"][0]["field"] == "as_of"


def _hold_on_g1(expires_at: datetime) -> tuple[CreditLedger, FakeClock, int]:
    """acme: g1 of 100 expiring at 01:00, hold h1 of 50 on it; returns the version after it."""
    clock = FakeClock(T0)
    ledger = make_ledger(clock=clock)
    open_wallet(ledger)
    grant(ledger, "acme", "g1", 100, expires_at=at("2026-01-01T01:00"))
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=50, expires_at=expires_at))
    return ledger, clock, version(ledger, "acme")


def test_expired_hold_is_released_back_to_its_grant() -> None:
    # Given a hold of 50 on g1, expiring at 00:15
    ledger, clock, before = _hold_on_g1(at("2026-01-01T00:15"))

    # When the sweep runs at 00:20
    clock.set(at("2026-01-01T00:20"))
    ledger.sweep()

    # Then HoldExpired is dated 00:15 and moves the 50 DR holds / CR g1
    (expired,) = events(ledger, "acme", before)
    assert (expired["type"], expired["occurred_at"]) == ("HoldExpired", at("2026-01-01T00:15"))
    assert expired["data"]["postings"] == [{"debit": HOLDS, "credit": G1, "amount": 50}]
    assert ledger.wallet("acme")["balance"] == {"available": 100, "held": 0, "debt": 0}
    assert ledger.hold("acme", "h1")["status"] == "expired"


def test_expired_hold_whose_grant_expired_meanwhile_goes_to_expired() -> None:
    # Given a hold of 50 on g1 (g1 expires 01:00), the hold expiring at 01:10
    ledger, clock, before = _hold_on_g1(at("2026-01-01T01:10"))

    # When the sweep runs at 02:00
    clock.set(at("2026-01-01T02:00"))
    ledger.sweep()

    # Then g1's free 50 expire at 01:00, and at 01:10 the held 50 go to expired too
    assert [(e["type"], e["occurred_at"]) for e in events(ledger, "acme", before)] == [
        ("GrantExpired", at("2026-01-01T01:00")),
        ("HoldExpired", at("2026-01-01T01:10")),
    ]
    assert postings(ledger, "acme", before) == [
        {"debit": G1, "credit": EXPIRED, "amount": 50},
        {"debit": HOLDS, "credit": EXPIRED, "amount": 50},
    ]
    assert ledger.wallet("acme")["balance"] == {"available": 0, "held": 0, "debt": 0}


def test_read_at_hold_expiry_shows_credits_released_before_the_event_exists() -> None:
    # Given a hold of 50 on g1, expiring at 00:15, nothing recorded since
    ledger, clock, before = _hold_on_g1(at("2026-01-01T00:15"))

    # When the wallet and the hold are read at exactly 00:15
    clock.set(at("2026-01-01T00:15"))
    view, hold = ledger.wallet("acme"), ledger.hold("acme", "h1")

    # Then the hold is expired and its credits are available again; nothing was recorded
    assert view["balance"] == {"available": 100, "held": 0, "debt": 0}
    assert (hold["status"], hold["captured"], hold["released"]) == ("expired", 0, 50)
    assert version(ledger, "acme") == before


@pytest.mark.parametrize("swept", [False, True], ids=["expiry-unrecorded", "expiry-recorded"])
def test_expired_hold_cannot_be_captured(swept: bool) -> None:
    # Given a hold of 50 expiring at 00:15, and the clock at exactly 00:15
    ledger, clock, _ = _hold_on_g1(at("2026-01-01T00:15"))
    clock.set(at("2026-01-01T00:15"))
    if swept:
        ledger.sweep()
    before = version(ledger, "acme")

    # When it is captured
    with pytest.raises(HoldNotOpen) as refused:
        ledger.capture_hold(CaptureHold(wallet_id="acme", hold_id="h1", amount=10))

    # Then hold_not_open with status expired, and the refusal recorded nothing
    assert refused.value.code == "hold_not_open"
    assert refused.value.details() == {"status": "expired"}
    assert version(ledger, "acme") == before
