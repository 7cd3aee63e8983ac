"""``on_unavailable="open"`` through a real outage: the server is stopped while client
threads keep spending, then started again on the same port. Every call made is in the
ledger exactly once afterwards: decided at once, or deferred, journaled and replayed with
its idempotency key (nothing lost, nothing doubled). On SQLite and on Postgres.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from credit_ledger import Debit, Deferred, Ledger, RetryPolicy, WalletEvent

from tests.client.conftest import serving
from tests.support.live_server import TEST_ADMIN_KEY, free_port

THREADS = 3
PER_PHASE = 25  # calls seen in each phase (up, down, up again) before moving on


class Spenders:
    """Threads debiting 1 credit per call, each call named by ``metadata.call``."""

    def __init__(self, ledger: Ledger[Deferred]) -> None:
        self.ledger = ledger
        self.numbers = itertools.count()
        self.results: list[tuple[int, Debit | Deferred | BaseException]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.spend) for _ in range(THREADS)]

    def spend(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                number = next(self.numbers)
            try:
                result: Any = self.ledger.debit(
                    "acme", 1, subject={"user_id": "u1"}, metadata={"call": number}
                )
            except BaseException as exc:
                result = exc
            with self.lock:
                self.results.append((number, result))
            # Slower while the ledger is away, so that the journal stays small.
            time.sleep(0.05 if isinstance(result, Deferred) else 0.005)

    def count(self, kind: type[Any]) -> int:
        with self.lock:
            return sum(isinstance(result, kind) for _, result in self.results)

    def wait_for(self, kind: type[Any], at_least: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.count(kind) < at_least:
            assert time.monotonic() < deadline, f"only {self.count(kind)} {kind.__name__}"
            time.sleep(0.01)


def all_events(ledger: Ledger, wallet_id: str) -> list[WalletEvent]:
    events: list[WalletEvent] = []
    while page := ledger.wallet_events(wallet_id, after_version=len(events), limit=1000).items:
        events += page
    return events


def eventually(check: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_an_outage_loses_nothing_and_doubles_nothing(store_url: str, tmp_path: Path) -> None:
    port = free_port()
    ledger = Ledger(
        f"http://127.0.0.1:{port}",
        TEST_ADMIN_KEY,
        timeout=10.0,
        retries=RetryPolicy(retries=2, backoff=0.01),
        on_unavailable="open",
        journal_path=tmp_path / "journal.jsonl",
    )
    spenders = Spenders(ledger)

    with serving(store_url, tmp_path / "before", port=port):
        ledger.open_wallet("acme")
        ledger.grant("acme", 100_000, "paid")
        for thread in spenders.threads:
            thread.start()
        spenders.wait_for(Debit, PER_PHASE)
    # The server is stopped; the threads keep going.
    spenders.wait_for(Deferred, PER_PHASE)
    with ledger.hold("acme", 50, subject={"user_id": "u2"}) as h:
        assert h.deferred is not None
        held_capture = h.capture(7)
    assert isinstance(held_capture, Deferred)
    deferred_while_down = spenders.count(Deferred)

    with serving(store_url, tmp_path / "after", port=port):
        spenders.wait_for(Debit, spenders.count(Debit) + PER_PHASE)
        spenders.stop.set()
        for thread in spenders.threads:
            thread.join(60)
        eventually(lambda: not ledger.pending_journal)
        ledger.close()
        with Ledger(f"http://127.0.0.1:{port}", TEST_ADMIN_KEY, timeout=30.0) as admin:
            events = all_events(admin, "acme")
            wallet = admin.get_wallet("acme")

    assert [type(r).__name__ for _, r in spenders.results if isinstance(r, BaseException)] == []
    assert deferred_while_down >= PER_PHASE
    calls = {number for number, _ in spenders.results}
    debited = [e.data for e in events if e.type == "CreditsDebited"]
    recorded = Counter(
        d["metadata"].get("call") for d in debited if d["metadata"].get("call") is not None
    )
    assert set(recorded) == calls  # nothing lost
    assert set(recorded.values()) == {1}  # nothing doubled
    captured = [d for d in debited if d["subject"] == {"user_id": "u2"}]
    assert [d["amount"] for d in captured] == [7]
    assert wallet.balance.available == 100_000 - len(calls) - 7
    assert ledger.rejected_journal() == []
