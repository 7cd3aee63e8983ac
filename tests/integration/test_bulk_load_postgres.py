"""Wallets missing from the committer's cache are loaded for the whole batch in one query.

``ledger.bulk_load.load_wallets`` must rebuild each wallet exactly as the repository does
(latest snapshot, then the events after it), and the committer must use it for a batch
instead of loading the wallets one at a time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ledger.app.commands import Debit, PlaceHold
from ledger.app.service import CreditLedger
from ledger.domain.ids import wallet_uuid
from ledger.store.bulk_load import load_wallets
from tests.support.builders import FakeClock, make_ledger, open_funded_wallet
from tests.support.postgres import schema_url

WALLETS = [f"w{n}" for n in range(6)]


@pytest.fixture
def ledger(postgres_url: str, pg_schema: str) -> Iterator[CreditLedger]:
    # Snapshots every 4 versions: most wallets below have one, and events after it.
    env = {"LEDGER_SNAPSHOT_INTERVAL": "4"}
    app = make_ledger(schema_url(postgres_url, pg_schema), FakeClock(), env, group_commit=True)
    for n, wallet in enumerate(WALLETS):
        open_funded_wallet(app, wallet, amount=1000)
        for k in range(n * 2):
            app.debit(Debit(wallet_id=wallet, amount=k + 1, idempotency_key=f"{wallet}-{k}"))
        if n % 2:
            app.place_hold(PlaceHold(wallet_id=wallet, hold_id="h", amount=5))
    app.snapshotter.drain()
    yield app
    app.close()


def test_wallets_loaded_together_equal_wallets_loaded_one_by_one(ledger: CreditLedger) -> None:
    snapshotted = [w for w in WALLETS if _snapshots(ledger, w)]
    assert len(snapshotted) >= 3  # the snapshot branch of the query is exercised

    loaded = load_wallets(ledger, [*WALLETS, "never-opened"])

    assert sorted(loaded) == WALLETS
    for wallet_id in WALLETS:
        one = ledger.load_wallet(wallet_id)
        assert loaded[wallet_id].version == one.version
        assert loaded[wallet_id] == one
        assert loaded[wallet_id].view(ledger.now()) == one.view(ledger.now())


def test_a_batch_over_uncached_wallets_loads_them_in_one_query(
    postgres_url: str, pg_schema: str, ledger: CreditLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh ledger on the same store: its committer has nothing cached.
    cold = make_ledger(schema_url(postgres_url, pg_schema), FakeClock(), group_commit=True)
    committer = cold.committer
    assert committer is not None
    one_by_one: list[str] = []
    real_load = cold.load_wallet

    def load_wallet(wallet_id: str) -> Any:
        one_by_one.append(wallet_id)
        return real_load(wallet_id)

    monkeypatch.setattr(cold, "load_wallet", load_wallet)
    try:
        futures: list[Any] = []

        def queue() -> None:
            for wallet in WALLETS:
                futures.append(cold.debit_later(Debit(wallet_id=wallet, amount=1)))

        sender = threading.Thread(target=queue)
        with committer.paused():  # the debits queue up and are decided as one batch
            sender.start()
            sender.join(10)
            while committer.queued() < len(WALLETS):
                time.sleep(0.001)
        outcomes = [cold.settle(f) for f in futures]
    finally:
        cold.close()

    assert one_by_one == []
    expected = {w: ledger.load_wallet(w).available(ledger.now()) for w in WALLETS}
    assert {o.body["wallet_id"]: o.body["balance"]["available"] for o in outcomes} == expected


def _snapshots(ledger: CreditLedger, wallet_id: str) -> list[Any]:
    assert ledger.snapshots is not None
    return list(ledger.snapshots.get(wallet_uuid(wallet_id)))
