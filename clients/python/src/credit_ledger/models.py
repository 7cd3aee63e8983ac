"""Typed answers of the wallet, grant, budget, allowance, debit and hold routes.

msgspec Structs decoded from the server's JSON. Members the server adds later are ignored,
so a newer server never breaks an older client; members of contract 1.1 whose exact shape
is not fixed by the contract have defaults.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

__all__ = [
    "Allocation",
    "Allowance",
    "Balance",
    "Budget",
    "BudgetCharge",
    "BudgetWarning",
    "Capture",
    "Debit",
    "DebitDetail",
    "DebitRefund",
    "DebitSummary",
    "Deferred",
    "Grant",
    "Hold",
    "Model",
    "PlacedHold",
    "Rating",
    "Refund",
    "RefundAllocation",
    "Release",
    "Wallet",
    "WalletEvent",
    "WalletSummary",
]


class Model(msgspec.Struct, kw_only=True):
    """Base of every answer type."""


class Balance(Model):
    """``available`` is negative while debt exceeds the active credits."""

    available: int
    held: int
    debt: int


class Allocation(Model):
    grant_id: str
    amount: int


class Rating(Model, repr_omit_defaults=True):
    """How ``usage`` was rated: the price book version and the amount it came to; in lists
    (contract 1.1) also the ``usage`` itself (shown only when set)."""

    price_book_id: str
    version: int
    amount: int
    usage: dict[str, Any] | None = None


class BudgetWarning(Model):
    """A soft budget was exceeded; the request went through anyway."""

    code: str
    budget_id: str


class Budget(Model):
    budget_id: str
    scope: dict[str, str]
    limit: int
    period: str
    timezone: str
    mode: str
    alert_thresholds: list[float]
    spent: int
    remaining: int
    period_start: datetime
    period_end: datetime | None


class BudgetCharge(Model):
    """Where a budget the debit counted against stands after it."""

    budget_id: str
    spent: int
    limit: int
    remaining: int


class Grant(Model):
    grant_id: str
    category: str
    priority: int
    amount: int
    remaining: int
    held: int
    effective_at: datetime
    expires_at: datetime | None
    status: str
    cost_basis: dict[str, Any] | None = None
    debt_settled: int = 0
    metadata: dict[str, Any] = {}


class Wallet(Model):
    wallet_id: str
    customer_id: str
    unit: str
    overdraft_limit: int
    version: int
    balance: Balance
    price_book_id: str = "default"
    metadata: dict[str, Any] = {}
    grants: list[Grant] = []
    budgets: list[Budget] = []
    as_of: datetime | None = None


class WalletSummary(Model):
    """An item of ``GET /v1/wallets`` (contract 1.1)."""

    wallet_id: str
    customer_id: str
    unit: str
    balance: Balance
    created_at: datetime | None = None


class WalletEvent(Model):
    version: int
    type: str
    occurred_at: datetime
    recorded_at: datetime
    data: dict[str, Any]


class Debit(Model):
    debit_id: str
    wallet_id: str
    amount: int
    allocations: list[Allocation]
    balance: Balance
    budgets: list[BudgetCharge] = []
    warnings: list[BudgetWarning] = []
    rating: Rating | None = None


class RefundAllocation(Model):
    """``to`` is ``grant``, or ``expired``/``voided`` when the grant can no longer take it."""

    grant_id: str
    amount: int
    to: str = "grant"


class DebitSummary(Model):
    """An item of ``GET /v1/wallets/{id}/debits`` (contract 1.1).

    ``refunded`` is what refunds gave back of it so far; ``occurred_at`` the usage time it
    was made for, ``decided_at`` when the ledger decided it, ``position`` its
    ``Ledger-Position`` (the cursor of the list). ``debt`` and ``uncollected`` are non-zero
    only for billed usage events.
    """

    debit_id: str
    amount: int
    refunded: int = 0
    subject: dict[str, str] = {}
    occurred_at: datetime | None = None
    decided_at: datetime | None = None
    rating: Rating | None = None
    allocations: list[Allocation] = []
    metadata: dict[str, Any] = {}
    debt: int = 0
    uncollected: int = 0
    position: int = 0


class DebitRefund(Model):
    """A refund of a debit, as ``get_debit`` lists them (oldest first)."""

    refund_id: str
    amount: int
    reason: str = ""
    allocations: list[RefundAllocation] = []
    occurred_at: datetime | None = None
    position: int = 0


class DebitDetail(DebitSummary, kw_only=True):
    """``GET /v1/wallets/{id}/debits/{debit_id}`` (contract 1.1): a debit and its refunds."""

    refunds: list[DebitRefund] = []


class Refund(Model):
    refund_id: str
    debit_id: str
    amount: int
    allocations: list[RefundAllocation]
    balance: Balance | None = None


class Hold(Model):
    """A hold, open or resolved (``captured``, ``released``, ``expired``)."""

    hold_id: str
    status: str
    amount: int
    allocations: list[Allocation] = []
    subject: dict[str, str] = {}
    placed_at: datetime | None = None
    expires_at: datetime | None = None
    metadata: dict[str, Any] = {}
    closed_at: datetime | None = None
    captured: int | None = None
    released: int | None = None
    overage: int | None = None
    rating: Rating | None = None
    position: int | None = None
    """Where the hold was placed in the log: set in ``list_holds`` (its cursor)."""


class PlacedHold(Hold, kw_only=True):
    balance: Balance | None = None
    warnings: list[BudgetWarning] = []


class Capture(Model):
    hold_id: str
    status: str
    captured: int
    released: int
    overage: int
    debt_incurred: int
    balance: Balance
    warnings: list[BudgetWarning] = []
    rating: Rating | None = None


class Release(Model):
    hold_id: str
    status: str
    released: int
    balance: Balance


class Allowance(Model):
    """A recurring grant (contract 1.1); ``rollover`` is ``{"max_amount": n}`` (null: no
    cap) or None, ``next_grant_at`` None when no further period will grant."""

    allowance_id: str = ""
    amount: int = 0
    category: str = ""
    priority: int = 100
    period: str = ""
    timezone: str = "UTC"
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    rollover: dict[str, Any] | None = None
    next_grant_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Deferred(Model):
    """A spending call allowed while the ledger was unavailable (``on_unavailable="open"``).

    The call is in the local journal and is replayed with :attr:`idempotency_key` once the
    service answers again: recorded exactly once, however often it is replayed.
    ``operation`` is ``debit``, ``hold``, ``capture`` or ``release``; a deferred hold
    reserved nothing and has no ``hold_id`` on the server.
    """

    operation: str
    wallet_id: str
    idempotency_key: str
    amount: int | None = None
    reason: str = ""
