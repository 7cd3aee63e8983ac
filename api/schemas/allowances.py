"""Allowance bodies: ``PUT``, ``GET`` and list responses of ``/v1/wallets/{id}/allowances``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta

from api.schemas.fields import Amount, AwareDatetime, RequestBody, ResponseBody
from ledger.app.commands import SetAllowance
from ledger.domain.errors import FieldError, ValidationFailed
from ledger.domain.periods import UnknownTimezone, parse_timezone

__all__ = ["AllowanceIn", "AllowanceOut", "AllowancesOut", "RolloverIn", "RolloverOut"]


class RolloverIn(RequestBody):
    """Carry what is left of a period's grant into the next period, at most ``max_amount``
    (null or absent: no cap)."""

    max_amount: Amount | None = None


class AllowanceIn(RequestBody):
    """A grant of ``amount`` at the start of every calendar ``period`` in ``timezone``."""

    amount: Amount
    period: Literal["day", "week", "month", "year"]
    category: Literal["paid", "promotional", "trial"] = "promotional"
    priority: Annotated[int, Meta(ge=0, le=1_000_000, description="Lower is used first")] = 100
    timezone: Annotated[str, Meta(min_length=1, max_length=64)] = "UTC"
    starts_at: Annotated[
        AwareDatetime | None,
        Meta(description="Periods starting at or after this time (default: now; kept by a change)"),
    ] = None
    ends_at: Annotated[
        AwareDatetime | None, Meta(description="Periods starting before this time (default: none)")
    ] = None
    rollover: RolloverIn | None = None

    def to_command(
        self, wallet_id: str, allowance_id: str, idempotency_key: str | None
    ) -> SetAllowance:
        """The ledger command.

        Raises:
            ValidationFailed: If ``timezone`` is not an IANA time zone.
        """
        try:
            parse_timezone(self.timezone)
        except UnknownTimezone:
            raise ValidationFailed(
                FieldError("timezone", f"unknown time zone {self.timezone!r}")
            ) from None
        return SetAllowance(
            wallet_id=wallet_id,
            allowance_id=allowance_id,
            amount=self.amount,
            period=self.period,
            category=self.category,
            priority=self.priority,
            timezone=self.timezone,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            rollover=None if self.rollover is None else {"max_amount": self.rollover.max_amount},
            idempotency_key=idempotency_key,
        )


class RolloverOut(ResponseBody):
    """The rollover of an allowance; ``max_amount`` null: no cap."""

    max_amount: int | None


class AllowanceOut(ResponseBody):
    """An allowance and when its next period's grant is due (null: no further period)."""

    allowance_id: str
    amount: int
    category: str
    priority: int
    period: str
    timezone: str
    starts_at: datetime
    ends_at: datetime | None
    rollover: RolloverOut | None
    next_grant_at: datetime | None
    created_at: datetime
    updated_at: datetime


class AllowancesOut(ResponseBody):
    """All allowances of a wallet, by ``allowance_id``."""

    allowances: list[AllowanceOut]
