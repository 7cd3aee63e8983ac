"""The meters projection: the usage FACTS, one row per recorded usage event.

Meters are computed at query time over these rows (:mod:`projections.meter_queries`), not
kept as per-meter rollups: a meter defined after its events arrived measures them all, and
unique counts stay exact across any window (see docs/decisions/0012). The row holds what a
meter can ask about, flattened at write time so both databases answer alike:

* ``dims``: a JSON object from each path (``subject.model``, ``quantities.input_tokens``,
  ``properties.region``) to the JSON text of that scalar. Comparing texts makes ``5`` and
  ``"5"`` different values in both SQLite and PostgreSQL (grouping and unique counts).
* ``nums``: the same paths for the values that are JSON integers (never booleans) of at
  most 2**53 - 1 in magnitude, the only values ``sum``/``min``/``max``/``avg`` take.

Only top-level keys that a meter may name (:data:`ledger.metering.meters.PATH_KEY`) are kept, and
only scalars (objects, arrays and nulls are left out). Rows are keyed by the usage batch's
log position and the event's index in it, which also orders ties for ``latest``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ledger.domain.validation import MAX_AMOUNT
from ledger.metering.meters import PATH_KEY, VALUE_ROOTS
from ledger.metering.usage import UsageRecord
from projections.engine.base import Change, Projection, UsageChange
from projections.engine.store import Tx

__all__ = ["COLUMNS", "MetersProjection", "flatten", "safe_text"]

COLUMNS = (
    "position",
    "seq",
    "wallet_id",
    "event_id",
    "event_type",
    "occurred_at",
    "dims",
    "nums",
)
DDL = (
    "CREATE TABLE IF NOT EXISTS {t} (position {bigint} NOT NULL, seq {bigint} NOT NULL,"
    " wallet_id TEXT NOT NULL, event_id TEXT NOT NULL, event_type TEXT NOT NULL,"
    " occurred_at {ts} NOT NULL, dims {json} NOT NULL, nums {json} NOT NULL,"
    " PRIMARY KEY (position, seq))",
    "CREATE INDEX IF NOT EXISTS {ix_by_type} ON {t} (wallet_id, event_type, occurred_at)",
)
PER_WALLET = "SELECT wallet_id, COUNT(*) FROM {t} GROUP BY wallet_id"


def safe_text(text: str) -> str:
    """``text`` without NUL characters, which PostgreSQL text cannot hold (both databases
    store and compare the same replacement)."""
    return text.replace("\x00", "\ufffd")


def flatten(record: UsageRecord) -> tuple[dict[str, str], dict[str, int]]:
    """(dims, nums) of one usage event, as the module docstring describes them."""
    dims: dict[str, str] = {}
    nums: dict[str, int] = {}
    for root in VALUE_ROOTS:
        values = record.get(root)
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            if not isinstance(key, str) or not PATH_KEY.fullmatch(key):
                continue
            if value is None or isinstance(value, dict | list):
                continue
            path = f"{root}.{key}"
            dims[path] = json.dumps(value, sort_keys=True)
            if type(value) is int and abs(value) <= MAX_AMOUNT:
                nums[path] = value
    return dims, nums


def _occurred_at(record: UsageRecord) -> datetime:
    value = record["occurred_at"]
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


class MetersProjection(Projection):
    """Usage facts, appended as usage batches arrive; wallet events change nothing here."""

    name = "meters"
    indexes = ("by_type",)
    ddl = DDL
    reads_usage = True

    def apply(self, tx: Tx, generation: int, changes: Sequence[Change]) -> None:
        """Nothing: meters read usage events only (:meth:`apply_usage`)."""

    def apply_usage(self, tx: Tx, generation: int, usage: Sequence[UsageChange]) -> None:
        rows = []
        for change in usage:
            record = change.record
            dims, nums = flatten(record)
            rows.append(
                (
                    change.position,
                    change.index,
                    str(record["wallet_id"]),
                    safe_text(str(record["event_id"])),
                    safe_text(str(record["type"])),
                    tx.dialect.to_db(_occurred_at(record)),
                    json.dumps(dims, sort_keys=True),
                    json.dumps(nums, sort_keys=True),
                )
            )
        tx.insert_rows(tx.dialect.table(self.table("", generation)), COLUMNS, rows)

    def dump(self, tx: Tx, generation: int) -> dict[str, dict[Any, Any]]:
        """Facts per wallet (reconciliation compares them with the usage in the log)."""
        rows = tx.all(self.sql(tx, PER_WALLET, generation))
        return {"facts": {str(wallet_id): int(count) for wallet_id, count in rows}}
