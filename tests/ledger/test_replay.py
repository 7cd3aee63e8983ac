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

from datetime import datetime, timedelta
from pathlib import Path

from eventsourcing.domain import Snapshot

from ledger.app.commands import (
    CaptureHold,
    Debit,
    PlaceHold,
    Refund,
    SetBudget,
)
from ledger.app.service import CreditLedger
from ledger.domain.events import WALLET_EVENT_CLASSES
from ledger.domain.ids import wallet_uuid
from ledger.domain.wallet import Wallet
from tests.support.builders import T0, FakeClock
from tests.support.replay import (
    ALICE,
    WALLET,
    drive_every_event_type,
    fold,
    live,
    loaded,
    recording_ledger,
    replayed,
    state,
)

__all__ = ["from_snapshot"]


# -- the ways to get a wallet ---------------------------------------------------------------


def from_snapshot(ledger: CreditLedger, wallet_id: str = WALLET) -> tuple[Wallet, int]:
    """The latest snapshot plus the events after it; also returns the snapshot's version."""
    assert ledger.snapshots is not None
    (snapshot,) = ledger.snapshots.get(wallet_uuid(wallet_id), desc=True, limit=1)
    assert isinstance(snapshot, Snapshot)
    start = snapshot.mutate(None)
    assert isinstance(start, Wallet)
    later = ledger.events.get(wallet_uuid(wallet_id), gt=snapshot.originator_version)
    return fold(start, later), snapshot.originator_version


def event_types(ledger: CreditLedger, wallet_id: str = WALLET) -> set[str]:
    return {type(e).__name__ for e in ledger.events.get(wallet_uuid(wallet_id))}


# -- a history with every wallet event type -------------------------------------------------


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
