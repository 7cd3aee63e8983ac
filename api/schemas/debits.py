"""Debit bodies: authorize-and-deduct, and refunds of a debit."""

from __future__ import annotations

import msgspec

from api.schemas.budgets import BudgetOut
from api.schemas.fields import (
    Allocation,
    Amount,
    AwareDatetime,
    Balance,
    BudgetWarning,
    Metadata,
    Reason,
    RequestBody,
    ResponseBody,
    Subject,
)
from api.schemas.rating import RatingOut, UsageIn, amount_or_usage
from ledger.app.commands import Debit, Refund

__all__ = ["DebitIn", "DebitOut", "RefundAllocation", "RefundIn", "RefundOut"]


class DebitIn(RequestBody):
    """Spend ``amount``, or what ``usage`` rates to (exactly one of the two), if the balance
    and every hard budget allow it."""

    amount: Amount | msgspec.UnsetType = msgspec.UNSET
    usage: UsageIn | None = None
    subject: Subject = msgspec.field(default_factory=Subject)
    occurred_at: AwareDatetime | None = None
    metadata: Metadata = {}

    def to_command(self, wallet_id: str, idempotency_key: str | None) -> Debit:
        """The ledger command for this request.

        Raises:
            ValidationFailed: Both ``amount`` and ``usage``, or neither.
        """
        amount, usage = amount_or_usage(self.amount, self.usage)
        return Debit(
            wallet_id=wallet_id,
            amount=amount,
            usage=usage,
            subject=self.subject.as_dict(),
            occurred_at=self.occurred_at,
            metadata=dict(self.metadata),
            idempotency_key=idempotency_key,
        )


class DebitOut(ResponseBody, omit_defaults=True):
    """The debit, the grants it drew on and the wallet and budgets after it; ``rating`` when
    the amount was rated from ``usage``."""

    debit_id: str
    wallet_id: str
    amount: int
    allocations: list[Allocation]
    balance: Balance
    budgets: list[BudgetOut]
    warnings: list[BudgetWarning]
    rating: RatingOut | None = None


class RefundIn(RequestBody):
    """Give back ``amount`` of a debit (all that is left of it by default)."""

    amount: Amount | None = None
    reason: Reason = ""

    def to_command(self, wallet_id: str, debit_id: str, idempotency_key: str | None) -> Refund:
        """The ledger command for this request."""
        return Refund(
            wallet_id=wallet_id,
            debit_id=debit_id,
            amount=self.amount,
            reason=self.reason,
            idempotency_key=idempotency_key,
        )


class RefundAllocation(ResponseBody):
    """Credits returned to one grant; ``to`` is ``grant``, or ``expired``/``voided`` breakage."""

    grant_id: str
    amount: int
    to: str


class RefundOut(ResponseBody):
    """The refund and where its credits went."""

    refund_id: str
    debit_id: str
    amount: int
    allocations: list[RefundAllocation]
    balance: Balance
