"""Allowance events: recurring grants set, removed, granted per period and rolled over
(exported by :mod:`ledger.domain.events`; decision 0018 has the rules and the postings)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.domain.allowances import Allowance
from ledger.domain.event_base import AppliesFacts, WalletEvent
from ledger.domain.events_core import CreditsGranted

__all__ = [
    "ALLOWANCE_EVENT_CLASSES",
    "AllowanceGranted",
    "AllowanceRemoved",
    "AllowanceSet",
    "RolloverGranted",
]


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
