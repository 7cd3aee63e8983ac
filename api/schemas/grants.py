"""Grant bodies: ``POST /v1/wallets/{id}/grants`` and ``.../grants/{grant_id}/void``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta

from api.schemas.fields import (
    Amount,
    AwareDatetime,
    ClientId,
    Metadata,
    NonNegativeAmount,
    Reason,
    RequestBody,
    ResponseBody,
)
from ledger.app.commands import GrantCredits, VoidGrant

__all__ = ["CostBasisIn", "CostBasisOut", "GrantIn", "GrantOut", "VoidGrantIn"]


Category = Literal["paid", "promotional", "trial", "refund", "rollover"]


class CostBasisIn(RequestBody):
    """What the customer paid for the credits, in minor units of ``currency``."""

    amount_minor: NonNegativeAmount
    currency: Annotated[str, Meta(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]


class GrantIn(RequestBody):
    """Credits to add; only ``amount`` and ``category`` are required."""

    amount: Amount
    category: Category
    grant_id: ClientId | None = None
    priority: Annotated[int, Meta(ge=0, le=1_000_000, description="Lower is used first")] = 100
    effective_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None
    cost_basis: CostBasisIn | None = None
    metadata: Metadata = {}

    def to_command(self, wallet_id: str, idempotency_key: str | None) -> GrantCredits:
        """The ledger command for this request."""
        cost_basis = self.cost_basis
        return GrantCredits(
            wallet_id=wallet_id,
            amount=self.amount,
            category=self.category,
            grant_id=self.grant_id,
            priority=self.priority,
            effective_at=self.effective_at,
            expires_at=self.expires_at,
            cost_basis=None
            if cost_basis is None
            else (cost_basis.amount_minor, cost_basis.currency),
            metadata=dict(self.metadata),
            idempotency_key=idempotency_key,
        )


class VoidGrantIn(RequestBody):
    """Why the grant is withdrawn (kept on the event)."""

    reason: Reason = ""

    def to_command(self, wallet_id: str, grant_id: str, idempotency_key: str | None) -> VoidGrant:
        """The ledger command for this request."""
        return VoidGrant(
            wallet_id=wallet_id,
            grant_id=grant_id,
            reason=self.reason,
            idempotency_key=idempotency_key,
        )


class CostBasisOut(ResponseBody):
    """What the customer paid for a grant."""

    amount_minor: int
    currency: str


class GrantOut(ResponseBody):
    """A grant as the wallet sees it; ``status`` is evaluated at the time of the answer."""

    grant_id: str
    category: Category
    priority: int
    amount: int
    remaining: int
    held: int
    effective_at: datetime
    expires_at: datetime | None
    status: Literal["pending", "active", "depleted", "expired", "voided"]
    cost_basis: CostBasisOut | None
    debt_settled: int
    metadata: dict[str, Any]
