"""Reads of one wallet from many threads: eventsourcing's cached ``get`` deep-copies the cached
aggregate outside the lock it fast-forwards it under, so the ledger lets one reader of an id
at a time into it (a hot wallet's reads answered 500 "dictionary changed size during
iteration" before)."""

from __future__ import annotations

import threading
import time
from typing import Any

from ledger.app.commands import Debit, GrantCredits, OpenWallet
from tests.support.builders import make_ledger


def test_one_reader_of_a_wallet_at_a_time_gets_it_from_the_cache() -> None:
    ledger = make_ledger()
    ledger.open_wallet(OpenWallet(wallet_id="hot"))
    ledger.grant(GrantCredits(wallet_id="hot", amount=1_000, category="paid"))
    inside, most = 0, 0
    guard = threading.Lock()
    real_get = ledger.repository.get

    def counting_get(aggregate_id: Any, **kwargs: Any) -> Any:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        time.sleep(0.002)  # widen the window a second reader would fall into
        try:
            return real_get(aggregate_id, **kwargs)
        finally:
            with guard:
                inside -= 1

    ledger.repository.get = counting_get  # type: ignore[method-assign]
    readers = [threading.Thread(target=lambda: ledger.wallet("hot")) for _ in range(8)]
    for reader in readers:
        reader.start()
    ledger.debit(Debit(wallet_id="hot", amount=1))
    for reader in readers:
        reader.join()
    ledger.close()

    assert most == 1
