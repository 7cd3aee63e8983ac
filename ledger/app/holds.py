"""Hold records kept in step with a wallet's hold events, in the same transaction.

A resolved hold leaves the wallet's state (which stays small) and lives on in its
``HoldRecord``; :class:`HoldRecords` makes the record changes that go with the hold events a
wallet is about to save, and remembers records just placed so that closing one soon after
needs no store read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.domain.events import HOLD_CLOSED_AS, HoldCaptured, HoldExpired, HoldPlaced, HoldReleased
from ledger.domain.ids import hold_record_id
from ledger.domain.records import HoldRecord, PlacedHolds
from ledger.domain.wallet import Wallet

__all__ = ["HoldRecords"]

_HOLD_VIEW_KEYS = frozenset(
    {"hold_id", "amount", "allocations", "subject", "expires_at", "metadata"}
)


class HoldRecords:
    """The hold records of one shard's store; ``find`` loads one by id (None if absent)."""

    def __init__(self, find: Callable[[UUID], Any | None]) -> None:
        self._find = find
        self._placed = PlacedHolds()

    def remember(self, saved: Iterable[HoldRecord]) -> None:
        """Records just saved: closing one of them soon needs no store read."""
        self._placed.remember(saved)

    def records_for(self, wallets: Iterable[Aggregate]) -> list[Aggregate]:
        """Hold records kept in step with the hold events the wallets are about to save."""
        records: dict[UUID, HoldRecord] = {}
        for wallet in wallets:
            if not isinstance(wallet, Wallet):
                continue
            for event in wallet.pending_events:
                self._track(wallet, event, records)
        return list(records.values())

    def _track(self, wallet: Wallet, event: object, records: dict[UUID, HoldRecord]) -> None:
        if isinstance(event, HoldPlaced):
            view = {k: v for k, v in vars(event).items() if k in _HOLD_VIEW_KEYS}
            view.update(placed_at=event.occurred_at, status="open")
            record = HoldRecord.place(wallet_id=wallet.wallet_id, view=view)
            records[record.id] = record
            return
        if not isinstance(event, HoldCaptured | HoldReleased | HoldExpired):
            return
        record_id = hold_record_id(wallet.wallet_id, event.hold_id)
        found = records.get(record_id) or self._placed.take(record_id) or self._find(record_id)
        if found is None:
            raise AssertionError(f"hold {event.hold_id} has no record")
        released = sum(a["amount"] for a in event.released_allocations)
        captured, overage = 0, 0
        if isinstance(event, HoldCaptured):
            captured, overage = event.captured, event.overage
        found.close(
            status=HOLD_CLOSED_AS[type(event)],
            closed_at=event.occurred_at,
            captured=captured,
            released=released,
            overage=overage,
        )
        records[record_id] = found
