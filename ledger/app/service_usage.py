"""Usage ingest (``POST /v1/usage-events``): up to 1,000 events, each recorded exactly once.

:meth:`ShardIngest.ingest_usage` checks every event on its own (``ledger.metering.ingest``), then
runs its own decide-save loop (not the group committer):

1. one query for which ``(wallet_id, event_id)`` are already recorded (duplicates), one for
   which wallets exist (answers are cached: wallets are never deleted). A batch that bills
   nothing skips the first query on its first attempt: the save's unique insert of the ids
   decides anyway, and if one is recorded already (a retried batch) the save fails whole and
   the batch is re-decided with the query, so every answer is the one the query would give;
2. billed events (``bill: true``) are rated against their wallet's price book and billed on
   the wallet (``Wallet.bill_usage``: never refused; debt, then ``uncollected``), each with a
   debit record (a ``Receipt`` keyed ``usage:<event_id>``) so it can be refunded;
3. ONE save: the ``UsageBatch`` (one stored event holding every accepted record), the billed
   wallets, their hold records and receipts, and the accepted ids (``usage_ids=``, written by
   ``ledger.store.recorders`` in the same transaction). A collision (an id recorded by a
   concurrent batch, or a wallet written by another writer) re-decides the whole batch on
   fresh state within ``ledger.app.executor.out_of_attempts``' bounds, then ``contention``.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from ledger.app.application import LedgerApplication
from ledger.app.commands import IngestUsage
from ledger.app.executor import CONTENTION_SECONDS, Outcome, backoff_seconds, out_of_attempts
from ledger.app.pricing import Pricing
from ledger.domain.errors import Contention, IdempotencyConflict, LedgerError, WalletNotFound
from ledger.domain.ids import receipt_id, wallet_uuid
from ledger.domain.rating import Usage, rate_usage
from ledger.domain.records import Receipt
from ledger.domain.validation import MAX_AMOUNT, fail
from ledger.domain.wallet import Wallet
from ledger.metering.ingest import (
    MAX_BATCH,
    TOKEN_KEYS,
    Rejection,
    UsageEvent,
    check_events,
    usage_time,
)
from ledger.metering.price_books import PriceBookEvent, rate_for_model
from ledger.metering.usage import COLUMN_DEFAULTS, UsageBatch, UsageColumns

__all__ = ["ShardIngest"]

_KNOWN_WALLETS_MAX = 100_000


def _debit_record_id(event: UsageEvent) -> UUID:
    """The id of a billed event's debit record: the receipt of key ``usage:<event_id>``."""
    return receipt_id(event.wallet_id, f"usage:{event.event_id}")  # the key, as in _bill


_BILLING_KEYS = ("billed", "debt", "uncollected", "debit_id", "rating")


class _Batch:
    """One attempt's decision: what is kept, counted and refused, and what to save."""

    def __init__(self, received_at: str) -> None:
        self.received_at = received_at
        self.accepted: list[UsageEvent] = []
        self.billing: dict[int, dict[str, Any]] = {}
        """What billing recorded, by position in ``accepted`` (billed events only)."""
        self.keys: list[tuple[str, str]] = []
        self.duplicates = 0
        self.rejected: list[Rejection] = []
        self.wallets: dict[str, Wallet] = {}
        self.receipts: list[Receipt] = []
        self.books: dict[str, PriceBookEvent | None] = {}
        self.keys_taken: set[UUID] = set()
        """Debit records (receipts ``usage:<event_id>``) that already exist: one query."""

    def uncollected(self) -> dict[str, Any]:
        """``uncollected`` (credits of this batch's billed events beyond their wallets'
        overdraft) and ``uncollected_events``: each such event, at its index in the batch."""
        events = [
            {
                "index": self.accepted[i].index,
                "wallet_id": self.accepted[i].wallet_id,
                "event_id": self.accepted[i].event_id,
                "uncollected": record["uncollected"],
            }
            for i, record in sorted(self.billing.items())
            if record["uncollected"]
        ]
        return {
            "uncollected": sum(e["uncollected"] for e in events),
            "uncollected_events": events,
        }

    def columns(self) -> UsageColumns:
        """The accepted events as the ``UsageBatch`` stores them (``ledger.metering.usage``)."""
        events = self.accepted
        columns: UsageColumns = {
            "wallet_id": [e.wallet_id for e in events],
            "event_id": [e.event_id for e in events],
            "type": [e.type for e in events],
            "occurred_at": [e.occurred_at_text for e in events],
            "subject": [e.subject for e in events],
            "quantities": [e.quantities for e in events],
        }
        # Left out when every value is the default (received_at always is: the batch's).
        if any(e.properties for e in events):
            columns["properties"] = [e.properties for e in events]
        if any(e.bill for e in events):
            columns["bill"] = [e.bill for e in events]
        if any(e.late for e in events):
            columns["late"] = [e.late for e in events]
        for key in _BILLING_KEYS:
            default = COLUMN_DEFAULTS[key]
            values = [self.billing.get(i, COLUMN_DEFAULTS).get(key) for i in range(len(events))]
            if any(v != default for v in values):
                columns[key] = values
        return columns


