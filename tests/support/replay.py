"""Replaying a wallet: drive every event type, fold the log, compare states."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import Recording

from ledger.app.commands import (
    CaptureHold,
    Debit,
    GrantCredits,
    OpenWallet,
    PlaceHold,
    PutPriceBook,
    Refund,
    ReleaseHold,
    RemoveAllowance,
    RemoveBudget,
    SetAllowance,
    SetBudget,
    VoidGrant,
)
from ledger.app.service import CreditLedger
from ledger.domain.events import WalletEvent
from ledger.domain.ids import wallet_uuid
from ledger.domain.wallet import Wallet
from ledger.store.env import store_env
from tests.support.builders import T0, FakeClock

__all__ = [
    "ALICE",
    "WALLET",
    "RecordingLedger",
    "drive_every_event_type",
    "fold",
    "live",
    "loaded",
    "recording_ledger",
    "replayed",
    "state",
]


WALLET = "acme"


ALICE = {"user_id": "alice"}


class RecordingLedger(CreditLedger):
    """A CreditLedger that keeps a copy of each wallet exactly as its last command left it."""

    def __init__(self, env: Mapping[str, str], *, clock: FakeClock) -> None:
        super().__init__(env, clock=clock)
        self.saved: dict[UUID, Wallet] = {}

    def save(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        recordings: list[Recording[UUID]] = super().save(*objs, **kwargs)
        for obj in objs:
            if isinstance(obj, Wallet):
                self.saved[obj.id] = copy.deepcopy(obj)
        return recordings


def recording_ledger(url: str = "memory://", *, clock: FakeClock) -> RecordingLedger:
    return RecordingLedger(store_env(url), clock=clock)


def live(ledger: RecordingLedger, wallet_id: str = WALLET) -> Wallet:
    """The aggregate the commands drove, as it was when last saved."""
    return ledger.saved[wallet_uuid(wallet_id)]


def loaded(ledger: CreditLedger, wallet_id: str = WALLET) -> Wallet:
    """What the application's repository returns (cache, snapshot, fast-forward)."""
    wallet: Wallet = ledger.repository.get(wallet_uuid(wallet_id))
    return wallet


def fold(aggregate: Wallet | None, events: Iterable[object]) -> Wallet:
    """Apply stored wallet events in order, as a repository does without its shortcuts."""
    for event in events:
        assert isinstance(event, WalletEvent)
        aggregate = event.mutate(aggregate)
    assert isinstance(aggregate, Wallet)
    return aggregate


def replayed(ledger: CreditLedger, wallet_id: str = WALLET) -> Wallet:
    """A new aggregate folded from every stored event, ignoring caches and snapshots."""
    return fold(None, ledger.events.get(wallet_uuid(wallet_id)))


PER_TOKEN = {"model": "m", "input_per_million": 1_000_000, "output_per_million": 1_000_000}


def _billed(event_id: str, tokens: int) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "wallet_id": WALLET,
        "type": "llm.completion",
        "occurred_at": "2026-01-01T00:00:00Z",
        "subject": {"model": "m"},
        "quantities": {"input_tokens": tokens},
        "bill": True,
    }


def state(wallet: Wallet) -> dict[str, Any]:
    """Everything the aggregate holds, including id, version and timestamps."""
    return dict(vars(wallet))


