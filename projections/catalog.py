"""The projections this service maintains, by name (the names the admin API shows)."""

from __future__ import annotations

from collections.abc import Iterable

from projections.alerts.projection import AlertsProjection
from projections.engine.base import Projection
from projections.models.balances import BalancesProjection
from projections.models.budgets import BudgetStatusProjection
from projections.models.journal import JournalProjection
from projections.models.lists import ListsProjection
from projections.models.meters import MetersProjection
from projections.models.uncollected import UncollectedProjection
from projections.models.usage import UsageProjection

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
