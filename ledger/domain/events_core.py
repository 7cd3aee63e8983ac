"""Wallet events that move credits, hold them and cap them: grants, debits, debt, holds,
expiry, voids, refunds, budgets (exported by :mod:`ledger.domain.events`, with the same
explicit topics wherever a class lives)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.domain.event_base import AppliesFacts, WalletEvent
from ledger.domain.state import Budget, Grant, Hold, budget_definition

__all__ = [
    "BudgetRemoved",
    "BudgetSet",
    "CreditsDebited",
    "CreditsGranted",
    "DebitRefunded",
    "DebtIncurred",
    "DebtSettled",
    "GrantExpired",
    "GrantVoided",
    "HoldCaptured",
    "HoldExpired",
    "HoldPlaced",
    "HoldReleased",
    "UsageUncollected",
]


class CreditsGranted(WalletEvent):
    TOPIC = "ledger:Wallet.CreditsGranted"
    grant_id: str
    category: str
    priority: int
    amount: int
    effective_at: datetime
    expires_at: datetime | None
    cost_basis_minor: int | None
    cost_basis_currency: str | None
    metadata: dict[str, Any]
    idempotency_key: str | None

    def apply_to(self, wallet: AppliesFacts) -> None:
        wallet.grants[self.grant_id] = Grant(
            grant_id=self.grant_id,
            category=self.category,
            priority=self.priority,
            amount=self.amount,
            remaining=self.amount,
            effective_at=self.effective_at,
            expires_at=self.expires_at,
            granted_version=self.originator_version,
            cost_basis_minor=self.cost_basis_minor,
            cost_basis_currency=self.cost_basis_currency,
            metadata=dict(self.metadata),
        )


class DebtSettled(WalletEvent):
    """Part of a new grant paid the wallet's debt (DR grant / CR debt)."""

    TOPIC = "ledger:Wallet.DebtSettled"
    grant_id: str
    amount: int

    def apply_to(self, wallet: AppliesFacts) -> None:
        grant = wallet.grants[self.grant_id]
        grant.remaining -= self.amount
        grant.debt_settled += self.amount
        wallet.debt -= self.amount


class DebtIncurred(WalletEvent):
    """Consumption the wallet could not cover became debt (DR debt / CR consumed)."""

    TOPIC = "ledger:Wallet.DebtIncurred"
    amount: int
    cause: str

    def apply_to(self, wallet: AppliesFacts) -> None:
        wallet.debt += self.amount


class CreditsDebited(WalletEvent):
    """Authorize-and-deduct: the allocation chosen by ``policy_version`` is recorded."""

    TOPIC = "ledger:Wallet.CreditsDebited"
    debit_id: str
    amount: int
    allocations: list[dict[str, Any]]
    policy_version: int
    subject: dict[str, str]
    budget_charges: list[dict[str, Any]]
    usage_at: datetime
    metadata: dict[str, Any]
    idempotency_key: str | None
    rating: dict[str, Any] | None = None
    """How ``usage`` was rated into ``amount`` (``price_book_id``, ``version``, ``amount``,
    ``usage``); None when the client gave the amount."""
    debt: int = 0
    """Part of ``amount`` no grant covered (billed usage events only): recorded as debt by
    the ``DebtIncurred`` that follows; ``allocations`` cover ``amount - debt``."""
    uncollected: int = 0
    """Rated credits beyond the overdraft limit (billed usage events only): recorded here,
    never posted and not part of ``amount``."""

    def apply_to(self, wallet: AppliesFacts) -> None:
        for allocation in self.allocations:
            wallet.grants[allocation["grant_id"]].remaining -= allocation["amount"]
        wallet.charge_budgets(self.budget_charges)
        wallet.uncollected += self.uncollected


class UsageUncollected(WalletEvent):
    """A billed usage event none of which could be collected (no credits, overdraft used
    up): nothing is posted, but the wallet keeps the fact (a part of a usage event is
    ``CreditsDebited.uncollected`` instead)."""

    TOPIC = "ledger:Wallet.UsageUncollected"
    event_id: str
    amount: int
    subject: dict[str, str]
    usage_at: datetime
    rating: dict[str, Any]

    def apply_to(self, wallet: AppliesFacts) -> None:
        wallet.uncollected += self.amount


class HoldPlaced(WalletEvent):
    TOPIC = "ledger:Wallet.HoldPlaced"
    hold_id: str
    amount: int
    allocations: list[dict[str, Any]]
    policy_version: int
    subject: dict[str, str]
    expires_at: datetime
    metadata: dict[str, Any]
    idempotency_key: str | None
    rating: dict[str, Any] | None = None
    """How ``usage`` was rated into ``amount``, as on ``CreditsDebited``."""

    def apply_to(self, wallet: AppliesFacts) -> None:
        for allocation in self.allocations:
            grant = wallet.grants[allocation["grant_id"]]
            grant.remaining -= allocation["amount"]
            grant.held += allocation["amount"]
        wallet.holds[self.hold_id] = Hold(
            hold_id=self.hold_id,
            amount=self.amount,
            allocations=[dict(a) for a in self.allocations],
            subject=dict(self.subject),
            placed_at=self.occurred_at,
            expires_at=self.expires_at,
            metadata=dict(self.metadata),
        )


