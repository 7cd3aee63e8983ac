"""Replay equals live state: events alone, or a snapshot plus later events, rebuild the wallet.

Four ways to get a wallet are compared by ``__dict__`` (grants, holds and budgets are
dataclasses, so they compare by value):

* **live** — the very aggregate the commands mutated, copied as it was saved
  (:class:`RecordingLedger`); the repository cannot give this, because its cache
  fast-forwards by applying stored events, which is itself a replay;
* **replayed** — a fresh ``Wallet`` folded from every stored event with ``event.mutate``;
* **from a snapshot** — the latest stored snapshot plus the events recorded after it;
* **loaded** — what ``ledger.repository.get`` returns (cache, snapshots, fast-forward).

Popo stores belong to one application object, so in memory the comparison folds the store's
events directly; on SQLite a second ledger opened on the same file proves that the state, the
snapshot, receipts and hold records survive a restart.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol, MutableOrImmutableAggregate, Snapshot
from eventsourcing.persistence import Recording

from ledger.commands import (
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
from ledger.events import WALLET_EVENT_CLASSES, WalletEvent
from ledger.ids import wallet_uuid
from ledger.service import CreditLedger
from ledger.stores import store_env
from ledger.wallet import Wallet
from tests.builders import T0, FakeClock

__all__ = [
    "RecordingLedger",
    "fold",
    "from_snapshot",
    "live",
    "loaded",
    "recording_ledger",
    "replayed",
    "state",
]

WALLET = "acme"
ALICE = {"user_id": "alice"}


# -- the ways to get a wallet ---------------------------------------------------------------


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


def from_snapshot(ledger: CreditLedger, wallet_id: str = WALLET) -> tuple[Wallet, int]:
    """The latest snapshot plus the events after it; also returns the snapshot's version."""
    assert ledger.snapshots is not None
    (snapshot,) = ledger.snapshots.get(wallet_uuid(wallet_id), desc=True, limit=1)
    assert isinstance(snapshot, Snapshot)
    start = snapshot.mutate(None)
    assert isinstance(start, Wallet)
    later = ledger.events.get(wallet_uuid(wallet_id), gt=snapshot.originator_version)
    return fold(start, later), snapshot.originator_version


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


def event_types(ledger: CreditLedger, wallet_id: str = WALLET) -> set[str]:
    return {type(e).__name__ for e in ledger.events.get(wallet_uuid(wallet_id))}


# -- a history with every wallet event type -------------------------------------------------


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


def continue_after_snapshot(ledger: CreditLedger, clock: FakeClock) -> None:
    """Events recorded after the snapshot, leaving an open hold and a budget in the state."""
    clock.advance(hours=1)
    ledger.debit(Debit(wallet_id=WALLET, amount=40, subject=ALICE))
    ledger.place_hold(PlaceHold(wallet_id=WALLET, hold_id="h-open", amount=25, subject=ALICE))
    ledger.set_budget(
        SetBudget(wallet_id=WALLET, budget_id="total", limit=2000, period="total", mode="soft")
    )


def test_the_scenario_records_every_wallet_event_type() -> None:
    clock = FakeClock(T0)
    ledger = recording_ledger(clock=clock)
    drive_every_event_type(ledger, clock)
    assert event_types(ledger) == {cls.__name__ for cls in WALLET_EVENT_CLASSES}


# -- in memory --------------------------------------------------------------------------------


def test_replay_equals_live_state() -> None:
    clock = FakeClock(T0)
    ledger = recording_ledger(clock=clock)
    drive_every_event_type(ledger, clock)
    continue_after_snapshot(ledger, clock)

    current = live(ledger)
    assert state(replayed(ledger)) == state(current)
    assert state(loaded(ledger)) == state(current)
    # the comparison is not vacuous: the state has grants, a hold, budgets and a version
    assert current.version == len(list(ledger.events.get(wallet_uuid(WALLET))))
    assert set(current.grants) == {
        "paid",
        "promo",
        "trial",
        "topup",
        "plan:2026-01-02T00:00:00Z",
        "plan:2026-01-03T00:00:00Z",
        "plan:2026-01-03T00:00:00Z:rollover",
        "keep:2026-01-01T00:00:00Z",
    }
    assert set(current.allowances) == {"keep"}
    assert set(current.holds) == {"h-open"}
    assert set(current.budgets) == {"alice", "total"}
    assert current.refunded


