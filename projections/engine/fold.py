"""The reference model: what every aggregated view must contain, folded event by event.

Written plainly, one event at a time and independently of the batched SQL writers, so that
reconciliation compares two separate computations of the same rules. The shapes match each
projection's ``dump()``; the journal is compared row by row with ``ledger.app.audit.journal_rows``
instead (see :mod:`projections.reconcile`). Every rule is per wallet (whose events are all
in one shard's log, in order) or a sum or maximum, so folding a sharded ledger's logs one
after the other gives what any interleaving of them would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ledger.domain.events import (
    BudgetRemoved,
    BudgetSet,
    CreditsDebited,
    DebitRefunded,
    HoldCaptured,
    UsageUncollected,
)
from projections.engine.base import Change

__all__ = ["Fold"]


def _utc(when: datetime) -> datetime:
    return when.astimezone(UTC)


def _hour(when: datetime) -> datetime:
    return _utc(when).replace(minute=0, second=0, microsecond=0)


def _day(when: datetime) -> datetime:
    return _utc(when).replace(hour=0, minute=0, second=0, microsecond=0)


_SUBJECT = ("user_id", "team_id", "agent_id", "project_id", "feature", "model")


@dataclass
class Fold:
    """Expected contents of the balances, usage, uncollected and budget status views."""

    balances: dict[str, tuple[str, int, int, datetime]] = field(default_factory=dict)
    days: dict[tuple[str, datetime], tuple[str, int, int]] = field(default_factory=dict)
    usage: dict[tuple[str, datetime, tuple[str, ...]], tuple[int, int]] = field(
        default_factory=dict
    )
    uncollected: dict[tuple[str, datetime, tuple[str, ...]], tuple[int, int]] = field(
        default_factory=dict
    )
    budgets: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)
    periods: dict[tuple[str, str, datetime], int] = field(default_factory=dict)
    last_event: int = 0

    def expected(self, name: str) -> dict[str, dict[Any, Any]]:
        """The expected ``dump()`` of projection ``name``."""
        if name == "balances":
            return {"balances": dict(self.balances), "days": dict(self.days)}
        if name == "usage":
            return {"usage": dict(self.usage)}
        if name == "uncollected":
            return {"uncollected": dict(self.uncollected)}
        if name == "budget_status":
            return {"budgets": dict(self.budgets), "periods": dict(self.periods)}
        return {}

    def copy(self) -> Fold:
        """An independent copy (the values are immutable: the dicts are copied shallowly)."""
        return Fold(
            balances=dict(self.balances),
            days=dict(self.days),
            usage=dict(self.usage),
            uncollected=dict(self.uncollected),
            budgets=dict(self.budgets),
            periods=dict(self.periods),
            last_event=self.last_event,
        )

    def apply(self, change: Change) -> None:
        self.last_event = change.position
        self._post(change)
        self._use(change)
        self._budget(change)

    def _post(self, change: Change) -> None:
        when = _utc(change.event.occurred_at)
        for posting in change.event.postings:
            amount = int(posting["amount"])
            self._move(posting["debit"], change.unit, when, amount, 0)
            self._move(posting["credit"], change.unit, when, 0, amount)

    def _move(self, account: str, unit: str, when: datetime, debit: int, credit: int) -> None:
        _, d, c, last = self.balances.get(account, (unit, 0, 0, when))
        self.balances[account] = (unit, d + debit, c + credit, max(last, when))
        key = (account, _day(when))
        _, day_d, day_c = self.days.get(key, (unit, 0, 0))
        self.days[key] = (unit, day_d + debit, day_c + credit)

    def _use(self, change: Change) -> None:
        event = change.event
        self._uncollected(change)
        if isinstance(event, CreditsDebited):
            when, amount = event.usage_at, event.amount
        elif isinstance(event, HoldCaptured):
            when, amount = event.occurred_at, event.captured
        else:
            return
        key = (change.wallet_id, _hour(when), tuple(event.subject.get(k, "") for k in _SUBJECT))
        debited, count = self.usage.get(key, (0, 0))
        self.usage[key] = (debited + amount, count + 1)

    def _uncollected(self, change: Change) -> None:
        event = change.event
        if isinstance(event, CreditsDebited) and event.uncollected:
            when, amount, subject = event.usage_at, event.uncollected, event.subject
        elif isinstance(event, UsageUncollected):
            when, amount, subject = event.usage_at, event.amount, event.subject
        else:
            return
        key = (change.wallet_id, _hour(when), tuple(subject.get(k, "") for k in _SUBJECT))
        total, count = self.uncollected.get(key, (0, 0))
        self.uncollected[key] = (total + amount, count + 1)

    def _budget(self, change: Change) -> None:
        event, wallet_id = change.event, change.wallet_id
        if isinstance(event, BudgetSet):
            self.budgets[(wallet_id, event.budget_id)] = (
                json.dumps(event.scope, sort_keys=True),
                event.limit,
                event.period,
                event.timezone,
                event.mode,
                json.dumps(sorted(event.alert_thresholds_bps)),
                False,
                _utc(event.occurred_at),
            )
            self.periods[(wallet_id, event.budget_id, _utc(event.period_start))] = event.spent
        elif isinstance(event, BudgetRemoved):
            key = (wallet_id, event.budget_id)
            if key in self.budgets:
                self.budgets[key] = (*self.budgets[key][:6], True, self.budgets[key][7])
        elif isinstance(event, CreditsDebited | HoldCaptured):
            for charge in event.budget_charges:
                key3 = (wallet_id, charge["budget_id"], _utc(charge["period_start"]))
                self.periods[key3] = self.periods.get(key3, 0) + int(charge["amount"])
        elif isinstance(event, DebitRefunded):
            for release in event.budget_releases:
                key3 = (wallet_id, release["budget_id"], _utc(release["period_start"]))
                if key3 in self.periods:
                    self.periods[key3] = max(0, self.periods[key3] - int(release["amount"]))
