"""Audit and usage bodies: the journal, the trial balance and a wallet's usage series."""

from __future__ import annotations

from datetime import datetime

from api.schemas.fields import ResponseBody

__all__ = [
    "AccountTotalOut",
    "JournalEntryOut",
    "JournalEventOut",
    "JournalOut",
    "TrialBalanceOut",
    "UsageOut",
    "UsagePointOut",
]


class JournalEventOut(ResponseBody):
    """The event a journal row was posted by."""

    wallet_id: str
    version: int
    type: str


class JournalEntryOut(ResponseBody):
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
    event: JournalEventOut
    idempotency_key: str | None


class JournalOut(ResponseBody):
    """A page of at most ``limit`` journal rows; ask again with ``after=next_after`` (and
    ``after_leg=next_after_leg`` when that is not null) for the next one.

    A page holds whole events while they fit; only an event with more legs than ``limit`` is
    split, and then ``next_after_leg`` is the last leg this page holds of event
    ``next_after``.
    """

    entries: list[JournalEntryOut]
    next_after: int
    next_after_leg: int | None = None


class AccountTotalOut(ResponseBody):
    """One account's totals; ``balance`` is debits minus credits."""

    account: str
    debit_total: int
    credit_total: int
    balance: int


class TrialBalanceOut(ResponseBody):
    """Every account's totals over postings dated at or before ``as_of``."""

    as_of: datetime
    unit: str | None
    accounts: list[AccountTotalOut]
    debit_total: int
    credit_total: int
    balanced: bool


class UsagePointOut(ResponseBody):
    """Credits debited in one window by one group (``count`` debits and captures); a key the
    subject lacked is null. ``uncollected``: credits of billed usage events beyond the
    wallet's overdraft, recorded but never charged (not part of ``debited``)."""

    window_start: datetime
    group: dict[str, str | None]
    debited: int
    count: int
    uncollected: int = 0


class UsageOut(ResponseBody):
    """Debits and captures per window and group, oldest window first."""

    series: list[UsagePointOut]
