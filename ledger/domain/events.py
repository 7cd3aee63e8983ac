"""Wallet events: the persisted, public record of every decision.

Topics are explicit (``ledger:Wallet.<Name>``) and never change; a schema change bumps
``class_version`` and adds an ``upcast_vN_vN+1``. A field may also be added *last* with a
default (``rating``): an event stored before it existed decodes with the default, because
the store's mapper restores an event's ``__dict__`` and the dataclass default is the class
attribute behind it. Each ``apply`` only assigns facts already
decided by a command: it never re-runs a policy, reads a clock or raises for business
reasons, so replaying history reproduces exactly what was decided. The invariant checks at
the end of ``apply`` are pair assertions against corrupt history, not business rules.

The base of every wallet event, the wallet's opening and what events apply their facts to
are in :mod:`ledger.domain.event_base` (and exported here too).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.utils import register_topic

from ledger.domain.allowances import Allowance
from ledger.domain.event_base import AppliesFacts, WalletEvent, WalletOpened
from ledger.domain.state import Budget, Grant, Hold, budget_definition

__all__ = [
    "ALLOWANCE_EVENT_CLASSES",
    "HOLD_CLOSED_AS",
    "WALLET_EVENT_CLASSES",
    "WALLET_TOPICS",
    "AllowanceGranted",
    "AllowanceRemoved",
    "AllowanceSet",
    "AppliesFacts",
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
    "RolloverGranted",
    "UsageUncollected",
    "WalletEvent",
    "WalletOpened",
    "event_type",
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


class AllowanceSet(WalletEvent):
    """An allowance was created or changed; ``next_grant_at`` is the first period the terms
    grant (decided by the command: a change takes effect from the next period)."""

    TOPIC = "ledger:Wallet.AllowanceSet"
    allowance_id: str
    amount: int
    category: str
    priority: int
    period: str
    timezone: str
    starts_at: datetime
    ends_at: datetime | None
    rollover: dict[str, Any] | None
    next_grant_at: datetime | None
    idempotency_key: str | None

    def apply_to(self, wallet: AppliesFacts) -> None:
        table = wallet.allowance_table()
        current = table.get(self.allowance_id)
        table[self.allowance_id] = Allowance(
            allowance_id=self.allowance_id,
            amount=self.amount,
            category=self.category,
            priority=self.priority,
            period=self.period,
            timezone=self.timezone,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            rollover=None if self.rollover is None else dict(self.rollover),
            created_at=self.occurred_at if current is None else current.created_at,
            updated_at=self.occurred_at,
            next_grant_at=self.next_grant_at,
            last_grant_id=None if current is None else current.last_grant_id,
            last_rollover=None if current is None else current.last_rollover,
        )


class AllowanceRemoved(WalletEvent):
    """No further periods; the grants already made stay (and no rollover follows)."""

    TOPIC = "ledger:Wallet.AllowanceRemoved"
    allowance_id: str
    idempotency_key: str | None

    def apply_to(self, wallet: AppliesFacts) -> None:
        del wallet.allowance_table()[self.allowance_id]


class AllowanceGranted(CreditsGranted):
    """One period's grant of an allowance (DR issued / CR grant), dated at the period start
    (or when the allowance was set, for the period under way then)."""

    TOPIC = "ledger:Wallet.AllowanceGranted"
    allowance_id: str
    rollover: dict[str, Any] | None
    """The rollover in force for this period: it decides what is carried when it ends."""
    next_grant_at: datetime | None

    def apply_to(self, wallet: AppliesFacts) -> None:
        super().apply_to(wallet)
        allowance = wallet.allowance_table()[self.allowance_id]
        allowance.next_grant_at = self.next_grant_at
        allowance.last_grant_id = self.grant_id
        allowance.last_rollover = None if self.rollover is None else dict(self.rollover)


class RolloverGranted(CreditsGranted):
    """Credits left in a period's grant when it ended, carried into a ``rollover`` grant
    (DR old grant / CR new grant: a move inside the wallet, not breakage)."""

    TOPIC = "ledger:Wallet.RolloverGranted"
    allowance_id: str
    from_grant_id: str

    def apply_to(self, wallet: AppliesFacts) -> None:
        wallet.grants[self.from_grant_id].remaining -= self.amount
        super().apply_to(wallet)


ALLOWANCE_EVENT_CLASSES: tuple[type[WalletEvent], ...] = (
    AllowanceSet,
    AllowanceRemoved,
    AllowanceGranted,
    RolloverGranted,
)

WALLET_EVENT_CLASSES: tuple[type[WalletEvent], ...] = (
    WalletOpened,
    CreditsGranted,
    DebtSettled,
    DebtIncurred,
    CreditsDebited,
    HoldPlaced,
    HoldCaptured,
    HoldReleased,
    HoldExpired,
    GrantExpired,
    GrantVoided,
    DebitRefunded,
    BudgetSet,
    BudgetRemoved,
    *ALLOWANCE_EVENT_CLASSES,
    UsageUncollected,
)
WALLET_TOPICS: list[str] = [cls.TOPIC for cls in WALLET_EVENT_CLASSES]


HOLD_CLOSED_AS: dict[type, str] = {
    HoldCaptured: "captured",
    HoldReleased: "released",
    HoldExpired: "expired",
}
"""The status a hold ends in, by the event that resolved it."""


def event_type(event: object) -> str:
    """The stable short name of an event: the last part of its topic (``CreditsDebited``)."""
    return str(getattr(event, "TOPIC", type(event).__name__)).rsplit(".", 1)[-1]


"""Every wallet event topic: the filter for reading only wallet events from the log."""

for _event_class in WALLET_EVENT_CLASSES:
    register_topic(_event_class.TOPIC, _event_class)