class ShardIngest:
    """Usage ingest on one shard's store (``ledger.app.shard_ingest`` splits a batch)."""

    def __init__(self, shard: LedgerApplication, pricing: Pricing) -> None:
        self._shard = shard
        self._pricing = pricing
        self._known_wallet_ids: set[str] = set()
        """Wallets known to exist (wallets are never deleted; bounded, see below)."""

    def ingest_usage(
        self, cmd: IngestUsage | Sequence[object], *, received_at: datetime | None = None
    ) -> Outcome:
        """Record the acceptable events once each; body ``accepted``, ``duplicates``,
        ``late`` (accepted events older than the grace window) and ``rejected``.

        ``received_at`` (default: now) is given when a batch is split over shards, so that
        every part is received, and judged late, at the same time.
        """
        command = cmd if isinstance(cmd, IngestUsage) else IngestUsage(events=list(cmd))
        events = command.events
        if len(events) > MAX_BATCH:
            raise fail("events", f"must have at most {MAX_BATCH} events")
        shard = self._shard
        received_at = received_at or shard.now()
        valid, invalid = check_events(events, received_at, shard.usage_late_grace())
        # Billed events need the query: a recorded event's debit key is taken, which would
        # otherwise answer idempotency_conflict instead of duplicate without failing the save.
        optimistic = not any(e.bill for e in valid)
        attempt = 0
        deadline = time.monotonic() + CONTENTION_SECONDS
        while True:
            batch = self._decide(valid, received_at, query_recorded=not optimistic)
            rejected = sorted([*invalid, *batch.rejected], key=attrgetter("index"))
            body = {
                "accepted": len(batch.accepted),
                "duplicates": batch.duplicates,
                "late": sum(1 for e in batch.accepted if e.late),
                "rejected": [r.as_dict() for r in rejected],
                **batch.uncollected(),
            }
            if not batch.accepted:
                return Outcome(body)
            wallets = [w for w in batch.wallets.values() if w.pending_events]
            usage = UsageBatch.record_columns(
                received_at=batch.received_at, columns=batch.columns()
            )
            try:
                recordings = shard.save(
                    usage,
                    *wallets,
                    *shard.hold_records_for(wallets),
                    *batch.receipts,
                    usage_ids=batch.keys,
                )
            except IntegrityError:
                if optimistic:  # an id is recorded already: decide again, asking which
                    optimistic = False
                    continue
                shard.conflicted(command)
                attempt += 1
                if out_of_attempts(attempt, shard.max_attempts, deadline):
                    raise Contention("(usage events)", attempt) from None
                time.sleep(backoff_seconds(attempt - 1))
                continue
            return Outcome(body, replayed=False, position=shard.position_of(recordings))

    def _decide(
        self, events: list[UsageEvent], received_at: datetime, *, query_recorded: bool = True
    ) -> _Batch:
        batch = _Batch(usage_time(received_at))
        usage_ids = self._shard.usage_ids
        recorded = (
            usage_ids.existing_usage_ids([e.key for e in events]) if query_recorded else set()
        )
        existing = self._existing_wallets({e.wallet_id for e in events})
        batch.keys_taken = usage_ids.existing_originators(
            [_debit_record_id(e) for e in events if e.bill and e.key not in recorded]
        )
        accepted: set[tuple[str, str]] = set()
        for event in events:
            key = event.key
            if key in recorded or key in accepted:
                batch.duplicates += 1
                continue
            if event.wallet_id not in existing:
                missing = WalletNotFound(event.wallet_id)
                batch.rejected.append(Rejection(event.index, missing.code, missing.detail))
                continue
            if event.bill:
                try:
                    billing = self._bill(batch, event, received_at)
                except LedgerError as error:
                    batch.rejected.append(Rejection(event.index, error.code, error.detail))
                    continue
                batch.billing[len(batch.accepted)] = billing
            accepted.add(key)
            batch.keys.append(key)
            batch.accepted.append(event)
        return batch

    def _existing_wallets(self, wallet_ids: set[str]) -> set[str]:
        known = self._known_wallet_ids
        # ``found``: this batch's wallets known before or found now; answering from the cache
        # after a clear would forget wallets of this very batch.
        found = wallet_ids & known
        unknown = {_wallet_uuid(w): w for w in wallet_ids - found}
        if unknown:
            new = {unknown[u] for u in self._shard.usage_ids.existing_originators(list(unknown))}
            if len(known) + len(new) > _KNOWN_WALLETS_MAX:
                known.clear()  # bounded memory: forget, then learn again from the store
            known |= new
            found |= new
        return found

    def _bill(self, batch: _Batch, event: UsageEvent, received_at: datetime) -> dict[str, Any]:
        """Bill a ``bill: true`` event; what its record keeps (``billed``, ``debt``,
        ``uncollected``, ``debit_id``, ``rating``; see ``ledger.metering.usage``)."""
        wallet = batch.wallets.get(event.wallet_id)
        if wallet is None:
            wallet = batch.wallets[event.wallet_id] = self._shard.load_wallet(event.wallet_id)
        rating = self._rate(batch, wallet, event)
        record: dict[str, Any] = {
            "billed": 0,
            "debt": 0,
            "uncollected": 0,
            "debit_id": None,
            "rating": {k: rating[k] for k in ("price_book_id", "version", "amount")},
        }
        if rating["amount"] == 0:
            return record  # a zero rating bills nothing
        rid = _debit_record_id(event)
        key = f"usage:{event.event_id}"
        if rid in batch.keys_taken:
            raise IdempotencyConflict(key)
        debit_id = str(rid)
        result = wallet.bill_usage(
            debit_id=debit_id,
            event_id=event.event_id,
            amount=rating["amount"],
            subject=event.subject,
            usage_at=event.occurred_at,
            metadata={"usage_event_id": event.event_id, "usage_type": event.type},
            at=received_at,
            rating=rating,
        )
        record.update(billed=result["billed"], debt=result["debt"])
        record["uncollected"] = result["uncollected"]
        if result["debit_version"] is None:
            return record
        record["debit_id"] = debit_id
        body = {
            "debit_id": debit_id,
            "wallet_id": event.wallet_id,
            "event_id": event.event_id,
            "amount": result["billed"],
            "allocations": result["allocations"],
            "debt_incurred": result["debt"],
            "uncollected": result["uncollected"],
            "rating": record["rating"],
            "warnings": result["warnings"],
        }
        fingerprint = hashlib.sha256(f"usage/{event.wallet_id}/{event.event_id}".encode())
        batch.receipts.append(
            Receipt.record(
                receipt_id=rid,
                scope=event.wallet_id,
                key=key,
                operation="Debit",
                fingerprint=fingerprint.hexdigest(),
                result=body,
                wallet_version=result["debit_version"],
            )
        )
        return record

    def _rate(self, batch: _Batch, wallet: Wallet, event: UsageEvent) -> dict[str, Any]:
        """The rating record of a billed event (as ``CreditsDebited.rating`` keeps it)."""
        model = event.subject.get("model")
        if model is None:
            raise fail("subject.model", "is required when bill is true")
        book_id = wallet.price_book_id
        if book_id not in batch.books:
            batch.books[book_id] = self._pricing.current_version(book_id)
        version, rate = rate_for_model(
            batch.books[book_id], book_id, wallet.unit, model, field="subject.model"
        )
        tokens = {k: event.quantities.get(k, 0) for k in TOKEN_KEYS}
        amount = 0  # no tokens at all rate to 0 (an event that bills nothing)
        if any(tokens.values()):
            amount = rate_usage({model: rate}, Usage(model, **tokens))
        if amount > MAX_AMOUNT:
            raise fail("quantities", f"rate to more than {MAX_AMOUNT}")
        return {
            "price_book_id": book_id,
            "version": version,
            "amount": amount,
            "usage": {"model": model, **tokens},
        }


@functools.lru_cache(maxsize=_KNOWN_WALLETS_MAX)
def _wallet_uuid(wallet_id: str) -> UUID:
    """``wallet_uuid``, remembered: uuid5 costs more than everything else ingest does per
    event (bounded: one entry per wallet)."""
    return wallet_uuid(wallet_id)