class HoldCaptured(WalletEvent):
    """Captured credits leave the holds account; the rest is released; overage is debited."""

    TOPIC = "ledger:Wallet.HoldCaptured"
    hold_id: str
    captured: int
    captured_allocations: list[dict[str, Any]]
    released_allocations: list[dict[str, Any]]
    overage: int
    overage_allocations: list[dict[str, Any]]
    policy_version: int
    subject: dict[str, str]
    budget_charges: list[dict[str, Any]]
    idempotency_key: str | None
    rating: dict[str, Any] | None = None
    """How ``usage`` was rated into ``captured``, as on ``CreditsDebited``."""

    def apply_to(self, wallet: AppliesFacts) -> None:
        for allocation in self.captured_allocations:
            wallet.grants[allocation["grant_id"]].held -= allocation["amount"]
        wallet.release(self.released_allocations)
        for allocation in self.overage_allocations:
            wallet.grants[allocation["grant_id"]].remaining -= allocation["amount"]
        del wallet.holds[self.hold_id]
        wallet.charge_budgets(self.budget_charges)


class HoldReleased(WalletEvent):
    TOPIC = "ledger:Wallet.HoldReleased"
    hold_id: str
    released_allocations: list[dict[str, Any]]
    idempotency_key: str | None

    def apply_to(self, wallet: AppliesFacts) -> None:
        wallet.release(self.released_allocations)
        del wallet.holds[self.hold_id]


class HoldExpired(WalletEvent):
    """An open hold reached ``expires_at`` and was released automatically (dated then)."""

    TOPIC = "ledger:Wallet.HoldExpired"
    hold_id: str
    released_allocations: list[dict[str, Any]]

    def apply_to(self, wallet: AppliesFacts) -> None:
        wallet.release(self.released_allocations)
        del wallet.holds[self.hold_id]


class GrantExpired(WalletEvent):
    """What was left of a grant at ``expires_at`` became breakage (dated at expires_at)."""

    TOPIC = "ledger:Wallet.GrantExpired"
    grant_id: str
    amount: int

    def apply_to(self, wallet: AppliesFacts) -> None:
        grant = wallet.grants[self.grant_id]
        grant.remaining -= self.amount
        grant.expired = True


class GrantVoided(WalletEvent):
    TOPIC = "ledger:Wallet.GrantVoided"
    grant_id: str
    amount: int
    reason: str
    idempotency_key: str | None

    def apply_to(self, wallet: AppliesFacts) -> None:
        grant = wallet.grants[self.grant_id]
        grant.remaining -= self.amount
        grant.voided = True


class DebitRefunded(WalletEvent):
    """Credits of a debit returned, last-consumed first, to grants (or to breakage)."""

    TOPIC = "ledger:Wallet.DebitRefunded"
    refund_id: str
    debit_id: str
    amount: int
    allocations: list[dict[str, Any]]
    subject: dict[str, str]
    debited_at: datetime
    budget_releases: list[dict[str, Any]]
    reason: str
    idempotency_key: str | None

    def apply_to(self, wallet: AppliesFacts) -> None:
        wallet.restore(self.allocations)
        wallet.refunded[self.debit_id] = wallet.refunded.get(self.debit_id, 0) + self.amount
        for release in self.budget_releases:
            budget = wallet.budgets.get(release["budget_id"])
            if budget is not None and budget.period_start == release["period_start"]:
                # A budget re-set since the debit recounted its period from history, so
                # never let a late release push it below zero.
                budget.spent = max(0, budget.spent - release["amount"])


class BudgetSet(WalletEvent):
    TOPIC = "ledger:Wallet.BudgetSet"
    budget_id: str
    scope: dict[str, str]
    limit: int
    period: str
    timezone: str
    mode: str
    alert_thresholds_bps: list[int]
    period_start: datetime
    spent: int
    idempotency_key: str | None

    def apply_to(self, wallet: AppliesFacts) -> None:
        wallet.budgets[self.budget_id] = Budget(
            **budget_definition(self), period_start=self.period_start, spent=self.spent
        )


class BudgetRemoved(WalletEvent):
    TOPIC = "ledger:Wallet.BudgetRemoved"
    budget_id: str
    idempotency_key: str | None

    def apply_to(self, wallet: AppliesFacts) -> None:
        del wallet.budgets[self.budget_id]