def test_snapshot_plus_later_events_equals_full_replay() -> None:
    clock = FakeClock(T0)
    ledger = recording_ledger(clock=clock)
    drive_every_event_type(ledger, clock)
    ledger.take_snapshot(wallet_uuid(WALLET))
    continue_after_snapshot(ledger, clock)

    rebuilt, snapshot_version = from_snapshot(ledger)
    assert snapshot_version < live(ledger).version  # later events were folded on top
    assert state(rebuilt) == state(replayed(ledger)) == state(live(ledger))
    assert state(loaded(ledger)) == state(live(ledger))


def test_snapshot_at_the_head_equals_full_replay() -> None:
    clock = FakeClock(T0)
    ledger = recording_ledger(clock=clock)
    drive_every_event_type(ledger, clock)
    continue_after_snapshot(ledger, clock)
    ledger.take_snapshot(wallet_uuid(WALLET))

    rebuilt, snapshot_version = from_snapshot(ledger)
    assert snapshot_version == live(ledger).version
    assert state(rebuilt) == state(replayed(ledger))


def test_replay_up_to_any_version_equals_the_repository_at_that_version() -> None:
    clock = FakeClock(T0)
    ledger = recording_ledger(clock=clock)
    drive_every_event_type(ledger, clock)
    aggregate: Wallet | None = None
    for event in ledger.events.get(wallet_uuid(WALLET)):
        aggregate = fold(aggregate, [event])
        at_version: Wallet = ledger.repository.get(
            wallet_uuid(WALLET), version=event.originator_version
        )
        assert state(aggregate) == state(at_version)


# -- on an SQLite file, across a restart --------------------------------------------------------


def test_sqlite_state_and_snapshot_survive_a_restart(tmp_path: Path) -> None:
    url = "sqlite:///" + str(tmp_path / "l.db")
    clock = FakeClock(T0)
    first = recording_ledger(url, clock=clock)
    try:
        debit_id = drive_every_event_type(first, clock)
        first.take_snapshot(wallet_uuid(WALLET))
        continue_after_snapshot(first, clock)
        assert event_types(first) == {cls.__name__ for cls in WALLET_EVENT_CLASSES}
        before = state(live(first))
        assert state(replayed(first)) == before
        rebuilt, snapshot_version = from_snapshot(first)
        assert snapshot_version < before["_version"]
        assert state(rebuilt) == before
        view_before = first.wallet(WALLET)
    finally:
        first.close()

    second = recording_ledger(url, clock=clock)
    try:
        # a fresh application loads through the stored snapshot plus the later events
        rebuilt, version = from_snapshot(second)
        assert version == snapshot_version
        assert state(rebuilt) == before
        assert state(loaded(second)) == before
        assert state(replayed(second)) == before
        assert second.wallet(WALLET) == view_before

        # and keeps working: a debit receipt and an open hold record from before the restart
        second.refund(Refund(wallet_id=WALLET, debit_id=debit_id, amount=10))
        captured = second.capture_hold(CaptureHold(wallet_id=WALLET, hold_id="h-open"))
        assert captured.body["captured"] == 25
        assert state(replayed(second)) == state(live(second))
        assert live(second).version == before["_version"] + 2
    finally:
        second.close()


def test_sqlite_replay_preserves_aware_datetimes(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    ledger = recording_ledger("sqlite:///" + str(tmp_path / "l.db"), clock=clock)
    try:
        drive_every_event_type(ledger, clock)
        wallet = replayed(ledger)
        moments: list[datetime] = [wallet.clock]
        for grant in wallet.grants.values():
            moments.append(grant.effective_at)
            if grant.expires_at is not None:
                moments.append(grant.expires_at)
        moments += [b.period_start for b in wallet.budgets.values()]
        assert all(m.utcoffset() == timedelta(0) for m in moments)
    finally:
        ledger.close()
