"""Typed answers of the read-model routes (journal, trial balance, usage, meters), price
books, usage events, and the generic :class:`Page` of every paged list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from typing_extensions import TypeVar as DefaultTypeVar

from credit_ledger.models import Model

__all__ = [
    "AccountTotal",
    "Cursor",
    "JournalEntry",
    "JournalEvent",
    "JournalPage",
    "Meter",
    "MeterPoint",
    "Order",
    "Page",
    "PriceBook",
    "Rate",
    "TrialBalance",
    "UsageEventsResult",
    "UsagePoint",
    "UsageRejection",
]

T = TypeVar("T")
Cursor = int | str
"""Where the next page starts: pass a page's ``next_after`` back as ``after``."""
C = DefaultTypeVar("C", default=Cursor)
Order = Literal["asc", "desc"]
"""``asc``: oldest first (the server's default); ``desc``: newest first."""


@dataclass(frozen=True)
class Page(Generic[T, C]):
    """One page of a list; ``next_after`` is None on the last page (for the journal and a
    wallet's events, logs that grow, it is never None: a page without items is the end).
    ``C`` is the cursor's type: a wallet id (``str``) or a log position (``int``)."""

    items: list[T]
    next_after: C | None

    def cursor_extras(self) -> dict[str, Any]:
        """Parameters beside ``after`` that the next page needs (none for most lists)."""
        return {}


class JournalEvent(Model):
    wallet_id: str
    version: int
    type: str


class JournalEntry(Model):
    """One leg of a posting: ``debit`` or ``credit`` is the amount, the other is 0."""

    position: int
    transaction_id: str
    wallet_id: str
    account: str
    debit: int
    credit: int
    unit: str
    occurred_at: datetime
    recorded_at: datetime
    event: JournalEvent
    idempotency_key: str | None = None


@dataclass(frozen=True)
class JournalPage(Page[JournalEntry, int]):
    """A page of the journal. It holds whole events while they fit; a page that ended
    inside an event (one with more legs than ``limit``) names the last leg it holds in
    ``next_after_leg``: pass it back as ``after_leg`` with ``after=next_after``."""

    next_after_leg: int | None = None

    def cursor_extras(self) -> dict[str, Any]:
        return {"after_leg": self.next_after_leg}


class AccountTotal(Model):
    """``balance`` is debits minus credits."""

    account: str
    debit_total: int
    credit_total: int
    balance: int


class TrialBalance(Model):
    as_of: datetime
    accounts: list[AccountTotal]
    debit_total: int
    credit_total: int
    balanced: bool
    unit: str | None = None


class UsagePoint(Model):
    """Credits debited in one window by one group; a key the subject lacked is None."""

    window_start: datetime
    group: dict[str, str | None]
    debited: int
    count: int


class MeterPoint(Model):
    window_start: datetime
    group: dict[str, Any]
    value: int | float | str | bool


class Meter(Model):
    meter_id: str
    event_type: str
    aggregation: str
    value: str | None
    group_by: list[str]
    version: int
    created_at: datetime
    latest_version: int


class Rate(Model):
    """Credits per 1,000,000 tokens of each kind."""

    model: str
    input_per_million: int
    cached_input_per_million: int
    output_per_million: int


class PriceBook(Model):
    price_book_id: str
    unit: str
    version: int
    rates: list[Rate]
    created_at: datetime
    latest_version: int


class UsageRejection(Model):
    index: int
    code: str
    detail: str


class UsageEventsResult(Model):
    """``accepted`` recorded now (of which ``late``), ``duplicates`` recorded before."""

    accepted: int
    duplicates: int
    late: int = 0
    rejected: list[UsageRejection] = []
