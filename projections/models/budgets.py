"""The budget status projection: each budget's definition and what it spent per period.

* ``budget_status_g<N>``: per (wallet, budget) the latest ``BudgetSet`` (scope, limit,
  period, time zone, mode, thresholds) and whether it has since been removed.
* ``budget_status_periods_g<N>``: per (wallet, budget, period_start) the credits charged.

The rules are the wallet's own (``ledger.domain.wallet_state.charge_budgets``, ``DebitRefunded``):
``BudgetSet`` *sets* its period's spent to the count recorded on the event; each charge of
``CreditsDebited``/``HoldCaptured`` *adds* to the period it names; a refund's release
*subtracts* from its period, never below zero. Sets and clamped subtractions do not
commute with adds, so a batch is applied in log order; runs of adds to one period between
them are summed first, which changes nothing because adds commute with each other.

``spent`` here is charged spend only; the wallet's budget view also counts open holds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ledger.domain.events import (
    BudgetRemoved,
    BudgetSet,
    CreditsDebited,
    DebitRefunded,
    HoldCaptured,
)
from projections.engine.base import Change, Projection
from projections.engine.store import Tx

__all__ = ["BudgetStatusProjection", "definition_of"]

DDL = (
    "CREATE TABLE IF NOT EXISTS {t} (wallet_id TEXT NOT NULL, budget_id TEXT NOT NULL,"
    " scope TEXT NOT NULL, limit_amount {bigint} NOT NULL, period TEXT NOT NULL,"
    " timezone TEXT NOT NULL, mode TEXT NOT NULL, alert_thresholds_bps TEXT NOT NULL,"
    " removed INTEGER NOT NULL, set_at {ts} NOT NULL, PRIMARY KEY (wallet_id, budget_id))",
    "CREATE TABLE IF NOT EXISTS {t_periods} (wallet_id TEXT NOT NULL, budget_id TEXT NOT NULL,"
    " period_start {ts} NOT NULL, spent {bigint} NOT NULL,"
    " PRIMARY KEY (wallet_id, budget_id, period_start))",
)
UPSERT_DEFINITION = (
    "INSERT INTO {t} AS cur (wallet_id, budget_id, scope, limit_amount, period, timezone,"
    " mode, alert_thresholds_bps, removed, set_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)"
    " ON CONFLICT (wallet_id, budget_id) DO UPDATE SET scope = excluded.scope,"
    " limit_amount = excluded.limit_amount, period = excluded.period,"
    " timezone = excluded.timezone, mode = excluded.mode,"
    " alert_thresholds_bps = excluded.alert_thresholds_bps, removed = 0,"
    " set_at = excluded.set_at"
)
MARK_REMOVED = "UPDATE {t} SET removed = 1 WHERE wallet_id = ? AND budget_id = ?"
SET_SPENT = (
    "INSERT INTO {t_periods} AS cur (wallet_id, budget_id, period_start, spent)"
    " VALUES (?, ?, ?, ?) ON CONFLICT (wallet_id, budget_id, period_start)"
    " DO UPDATE SET spent = excluded.spent"
)
ADD_SPENT = (
    "INSERT INTO {t_periods} AS cur (wallet_id, budget_id, period_start, spent)"
    " VALUES (?, ?, ?, ?) ON CONFLICT (wallet_id, budget_id, period_start)"
    " DO UPDATE SET spent = cur.spent + excluded.spent"
)
RELEASE_SPENT = (
    "UPDATE {t_periods} SET spent = {greatest}(0, spent - ?)"
    " WHERE wallet_id = ? AND budget_id = ? AND period_start = ?"
)
DUMP_DEFINITIONS = (
    "SELECT wallet_id, budget_id, scope, limit_amount, period, timezone, mode,"
    " alert_thresholds_bps, removed, set_at FROM {t}"
)
DUMP_PERIODS = "SELECT wallet_id, budget_id, period_start, spent FROM {t_periods}"

PeriodKey = tuple[str, str, datetime]


def definition_of(event: BudgetSet) -> tuple[Any, ...]:
    """A budget's stored definition: (scope, limit, period, tz, mode, thresholds)."""
    return (
        json.dumps(event.scope, sort_keys=True),
        event.limit,
        event.period,
        event.timezone,
        event.mode,
        json.dumps(sorted(event.alert_thresholds_bps)),
    )


class _Writer:
    """Applies one batch's budget operations in log order, summing runs of adds."""

    def __init__(self, projection: BudgetStatusProjection, tx: Tx, generation: int) -> None:
        self._tx = tx
        self._sql = {
            name: projection.sql(tx, template, generation)
            for name, template in (
                ("define", UPSERT_DEFINITION),
                ("remove", MARK_REMOVED),
                ("set", SET_SPENT),
                ("add", ADD_SPENT),
                ("release", RELEASE_SPENT),
            )
        }
        self._adds: dict[PeriodKey, int] = {}

    def _key(self, wallet_id: str, budget_id: str, start: datetime) -> PeriodKey:
        return wallet_id, budget_id, start.astimezone(UTC)

    def _flush(self, key: PeriodKey | None = None) -> None:
        keys = sorted(self._adds) if key is None else [key] if key in self._adds else []
        to_db = self._tx.dialect.to_db
        rows = [(w, b, to_db(start), self._adds.pop((w, b, start))) for w, b, start in keys]
        self._tx.insert_many(self._sql["add"], rows)  # one row per key

    def apply(self, change: Change) -> None:
        event, wallet_id, to_db = change.event, change.wallet_id, self._tx.dialect.to_db
        if isinstance(event, BudgetSet):
            key = self._key(wallet_id, event.budget_id, event.period_start)
            self._flush(key)
            self._tx.execute(
                self._sql["define"],
                (wallet_id, event.budget_id, *definition_of(event), to_db(event.occurred_at)),
            )
            self._tx.execute(self._sql["set"], (*key[:2], to_db(key[2]), event.spent))
        elif isinstance(event, BudgetRemoved):
            self._tx.execute(self._sql["remove"], (wallet_id, event.budget_id))
        elif isinstance(event, CreditsDebited | HoldCaptured):
            for charge in event.budget_charges:
                key = self._key(wallet_id, charge["budget_id"], charge["period_start"])
                self._adds[key] = self._adds.get(key, 0) + int(charge["amount"])
        elif isinstance(event, DebitRefunded):
            for release in event.budget_releases:
                key = self._key(wallet_id, release["budget_id"], release["period_start"])
                self._flush(key)
                self._tx.execute(
                    self._sql["release"], (int(release["amount"]), *key[:2], to_db(key[2]))
                )

    def finish(self) -> None:
        self._flush()


class BudgetStatusProjection(Projection):
    """Budget definitions and spent per period, for dashboards."""

    name = "budget_status"
    parts = ("", "periods")
    ddl = DDL

    def apply(self, tx: Tx, generation: int, changes: Sequence[Change]) -> None:
        writer = _Writer(self, tx, generation)
        for change in changes:
            writer.apply(change)
        writer.finish()

    def dump(self, tx: Tx, generation: int) -> dict[str, dict[Any, Any]]:
        from_db = tx.dialect.from_db
        definitions = {
            (row[0], row[1]): (*row[2:8], bool(row[8]), from_db(row[9]))
            for row in tx.all(self.sql(tx, DUMP_DEFINITIONS, generation))
        }
        periods = {
            (wallet_id, budget_id, from_db(start)): int(spent)
            for wallet_id, budget_id, start, spent in tx.all(self.sql(tx, DUMP_PERIODS, generation))
        }
        return {"budgets": definitions, "periods": periods}