def drive_every_event_type(ledger: CreditLedger, clock: FakeClock) -> str:
    """Record each wallet event type at least once; returns the id of a refundable debit."""
    ledger.open_wallet(OpenWallet(wallet_id=WALLET, overdraft_limit=500))  # WalletOpened
    ledger.set_budget(  # BudgetSet
        SetBudget(wallet_id=WALLET, budget_id="alice", scope=ALICE, limit=10_000, period="month")
    )
    ledger.set_budget(
        SetBudget(wallet_id=WALLET, budget_id="daily", limit=5, period="day", mode="soft")
    )
    ledger.remove_budget(RemoveBudget(wallet_id=WALLET, budget_id="daily"))  # BudgetRemoved
    paid = GrantCredits(  # CreditsGranted
        wallet_id=WALLET,
        grant_id="paid",
        amount=1000,
        category="paid",
        expires_at=T0 + timedelta(days=30),
        cost_basis=(1000, "USD"),
        metadata={"order": "o-1"},
    )
    ledger.grant(paid)
    ledger.grant(
        GrantCredits(
            wallet_id=WALLET,
            grant_id="promo",
            amount=200,
            category="promotional",
            priority=10,
            expires_at=T0 + timedelta(days=1),
        )
    )
    ledger.grant(GrantCredits(wallet_id=WALLET, grant_id="trial", amount=50, category="trial"))
    ledger.void_grant(VoidGrant(wallet_id=WALLET, grant_id="trial", reason="abuse"))  # GrantVoided

    debit = ledger.debit(Debit(wallet_id=WALLET, amount=300, subject=ALICE))  # CreditsDebited
    debit_id = str(debit.body["debit_id"])
    ledger.refund(Refund(wallet_id=WALLET, debit_id=debit_id, amount=120))  # DebitRefunded

    ledger.place_hold(PlaceHold(wallet_id=WALLET, hold_id="h-cap", amount=100, subject=ALICE))
    ledger.capture_hold(CaptureHold(wallet_id=WALLET, hold_id="h-cap", amount=60))  # HoldCaptured
    ledger.place_hold(PlaceHold(wallet_id=WALLET, hold_id="h-rel", amount=50))  # HoldPlaced
    ledger.release_hold(ReleaseHold(wallet_id=WALLET, hold_id="h-rel"))  # HoldReleased
    ledger.place_hold(
        PlaceHold(
            wallet_id=WALLET,
            hold_id="h-exp",
            amount=20,
            expires_at=clock.now + timedelta(minutes=5),
        )
    )
    clock.advance(minutes=10)
    assert ledger.sweep() == 1  # HoldExpired
    clock.advance(days=1)
    assert ledger.sweep() == 1  # GrantExpired (promo)

    # Overage beyond every credit: the excess the grants cannot cover becomes debt.
    ledger.place_hold(PlaceHold(wallet_id=WALLET, hold_id="h-over", amount=10))
    available = int(ledger.wallet(WALLET)["balance"]["available"])
    ledger.debit(Debit(wallet_id=WALLET, amount=available))
    ledger.capture_hold(  # DebtIncurred
        CaptureHold(wallet_id=WALLET, hold_id="h-over", amount=110, allow_overage=True)
    )
    assert ledger.wallet(WALLET)["balance"]["debt"] == 100
    # Billed usage beyond the overdraft (500): 400 more debt and 50 uncollected, then an event
    # none of which can be collected (UsageUncollected).
    ledger.put_price_book(PutPriceBook(price_book_id="default", rates=[PER_TOKEN]))
    ledger.ingest_usage([_billed("u-1", 450), _billed("u-2", 30)])
    assert ledger.wallet(WALLET)["uncollected"] == 80
    ledger.grant(GrantCredits(wallet_id=WALLET, grant_id="topup", amount=900, category="paid"))
    assert ledger.wallet(WALLET)["balance"]["debt"] == 0  # DebtSettled

    # Allowances: set (and the day under way granted), a day on (rolled over, granted again),
    # one removed and one kept, so snapshots hold an allowance.
    capped: dict[str, int | None] = {"max_amount": 10}
    for allowance_id, period, rollover in (("plan", "day", capped), ("keep", "month", None)):
        ledger.set_allowance(  # AllowanceSet, AllowanceGranted
            SetAllowance(
                wallet_id=WALLET,
                allowance_id=allowance_id,
                amount=30,
                period=period,
                starts_at=T0,
                rollover=rollover,
            )
        )
    clock.advance(days=1)
    assert ledger.sweep() == 3  # RolloverGranted, GrantExpired, AllowanceGranted
    ledger.remove_allowance(RemoveAllowance(wallet_id=WALLET, allowance_id="plan"))
    return debit_id
