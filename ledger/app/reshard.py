"""Moving a store to another shard count, offline: ``ledger reshard --to URL --shards N``.

The shard of a wallet is ``hash(wallet_id) % count``, so a new count moves most wallets.
Resharding copies every stored event of the source (all its shards, each in log order) into
an empty target store opened with the new count, each aggregate into the shard of the wallet
it belongs to, keeping its id, versions, topic and stored state byte for byte:

* a wallet and everything keyed by it — receipts (idempotency records and debit records,
  whose scope is the wallet id; a wallet-opening receipt goes with the wallet it opened, and
  its key is claimed in the home shard as the ledger does for a wallet outside the home),
  hold records, alert settings — follow the wallet;
* server-wide aggregates (API keys, price books, meters, webhooks, receipts of server-wide
  commands) go to the home shard, undecoded; the source's shard map and key claims are
  replaced by the target's; an unknown topic stops the copy;
* a usage batch is split by wallet into one new batch per target shard, saved with its
  ``(wallet_id, event_id)`` rows, so dedup keeps working (new batch ids; records unchanged).

Snapshots are not copied (they are derived; the target takes its own) and read models are
not copied (positions differ in the target: run ``ledger project`` on it to build them).
Writers must be stopped for the copy: the source's log heads are compared before and after,
and a copy during which the source moved fails (:class:`SourceChanged`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

import ledger.alerts.settings  # noqa: F401 - registers the alert settings topics decoded here
from ledger.app.application import LedgerApplication
from ledger.app.shards import shard_of
from ledger.domain.records import CLAIM_RESULT_KEY, HoldClosed, Receipt, ReceiptRecorded
from ledger.metering.usage import USAGE_BATCH_TOPIC, UsageBatch, UsageBatchRecorded
from ledger.store.layout import ShardSeal
from ledger.store.shard_map import ShardMap

__all__ = ["PAGE", "ReshardReport", "SourceChanged", "TargetNotEmpty", "reshard"]

PAGE = 500
"""Notifications read (and written) at a time."""

_SKIPPED = frozenset({ShardMap.Created.TOPIC, ShardSeal.Created.TOPIC})
"""Facts of one store's own layout: the target records its own (decision 0017)."""
_SERVER_WIDE = ("ledger:ApiKey.", "ledger:PriceBook.", "ledger:Meter.", "ledger:Webhook.")
"""Topics of server-wide aggregates: copied to the home shard without being decoded."""
_BY_WALLET = ("ledger:Wallet.", "ledger:HoldRecord.", "ledger:AlertSettings.")
"""Topics of aggregates that belong to a wallet, named on their first event."""
_RECEIPT = ReceiptRecorded.TOPIC


class TargetNotEmpty(Exception):
    """The target store already holds events: resharding only fills an empty store."""


class SourceChanged(Exception):
    """Events were written to the source during the copy: writers were not stopped."""


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
    """Which target shard each aggregate goes to, decided at its first event.

    Wallets and alert settings are remembered (one entry per wallet); a hold record is
    forgotten at its second and last event, and receipts and usage batches have one event,
    so memory grows with the wallets, not with the log.
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self.shard_by_id: dict[UUID, int] = {}

    def of_wallet(self, wallet_id: object) -> int:
        return shard_of(wallet_id, self.count) if isinstance(wallet_id, str) else 0

    def route(self, source: LedgerApplication, notification: Notification) -> int:
        """The target shard of a notification of a wallet's aggregate (``_BY_WALLET``)."""
        originator = UUID(str(notification.originator_id))
        if notification.originator_version == 1:
            event = source.mapper.to_domain_event(notification)
            shard = self.of_wallet(getattr(event, "wallet_id", None))
            self.shard_by_id[originator] = shard
            return shard
        try:
            shard = self.shard_by_id[originator]
        except KeyError:
            raise ValueError(f"aggregate {originator} has no first event") from None
        if notification.topic == HoldClosed.TOPIC:
            del self.shard_by_id[originator]  # a hold record's last event
        return shard

    def of_receipt(self, receipt: ReceiptRecorded) -> int | None:
        """A receipt's target shard; None for a key claim (the copy makes its own)."""
        if receipt.scope and not receipt.scope.startswith("#"):
            return self.of_wallet(receipt.scope)  # a wallet's command (or debit record)
        if receipt.operation == "OpenWallet":  # scope "": beside the wallet it opened
            if CLAIM_RESULT_KEY in receipt.result:
                return None
            return self.of_wallet(receipt.result.get("wallet_id"))
        return 0


