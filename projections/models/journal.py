"""The journal projection: one row per posting leg, exactly as ``ledger.app.audit`` makes them.

Rows come from :func:`ledger.app.audit.journal_rows`, so the view and the log-scanning audit
read cannot drift apart. ``(position, leg)`` is the key: ``position`` is the event's
notification id (shared by all legs of one event, so a page never splits a transaction)
and ``leg`` keeps the order ``journal_rows`` gives (per posting: debit leg, credit leg).
Indexes serve the audit filters: wallet, account, ``occurred_at`` range, and position.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.app.audit import journal_rows
from projections.engine.base import Change, Projection
from projections.engine.dialect import Dialect
from projections.engine.store import Tx

__all__ = ["COLUMNS", "JournalProjection", "decode_row"]

COLUMNS = (
    "position",
    "leg",
    "transaction_id",
    "wallet_id",
    "account",
    "debit",
    "credit",
    "unit",
    "occurred_at",
    "recorded_at",
    "event_version",
    "event_type",
    "idempotency_key",
)
SELECT_COLUMNS = ", ".join(COLUMNS)

DDL = (
    "CREATE TABLE IF NOT EXISTS {t} (position {bigint} NOT NULL, leg INTEGER NOT NULL,"
    " transaction_id TEXT NOT NULL, wallet_id TEXT NOT NULL, account TEXT NOT NULL,"
    " debit {bigint} NOT NULL, credit {bigint} NOT NULL, unit TEXT NOT NULL,"
    " occurred_at {ts} NOT NULL, recorded_at {ts} NOT NULL, event_version {bigint} NOT NULL,"
    " event_type TEXT NOT NULL, idempotency_key TEXT, PRIMARY KEY (position, leg))",
    "CREATE INDEX IF NOT EXISTS {ix_wallet} ON {t} (wallet_id, position)",
    "CREATE INDEX IF NOT EXISTS {ix_account} ON {t} (account, position)",
    "CREATE INDEX IF NOT EXISTS {ix_occurred} ON {t} (occurred_at)",
)
ROWS_BETWEEN = (
    f"SELECT {SELECT_COLUMNS} FROM {{t}} WHERE position > ? AND position <= ?"  # noqa: S608 - constant identifiers; values are parameters
    " ORDER BY position, leg"
)


def encode_rows(dialect: Dialect, change: Change) -> list[tuple[Any, ...]]:
    """The table rows of one event (its ``journal_rows``, numbered by leg)."""
    rows = journal_rows(change.position, change.event, change.wallet_id, change.unit)
    return [
        (
            row["position"],
            leg,
            row["transaction_id"],
            row["wallet_id"],
            row["account"],
            row["debit"],
            row["credit"],
            row["unit"],
            dialect.to_db(row["occurred_at"]),
            dialect.to_db(row["recorded_at"]),
            row["event"]["version"],
            row["event"]["type"],
            row["idempotency_key"],
        )
        for leg, row in enumerate(rows)
    ]


def decode_row(dialect: Dialect, row: Sequence[Any]) -> dict[str, Any]:
    """A table row (``SELECT_COLUMNS`` order) as the dict ``journal_rows`` makes."""
    (position, _leg, transaction_id, wallet_id, account, debit, credit, unit) = row[:8]
    occurred_at, recorded_at, version, event_type, idempotency_key = row[8:]
    return {
        "position": int(position),
        "transaction_id": transaction_id,
        "wallet_id": wallet_id,
        "unit": unit,
        "occurred_at": dialect.from_db(occurred_at),
        "recorded_at": dialect.from_db(recorded_at),
        "event": {"wallet_id": wallet_id, "version": int(version), "type": event_type},
        "idempotency_key": idempotency_key,
        "account": account,
        "debit": int(debit),
        "credit": int(credit),
    }


class JournalProjection(Projection):
    """Posting legs with lineage to their event and command (idempotency key)."""

    name = "journal"
    indexes = ("wallet", "account", "occurred")
    ddl = DDL

    def apply(self, tx: Tx, generation: int, changes: Sequence[Change]) -> None:
        rows = [row for change in changes for row in encode_rows(tx.dialect, change)]
        tx.insert_rows(tx.dialect.table(self.table("", generation)), COLUMNS, rows)

    def rows_between(self, tx: Tx, generation: int, after: int, upto: int) -> list[dict[str, Any]]:
        """Rows with positions in ``(after, upto]``, in journal order."""
        sql = self.sql(tx, ROWS_BETWEEN, generation)
        return [decode_row(tx.dialect, row) for row in tx.all(sql, (after, upto))]

    def dump(self, tx: Tx, generation: int) -> dict[str, dict[Any, Any]]:
        # Journal rows are compared by position range (rows_between), never all at once.
        del tx, generation
        return {}
