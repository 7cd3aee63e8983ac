"""Sharded ledgers for tests: which wallets land on which shard, and equal views across shards."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ledger.app import audit
from ledger.app.commands import (
    CaptureHold,
    Debit,
    GrantCredits,
    OpenWallet,
    PlaceHold,
    Refund,
    ReleaseHold,
    SetBudget,
)
from ledger.app.service import CreditLedger
from ledger.app.shards import (
    shard_of,
)
from projections import queries
from projections.engine.store import ViewStore
from tests.support.builders import FakeClock
from tests.support.projections import snapshot

__all__ = [
    "FAR",
    "SHARDS",
    "assert_same_views",
    "journal_without_positions",
    "populate",
    "wallet_in",
]


SHARDS = 3


def wallets_per_shard(count: int = SHARDS, per_shard: int = 2) -> list[list[str]]:
    """Wallet ids grouped by the shard they hash to, ``per_shard`` of each."""
    found: list[list[str]] = [[] for _ in range(count)]
    n = 0
    while min(len(ids) for ids in found) < per_shard:
        wallet_id = f"w{n}"
        bucket = found[shard_of(wallet_id, count)]
        if len(bucket) < per_shard:
            bucket.append(wallet_id)
        n += 1
    return found


FAR = audit.MAX_LIMIT


LOG_ONLY = frozenset({"position", "recorded_at"})


def wallet_in(shard: int, index: int = 0) -> str:
    """The ``index``-th test wallet id of ``shard`` (among ``SHARDS``)."""
    return wallets_per_shard(SHARDS, index + 1)[shard][index]


def populate(ledger: CreditLedger, clock: FakeClock) -> dict[str, int]:
    """Two wallets per shard, each granted, budgeted, debited, held (captured or released)
    and refunded; every command keyed, so two ledgers record the same events. Returns the
    position of each wallet's last command."""
    wallets = [w for group in wallets_per_shard(SHARDS, 2) for w in group]
    last: dict[str, int] = {}
    for n, wallet_id in enumerate(wallets):
        unit = "credits" if n % 2 == 0 else "tokens"
        ledger.open_wallet(
            OpenWallet(wallet_id=wallet_id, unit=unit, idempotency_key=f"open-{wallet_id}")
        )
        ledger.set_budget(
            SetBudget(
                wallet_id=wallet_id,
                budget_id="b",
                limit=900,
                period="month",
                idempotency_key="budget",
            )
        )
    for round_ in range(2):
        for n, wallet_id in enumerate(wallets):
            clock.advance(minutes=7)
            key = f"{round_}"
            ledger.grant(
                GrantCredits(
                    wallet_id=wallet_id,
                    amount=1000 + n,
                    category=("paid", "promotional")[round_],
                    grant_id=f"g{round_}",
                    expires_at=clock.now + timedelta(days=30),
                    idempotency_key=f"grant-{key}",
                )
            )
            debit = ledger.debit(
                Debit(
                    wallet_id=wallet_id,
                    amount=50 + n,
                    subject={"user_id": f"u{n % 2}", "model": "m1"},
                    idempotency_key=f"debit-{key}",
                )
            )
            ledger.place_hold(
                PlaceHold(
                    wallet_id=wallet_id,
                    amount=100,
                    hold_id=f"h{round_}",
                    expires_at=clock.now + timedelta(hours=1),
                    idempotency_key=f"hold-{key}",
                )
            )
            if n % 2:
                closed = ledger.capture_hold(
                    CaptureHold(
                        wallet_id=wallet_id,
                        hold_id=f"h{round_}",
                        amount=60,
                        idempotency_key=f"capture-{key}",
                    )
                )
            else:
                closed = ledger.release_hold(
                    ReleaseHold(
                        wallet_id=wallet_id, hold_id=f"h{round_}", idempotency_key=f"release-{key}"
                    )
                )
            assert closed.position is not None
            refund = ledger.refund(
                Refund(
                    wallet_id=wallet_id,
                    debit_id=debit.body["debit_id"],
                    amount=10,
                    idempotency_key=f"refund-{key}",
                )
            )
            assert refund.position is not None
            last[wallet_id] = refund.position
        clock.advance(hours=2)
    return last


def journal_without_positions(views: ViewStore) -> list[dict[str, Any]]:
    """Every journal row but its position (and the wall-clock time it was recorded), in an
    order that does not depend on positions."""
    rows = queries.journal(views, limit=FAR)["entries"]
    assert len(rows) < FAR
    bare = [{k: v for k, v in row.items() if k not in LOG_ONLY} for row in rows]
    return sorted(bare, key=lambda r: (r["transaction_id"], r["account"], r["debit"], r["credit"]))


def assert_same_views(sharded: ViewStore, unsharded: ViewStore) -> None:
    """The aggregated views are equal and the journals equal but for positions."""
    mine, theirs = snapshot(sharded), snapshot(unsharded)
    for name in ("balances", "usage", "budget_status"):
        assert mine[name] == theirs[name], name
    assert journal_without_positions(sharded) == journal_without_positions(unsharded)