def _heads(ledger: LedgerApplication) -> list[int | None]:
    return [shard.recorder.max_notification_id() for shard in ledger.shards]


def _check_empty(target: LedgerApplication) -> None:
    for shard in target.shards:
        page = shard.recorder.select_notifications(start=1, limit=2)
        if any(n.topic not in _SKIPPED for n in page):
            raise TargetNotEmpty(f"target shard {shard.shard_index} already holds events")


def reshard(
    source: LedgerApplication, target: LedgerApplication, *, page: int = PAGE
) -> ReshardReport:
    """Copy every event of ``source`` into the empty ``target`` by the target's shards.

    Raises :class:`TargetNotEmpty` before copying anything, and :class:`SourceChanged`
    after the copy if the source's logs moved meanwhile (the target is then incomplete:
    stop the writers, empty the target and run it again).
    """
    _check_empty(target)
    heads = _heads(source)
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
    if _heads(source) != heads:
        raise SourceChanged("the source was written to during the copy; stop every writer")
    return report


def _copy_page(
    source: LedgerApplication,
    target: LedgerApplication,
    router: _Router,
    notifications: Sequence[Notification],
    report: ReshardReport,
) -> None:
    pending: dict[int, list[StoredEvent]] = {}
    for notification in notifications:
        topic = notification.topic
        if topic in _SKIPPED:
            continue
        if topic == USAGE_BATCH_TOPIC:
            _flush(target, pending, report)  # keep each target shard's log in source order
            _split_usage(target, source.mapper.to_domain_event(notification), router, report)
            continue
        if topic.startswith(_SERVER_WIDE):
            shard: int | None = 0
        elif topic.startswith(_BY_WALLET):
            shard = router.route(source, notification)
        elif topic == _RECEIPT:
            receipt = source.mapper.to_domain_event(notification)
            if not isinstance(receipt, ReceiptRecorded):
                raise TypeError(f"{_RECEIPT} decoded as {type(receipt).__name__}")
            shard = router.of_receipt(receipt)
            if shard is not None and shard != 0 and receipt.operation == "OpenWallet":
                pending.setdefault(0, []).append(_claim(target, receipt))
        else:
            raise ValueError(f"reshard does not know where {topic!r} belongs")
        if shard is not None:
            pending.setdefault(shard, []).append(_stored(notification))
    _flush(target, pending, report)


def _stored(notification: Notification) -> StoredEvent:
    return StoredEvent(
        originator_id=notification.originator_id,
        originator_version=notification.originator_version,
        topic=notification.topic,
        state=notification.state,
    )


def _claim(target: LedgerApplication, receipt: ReceiptRecorded) -> StoredEvent:
    """The home shard's claim of a wallet-opening key whose wallet is in another shard."""
    claim = Receipt.claim(
        receipt_id=receipt.originator_id,
        scope=receipt.scope,
        key=receipt.key,
        operation=receipt.operation,
        fingerprint=receipt.fingerprint,
    )
    (event,) = claim.collect_events()
    stored: StoredEvent = target.mapper.to_stored_event(event)
    return stored


def _flush(
    target: LedgerApplication, pending: dict[int, list[StoredEvent]], report: ReshardReport
) -> None:
    for shard, stored in sorted(pending.items()):
        target.shards[shard].recorder.insert_events(stored)
        report.events += len(stored)
        report.per_shard[shard] += len(stored)
    pending.clear()


def _split_usage(
    target: LedgerApplication, event: Any, router: _Router, report: ReshardReport
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
