"""Snapshots are taken in the background, never inside a request, and load equal to replay."""

from __future__ import annotations

from pathlib import Path

from ledger.commands import Debit
from ledger.ids import wallet_uuid
from tests.builders import FakeClock, make_ledger, open_funded_wallet


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
    replayed = second._wallet_as_of("acme", clock.now)  # a full fold of every event
    assert second.load_wallet("acme") == replayed
    assert second.debit(Debit(wallet_id="acme", amount=1)).body["balance"]["available"] == 921
    second.close()
