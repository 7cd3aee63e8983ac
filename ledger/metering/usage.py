"""Usage events as the log records them: one :class:`UsageBatch` per accepted ingest batch.

``POST /v1/usage-events`` accepts up to 1,000 events; the ones it keeps (not rejected, not
duplicates) are recorded as ONE aggregate event, ``ledger:UsageBatch.Recorded``, saved in the
same transaction as the wallet debits of the billed ones and as the ``(wallet_id, event_id)``
rows that make ingest exactly-once (see ``ledger.store.recorders``). One stored event per
batch rather than per usage event keeps ingest cheap; the meters projection reads the
batches from the notification log like every other projection.

Each recorded usage event reads as a plain dict (:attr:`UsageBatchRecorded.usage`) with
these stable keys (never renamed; add keys only with an upcaster):

``wallet_id``, ``event_id``, ``type`` (str); ``occurred_at``, ``received_at`` (RFC 3339 UTC
strings ending in ``Z``); ``subject`` (dict[str, str]); ``quantities`` (dict[str, int]);
``properties`` (JSON object); ``bill`` (bool); ``late`` (bool: older than the grace window
when received); ``billed`` (int: credits debited, 0 when not billed); ``debt`` (int: part of
``billed`` that became debt); ``uncollected`` (int: rated credits beyond the overdraft limit,
recorded but not posted); ``debit_id`` (str or None); ``rating`` (dict with
``price_book_id``, ``version``, ``amount``; or None).

Stored form. Version 1 stored ``usage``, a list of those dicts: ~380 KB of JSON for 1,000
events, whose encoding was a sixth of the server's time per batch. Version 2 (this one)
stores ``columns``: one list per key, the values in batch order; a column whose every value
is its default (:data:`COLUMN_DEFAULTS`; for ``received_at`` the batch's own) is left out.
An unbilled batch keeps six columns, ~140 KB. Version 1 events are upcast on reading
(:meth:`UsageBatchRecorded.upcast_v1_v2`), so readers only ever see ``columns`` and the
records built from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

__all__ = [
    "COLUMN_DEFAULTS",
    "RECORD_KEYS",
    "REQUIRED_COLUMNS",
    "USAGE_BATCH_TOPIC",
    "UsageBatch",
    "UsageBatchRecorded",
    "UsageColumns",
    "UsageRecord",
    "columns_of",
    "records_of",
]

UsageRecord = dict[str, Any]
"""One recorded usage event (keys in the module docstring)."""

UsageColumns = dict[str, list[Any]]
"""A batch's records by key: one list per key, values in batch order."""

USAGE_BATCH_TOPIC = "ledger:UsageBatch.Recorded"

REQUIRED_COLUMNS = ("wallet_id", "event_id", "type", "occurred_at", "subject", "quantities")
"""Always stored."""
COLUMN_DEFAULTS: dict[str, Any] = {
    "properties": {},
    "bill": False,
    "late": False,
    "billed": 0,
    "debt": 0,
    "uncollected": 0,
    "debit_id": None,
    "rating": None,
}
"""Stored only when some record of the batch differs; ``received_at`` (not listed) defaults
to the batch's. A default that is a dict is copied for each record that reads it."""
RECORD_KEYS = (*REQUIRED_COLUMNS, "received_at", *COLUMN_DEFAULTS)


def columns_of(records: Sequence[UsageRecord], received_at: str) -> UsageColumns:
    """The stored columns of ``records`` (each with every key of :data:`RECORD_KEYS`)."""
    columns: UsageColumns = {key: [r[key] for r in records] for key in REQUIRED_COLUMNS}
    for key, default in (("received_at", received_at), *COLUMN_DEFAULTS.items()):
        values = [r[key] for r in records]
        if any(v != default or type(v) is not type(default) for v in values):
            columns[key] = values
    return columns


def records_of(columns: UsageColumns, received_at: str) -> list[UsageRecord]:
    """The records the columns hold, in batch order, every key present."""
    count = len(columns["wallet_id"])
    full = dict(columns)
    full.setdefault("received_at", [received_at] * count)
    for key, default in COLUMN_DEFAULTS.items():
        if key not in full:
            # A fresh dict per record: readers may keep or change a record's properties.
            full[key] = [{} for _ in range(count)] if default == {} else [default] * count
    rows = zip(*(full[key] for key in RECORD_KEYS), strict=True)
    return [dict(zip(RECORD_KEYS, row, strict=True)) for row in rows]


class UsageBatchEvent(Aggregate.Event):
    pass


class UsageBatchRecorded(UsageBatchEvent, Aggregate.Created):
    TOPIC = USAGE_BATCH_TOPIC
    class_version = 2
    received_at: str
    columns: UsageColumns

    @property
    def usage(self) -> list[UsageRecord]:
        """The recorded usage events, as dicts (keys in the module docstring)."""
        return records_of(self.columns, self.received_at)

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Version 1 stored the records themselves (``usage``); now they are columns."""
        state["columns"] = columns_of(state.pop("usage"), state["received_at"])

    def apply(self, aggregate: Any) -> None:
        batch: UsageBatch = aggregate
        batch.received_at = self.received_at
        batch.columns = self.columns


class UsageBatch(Aggregate):
    """An accepted batch of usage events; written once, never changed."""

    TOPIC = "ledger:UsageBatch"
    Event = UsageBatchEvent
    Created = UsageBatchRecorded

    received_at: str
    columns: UsageColumns

    @property
    def usage(self) -> list[UsageRecord]:
        return records_of(self.columns, self.received_at)

    @classmethod
    def record(cls, *, received_at: str, usage: Sequence[UsageRecord]) -> UsageBatch:
        """A batch of these records, each with exactly the keys of :data:`RECORD_KEYS`."""
        expected = set(RECORD_KEYS)
        for record in usage:
            if record.keys() != expected:
                raise ValueError(f"a usage record has the keys {sorted(record)}")
        return cls.record_columns(received_at=received_at, columns=columns_of(usage, received_at))

    @classmethod
    def record_columns(cls, *, received_at: str, columns: UsageColumns) -> UsageBatch:
        """A batch given as its stored columns (as :func:`columns_of` makes them)."""
        return cls._create(cls.Created, id=cls.new_id(), received_at=received_at, columns=columns)

    @staticmethod
    def new_id() -> UUID:
        return uuid4()


register_topic(UsageBatch.TOPIC, UsageBatch)
register_topic(UsageBatchRecorded.TOPIC, UsageBatchRecorded)
