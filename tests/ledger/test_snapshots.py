"""Snapshots are taken in the background, never inside a request, and equal a replay."""

from __future__ import annotations

from pathlib import Path

from eventsourcing.domain import Snapshot

from ledger.app.commands import Debit
from ledger.domain.ids import wallet_uuid
from ledger.domain.wallet import Wallet
from tests.support.builders import T0, FakeClock, make_ledger, open_funded_wallet
from tests.support.replay import WALLET, drive_every_event_type, fold, state


def test_snapshots_are_taken_in_the_background_every_interval(tmp_path: Path) -> None:
    # Given a ledger that snapshots wallets every 10 versions
    url = "sqlite:///" + str(tmp_path / "ledger.sqlite3")
    ledger = make_ledger(url, clock=FakeClock(), env={"SNAPSHOT_INTERVAL": "10"})
    open_funded_wallet(ledger, amount=1000)  # versions 1-2

    # When 23 debits take the wallet to version 25
    for _ in range(23):
        ledger.debit(Debit(wallet_id="acme", amount=1))
    ledger.snapshotter.drain()

    # Then snapshots exist for the crossings of 10 and 20, the latest at version 20
    assert ledger.snapshots is not None
    latest = list(ledger.snapshots.get(wallet_uuid("acme"), desc=True, limit=1))
    assert latest[0].originator_version == 20
    assert ledger.snapshotter.taken == 2
    ledger.close()


def test_a_restarted_ledger_loads_from_the_snapshot_to_the_same_state(tmp_path: Path) -> None:
    # Given a wallet with snapshots, written by one ledger process
    url = "sqlite:///" + str(tmp_path / "ledger.sqlite3")
    clock = FakeClock()
    first = make_ledger(url, clock=clock, env={"SNAPSHOT_INTERVAL": "5"})
    open_funded_wallet(first, amount=1000)
    for amount in range(1, 13):
        first.debit(Debit(wallet_id="acme", amount=amount))
    first.snapshotter.drain()
    before = first.wallet("acme")
    first.close()

    # When another process opens the same store
    second = make_ledger(url, clock=clock, env={"SNAPSHOT_INTERVAL": "5"})

    # Then it sees the same wallet (snapshot + later events == full replay) and keeps working
    assert second.wallet("acme") == before
    replayed = second.wallet_as_of("acme", clock.now)  # a full fold of every event
    assert second.load_wallet("acme") == replayed
    assert second.debit(Debit(wallet_id="acme", amount=1)).body["balance"]["available"] == 921
    second.close()


def test_every_background_snapshot_equals_a_replay_to_its_version(tmp_path: Path) -> None:
    # Given a ledger that snapshots its wallets at every version (from copies of the wallet
    # it just saved), driven through every wallet event type
    url = "sqlite:///" + str(tmp_path / "ledger.sqlite3")
    clock = FakeClock(T0)
    ledger = make_ledger(url, clock=clock, env={"SNAPSHOT_INTERVAL": "1"})
    drive_every_event_type(ledger, clock)
    ledger.snapshotter.drain()

    # Then each snapshot holds exactly the state a fold of the events up to its version gives
    assert ledger.snapshots is not None
    snapshots = list(ledger.snapshots.get(wallet_uuid(WALLET)))
    events = list(ledger.events.get(wallet_uuid(WALLET)))
    # (one per save: a save of several events, such as a capture that incurs debt, a usage
    # batch billing twice or an allowance set with the period under way, makes one; the sweep
    # of a period end saves three)
    assert len(snapshots) >= len(events) - 8
    for snapshot in snapshots:
        assert isinstance(snapshot, Snapshot)
        upto = [e for e in events if e.originator_version <= snapshot.originator_version]
        restored = snapshot.mutate(None)
        assert isinstance(restored, Wallet)
        assert state(restored) == state(fold(None, upto)), snapshot.originator_version
    ledger.close()
