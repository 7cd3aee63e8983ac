"""Reading the ledger's notification logs in batches, as decoded, checked wallet events.

A sharded ledger has one log per shard (see :mod:`ledger.app.shards`); a :class:`LogReader`
reads one of them (:func:`shard_readers` gives one per shard). Its reads take and return
that log's plain notification ids (``after``, ``stop``, :attr:`Batch.last`, ``head``),
while the positions it hands to projections (of changes, other events and usage) are
encoded with the shard (:func:`ledger.app.shards.encode_position`), so they are unique
across shards; shard 0's encoded positions are its notification ids.

Notification ids are ordered (the Postgres recorder commits inserts in id order
under its table lock) but not gapless (a rolled-back insert burns ids), so readers always
ask for ids *after* the last one they saw and never compute ``position + 1``. A batch's
``last`` is the id of the last notification read, wallet event or not, so the tracked
position also moves past receipts and hold records and the lag reaches zero at the head.
Recorded usage batches (``ledger:UsageBatch.Recorded``) ride along undecoded until a
projection that reads usage asks for them (:attr:`Batch.usage`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any
from uuid import UUID

import ledger.alerts.settings  # registers the topics of OTHER_TOPIC_PREFIXES
import ledger.alerts.webhooks  # noqa: F401 - registers the topics of OTHER_TOPIC_PREFIXES
from ledger.app.application import LedgerApplication
from ledger.app.shards import encode_position
from ledger.domain.events import WalletEvent, WalletOpened
from ledger.metering.usage import USAGE_BATCH_TOPIC, UsageBatchRecorded
from projections.engine.base import Change, UsageChange, check_change

__all__ = [
    "CREATED_TOPICS",
    "MAX_BATCH",
    "OTHER_TOPIC_PREFIXES",
    "Batch",
    "Created",
    "LogReader",
    "Other",
    "shard_readers",
]

MAX_BATCH = 1000
WALLET_CACHE_SIZE = 100_000
# Wallet event topics are "ledger:Wallet.<Name>"; receipts and hold records (most of the
# rest of the log) are skipped without being decoded. A prefix rather than a fixed list,
# so that an event type added later is decoded (and checked) rather than silently missed.
_WALLET_TOPIC_PREFIX = "ledger:Wallet."
OTHER_TOPIC_PREFIXES: tuple[str, ...] = ("ledger:Webhook.", "ledger:AlertSettings.")
"""Topics of other aggregates a projection consumes (alert configuration): decoded,
unchecked (they move no credits) and handed on beside the wallet events as ``others``."""
CREATED_TOPICS: dict[str, str] = {
    "ledger:ApiKey.Issued": "api_key",
    "ledger:Meter.Defined": "meter",
    "ledger:PriceBook.Created": "price_book",
}
"""Creations of server-wide aggregates the ``lists`` projection lists, by kind. Handed on
as ``others`` *undecoded* (:class:`Created`: kind and aggregate id): the API key's event
classes live in the API layer, which this layer cannot import to decode them."""


@dataclass(frozen=True)
class Other:
    """One event of another aggregate (see ``OTHER_TOPIC_PREFIXES``) at its log position."""

    position: int
    event: Any


@dataclass(frozen=True)
class Created:
    """An aggregate of a listed kind (``CREATED_TOPICS``) was created, by its id."""

    kind: str
    aggregate_id: UUID


@dataclass(frozen=True)
class Batch:
    """Notifications of one shard's log after some id: how many, the last id (plain, of
    that log), and the wallet events (at encoded positions)."""

    last: int
    count: int
    changes: list[Change]
    # Usage batches are kept as stored and decoded only when a projection that reads usage
    # asks for :attr:`usage` (once per batch), so the wallet projections pay nothing for them.
    usage_notifications: tuple[Any, ...] = ()
    decode: Callable[[Any], Any] | None = field(default=None, repr=False, compare=False)
    others: tuple[Other, ...] = ()
    shard: int = 0

    @cached_property
    def usage(self) -> list[UsageChange]:
        """Every recorded usage event in the batch, in log order."""
        if self.decode is None:
            return []
        found: list[UsageChange] = []
        for notification in self.usage_notifications:
            event = self.decode(notification)
            if isinstance(event, UsageBatchRecorded):
                found.extend(
                    UsageChange(encode_position(self.shard, notification.id), index, record)
                    for index, record in enumerate(event.usage)
                )
        return found

    @property
    def last_event(self) -> int:
        """Position of the last wallet event in the batch (0 if there is none)."""
        return self.changes[-1].position if self.changes else 0


class LogReader:
    """Reads and decodes the log of one ledger application; remembers wallet ids and units.

    Events other than ``WalletOpened`` do not carry the wallet's id or unit; both are fixed
    when the wallet opens, so they are taken from that event (in the batch, or read once
    as version 1 of the wallet's stream) and cached.
    """

    def __init__(self, app: LedgerApplication, *, cache_size: int = WALLET_CACHE_SIZE) -> None:
        self.app = app
        self.shard: int = getattr(app, "shard_index", 0)
        # Bounded (least recently used goes first): a miss costs one single-row read.
        self._wallets: OrderedDict[UUID, tuple[str, str]] = OrderedDict()
        self._cache_size = cache_size

    def head(self) -> int:
        """The highest notification id in this shard's log (0 when empty)."""
        return int(self.app.recorder.max_notification_id() or 0)

    def read(self, after: int, limit: int, *, stop: int | None = None, check: bool = True) -> Batch:
        """Up to ``limit`` notifications with ids above ``after`` (and at most ``stop``),
        wallet events decoded.

        Raises :class:`~projections.engine.base.InvariantViolation` (with ``check``) when an
        event's postings break double entry, before anything is written.
        """
        if not 1 <= limit <= MAX_BATCH:
            raise ValueError(f"batch size must be between 1 and {MAX_BATCH}")
        notifications = self.app.recorder.select_notifications(
            start=after, limit=limit, stop=stop, inclusive_of_start=False
        )
        changes: list[Change] = []
        usage: list[Any] = []
        others: list[Other] = []
        for notification in notifications:
            kind = CREATED_TOPICS.get(str(notification.topic))
            if kind is not None:
                created = Created(kind, UUID(str(notification.originator_id)))
                others.append(Other(self.position(notification.id), created))
                continue
            if str(notification.topic).startswith(OTHER_TOPIC_PREFIXES):
                other = self.app.mapper.to_domain_event(notification)
                others.append(Other(self.position(notification.id), other))
                continue
            if notification.topic == USAGE_BATCH_TOPIC:
                usage.append(notification)
                continue
            if not str(notification.topic).startswith(_WALLET_TOPIC_PREFIX):
                continue
            event: Any = self.app.mapper.to_domain_event(notification)
            if not isinstance(event, WalletEvent):
                continue
            wallet_id, unit = self.wallet_of(event)
            change = Change(self.position(notification.id), event, wallet_id, unit)
            if check:
                check_change(change)
            changes.append(change)
        last = notifications[-1].id if notifications else after
        return Batch(
            last=last,
            count=len(notifications),
            changes=changes,
            usage_notifications=tuple(usage),
            decode=self.app.mapper.to_domain_event,
            others=tuple(others),
            shard=self.shard,
        )

    def position(self, notification_id: int) -> int:
        """The encoded position of this log's ``notification_id``."""
        return encode_position(self.shard, notification_id)

    def recorded_at(self, after: int) -> datetime | None:
        """When the first notification after ``after`` was recorded (None at the head)."""
        page = self.app.recorder.select_notifications(
            start=after, limit=1, inclusive_of_start=False
        )
        if not page:
            return None
        event: Any = self.app.mapper.to_domain_event(page[0])
        timestamp: datetime = event.timestamp
        return timestamp

    def wallet_of(self, event: WalletEvent) -> tuple[str, str]:
        """(wallet_id, unit) of the wallet that recorded ``event``."""
        wallet = event.originator_id
        if isinstance(event, WalletOpened):
            known: tuple[str, str] | None = (event.wallet_id, event.unit)
        else:
            known = self._wallets.get(wallet)
        if known is None:
            first = list(self.app.events.get(wallet, lte=1))
            if not first or not isinstance(first[0], WalletOpened):
                raise LookupError(f"wallet stream {wallet} has no WalletOpened")
            known = (first[0].wallet_id, first[0].unit)
        self._wallets[wallet] = known
        self._wallets.move_to_end(wallet)
        if len(self._wallets) > self._cache_size:
            self._wallets.popitem(last=False)
        return known


def shard_readers(app: LedgerApplication, **options: Any) -> list[LogReader]:
    """One reader per shard of ``app``'s ledger (just ``app``'s own when unsharded)."""
    shards = getattr(getattr(app, "home", app), "shards", None) or [app]
    return [LogReader(shard, **options) for shard in shards]
