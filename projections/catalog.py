"""The projections this service maintains, by name (the names the admin API shows)."""

from __future__ import annotations

from collections.abc import Iterable

from projections.alerts import AlertsProjection
from projections.balances import BalancesProjection
from projections.base import Projection
from projections.budgets import BudgetStatusProjection
from projections.journal import JournalProjection
from projections.lists import ListsProjection
from projections.meters import MetersProjection
from projections.uncollected import UncollectedProjection
from projections.usage import UsageProjection

__all__ = [
    "ALERTS",
    "BALANCES",
    "BUDGET_STATUS",
    "JOURNAL",
    "LISTS",
    "METERS",
    "PROJECTIONS",
    "UNCOLLECTED",
    "USAGE",
    "select",
]

JOURNAL = JournalProjection()
BALANCES = BalancesProjection()
USAGE = UsageProjection()
BUDGET_STATUS = BudgetStatusProjection()
METERS = MetersProjection()
ALERTS = AlertsProjection()
LISTS = ListsProjection()
UNCOLLECTED = UncollectedProjection()

PROJECTIONS: dict[str, Projection] = {
    p.name: p for p in (JOURNAL, BALANCES, USAGE, BUDGET_STATUS, METERS, ALERTS, LISTS, UNCOLLECTED)
}


def select(names: Iterable[str] | None = None) -> list[Projection]:
    """The named projections (all when ``names`` is None); ValueError for unknown names."""
    if names is None:
        return list(PROJECTIONS.values())
    chosen = []
    for name in names:
        if name not in PROJECTIONS:
            raise ValueError(f"unknown projection {name!r}; known: {', '.join(PROJECTIONS)}")
        chosen.append(PROJECTIONS[name])
    return chosen
