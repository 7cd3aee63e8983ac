"""Wallet commands for spending caps: set (create or change) and remove a budget."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.domain.errors import BudgetNotFound
from ledger.domain.events import BudgetRemoved, BudgetSet
from ledger.domain.periods import BUDGET_PERIODS, Period, parse_timezone, period_bounds
from ledger.domain.validation import check_amount, check_id, check_subject, fail
from ledger.domain.wallet_state import WalletState

__all__ = ["BudgetCommands", "check_budget_input"]

MAX_THRESHOLD_BPS = 1_000_000  # alerts up to 100x the limit; beyond that is a typo


def check_budget_input(
    *,
    budget_id: str,
    scope: dict[str, str],
    limit: int,
    period: str,
    timezone: str,
    mode: str,
    alert_thresholds_bps: list[int],
) -> None:
    check_id("budget_id", budget_id)
    check_subject(scope)
    check_amount("limit", limit, minimum=0)
    if period not in BUDGET_PERIODS:
        raise fail("period", "must be one of day, week, month, total")
    try:
        parse_timezone(timezone)
    except ValueError:
        raise fail("timezone", f"unknown time zone {timezone!r}") from None
    if mode not in {"hard", "soft"}:
        raise fail("mode", "must be hard or soft")
    for index, bps in enumerate(alert_thresholds_bps):
        if type(bps) is not int or not 0 < bps <= MAX_THRESHOLD_BPS:
            raise fail(f"alert_thresholds[{index}]", "must be a ratio above 0 and at most 100")


class BudgetCommands(WalletState):
    def budget_needs_history(
        self, budget_id: str, scope: dict[str, str], period: str, timezone: str
    ) -> bool:
        """A new budget, or one whose scope or period changed, must recount its period."""
        current = self.budgets.get(budget_id)
        return current is None or (current.scope, current.period, current.timezone) != (
            scope,
            period,
            timezone,
        )

    def set_budget(
        self,
        *,
        budget_id: str,
        scope: dict[str, str],
        limit: int,
        period: str,
        timezone: str,
        mode: str,
        alert_thresholds_bps: list[int],
        spent_in_period: int | None,
        idempotency_key: str | None,
        at: datetime,
    ) -> dict[str, Any]:
        """Create or change a budget.

        ``spent_in_period`` is what history says the scope already spent in the current period;
        the application counts it when :meth:`budget_needs_history` says so, and it is recorded
        on the event so replay never recounts. Otherwise the running count carries over.
        """
        definition: dict[str, Any] = {
            "budget_id": budget_id,
            "scope": dict(scope),
            "limit": limit,
            "period": period,
            "timezone": timezone,
            "mode": mode,
            "alert_thresholds_bps": alert_thresholds_bps,
        }
        check_budget_input(**definition)
        at, _ = self.advance(at)
        start, _ = period_bounds(Period(period), at, timezone)
        created = budget_id not in self.budgets
        if self.budget_needs_history(budget_id, scope, period, timezone):
            if spent_in_period is None:
                raise AssertionError("a new or re-scoped budget needs its period recounted")
            spent = spent_in_period
        else:
            current = self.budgets[budget_id]
            spent = current.spent if current.period_start == start else 0
        self.trigger_event(
            BudgetSet,
            occurred_at=at,
            postings=[],
            **{**definition, "alert_thresholds_bps": sorted(set(alert_thresholds_bps))},
            period_start=start,
            spent=spent,
            idempotency_key=idempotency_key,
        )
        return {
            **self.budget_views(at, None)[sorted(self.budgets).index(budget_id)],
            "created": created,
        }

    def remove_budget(
        self, *, budget_id: str, idempotency_key: str | None, at: datetime
    ) -> dict[str, Any]:
        at, _ = self.advance(at)
        if budget_id not in self.budgets:
            raise BudgetNotFound(budget_id)
        self.trigger_event(
            BudgetRemoved,
            occurred_at=at,
            postings=[],
            budget_id=budget_id,
            idempotency_key=idempotency_key,
        )
        return {"budget_id": budget_id}
