"""The lists projection: what the list endpoints page through, keyed for cursor paging.

Its tables (per generation):

* ``lists_g<N>``: every wallet (id, customer, unit, when and where it opened), keyed by
  ``wallet_id`` and indexed by ``(customer_id, wallet_id)``: wallets are paged by id;
* ``lists_debits_g<N>``: every ``CreditsDebited`` of a wallet at its log position, with what
  has been refunded of it since (``DebitRefunded`` adds to ``refunded``);
* ``lists_refunds_g<N>``: every ``DebitRefunded``, by wallet and debit;
* ``lists_holds_g<N>``: every hold from ``HoldPlaced``, closed by ``HoldCaptured``,
  ``HoldReleased`` or ``HoldExpired`` exactly as its ``HoldRecord`` is
  (``ledger.app.application``'s ``_track_hold``);
* ``lists_items_g<N>``: server-wide aggregates (API keys, webhooks, meters, price books)
  by kind and the position they were created at; the API reads each item's current state
  from its aggregate (one load per listed item), so an item is exactly its single GET.
  A webhook's row follows its events (``active``: deleted webhooks are not listed).

Within a batch, rows are written in log order by kind of statement: every insert of a debit
or hold comes before every update of one, which is safe because a refund or a hold's
closing always follows the debit or placement it names in the log.
Why a read model rather than the wallet's stream or a scan of the log:
``docs/decisions/0019-lists-from-a-read-model.md``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ledger.alerts.webhooks import WebhookEvent
from ledger.domain.events import (
    HOLD_CLOSED_AS,
    CreditsDebited,
    DebitRefunded,
    HoldCaptured,
    HoldExpired,
    HoldPlaced,
    HoldReleased,
    WalletOpened,
)
from projections.engine.base import Change, Projection
from projections.engine.log import Created, Other
from projections.engine.store import Tx

__all__ = ["ITEM_KINDS", "ListsProjection", "dumps"]

ITEM_KINDS = ("api_key", "webhook", "meter", "price_book")

DDL = (
    "CREATE TABLE IF NOT EXISTS {t} (wallet_id TEXT NOT NULL PRIMARY KEY,"
    " customer_id TEXT NOT NULL, unit TEXT NOT NULL, created_at {ts} NOT NULL,"
    " position {bigint} NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {ix_by_customer} ON {t} (customer_id, wallet_id)",
    "CREATE TABLE IF NOT EXISTS {t_debits} (wallet_id TEXT NOT NULL, debit_id TEXT NOT NULL,"
    " position {bigint} NOT NULL, amount {bigint} NOT NULL, refunded {bigint} NOT NULL,"
    " subject TEXT NOT NULL, occurred_at {ts} NOT NULL, decided_at {ts} NOT NULL,"
    " rating TEXT, allocations TEXT NOT NULL, metadata TEXT NOT NULL,"
    " debt {bigint} NOT NULL, uncollected {bigint} NOT NULL,"
    " PRIMARY KEY (wallet_id, debit_id))",
    "CREATE INDEX IF NOT EXISTS {ix_debits_by_position} ON {t_debits} (wallet_id, position)",
    "CREATE TABLE IF NOT EXISTS {t_refunds} (wallet_id TEXT NOT NULL, refund_id TEXT NOT NULL,"
    " debit_id TEXT NOT NULL, position {bigint} NOT NULL, amount {bigint} NOT NULL,"
    " allocations TEXT NOT NULL, reason TEXT NOT NULL, occurred_at {ts} NOT NULL,"
    " PRIMARY KEY (wallet_id, refund_id))",
    "CREATE INDEX IF NOT EXISTS {ix_refunds_by_debit} ON {t_refunds}"
    " (wallet_id, debit_id, position)",
    "CREATE TABLE IF NOT EXISTS {t_holds} (wallet_id TEXT NOT NULL, hold_id TEXT NOT NULL,"
    " position {bigint} NOT NULL, status TEXT NOT NULL, amount {bigint} NOT NULL,"
    " allocations TEXT NOT NULL, subject TEXT NOT NULL, metadata TEXT NOT NULL,"
    " rating TEXT, placed_at {ts} NOT NULL, expires_at {ts} NOT NULL, closed_at {ts},"
    " captured {bigint}, released {bigint}, overage {bigint},"
    " PRIMARY KEY (wallet_id, hold_id))",
    "CREATE INDEX IF NOT EXISTS {ix_holds_by_position} ON {t_holds} (wallet_id, position)",
    "CREATE INDEX IF NOT EXISTS {ix_holds_by_status} ON {t_holds} (wallet_id, status, position)",
    "CREATE TABLE IF NOT EXISTS {t_items} (kind TEXT NOT NULL, aggregate_id TEXT NOT NULL,"
    " position {bigint} NOT NULL, active INTEGER NOT NULL, PRIMARY KEY (kind, aggregate_id))",
    "CREATE INDEX IF NOT EXISTS {ix_items_by_kind} ON {t_items} (kind, active, position)",
)
SQL = {
    "wallet": "INSERT INTO {t} (wallet_id, customer_id, unit, created_at, position)"
    " VALUES (?, ?, ?, ?, ?)",
    "debit": "INSERT INTO {t_debits} (wallet_id, debit_id, position, amount, refunded, subject,"
    " occurred_at, decided_at, rating, allocations, metadata, debt, uncollected)"
    " VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)",
    "hold": "INSERT INTO {t_holds} (wallet_id, hold_id, position, status, amount, allocations,"
    " subject, metadata, rating, placed_at, expires_at) VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?,"
    " ?, ?)",
    "refund": "INSERT INTO {t_refunds} (wallet_id, refund_id, debit_id, position, amount,"
    " allocations, reason, occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "refunded": "UPDATE {t_debits} SET refunded = refunded + ?"
    " WHERE wallet_id = ? AND debit_id = ?",
    "close": "UPDATE {t_holds} SET status = ?, closed_at = ?, captured = ?, released = ?,"
    " overage = ? WHERE wallet_id = ? AND hold_id = ?",
    "item": "INSERT INTO {t_items} AS cur (kind, aggregate_id, position, active)"
    " VALUES (?, ?, ?, ?) ON CONFLICT (kind, aggregate_id) DO UPDATE SET active = excluded.active",
}
DUMP = {
    "wallets": "SELECT wallet_id, customer_id, unit, position FROM {t}",
    "debits": "SELECT wallet_id, debit_id, position, amount, refunded FROM {t_debits}",
    "holds": "SELECT wallet_id, hold_id, position, status, captured, released FROM {t_holds}",
    "items": "SELECT kind, aggregate_id, position, active FROM {t_items}",
}


def dumps(value: Any) -> str:
    """JSON text of a stored document (allocations, subject, metadata, rating)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class _Writer:
    """One batch's rows, grouped by statement (inserts before updates, see module doc)."""

    def __init__(self, projection: ListsProjection, tx: Tx, generation: int) -> None:
        self.tx = tx
        self.sql = {name: projection.sql(tx, text, generation) for name, text in SQL.items()}
        self.rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in SQL}

    def change(self, change: Change) -> None:
        event, wallet_id, to_db = change.event, change.wallet_id, self.tx.dialect.to_db
        if isinstance(event, WalletOpened):
            row: tuple[Any, ...] = (
                wallet_id,
                event.customer_id,
                event.unit,
                to_db(event.occurred_at),
                change.position,
            )
            self.rows["wallet"].append(row)
        elif isinstance(event, CreditsDebited):
            self.rows["debit"].append(
                (
                    wallet_id,
                    event.debit_id,
                    change.position,
                    event.amount,
                    dumps(event.subject),
                    to_db(event.usage_at),
                    to_db(event.occurred_at),
                    None if event.rating is None else dumps(event.rating),
                    dumps(event.allocations),
                    dumps(event.metadata),
                    event.debt,
                    event.uncollected,
                )
            )
        elif isinstance(event, DebitRefunded):
            self.rows["refund"].append(
                (
                    wallet_id,
                    event.refund_id,
                    event.debit_id,
                    change.position,
                    event.amount,
                    dumps(event.allocations),
                    event.reason,
                    to_db(event.occurred_at),
                )
            )
            self.rows["refunded"].append((event.amount, wallet_id, event.debit_id))
        elif isinstance(event, HoldPlaced):
            self.rows["hold"].append(
                (
                    wallet_id,
                    event.hold_id,
                    change.position,
                    event.amount,
                    dumps(event.allocations),
                    dumps(event.subject),
                    dumps(event.metadata),
                    None if event.rating is None else dumps(event.rating),
                    to_db(event.occurred_at),
                    to_db(event.expires_at),
                )
            )
        elif isinstance(event, HoldCaptured | HoldReleased | HoldExpired):
            self._close(change, event)

    def _close(self, change: Change, event: HoldCaptured | HoldReleased | HoldExpired) -> None:
        released = sum(int(a["amount"]) for a in event.released_allocations)
        captured = overage = 0
        if isinstance(event, HoldCaptured):
            captured, overage = event.captured, event.overage
        self.rows["close"].append(
            (
                HOLD_CLOSED_AS[type(event)],
                self.tx.dialect.to_db(event.occurred_at),
                captured,
                released,
                overage,
                change.wallet_id,
                event.hold_id,
            )
        )

    def other(self, other: Other) -> None:
        event = other.event
        if isinstance(event, Created):
            self.rows["item"].append((event.kind, str(event.aggregate_id), other.position, 1))
        elif isinstance(event, WebhookEvent):
            row = ("webhook", str(event.originator_id), other.position, int(event.active))
            self.rows["item"].append(row)

    def finish(self) -> None:
        # New rows first, each once (its record's own id); then the updates of them, row by
        # row, as is an item that may be written twice in one batch (created, deactivated).
        for name in ("wallet", "debit", "hold", "refund"):
            self.tx.insert_many(self.sql[name], self.rows[name])
        for name in ("refunded", "close", "item"):
            self.tx.executemany(self.sql[name], self.rows[name])


class ListsProjection(Projection):
    """Wallets, debits, refunds, holds and server-wide items, for the list endpoints."""

    name = "lists"
    parts = ("", "debits", "refunds", "holds", "items")
    indexes = (
        "by_customer",
        "debits_by_position",
        "refunds_by_debit",
        "holds_by_position",
        "holds_by_status",
        "items_by_kind",
    )
    ddl = DDL
    reads_others = True

    def apply(self, tx: Tx, generation: int, changes: Sequence[Change]) -> None:
        self.apply_with_others(tx, generation, changes, ())

    def apply_with_others(
        self, tx: Tx, generation: int, changes: Sequence[Change], others: Sequence[Any]
    ) -> None:
        writer = _Writer(self, tx, generation)
        for change in changes:
            writer.change(change)
        for other in others:
            writer.other(other)
        writer.finish()

    def dump(self, tx: Tx, generation: int) -> dict[str, dict[Any, Any]]:
        """Every row's key and counters (reconciliation has no fold of these yet)."""
        dumped: dict[str, dict[Any, Any]] = {}
        for table, text in DUMP.items():
            rows = tx.all(self.sql(tx, text, generation))
            dumped[table] = {tuple(row[:2]): tuple(row[2:]) for row in rows}
        return dumped
