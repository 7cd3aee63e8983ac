"""Usage events as the log records them: one :class:`UsageBatch` per accepted ingest batch.

``POST /v1/usage-events`` accepts up to 1,000 events; the ones it keeps (not rejected, not
duplicates) are recorded as ONE aggregate event, ``ledger:UsageBatch.Recorded``, saved in the
same transaction as the wallet debits of the billed ones and as the ``(wallet_id, event_id)``
rows that make ingest exactly-once (see ``ledger.usage_recorders``). One stored event per
batch rather than per usage event keeps ingest cheap; the meters projection reads the
batches from the notification log like every other projection.

Each recorded usage event is a plain dict with these stable keys (never renamed; add keys
only with an upcaster):

``wallet_id``, ``event_id``, ``type`` (str); ``occurred_at``, ``received_at`` (RFC 3339 UTC
strings ending in ``Z``); ``subject`` (dict[str, str]); ``quantities`` (dict[str, int]);
``properties`` (JSON object); ``bill`` (bool); ``late`` (bool: older than the grace window
when received); ``billed`` (int: credits debited, 0 when not billed); ``debt`` (int: part of
``billed`` that became debt); ``uncollected`` (int: rated credits beyond the overdraft limit,
recorded but not posted); ``debit_id`` (str or None); ``rating`` (dict with
``price_book_id``, ``version``, ``amount``; or None).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

__all__ = ["USAGE_BATCH_TOPIC", "UsageBatch", "UsageBatchRecorded", "UsageRecord"]

UsageRecord = dict[str, Any]
"""One recorded usage event (keys in the module docstring)."""

USAGE_BATCH_TOPIC = "ledger:UsageBatch.Recorded"


class UsageBatchEvent(Aggregate.Event):
    pass


class UsageBatchRecorded(UsageBatchEvent, Aggregate.Created):
    TOPIC = USAGE_BATCH_TOPIC
    received_at: str
    usage: list[UsageRecord]

    def apply(self, aggregate: Any) -> None:
        batch: UsageBatch = aggregate
        batch.received_at = self.received_at
        batch.usage = self.usage


class UsageBatch(Aggregate):
    """An accepted batch of usage events; written once, never changed."""

    TOPIC = "ledger:UsageBatch"
    Event = UsageBatchEvent
    Created = UsageBatchRecorded

    received_at: str
    usage: list[UsageRecord]

    @classmethod
    def record(cls, *, received_at: str, usage: list[UsageRecord]) -> UsageBatch:
        return cls._create(cls.Created, id=cls.new_id(), received_at=received_at, usage=usage)

    @staticmethod
    def new_id() -> UUID:
        return uuid4()


register_topic(UsageBatch.TOPIC, UsageBatch)
register_topic(UsageBatchRecorded.TOPIC, UsageBatchRecorded)
