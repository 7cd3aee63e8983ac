"""Usage ingest (``POST /v1/usage-events``): up to 1,000 events, each recorded exactly once.

:meth:`UsageIngest.ingest_usage` checks every event on its own (``ledger.ingest``), then runs
its own decide-save loop (not the group committer):

1. one query for which ``(wallet_id, event_id)`` are already recorded (duplicates), one for
   which wallets exist (answers are cached: wallets are never deleted);
2. billed events (``bill: true``) are rated against their wallet's price book and billed on
   the wallet (``Wallet.bill_usage``: never refused; debt, then ``uncollected``), each with a
   debit record (a ``Receipt`` keyed ``usage:<event_id>``) so it can be refunded;
3. ONE save: the ``UsageBatch`` (one stored event holding every accepted record), the billed
   wallets, their hold records and receipts, and the accepted ids (``usage_ids=``, written by
   ``ledger.usage_recorders`` in the same transaction). A collision (an id recorded by a
   concurrent batch, or a wallet written by another writer) re-decides the whole batch on
   fresh state, at most ``max_attempts`` times, then ``contention``.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, IntegrityError

from ledger.commands import IngestUsage
from ledger.errors import Contention, LedgerError
from ledger.executor import Outcome, backoff_seconds
from ledger.ids import receipt_id, wallet_uuid
from ledger.ingest import (
    DEFAULT_LATE_GRACE,
    MAX_BATCH,
    TOKEN_KEYS,
    Rejection,
    UsageEvent,
    check_event,
    usage_time,
)
from ledger.price_books import PriceBookEvent, version_of
from ledger.pricing import PricingLedger
from ledger.rating import Rate, Usage, rate_usage
from ledger.records import Receipt
from ledger.usage import UsageBatch, UsageRecord
from ledger.usage_recorders import UsageIdRecorder, usage_recorder_for
from ledger.validation import MAX_AMOUNT, fail
from ledger.wallet import Wallet

__all__ = ["UsageIngest"]

_KNOWN_WALLETS_MAX = 100_000


class _Refused(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _debit_record_id(event: UsageEvent) -> UUID:
    """The id of a billed event's debit record: the receipt of key ``usage:<event_id>``."""
    return receipt_id(event.wallet_id, f"usage:{event.event_id}")  # the key, as in _bill


class _Batch:
    """One attempt's decision: what is kept, counted and refused, and what to save."""

    def __init__(self, received_at: str) -> None:
        self.received_at = received_at
        self.records: list[UsageRecord] = []
        self.keys: list[tuple[str, str]] = []
        self.duplicates = 0
        self.rejected: list[Rejection] = []
        self.wallets: dict[str, Wallet] = {}
        self.receipts: list[Receipt] = []
        self.books: dict[str, PriceBookEvent | None] = {}
        self.keys_taken: set[UUID] = set()
        """Debit records (receipts ``usage:<event_id>``) that already exist: one query."""


