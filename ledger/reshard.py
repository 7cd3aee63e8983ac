"""Moving a store to another shard count, offline: ``ledger reshard --to URL --shards N``.

The shard of a wallet is ``hash(wallet_id) % count``, so a new count moves most wallets.
Resharding copies every stored event of the source (all its shards, each in log order) into
an empty target store opened with the new count, each aggregate into the shard of the wallet
it belongs to, keeping its id, versions, topic and stored state byte for byte:

* a wallet and everything keyed by it — receipts (idempotency records and debit records,
  whose scope is the wallet id; a wallet-opening receipt goes with the wallet it opened),
  hold records, alert settings — follow the wallet;
* server-wide aggregates (API keys, price books, meters, webhooks, receipts of server-wide
  commands) go to the home shard; the source's shard map is replaced by the target's;
* a usage batch is split by wallet into one new batch per target shard, saved with its
  ``(wallet_id, event_id)`` rows, so dedup keeps working (new batch ids; records unchanged).

Snapshots are not copied (they are derived; the target takes its own) and read models are
not copied (positions differ in the target: run ``ledger project`` on it to build them).
Writers must be stopped for the copy: events written to the source meanwhile are not moved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

from ledger.application import CreditLedgerBase
from ledger.records import ReceiptRecorded
from ledger.shard_map import ShardMap
from ledger.shards import shard_of
from ledger.usage import USAGE_BATCH_TOPIC, UsageBatch, UsageBatchRecorded

__all__ = ["PAGE", "ReshardReport", "TargetNotEmpty", "reshard"]

PAGE = 500
"""Notifications read (and written) at a time: the copy's memory stays bounded."""

_SHARD_MAP_TOPICS = frozenset({ShardMap.Created.TOPIC})
_RECEIPT_TOPIC = ReceiptRecorded.TOPIC


class TargetNotEmpty(Exception):
    """The target store already holds events: resharding only fills an empty store."""


@dataclass
class ReshardReport:
    events: int = 0
    usage_batches: int = 0
    usage_events: int = 0
    per_shard: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "usage_batches": self.usage_batches,
            "usage_events": self.usage_events,
            "events_per_shard": self.per_shard,
        }


class _Router:
    """Which target shard each aggregate goes to, decided at its first event."""

    def __init__(self, count: int) -> None:
        self.count = count
        # Only aggregates that get more events later are remembered (receipts and usage
        # batches have one event each, and are most of a big log).
        self.shard_by_id: dict[UUID, int] = {}

    def of_wallet(self, wallet_id: object) -> int:
        return shard_of(wallet_id, self.count) if isinstance(wallet_id, str) else 0

    def route(self, notification: Notification, event: Any) -> int:
        originator = UUID(str(notification.originator_id))
        if notification.originator_version > 1:
            try:
                return self.shard_by_id[originator]
            except KeyError:
                raise ValueError(f"aggregate {originator} has no first event") from None
        if isinstance(event, ReceiptRecorded):
            return self._of_receipt(event)
        shard = self.of_wallet(getattr(event, "wallet_id", None))
        self.shard_by_id[originator] = shard
        return shard

    def _of_receipt(self, receipt: ReceiptRecorded) -> int:
        if receipt.scope and not receipt.scope.startswith("#"):
            return self.of_wallet(receipt.scope)  # a wallet's command (or debit record)
        if receipt.operation == "OpenWallet":  # scope "": kept beside the wallet it opened
            return self.of_wallet(receipt.result.get("wallet_id"))
        return 0


def _check_empty(target: CreditLedgerBase) -> None:
    for shard in target.shards:
        page = shard.recorder.select_notifications(start=1, limit=2)
        if any(n.topic not in _SHARD_MAP_TOPICS for n in page):
            raise TargetNotEmpty(f"target shard {shard.shard_index} already holds events")


def reshard(
    source: CreditLedgerBase, target: CreditLedgerBase, *, page: int = PAGE
) -> ReshardReport:
    """Copy every event of ``source`` into the empty ``target`` by the target's shards."""
    _check_empty(target)
    router = _Router(len(target.shards))
    report = ReshardReport(per_shard=[0] * len(target.shards))
    for shard in source.shards:
        start = 1
        while True:
            notifications = shard.recorder.select_notifications(start=start, limit=page)
            _copy_page(shard, target, router, notifications, report)
            if len(notifications) < page:
                break
            start = notifications[-1].id + 1
    return report


def _copy_page(
    source: CreditLedgerBase,
    target: CreditLedgerBase,
    router: _Router,
    notifications: Sequence[Notification],
    report: ReshardReport,
) -> None:
    pending: dict[int, list[StoredEvent]] = {}
    for notification in notifications:
        if notification.topic in _SHARD_MAP_TOPICS:
            continue
        event = source.mapper.to_domain_event(notification)
        if notification.topic == USAGE_BATCH_TOPIC:
            _flush(target, pending, report)  # keep each target shard's log in source order
            _split_usage(target, event, router, report)
            continue
        shard = router.route(notification, event)
        pending.setdefault(shard, []).append(
            StoredEvent(
                originator_id=notification.originator_id,
                originator_version=notification.originator_version,
                topic=notification.topic,
                state=notification.state,
            )
        )
    _flush(target, pending, report)


def _flush(
    target: CreditLedgerBase, pending: dict[int, list[StoredEvent]], report: ReshardReport
) -> None:
    for shard, stored in sorted(pending.items()):
        target.shards[shard].recorder.insert_events(stored)
        report.events += len(stored)
        report.per_shard[shard] += len(stored)
    pending.clear()


def _split_usage(
    target: CreditLedgerBase, event: Any, router: _Router, report: ReshardReport
) -> None:
    if not isinstance(event, UsageBatchRecorded):
        raise TypeError(f"{USAGE_BATCH_TOPIC} decoded as {type(event).__name__}")
    parts: dict[int, list[dict[str, Any]]] = {}
    for record in event.usage:
        parts.setdefault(router.of_wallet(record["wallet_id"]), []).append(record)
    for shard, records in sorted(parts.items()):
        batch = UsageBatch.record(received_at=event.received_at, usage=records)
        keys = [(r["wallet_id"], r["event_id"]) for r in records]
        target.shards[shard].save(batch, usage_ids=keys)
        report.events += 1
        report.per_shard[shard] += 1
        report.usage_batches += 1
        report.usage_events += len(records)
