"""The uncollected projection: billed usage the ledger could not collect, per hour and subject.

Usage billed beyond a wallet's overdraft is recorded but never posted:
``CreditsDebited.uncollected`` (part of a usage event) or ``UsageUncollected`` (all of one).
This view keeps it beside the usage view (:mod:`projections.models.usage`), at the same grain (the
UTC hour of the usage time times the full subject tuple), so the usage report can show it
per window and group. A separate projection rather than a column of ``usage``: a new
projection is built from the start of the log by the first worker that runs it, where a new
column of an existing view would miss every event the view had already applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ledger.domain.events import CreditsDebited, UsageUncollected, WalletEvent
from projections.engine.base import Change, Projection
from projections.engine.dialect import hour_start
from projections.engine.store import Tx
from projections.models.usage import ABSENT, SUBJECT_COLUMNS

__all__ = ["UncollectedProjection", "uncollected_of"]

_KEY = ", ".join(("wallet_id", "hour", *SUBJECT_COLUMNS))

DDL = (
    "CREATE TABLE IF NOT EXISTS {t} (wallet_id TEXT NOT NULL, hour {ts} NOT NULL,"
    + "".join(f" {c} TEXT NOT NULL," for c in SUBJECT_COLUMNS)
    + " uncollected {bigint} NOT NULL, events {bigint} NOT NULL,"
    f" PRIMARY KEY ({_KEY}))",
)
UPSERT = (
    f"INSERT INTO {{t}} AS cur ({_KEY}, uncollected, events)"  # noqa: S608 - constant identifiers; values are parameters
    f" VALUES ({', '.join('?' for _ in range(2 + len(SUBJECT_COLUMNS) + 2))})"
    f" ON CONFLICT ({_KEY}) DO UPDATE SET uncollected = cur.uncollected + excluded.uncollected,"
    " events = cur.events + excluded.events"
)
DUMP = f"SELECT {_KEY}, uncollected, events FROM {{t}}"  # noqa: S608 - constant identifiers; values are parameters


def uncollected_of(event: WalletEvent) -> tuple[datetime, int, dict[str, str]] | None:
    """(usage time, credits not collected, subject) of an event that records any."""
    if isinstance(event, CreditsDebited) and event.uncollected:
        return event.usage_at, event.uncollected, event.subject
    if isinstance(event, UsageUncollected):
        return event.usage_at, event.amount, event.subject
    return None


class UncollectedProjection(Projection):
    """Hourly uncollected cells; the batch is summed in memory, then one upsert per cell."""

    name = "uncollected"
    ddl = DDL

    def apply(self, tx: Tx, generation: int, changes: Sequence[Change]) -> None:
        cells: dict[tuple[str, datetime, tuple[str, ...]], list[int]] = {}
        for change in changes:
            found = uncollected_of(change.event)
            if found is None:
                continue
            when, amount, subject = found
            subject_key = tuple(subject.get(key, ABSENT) for key in SUBJECT_COLUMNS)
            cell = cells.setdefault((change.wallet_id, hour_start(when), subject_key), [0, 0])
            cell[0] += amount
            cell[1] += 1
        to_db = tx.dialect.to_db
        tx.insert_many(
            self.sql(tx, UPSERT, generation),
            [
                (wallet_id, to_db(hour), *subject, amount, count)
                for (wallet_id, hour, subject), (amount, count) in sorted(cells.items())
            ],
        )

    def dump(self, tx: Tx, generation: int) -> dict[str, dict[Any, Any]]:
        cells = {
            (row[0], tx.dialect.from_db(row[1]), tuple(row[2:-2])): (int(row[-2]), int(row[-1]))
            for row in tx.all(self.sql(tx, DUMP, generation))
        }
        return {"uncollected": cells}