class UsageIngest(PricingLedger):
    def construct_recorder(self) -> ApplicationRecorder:
        # eventsourcing's hook: the recorders that also write the usage-id rows.
        return usage_recorder_for(self.factory)

    @property
    def usage_ids(self) -> UsageIdRecorder:
        recorder = self.recorder
        if not isinstance(recorder, UsageIdRecorder):
            raise TypeError(f"{type(recorder).__name__} does not record usage ids")
        return recorder

    def usage_late_grace(self) -> timedelta:
        """``LEDGER_USAGE_LATE_GRACE_SECONDS`` (or ``USAGE_LATE_GRACE_SECONDS``): 24 h."""
        seconds = self.env.get("USAGE_LATE_GRACE_SECONDS")
        return DEFAULT_LATE_GRACE if not seconds else timedelta(seconds=int(seconds))

    def ingest_usage(self, cmd: IngestUsage | Sequence[object]) -> Outcome:
        """Record the acceptable events once each; body ``accepted``, ``duplicates``,
        ``late`` (accepted events older than the grace window) and ``rejected``."""
        command = cmd if isinstance(cmd, IngestUsage) else IngestUsage(events=list(cmd))
        events = command.events
        if len(events) > MAX_BATCH:
            raise fail("events", f"must have at most {MAX_BATCH} events")
        received_at = self.now()
        grace = self.usage_late_grace()
        checked = [check_event(i, raw, received_at, grace) for i, raw in enumerate(events)]
        valid: list[UsageEvent] = [e for e in checked if isinstance(e, UsageEvent)]
        invalid: list[Rejection] = [e for e in checked if isinstance(e, Rejection)]
        for attempt in range(self.max_attempts):
            batch = self._decide(valid, received_at)
            body = {
                "accepted": len(batch.records),
                "duplicates": batch.duplicates,
                "late": sum(1 for r in batch.records if r["late"]),
                "rejected": [r.as_dict() for r in sorted([*invalid, *batch.rejected], key=_index)],
            }
            if not batch.records:
                return Outcome(body)
            wallets = [w for w in batch.wallets.values() if w.pending_events]
            usage = UsageBatch.record(received_at=batch.received_at, usage=batch.records)
            try:
                recordings = self.save(
                    usage,
                    *wallets,
                    *self.hold_records_for(wallets),
                    *batch.receipts,
                    usage_ids=batch.keys,
                )
            except IntegrityError:
                self.conflicted(command)
                time.sleep(backoff_seconds(attempt))
                continue
            position = max(r.notification.id for r in recordings)
            return Outcome(body, replayed=False, position=position)
        raise Contention("(usage events)", self.max_attempts)

    def _decide(self, events: list[UsageEvent], received_at: datetime) -> _Batch:
        batch = _Batch(usage_time(received_at))
        recorded = self.usage_ids.existing_usage_ids([e.key for e in events])
        existing = self._existing_wallets({e.wallet_id for e in events})
        batch.keys_taken = self.usage_ids.existing_originators(
            [_debit_record_id(e) for e in events if e.bill and e.key not in recorded]
        )
        accepted: set[tuple[str, str]] = set()
        for event in events:
            if event.key in recorded or event.key in accepted:
                batch.duplicates += 1
                continue
            if event.wallet_id not in existing:
                detail = f"wallet {event.wallet_id!r} not found"
                batch.rejected.append(Rejection(event.index, "wallet_not_found", detail))
                continue
            try:
                record = self._usage_record(batch, event, received_at)
            except _Refused as refusal:
                batch.rejected.append(Rejection(event.index, refusal.code, refusal.detail))
                continue
            except LedgerError as error:
                batch.rejected.append(Rejection(event.index, error.code, error.detail))
                continue
            accepted.add(event.key)
            batch.keys.append(event.key)
            batch.records.append(record)
        return batch

    def _existing_wallets(self, wallet_ids: set[str]) -> set[str]:
        known: set[UUID] = self.__dict__.setdefault("_known_wallets", set())
        uuids = {wallet_id: _wallet_uuid(wallet_id) for wallet_id in wallet_ids}
        unknown = [u for u in uuids.values() if u not in known]
        found = {u for u in uuids.values() if u in known}
        if unknown:
            found |= self.usage_ids.existing_originators(unknown)
            if len(known) + len(found) > _KNOWN_WALLETS_MAX:
                known.clear()  # bounded memory: forget, then learn again from the store
            known.update(found)
        # ``found``: this batch's wallets known before or found now; answering from the cache
        # after a clear would forget wallets of this very batch.
        return {wallet_id for wallet_id, u in uuids.items() if u in found}

    def _usage_record(self, batch: _Batch, event: UsageEvent, received_at: datetime) -> UsageRecord:
        record: UsageRecord = {
            "wallet_id": event.wallet_id,
            "event_id": event.event_id,
            "type": event.type,
            "occurred_at": event.occurred_at_text,
            "received_at": batch.received_at,
            "subject": event.subject,
            "quantities": event.quantities,
            "properties": event.properties,
            "bill": event.bill,
            "late": event.late,
            "billed": 0,
            "debt": 0,
            "uncollected": 0,
            "debit_id": None,
            "rating": None,
        }
        if event.bill:
            self._bill(batch, event, received_at, record)
        return record

    def _bill(
        self, batch: _Batch, event: UsageEvent, received_at: datetime, record: UsageRecord
    ) -> None:
        wallet = batch.wallets.get(event.wallet_id)
        if wallet is None:
            wallet = batch.wallets[event.wallet_id] = self.load_wallet(event.wallet_id)
        rating = self._rate(batch, wallet, event)
        record["rating"] = {k: rating[k] for k in ("price_book_id", "version", "amount")}
        if rating["amount"] == 0:
            return  # a zero rating bills nothing
        rid = _debit_record_id(event)
        key = f"usage:{event.event_id}"
        if rid in batch.keys_taken:
            raise _Refused("idempotency_conflict", f"a debit already used the key {key!r}")
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
            return
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

    def _rate(self, batch: _Batch, wallet: Wallet, event: UsageEvent) -> dict[str, Any]:
        """The rating record of a billed event (as ``CreditsDebited.rating`` keeps it)."""
        model = event.subject.get("model")
        if model is None:
            raise fail("subject.model", "is required when bill is true")
        book_id = wallet.price_book_id
        if book_id not in batch.books:
            batch.books[book_id] = self._current_version(book_id)
        latest = batch.books[book_id]
        if latest is None:
            raise _Refused("price_book_not_found", f"price book {book_id!r} not found")
        version = version_of(latest)
        if version["unit"] != wallet.unit:
            raise fail(
                "subject.model",
                f"price book {book_id!r} rates in {version['unit']!r} "
                f"but the wallet counts {wallet.unit!r}",
            )
        rate = next((Rate(**r) for r in version["rates"] if r["model"] == model), None)
        if rate is None:
            raise _Refused("unknown_model", f"model {model!r} has no rate in {book_id!r}")
        tokens = {k: event.quantities.get(k, 0) for k in TOKEN_KEYS}
        amount = 0
        if any(tokens.values()):
            amount = rate_usage({model: rate}, Usage(model, **tokens))
        if amount > MAX_AMOUNT:
            raise fail("quantities", f"rate to more than {MAX_AMOUNT}")
        return {
            "price_book_id": book_id,
            "version": version["version"],
            "amount": amount,
            "usage": {"model": model, **tokens},
        }


@functools.lru_cache(maxsize=_KNOWN_WALLETS_MAX)
def _wallet_uuid(wallet_id: str) -> UUID:
    """``wallet_uuid``, remembered: uuid5 costs more than everything else ingest does per
    event (bounded: one entry per wallet)."""
    return wallet_uuid(wallet_id)


def _index(rejection: Rejection) -> int:
    return rejection.index
