"""Wallet bodies: open, read (now or ``as_of``) and the event history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.schemas.budgets import BudgetOut
from api.schemas.fields import (
    Balance,
    ClientId,
    Metadata,
    NonNegativeAmount,
    RequestBody,
    ResponseBody,
)
from api.schemas.grants import GrantOut
from ledger.app.commands import OpenWallet

__all__ = ["EventOut", "EventsOut", "OpenWalletIn", "WalletAsOfOut", "WalletOut"]


class OpenWalletIn(RequestBody):
    """A new wallet; ``customer_id`` defaults to the ``wallet_id``."""

    wallet_id: ClientId
    customer_id: ClientId | None = None
    unit: ClientId = "credits"
    overdraft_limit: NonNegativeAmount = 0
    price_book_id: ClientId = "default"
    metadata: Metadata = {}

    def to_command(self, idempotency_key: str | None) -> OpenWallet:
        """The ledger command for this request."""
        return OpenWallet(
            wallet_id=self.wallet_id,
            customer_id=self.customer_id,
            unit=self.unit,
            overdraft_limit=self.overdraft_limit,
            price_book_id=self.price_book_id,
            metadata=dict(self.metadata),
            idempotency_key=idempotency_key,
        )


class WalletOut(ResponseBody, kw_only=True):
    """A wallet: its balance, its grants (in consumption order) and its budgets."""

    wallet_id: str
    customer_id: str
    unit: str
    overdraft_limit: int
    price_book_id: str
    metadata: dict[str, Any]
    version: int
    balance: Balance
    uncollected: int = 0
    """Credits of billed usage events the wallet could not pay beyond its overdraft: recorded
    (``UsageUncollected``, ``CreditsDebited.uncollected``), never charged or posted."""
    grants: list[GrantOut]
    budgets: list[BudgetOut]


class WalletAsOfOut(WalletOut, kw_only=True):
    """A wallet as it stood at ``as_of``."""

    as_of: datetime


class EventOut(ResponseBody):
    """One recorded event of the wallet, with its facts in ``data``."""

    version: int
    type: str
    occurred_at: datetime
    recorded_at: datetime
    data: dict[str, Any]


class EventsOut(ResponseBody):
    """A page of events; ask again with ``after_version=next_after_version`` for more."""

    events: list[EventOut]
    next_after_version: int
