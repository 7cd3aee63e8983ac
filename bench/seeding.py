"""Seeding: benchmark wallets opened and funded straight through the ledger."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bench.common import GRANT
from bench.config import Config
from ledger.app.commands import GrantCredits, OpenWallet
from ledger.app.keys import issue_key
from ledger.app.service import CreditLedger

__all__ = ["Seeded", "seed"]


@dataclass(frozen=True)
class Seeded:
    service_key: str
    seconds: float


def seed(
    database_url: str,
    configs: Sequence[Config],
    zipf_wallets: int,
    usage_wallets: int = 0,
    shards: int = 1,
) -> Seeded:
    """Open and fund the wallets straight through the ledger (not timed as part of a run).

    ``shards`` is recorded in the store's shard map here; the servers read it from there.
    """
    started = time.monotonic()
    ledger = CreditLedger.from_url(database_url, LEDGER_SHARDS=str(shards))
    try:

        def fund(wallet_id: str, amount: int) -> None:
            ledger.open_wallet(OpenWallet(wallet_id=wallet_id))
            ledger.grant(
                GrantCredits(wallet_id=wallet_id, amount=amount, category="paid", grant_id="g")
            )

        wallets = [(f"hot-{c.index}", GRANT) for c in configs]
        wallets += [(f"hold-{c.index}", GRANT) for c in configs]
        wallets += [(f"z-{k}", GRANT) for k in range(1, zipf_wallets + 1)]
        wallets += [(f"u-{k}", GRANT) for k in range(1, usage_wallets + 1)]
        with ThreadPoolExecutor(max_workers=32) as pool:
            for done in pool.map(lambda w: fund(*w), wallets):
                del done
        _, service_key = issue_key(ledger, ["service"], "bench")
    finally:
        ledger.close()
    return Seeded(service_key=service_key, seconds=time.monotonic() - started)
