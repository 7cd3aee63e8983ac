"""Allowances on Postgres: two instances (two processes' pools) touching a wallet at once after
its periods began record each period, rollover and expiry exactly once, and a fresh instance
loads the same allowances (snapshots included)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest

from ledger.app.commands import Debit, OpenWallet, SetAllowance
from ledger.app.service import CreditLedger
from ledger.domain.ids import wallet_uuid
from tests.support.builders import FakeClock, at, make_ledger
from tests.support.postgres import scan_events, schema_url


@pytest.fixture
def store(postgres_url: str, pg_schema: str) -> str:
    return schema_url(postgres_url, pg_schema, pool_size=1, max_overflow=3)


@pytest.fixture
def pair(store: str) -> Iterator[tuple[CreditLedger, CreditLedger, FakeClock]]:
    clock = FakeClock(at("2026-01-01T00:00"))
    a = make_ledger(store, clock=clock, env={"SNAPSHOT_INTERVAL": "3"})
    try:
        b = make_ledger(store, clock=clock, env={"SNAPSHOT_INTERVAL": "3"})
        try:
            yield a, b, clock
        finally:
            b.close()
    finally:
        a.close()


def test_racing_instances_record_each_period_once(
    pair: tuple[CreditLedger, CreditLedger, FakeClock], store: str
) -> None:
    # Given a daily allowance of 10 rolling over at most 4, set on 1 January
    a, b, clock = pair
    a.open_wallet(OpenWallet(wallet_id="s"))
    a.set_allowance(
        SetAllowance(
            wallet_id="s",
            allowance_id="daily",
            amount=10,
            period="day",
            rollover={"max_amount": 4},
        )
    )

    # When, a week on, both instances debit it at once, many times
    clock.set(at("2026-01-08T12:00"))
    barrier = threading.Barrier(2)

    def run(ledger: CreditLedger) -> None:
        for _ in range(5):
            barrier.wait(timeout=30)
            ledger.debit(Debit(wallet_id="s", amount=1))

    threads = [threading.Thread(target=run, args=(ledger,)) for ledger in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    # Then each of the 8 days was granted once, each of the 7 day ends rolled 4 over once
    events = scan_events(a, "s")
    granted = Counter(
        e["data"]["grant_id"]
        for e in events
        if e["type"] in {"AllowanceGranted", "RolloverGranted"}
    )
    assert len(granted) == 8 + 7
    assert set(granted.values()) == {1}
    assert [e["version"] for e in events] == list(range(1, len(events) + 1))
    # 10 for the 8th and 4 carried from the 7th, less the 10 debited
    assert a.wallet("s")["balance"]["available"] == 4

    # and a fresh instance (through the snapshots) holds the same wallet and allowance
    a.snapshotter.drain()
    b.snapshotter.drain()
    fresh = make_ledger(store, clock=clock)
    try:
        assert a.snapshots is not None
        assert list(a.snapshots.get(wallet_uuid("s"), desc=True, limit=1))
        assert fresh.wallet("s") == a.wallet("s")
        assert fresh.allowances("s") == a.allowances("s")
    finally:
        fresh.close()
