"""Small aggregates saved in the same transaction as the wallet's events.

* :class:`Receipt` — the idempotency record of one command: its key, a fingerprint of the
  request and the result it produced. Its id derives from (scope, key), so a second command
  with the same key collides on the store's unique ``(id, version)`` and rolls back whole.
  A debit's receipt is also the debit's record: ``debit_id`` is the receipt id.
* :class:`HoldRecord` — one per hold id, so a hold id can never be reused and a resolved hold
  still answers ``GET`` and ``hold_not_open``, while the wallet keeps only open holds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from ledger.domain.ids import hold_record_id

__all__ = [
    "CLAIM_RESULT_KEY",
    "HoldClosed",
    "HoldPlacedRecord",
    "HoldRecord",
    "PlacedHolds",
    "Receipt",
    "ReceiptRecorded",
]


class ReceiptEvent(Aggregate.Event):
    pass


CLAIM_RESULT_KEY = "claim"
"""The result of a key claim (``Receipt.claim``), which is never a command's answer."""


class ReceiptRecorded(ReceiptEvent, Aggregate.Created):
    TOPIC = "ledger:Receipt.Recorded"
    scope: str
    key: str
    operation: str
    fingerprint: str
    result: dict[str, Any]
    wallet_version: int | None

    def apply(self, aggregate: Any) -> None:
        receipt: Receipt = aggregate
        receipt.scope = self.scope
        receipt.key = self.key
        receipt.operation = self.operation
        receipt.fingerprint = self.fingerprint
        receipt.result = self.result
        receipt.wallet_version = self.wallet_version


class Receipt(Aggregate):
    TOPIC = "ledger:Receipt"
    Event = ReceiptEvent
    Created = ReceiptRecorded

    scope: str
    key: str
    operation: str
    fingerprint: str
    result: dict[str, Any]
    wallet_version: int | None

    @classmethod
    def record(
        cls,
        *,
        receipt_id: UUID,
        scope: str,
        key: str,
        operation: str,
        fingerprint: str,
        result: dict[str, Any],
        wallet_version: int | None,
    ) -> Receipt:
        return cls._create(
            ReceiptRecorded,
            id=receipt_id,
            scope=scope,
            key=key,
            operation=operation,
            fingerprint=fingerprint,
            result=result,
            wallet_version=wallet_version,
        )

    @classmethod
    def claim(
        cls, *, receipt_id: UUID, scope: str, key: str, operation: str, fingerprint: str
    ) -> Receipt:
        """A claim of a server-wide key (``LedgerApplication.claim_key``): a receipt whose
        result is never a command's answer."""
        return cls.record(
            receipt_id=receipt_id,
            scope=scope,
            key=key,
            operation=operation,
            fingerprint=fingerprint,
            result={CLAIM_RESULT_KEY: True},
            wallet_version=None,
        )


class HoldRecordEvent(Aggregate.Event):
    pass


class HoldPlacedRecord(HoldRecordEvent, Aggregate.Created):
    TOPIC = "ledger:HoldRecord.Placed"
    wallet_id: str
    view: dict[str, Any]

    def apply(self, aggregate: Any) -> None:
        record: HoldRecord = aggregate
        record.wallet_id = self.wallet_id
        record.view = dict(self.view)


class HoldClosed(HoldRecordEvent):
    TOPIC = "ledger:HoldRecord.Closed"
    outcome: dict[str, Any]

    def apply(self, aggregate: Any) -> None:
        record: HoldRecord = aggregate
        record.view = {**record.view, **self.outcome}


class HoldRecord(Aggregate):
    TOPIC = "ledger:HoldRecord"
    Event = HoldRecordEvent
    Created = HoldPlacedRecord

    wallet_id: str
    view: dict[str, Any]

    @classmethod
    def place(cls, *, wallet_id: str, view: dict[str, Any]) -> HoldRecord:
        return cls._create(
            HoldPlacedRecord,
            id=hold_record_id(wallet_id, view["hold_id"]),
            wallet_id=wallet_id,
            view=view,
        )

    @property
    def status(self) -> str:
        return str(self.view["status"])

    def close(self, *, status: str, closed_at: datetime, **outcome: Any) -> None:
        self.trigger_event(
            HoldClosed, outcome={"status": status, "closed_at": closed_at, **outcome}
        )


class PlacedHolds:
    """Hold records this process placed and saved, still open, by record id (bounded).

    Closing a hold updates its record in the same transaction as the wallet's event; the
    record placed here a moment ago is then taken from memory instead of read from the
    store — one read less per capture or release, on the committer's serial path. Taking
    removes it, so a retry after a failed save reads the store. A copy gone stale (another
    process closed the hold) cannot be saved: that process also wrote the wallet, so the
    batch's version check fails and its commands are decided again on fresh state.
    """

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._records: OrderedDict[UUID, HoldRecord] = OrderedDict()
        self._lock = threading.Lock()  # the direct write path saves from many threads

    def remember(self, saved: Iterable[HoldRecord]) -> None:
        with self._lock:
            for record in saved:
                if record.version == 1:  # just placed: open
                    self._records[record.id] = record
            while len(self._records) > self._size:
                self._records.popitem(last=False)

    def take(self, record_id: UUID) -> HoldRecord | None:
        with self._lock:
            return self._records.pop(record_id, None)


for _event_class in (ReceiptRecorded, HoldPlacedRecord, HoldClosed):
    register_topic(_event_class.TOPIC, _event_class)
