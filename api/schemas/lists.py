"""Bodies of the list endpoints (contract 1.1, "Lists") and of ``GET /v1/whoami``.

Every list is a page: at most ``limit`` items and ``next_after``, the cursor of the next
page (pass it as ``after``), null on the last page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.schemas.debits import RefundAllocation
from api.schemas.fields import Allocation, Balance, ResponseBody
from api.schemas.holds import HoldOut
from api.schemas.meters import MeterOut
from api.schemas.price_books import PriceBookOut
from api.schemas.rating import RatingOut
from api.schemas.webhooks import WebhookOut

__all__ = [
    "ApiKeyItem",
    "ApiKeysOut",
    "DebitDetailOut",
    "DebitItem",
    "DebitsOut",
    "HoldItem",
    "HoldsOut",
    "ListedRating",
    "MetersOut",
    "PriceBooksOut",
    "RefundItem",
    "WalletItem",
    "WalletsOut",
    "WebhooksOut",
    "WhoAmIOut",
]


class WalletItem(ResponseBody):
    """A wallet in a list: who owns it, its unit, its balance now and when it opened."""

    wallet_id: str
    customer_id: str
    unit: str
    balance: Balance
    created_at: datetime


class WalletsOut(ResponseBody):
    """A page of wallets, by ``wallet_id``; ``next_after`` is the last id of the page."""

    wallets: list[WalletItem]
    next_after: str | None


class ListedRating(RatingOut, kw_only=True):
    """How a debit's or hold's ``usage`` was rated, with the usage itself."""

    usage: dict[str, Any] | None = None


class DebitItem(ResponseBody):
    """A debit: what it took and from which grants, how much of it was refunded since.

    ``occurred_at`` is the usage time the debit was made for (the request's
    ``occurred_at``, or when it was decided); ``decided_at`` when the ledger decided it;
    ``position`` its log position (the ``Ledger-Position`` of the debit). ``debt`` and
    ``uncollected`` are only non-zero for billed usage events.
    """

    debit_id: str
    amount: int
    refunded: int
    subject: dict[str, str]
    occurred_at: datetime
    decided_at: datetime
    rating: ListedRating | None
    allocations: list[Allocation]
    metadata: dict[str, Any]
    debt: int
    uncollected: int
    position: int


class DebitsOut(ResponseBody):
    """A page of a wallet's debits; ``next_after`` is the last item's ``position``."""

    debits: list[DebitItem]
    next_after: int | None


class RefundItem(ResponseBody):
    """A refund of a debit: its amount, where the credits went, why and when."""

    refund_id: str
    amount: int
    allocations: list[RefundAllocation]
    reason: str
    occurred_at: datetime
    position: int


class DebitDetailOut(DebitItem, kw_only=True):
    """A debit with every refund of it, oldest first."""

    refunds: list[RefundItem]


class HoldItem(HoldOut, kw_only=True, omit_defaults=True):
    """A hold as ``GET .../holds/{hold_id}`` shows it, with its rating and log position."""

    position: int
    rating: ListedRating | None = None


class HoldsOut(ResponseBody):
    """A page of a wallet's holds; ``next_after`` is the last item's ``position``."""

    holds: list[HoldItem]
    next_after: int | None


class ApiKeyItem(ResponseBody):
    """An API key without its secret (shown only when it was issued)."""

    key_id: str
    scopes: list[str]
    name: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeysOut(ResponseBody):
    """A page of API keys, oldest first; ``next_after`` continues it."""

    api_keys: list[ApiKeyItem]
    next_after: int | None


class WebhooksOut(ResponseBody):
    """A page of webhooks (deleted ones left out), oldest first, each as its single GET."""

    webhooks: list[WebhookOut]
    next_after: int | None


class MetersOut(ResponseBody):
    """A page of meters, oldest first, each as its single GET (the current version)."""

    meters: list[MeterOut]
    next_after: int | None


class PriceBooksOut(ResponseBody):
    """A page of price books, oldest first, each as its single GET (the current version)."""

    price_books: list[PriceBookOut]
    next_after: int | None


class WhoAmIOut(ResponseBody):
    """The calling API key: its id, name and scopes (never the key itself)."""

    key_id: str
    name: str
    scopes: list[str]
