"""The usage projection: credits debited and how many times, per wallet, hour and subject.

Same facts as :func:`ledger.app.audit.usage_series`: a ``CreditsDebited`` counts its ``amount``
at ``usage_at``; a ``HoldCaptured`` counts ``captured`` at ``occurred_at``. Rows are kept
at the finest grain any query needs, the UTC hour times the full subject tuple, so day and
month windows and any ``group_by`` subset are sums at query time.

A subject key the request did not send is stored as ``''`` (never a valid value: subject
values are 1-256 characters), because NULLs cannot be part of a primary key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ledger.domain.events import CreditsDebited, HoldCaptured, WalletEvent
from ledger.domain.state import SUBJECT_KEYS
from projections.engine.base import Change, Projection
from projections.engine.dialect import hour_start
from projections.engine.store import Tx

__all__ = ["ABSENT", "SUBJECT_COLUMNS", "UsageProjection", "usage_of"]

SUBJECT_COLUMNS = ("user_id", "team_id", "agent_id", "project_id", "feature", "model")
if frozenset(SUBJECT_COLUMNS) != SUBJECT_KEYS:  # a new subject key needs a new column
    raise ImportError("usage columns no longer match ledger.domain.state.SUBJECT_KEYS")
ABSENT = ""
_KEY = ", ".join(("wallet_id", "hour", *SUBJECT_COLUMNS))

DDL = (
    "CREATE TABLE IF NOT EXISTS {t} (wallet_id TEXT NOT NULL, hour {ts} NOT NULL,"
    + "".join(f" {c} TEXT NOT NULL," for c in SUBJECT_COLUMNS)
    + " debited {bigint} NOT NULL, debit_count {bigint} NOT NULL,"
    f" PRIMARY KEY ({_KEY}))",
)
UPSERT = (
    f"INSERT INTO {{t}} AS cur ({_KEY}, debited, debit_count)"  # noqa: S608 - constant identifiers; values are parameters
    f" VALUES ({', '.join('?' for _ in range(2 + len(SUBJECT_COLUMNS) + 2))})"
    f" ON CONFLICT ({_KEY}) DO UPDATE SET debited = cur.debited + excluded.debited,"
    " debit_count = cur.debit_count + excluded.debit_count"
)
DUMP = f"SELECT {_KEY}, debited, debit_count FROM {{t}}"  # noqa: S608 - constant identifiers; values are parameters

Cell = tuple[str, datetime, tuple[str, ...]]


def usage_of(event: WalletEvent) -> tuple[datetime, int, dict[str, str]] | None:
    """(when, credits, subject) if the event is usage, as ``ledger.app.audit`` counts it."""
    if isinstance(event, CreditsDebited):
        return event.usage_at, event.amount, event.subject
    if isinstance(event, HoldCaptured):
        return event.occurred_at, event.captured, event.subject
    return None


class UsageProjection(Projection):
    """Hourly usage cells; the batch is summed in memory, then one upsert per cell."""

    name = "usage"
    ddl = DDL

    def apply(self, tx: Tx, generation: int, changes: Sequence[Change]) -> None:
        cells: dict[Cell, list[int]] = {}
        for change in changes:
            usage = usage_of(change.event)
            if usage is None:
                continue
            when, amount, subject = usage
            subject_key = tuple(subject.get(key, ABSENT) for key in SUBJECT_COLUMNS)
            cell = cells.setdefault((change.wallet_id, hour_start(when), subject_key), [0, 0])
            cell[0] += amount
            cell[1] += 1
        to_db = tx.dialect.to_db
        tx.insert_many(
            self.sql(tx, UPSERT, generation),
            [
                (wallet_id, to_db(hour), *subject, debited, count)
                for (wallet_id, hour, subject), (debited, count) in sorted(cells.items())
            ],
        )

    def dump(self, tx: Tx, generation: int) -> dict[str, dict[Any, Any]]:
        cells = {
            (row[0], tx.dialect.from_db(row[1]), tuple(row[2:-2])): (int(row[-2]), int(row[-1]))
            for row in tx.all(self.sql(tx, DUMP, generation))
        }
        return {"usage": cells}
