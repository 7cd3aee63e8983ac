"""Budget decisions: which budgets a request hits, whether they allow it, what it charges.

Spent in a period = what debits and captures charged to the budget in that period plus what
open holds matching its scope reserve (holds count as spent until released). A hold's amount
is charged to the period in which it is captured.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.domain.errors import BudgetExceeded
from ledger.domain.events import CreditsDebited, DebitRefunded, HoldCaptured, WalletEvent
from ledger.domain.periods import Period, period_bounds
from ledger.domain.state import Budget, Hold

__all__ = [
    "BudgetDecision",
    "budget_view",
    "charged_in_period",
    "decide_budgets",
    "held_against",
    "spent_from_history",
]


def charged_in_period(budget: Budget, at: datetime) -> int:
    """Debits and captures charged to ``budget`` in the period containing ``at``."""
    start, _ = period_bounds(Period(budget.period), at, budget.timezone)
    return budget.spent if budget.period_start == start else 0


def held_against(budget: Budget, holds: Iterable[Hold], at: datetime) -> int:
    """Credits reserved by open, unexpired holds whose subject the budget matches."""
    return sum(h.amount for h in holds if at < h.expires_at and budget.matches(h.subject))


def budget_view(budget: Budget, holds: Iterable[Hold], at: datetime) -> dict[str, Any]:
    """The budget as the API shows it, evaluated at ``at``."""
    start, end = period_bounds(Period(budget.period), at, budget.timezone)
    spent = charged_in_period(budget, at) + held_against(budget, holds, at)
    return {
        "budget_id": budget.budget_id,
        "scope": dict(budget.scope),
        "limit": budget.limit,
        "period": budget.period,
        "timezone": budget.timezone,
        "mode": budget.mode,
        "alert_thresholds": [bps / 10_000 for bps in budget.alert_thresholds_bps],
        "spent": spent,
        "remaining": max(0, budget.limit - spent),
        "period_start": start,
        "period_end": end,
    }


@dataclass(frozen=True)
class BudgetDecision:
    """What the matching budgets decided about one request."""

    charges: list[dict[str, Any]]
    warnings: list[dict[str, Any]]


def decide_budgets(
    budgets: Mapping[str, Budget],
    holds: Iterable[Hold],
    subject: dict[str, str],
    amount: int,
    at: datetime,
    *,
    refuse_hard: bool = True,
) -> BudgetDecision:
    """Check every budget matching ``subject``; raise for the first hard one that refuses.

    Budgets are checked in ``budget_id`` order so the refusing budget is deterministic.
    ``charges`` lists what a debit of ``amount`` would add to each matching budget's period.
    ``refuse_hard=False`` (billed usage: it already happened) turns a hard budget's refusal
    into a ``hard_budget_exceeded`` warning.
    """
    open_holds = list(holds)
    charges: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    for budget_id in sorted(budgets):
        budget = budgets[budget_id]
        if not budget.matches(subject):
            continue
        start, end = period_bounds(Period(budget.period), at, budget.timezone)
        spent = charged_in_period(budget, at) + held_against(budget, open_holds, at)
        # A zero amount (a capture within its hold) was already reserved: never refuse it.
        if amount and spent + amount > budget.limit:
            if budget.mode == "hard" and refuse_hard:
                raise BudgetExceeded(budget_id, budget.limit, spent, amount, end)
            code = "hard_budget_exceeded" if budget.mode == "hard" else "soft_budget_exceeded"
            warnings.append({"code": code, "budget_id": budget_id})
        charges.append({"budget_id": budget_id, "period_start": start, "amount": amount})
    return BudgetDecision(charges=charges, warnings=warnings)


def spent_from_history(
    events_newest_first: Iterable[object], scope: dict[str, str], start: datetime
) -> int:
    """Recount what ``scope`` spent since ``start`` from a wallet's events, newest first.

    Wallet events are dated in non-decreasing order, so the scan stops at the first event
    before ``start``. Refunds subtract only when the refunded debit was in the period too.
    """

    def matches(subject: dict[str, str]) -> bool:
        return all(subject.get(key) == value for key, value in scope.items())

    total = 0
    for event in events_newest_first:
        if not isinstance(event, WalletEvent) or event.occurred_at < start:
            if isinstance(event, WalletEvent):
                break
            continue
        if isinstance(event, CreditsDebited) and matches(event.subject):
            total += event.amount
        elif isinstance(event, HoldCaptured) and matches(event.subject):
            total += event.captured
        elif (
            isinstance(event, DebitRefunded)
            and matches(event.subject)
            and event.debited_at >= start
        ):
            total -= event.amount
    return max(0, total)
