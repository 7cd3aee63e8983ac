"""Resharding keeps allowances: their events, their terms and where their schedule stands,
so the copy goes on granting and rolling over exactly as the source would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ledger.app.commands import Debit, OpenWallet, RemoveAllowance, SetAllowance
from ledger.app.reshard import reshard
from ledger.app.service import CreditLedger
from tests.support.builders import FakeClock, at, make_ledger
from tests.support.reshard import url

WALLETS = [f"w{n}" for n in range(6)]


def _populate(ledger: CreditLedger, clock: FakeClock) -> None:
    """Daily and monthly allowances on every wallet, some rolling over, one removed; two
    days pass and are swept, so grants, rollovers and expiries are all recorded."""
    for n, wallet_id in enumerate(WALLETS):
        ledger.open_wallet(OpenWallet(wallet_id=wallet_id))
        ledger.set_allowance(
            SetAllowance(
                wallet_id=wallet_id,
                allowance_id="daily",
                amount=10 + n,
                period="day",
                timezone="America/Santiago",
                rollover={"max_amount": 5} if n % 2 else None,
            )
        )
        ledger.set_allowance(
            SetAllowance(
                wallet_id=wallet_id,
                allowance_id="monthly",
                amount=1000,
                period="month",
                rollover={"max_amount": None},
                starts_at=at("2026-01-01T00:00"),
            )
        )
    clock.set(at("2026-01-02T12:00"))
    for wallet_id in WALLETS:
        ledger.debit(Debit(wallet_id=wallet_id, amount=3))
    ledger.remove_allowance(RemoveAllowance(wallet_id=WALLETS[0], allowance_id="daily"))
    clock.set(at("2026-01-03T12:00"))
    ledger.sweep()


def _state(ledger: CreditLedger, *, recorded_at: bool = True) -> dict[str, Any]:
    """What clients read of the wallets; ``recorded_at`` False leaves out when events were
    stored (the store's own clock, which differs for events each store records itself)."""
    return {
        wallet_id: {
            "wallet": ledger.wallet(wallet_id),
            "events": [
                {k: v for k, v in event.items() if recorded_at or k != "recorded_at"}
                for event in ledger.wallet_events(wallet_id, limit=1000)["events"]
            ],
            "allowances": ledger.allowances(wallet_id),
        }
        for wallet_id in WALLETS
    }


def test_a_resharded_store_keeps_allowances_and_goes_on_granting_alike(tmp_path: Path) -> None:
    clock = FakeClock(at("2026-01-01T00:00"))
    source = make_ledger(url(tmp_path, "source"), clock=clock)
    target = make_ledger(url(tmp_path, "target"), clock=clock, env={"SHARDS": "3"})
    try:
        _populate(source, clock)
        recorded = {e["type"] for e in source.wallet_events(WALLETS[1], limit=1000)["events"]}
        assert {"AllowanceSet", "AllowanceGranted", "RolloverGranted"} <= recorded

        reshard(source, target)

        assert _state(target) == _state(source)
        # and a month on, both record the same periods, rollovers and expiries
        clock.set(at("2026-02-03T00:00"))
        assert target.sweep() == source.sweep() > 0
        assert _state(target, recorded_at=False) == _state(source, recorded_at=False)
    finally:
        source.close()
        target.close()
