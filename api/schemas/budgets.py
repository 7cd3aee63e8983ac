"""Budget bodies: ``PUT``, ``GET`` and list responses of ``/v1/wallets/{id}/budgets``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from api.schemas.fields import NonNegativeAmount, RequestBody, ResponseBody, Subject, SubjectOut
from ledger.app.commands import SetBudget
from ledger.domain.errors import FieldError, ValidationFailed
from ledger.domain.periods import UnknownTimezone, parse_timezone

__all__ = ["BudgetIn", "BudgetOut", "BudgetsOut"]

Period = Literal["day", "week", "month", "total"]
Mode = Literal["hard", "soft"]
_Threshold = Annotated[float, Meta(gt=0, le=100, description="A ratio of the limit, in (0, 100]")]


class BudgetIn(RequestBody):
    """A spending cap on the wallet's requests whose subject matches ``scope``."""

    limit: NonNegativeAmount
    period: Period
    scope: Subject = msgspec.field(default_factory=Subject)
    timezone: Annotated[str, Meta(min_length=1, max_length=64)] = "UTC"
    mode: Mode = "hard"
    alert_thresholds: Annotated[list[_Threshold], Meta(max_length=32)] = []

    def to_command(self, wallet_id: str, budget_id: str, idempotency_key: str | None) -> SetBudget:
        """The ledger command; thresholds become integer basis points (0.75 -> 7500).

        Raises:
            ValidationFailed: If ``timezone`` is not an IANA time zone.
        """
        try:
            parse_timezone(self.timezone)
        except UnknownTimezone:
            raise ValidationFailed(
                FieldError("timezone", f"unknown time zone {self.timezone!r}")
            ) from None
        return SetBudget(
            wallet_id=wallet_id,
            budget_id=budget_id,
            limit=self.limit,
            period=self.period,
            scope=self.scope.as_dict(),
            timezone=self.timezone,
            mode=self.mode,
            alert_thresholds_bps=[round(ratio * 10_000) for ratio in self.alert_thresholds],
            idempotency_key=idempotency_key,
        )


class BudgetOut(ResponseBody):
    """A budget and where its current period stands."""

    budget_id: str
    scope: SubjectOut
    limit: int
    period: Period
    timezone: str
    mode: Mode
    alert_thresholds: list[float]
    spent: int
    remaining: int
    period_start: datetime
    period_end: datetime | None


class BudgetsOut(ResponseBody):
    """All budgets of a wallet, by ``budget_id``."""

    budgets: list[BudgetOut]
