"""Rollover by hand: what is carried, what expires, the postings, and who spends first.

Monthly allowances in UTC from 1 January 2026; ids ``plan:<period start>`` (decision 0018).
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger.app.commands import (
    CaptureHold,
    Debit,
    OpenWallet,
    PlaceHold,
    ReleaseHold,
    SetAllowance,
)
from ledger.app.service import CreditLedger
from ledger.domain.errors import HoldNotOpen
from tests.support.builders import FakeClock, at, make_ledger
from tests.support.wallets import account_balances, event_types, events, postings, version

W = "acme"
JAN, FEB, MAR = (f"plan:2026-0{m}-01T00:00:00Z" for m in (1, 2, 3))
EXPIRED = "platform:credits:expired"
ISSUED = "platform:credits:issued:promotional"


def _account(grant_id: str) -> str:
    return "wallet:acme:grant:" + grant_id.replace(":", "%3A")


def _ledger(overdraft_limit: int = 0, **terms: Any) -> tuple[CreditLedger, FakeClock]:
    """acme from 1 January with allowance ``plan``: 1000 a month unless ``terms`` say else."""
    clock = FakeClock(at("2026-01-01T00:00"))
    ledger = make_ledger(clock=clock)
    ledger.open_wallet(OpenWallet(wallet_id=W, overdraft_limit=overdraft_limit))
    terms.setdefault("amount", 1000)
    ledger.set_allowance(SetAllowance(wallet_id=W, allowance_id="plan", period="month", **terms))
    return ledger, clock


def _spend(ledger: CreditLedger, amount: int) -> list[dict[str, Any]]:
    allocations: list[dict[str, Any]] = ledger.debit(Debit(wallet_id=W, amount=amount)).body[
        "allocations"
    ]
    return allocations


def _remaining(ledger: CreditLedger) -> dict[str, int]:
    return {g["grant_id"]: g["remaining"] for g in ledger.wallet(W)["grants"]}


def test_a_capped_rollover_carries_the_cap_and_only_the_rest_is_breakage() -> None:
    # Given 1000 for January, rolling over at most 300; 600 spent in January
    ledger, clock = _ledger(rollover={"max_amount": 300})
    clock.set(at("2026-01-20T00:00"))
    _spend(ledger, 600)
    stored = version(ledger, W)

    # When the wallet is touched on 1 February
    clock.set(at("2026-02-01T00:00"))
    ledger.sweep()

    # Then 300 of the 400 left move to February's rollover grant (not breakage), 100 expire,
    # and February's 1000 are issued
    assert event_types(ledger, W, stored) == ["RolloverGranted", "GrantExpired", "AllowanceGranted"]
    assert postings(ledger, W, stored) == [
        {"debit": _account(JAN), "credit": _account(f"{FEB}:rollover"), "amount": 300},
        {"debit": _account(JAN), "credit": EXPIRED, "amount": 100},
        {"debit": ISSUED, "credit": _account(FEB), "amount": 1000},
    ]
    balances = account_balances(postings(ledger, W))
    assert sum(balances.values()) == 0
    assert balances[EXPIRED] == -100
    assert ledger.wallet(W)["balance"]["available"] == 1300
    rollover = next(g for g in ledger.wallet(W)["grants"] if g["grant_id"] == f"{FEB}:rollover")
    assert (rollover["category"], rollover["effective_at"], rollover["expires_at"]) == (
        "rollover",
        at("2026-02-01T00:00"),
        at("2026-03-01T00:00"),
    )


def test_an_uncapped_rollover_carries_everything_and_never_rolls_again() -> None:
    # Given 1000 a month with uncapped rollover; 600 spent in January
    ledger, clock = _ledger(rollover={"max_amount": None})
    clock.set(at("2026-01-20T00:00"))
    _spend(ledger, 600)

    # When 100 are spent on 10 February and the wallet is read on 1 March
    clock.set(at("2026-02-10T00:00"))
    february = _spend(ledger, 100)
    clock.set(at("2026-03-01T00:00"))
    ledger.sweep()

    # Then January's 400 all rolled over (nothing expired then); February spent the rollover
    # first (it cannot roll again); on 1 March the rollover's 300 expired and February's
    # whole 1000 rolled over
    assert february == [{"grant_id": f"{FEB}:rollover", "amount": 100}]
    kinds = [
        (e["type"], e["data"]["grant_id"], e["data"]["amount"])
        for e in events(ledger, W)
        if "grant_id" in e["data"]
    ]
    assert kinds[-7:] == [
        ("RolloverGranted", f"{FEB}:rollover", 400),
        ("GrantExpired", JAN, 0),
        ("AllowanceGranted", FEB, 1000),
        ("RolloverGranted", f"{MAR}:rollover", 1000),
        ("GrantExpired", FEB, 0),
        ("GrantExpired", f"{FEB}:rollover", 300),
        ("AllowanceGranted", MAR, 1000),
    ]
    assert ledger.wallet(W)["balance"]["available"] == 2000


def test_a_paid_allowance_spends_its_rollover_first_too() -> None:
    # Given a paid allowance with uncapped rollover; 900 spent in January
    ledger, clock = _ledger(category="paid", rollover={"max_amount": None})
    clock.set(at("2026-01-20T00:00"))
    _spend(ledger, 900)

    # When 150 are spent in February
    clock.set(at("2026-02-02T00:00"))
    allocations = _spend(ledger, 150)

    # Then the 100 carried over go first (made earlier, same expiry), then February's grant
    assert allocations == [
        {"grant_id": f"{FEB}:rollover", "amount": 100},
        {"grant_id": FEB, "amount": 50},
    ]


def test_the_rollover_a_period_was_granted_with_decides_what_it_carries() -> None:
    # Given 1000 for January rolling over at most 500, changed on 10 January to no rollover
    ledger, clock = _ledger(rollover={"max_amount": 500})
    clock.set(at("2026-01-10T00:00"))
    ledger.set_allowance(
        SetAllowance(wallet_id=W, allowance_id="plan", amount=1000, period="month")
    )

    # When the wallet is read on 1 March
    clock.set(at("2026-03-01T00:00"))

    # Then January (granted under the cap of 500) rolled 500 into February; February
    # (granted without rollover) carried nothing into March
    remaining = _remaining(ledger)
    assert f"{FEB}:rollover" in remaining
    assert f"{MAR}:rollover" not in remaining
    assert ledger.wallet(W)["balance"]["available"] == 1000


def test_nothing_rolls_over_into_a_period_that_does_not_follow_straight_on() -> None:
    # Given 1000 for January rolling over uncapped, changed on 10 January to weekly
    # (its first week starts on Monday 2 February, a day after January ends)
    ledger, clock = _ledger(rollover={"max_amount": None})
    clock.set(at("2026-01-10T00:00"))
    ledger.set_allowance(
        SetAllowance(
            wallet_id=W,
            allowance_id="plan",
            amount=250,
            period="week",
            rollover={"max_amount": None},
        )
    )

    # When the wallet is read on 1 February
    clock.set(at("2026-02-01T12:00"))

    # Then January's 1000 expired whole: there is no allowance period on 1 February
    assert ledger.wallet(W)["balance"]["available"] == 0
    assert ledger.allowance(W, "plan")["next_grant_at"] == at("2026-02-02T00:00")


def test_credits_on_hold_at_the_period_end_do_not_roll_over() -> None:
    # Given 1000 for January rolling over uncapped; a hold of 100 placed on 31 January
    ledger, clock = _ledger(rollover={"max_amount": None})
    clock.set(at("2026-01-31T23:00"))
    ledger.place_hold(
        PlaceHold(wallet_id=W, hold_id="h1", amount=100, expires_at=at("2026-02-01T01:00"))
    )

    # When 30 are captured on 1 February and the rest released
    clock.set(at("2026-02-01T00:30"))
    ledger.capture_hold(CaptureHold(wallet_id=W, hold_id="h1", amount=30))
    stored = version(ledger, W)

    # Then only the 900 not held rolled over; the 70 released after January ended expired
    assert _remaining(ledger)[f"{FEB}:rollover"] == 900
    released = postings(ledger, W, stored - 1)
    assert {"debit": "wallet:acme:holds", "credit": EXPIRED, "amount": 70} in released
    assert ledger.wallet(W)["balance"] == {"available": 1900, "held": 0, "debt": 0}
    with pytest.raises(HoldNotOpen):  # the capture closed it: nothing left to release
        ledger.release_hold(ReleaseHold(wallet_id=W, hold_id="h1"))


def test_a_period_grant_pays_debt_first_dated_at_the_period_start() -> None:
    # Given January's 1000 overspent by 40 (overdraft 100) with an overage capture
    ledger, clock = _ledger(overdraft_limit=100)
    clock.set(at("2026-01-20T00:00"))
    ledger.place_hold(PlaceHold(wallet_id=W, hold_id="h1", amount=1000))
    ledger.capture_hold(CaptureHold(wallet_id=W, hold_id="h1", amount=1040, allow_overage=True))
    stored = version(ledger, W)

    # When February is recorded
    clock.set(at("2026-02-03T00:00"))
    ledger.sweep()

    # Then February's grant settled the 40 on 1 February
    settled = [e for e in events(ledger, W, stored) if e["type"] == "DebtSettled"]
    assert [(e["occurred_at"], e["data"]["grant_id"], e["data"]["amount"]) for e in settled] == [
        (at("2026-02-01T00:00"), FEB, 40)
    ]
    assert ledger.wallet(W)["balance"] == {"available": 960, "held": 0, "debt": 0}
