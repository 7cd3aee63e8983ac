"""Hold bodies: place, capture, release and read a two-phase reservation."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from api.schemas.fields import (
    Allocation,
    Amount,
    AwareDatetime,
    Balance,
    BudgetWarning,
    ClientId,
    Metadata,
    RequestBody,
    ResponseBody,
    Subject,
    SubjectOut,
)
from api.schemas.operations import HoldStatus
from api.schemas.rating import RatingOut, UsageIn, amount_or_usage
from ledger.app.commands import CaptureHold, PlaceHold

__all__ = ["CaptureIn", "CaptureOut", "HoldIn", "HoldOut", "PlacedHoldOut", "ReleaseOut"]


class HoldIn(RequestBody):
    """Reserve ``amount``, or what ``usage`` rates to (exactly one of the two), until
    ``expires_at`` (default 15 minutes, at most 7 days)."""

    amount: Amount | msgspec.UnsetType = msgspec.UNSET
    usage: UsageIn | None = None
    hold_id: ClientId | None = None
    subject: Subject = msgspec.field(default_factory=Subject)
    expires_at: AwareDatetime | None = None
    metadata: Metadata = {}

    def to_command(self, wallet_id: str, idempotency_key: str | None) -> PlaceHold:
        """The ledger command for this request.

        Raises:
            ValidationFailed: Both ``amount`` and ``usage``, or neither.
        """
        amount, usage = amount_or_usage(self.amount, self.usage)
        return PlaceHold(
            wallet_id=wallet_id,
            amount=amount,
            usage=usage,
            hold_id=self.hold_id,
            subject=self.subject.as_dict(),
            expires_at=self.expires_at,
            metadata=dict(self.metadata),
            idempotency_key=idempotency_key,
        )


class CaptureIn(RequestBody):
    """Consume ``amount``, or what ``usage`` rates to (all of the hold if neither is given);
    the rest is released."""

    amount: Amount | None = None
    usage: UsageIn | None = None
    allow_overage: bool = False

    def to_command(self, wallet_id: str, hold_id: str, idempotency_key: str | None) -> CaptureHold:
        """The ledger command for this request.

        Raises:
            ValidationFailed: Both ``amount`` and ``usage``.
        """
        amount, usage = amount_or_usage(self.amount, self.usage, required=False)
        return CaptureHold(
            wallet_id=wallet_id,
            hold_id=hold_id,
            amount=amount,
            usage=usage,
            allow_overage=self.allow_overage,
            idempotency_key=idempotency_key,
        )


class HoldOut(ResponseBody, omit_defaults=True):
    """A hold; a resolved one adds when it closed and what was captured and released."""

    hold_id: str
    status: HoldStatus
    amount: int
    allocations: list[Allocation]
    subject: SubjectOut
    placed_at: datetime
    expires_at: datetime
    metadata: dict[str, Any]
    closed_at: datetime | None = None
    captured: int | None = None
    released: int | None = None
    overage: int | None = None


class PlacedHoldOut(HoldOut, kw_only=True):
    """A new hold and the wallet's balance with it taken out; ``rating`` when the amount was
    rated from ``usage``."""

    balance: Balance
    warnings: list[BudgetWarning]
    rating: RatingOut | None = None


class CaptureOut(ResponseBody, omit_defaults=True):
    """A captured hold: consumed, released, overage beyond it and debt that made; ``rating``
    when the captured amount was rated from ``usage``."""

    hold_id: str
    status: Literal["captured"]
    captured: int
    released: int
    overage: int
    debt_incurred: int
    balance: Balance
    warnings: list[BudgetWarning]
    rating: RatingOut | None = None


class ReleaseOut(ResponseBody):
    """A released hold: everything it held went back."""

    hold_id: str
    status: Literal["released"]
    released: int
    balance: Balance
