"""Budget status for dashboards: each budget of a wallet and what it spent per period."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ledger.domain.periods import Period, period_bounds
from projections.catalog import BUDGET_STATUS
from projections.engine.reading import live, reading
from projections.engine.store import Tx, ViewStore

__all__ = ["budget_status"]

BUDGETS = (
    "SELECT budget_id, scope, limit_amount, period, timezone, mode, alert_thresholds_bps,"
    " removed, set_at FROM {budgets} WHERE wallet_id = ? ORDER BY budget_id"
)
BUDGET_PERIODS = (
    "SELECT budget_id, period_start, spent FROM {periods} WHERE wallet_id = ?"
    " ORDER BY budget_id, period_start DESC"
)


def budget_status(
    views: ViewStore, wallet_id: str, *, at: datetime | None = None, include_removed: bool = False
) -> dict[str, Any]:
    """Each budget of a wallet with what it spent per period (newest first).

    With ``at``, each budget also shows its period containing ``at`` (``period_start``,
    ``period_end``, ``spent``, ``remaining``). ``spent`` is charged spend: debits and
    captures less refunds; the wallet's own budget view adds what open holds reserve.
    """

    def query(tx: Tx) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        view = live(tx, BUDGET_STATUS)
        names = {"budgets": view.table(), "periods": view.table("periods")}
        budgets = tx.all(tx.dialect.sql(BUDGETS, **names), (wallet_id,))
        periods = tx.all(tx.dialect.sql(BUDGET_PERIODS, **names), (wallet_id,))
        return budgets, periods

    rows, period_rows = reading(views, query)
    spent: dict[str, list[tuple[datetime, int]]] = {}
    for budget_id, start, amount in period_rows:
        spent.setdefault(budget_id, []).append((views.dialect.from_db(start), int(amount)))
    return {
        "wallet_id": wallet_id,
        "budgets": [
            _budget(views, row, spent.get(row[0], []), at)
            for row in rows
            if include_removed or not row[7]
        ],
    }


def _budget(
    views: ViewStore, row: tuple[Any, ...], periods: list[tuple[datetime, int]], at: datetime | None
) -> dict[str, Any]:
    budget_id, scope, limit, period, timezone, mode, thresholds, removed, set_at = row
    view: dict[str, Any] = {
        "budget_id": budget_id,
        "scope": json.loads(scope),
        "limit": int(limit),
        "period": period,
        "timezone": timezone,
        "mode": mode,
        "alert_thresholds": [bps / 10_000 for bps in json.loads(thresholds)],
        "removed": bool(removed),
        "set_at": views.dialect.from_db(set_at),
        "periods": [
            {"period_start": start, "spent": amount, "remaining": max(0, int(limit) - amount)}
            for start, amount in periods
        ],
    }
    if at is not None:
        start, end = period_bounds(Period(period), at, timezone)
        current = next((amount for s, amount in periods if s == start), 0)
        view.update(
            period_start=start,
            period_end=end,
            spent=current,
            remaining=max(0, int(limit) - current),
        )
    return view
