"""The balances projection: debit and credit totals per account, now and per UTC day.

* ``balances_g<N>``: per account its unit, ``debit_total``, ``credit_total`` and the latest
  ``occurred_at`` that moved it. Answers "now" in O(accounts).
* ``balances_days_g<N>``: per account and UTC day, what moved on that day.

Balances AS OF a past time T (trial balance, account balance): every day before T's day
comes from ``balances_days``, and the part of T's own day up to T from the journal's legs
on that day, limited to positions this projection has applied, so both halves describe
the same prefix of the log (see :mod:`projections.queries`). That costs O(account-days
before T + legs of one day) instead of a scan of every posting up to T. When T is at or
after the latest ``occurred_at`` recorded here, the totals table answers directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from projections.engine.base import Change, Projection
from projections.engine.dialect import day_start
from projections.engine.store import Tx

__all__ = ["BalancesProjection"]

DDL = (
    "CREATE TABLE IF NOT EXISTS {t} (account TEXT PRIMARY KEY, unit TEXT NOT NULL,"
    " debit_total {bigint} NOT NULL, credit_total {bigint} NOT NULL,"
    " last_occurred_at {ts} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {t_days} (account TEXT NOT NULL, day {ts} NOT NULL,"
    " unit TEXT NOT NULL, debit {bigint} NOT NULL, credit {bigint} NOT NULL,"
    " PRIMARY KEY (account, day))",
    "CREATE INDEX IF NOT EXISTS {ix_day} ON {t_days} (day)",
    "CREATE INDEX IF NOT EXISTS {ix_latest} ON {t} (last_occurred_at)",
)
UPSERT_TOTAL = (
    "INSERT INTO {t} AS cur (account, unit, debit_total, credit_total, last_occurred_at)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (account) DO UPDATE SET"
    " debit_total = cur.debit_total + excluded.debit_total,"
    " credit_total = cur.credit_total + excluded.credit_total,"
    " last_occurred_at = {greatest}(cur.last_occurred_at, excluded.last_occurred_at)"
)
UPSERT_DAY = (
    "INSERT INTO {t_days} AS cur (account, day, unit, debit, credit) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (account, day) DO UPDATE SET debit = cur.debit + excluded.debit,"
    " credit = cur.credit + excluded.credit"
)
DUMP_TOTALS = "SELECT account, unit, debit_total, credit_total, last_occurred_at FROM {t}"
DUMP_DAYS = "SELECT account, day, unit, debit, credit FROM {t_days}"


class BalancesProjection(Projection):
    """Account totals and daily movements; the batch is summed in memory first, so each
    account is written once per batch however many postings touched it."""

    name = "balances"
    parts = ("", "days")
    indexes = ("day", "latest")
    ddl = DDL

    def apply(self, tx: Tx, generation: int, changes: Sequence[Change]) -> None:
        totals: dict[str, list[Any]] = {}
        days: dict[tuple[str, datetime], list[Any]] = {}
        for change in changes:
            when = change.event.occurred_at
            day = day_start(when)
            for posting in change.event.postings:
                amount = posting["amount"]
                for account, debit, credit in (
                    (posting["debit"], amount, 0),
                    (posting["credit"], 0, amount),
                ):
                    total = totals.setdefault(account, [change.unit, 0, 0, when])
                    total[1] += debit
                    total[2] += credit
                    total[3] = max(total[3], when)
                    moved = days.setdefault((account, day), [change.unit, 0, 0])
                    moved[1] += debit
                    moved[2] += credit
        to_db = tx.dialect.to_db
        tx.insert_many(
            self.sql(tx, UPSERT_TOTAL, generation),
            [(a, u, d, c, to_db(last)) for a, (u, d, c, last) in sorted(totals.items())],
        )
        tx.insert_many(
            self.sql(tx, UPSERT_DAY, generation),
            [(a, to_db(day), u, d, c) for (a, day), (u, d, c) in sorted(days.items())],
        )

    def dump(self, tx: Tx, generation: int) -> dict[str, dict[Any, Any]]:
        from_db = tx.dialect.from_db
        totals = {
            account: (unit, int(d), int(c), from_db(last))
            for account, unit, d, c, last in tx.all(self.sql(tx, DUMP_TOTALS, generation))
        }
        days = {
            (account, from_db(day)): (unit, int(d), int(c))
            for account, day, unit, d, c in tx.all(self.sql(tx, DUMP_DAYS, generation))
        }
        return {"balances": totals, "days": days}
