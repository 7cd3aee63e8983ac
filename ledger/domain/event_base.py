"""The base of every wallet event, the event that opens a wallet, and what events apply to.

Split from :mod:`ledger.domain.events` (which exports these names too) so that each stays
short; topics are explicit and never change wherever a class lives.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar, Protocol

from eventsourcing.domain import Aggregate

from ledger.domain.allowances import Allowance
from ledger.domain.state import Budget, Grants, Hold

__all__ = ["AppliesFacts", "WalletEvent", "WalletOpened"]


class AppliesFacts(Protocol):
    """What the events apply their facts to: the wallet's state and its applying helpers
    (``ledger.domain.wallet_state``). A protocol, so this module does not import the wallet
    that imports it (``ledger.domain.wallet`` checks that ``Wallet`` satisfies it)."""

    grants: Grants
    holds: dict[str, Hold]
    budgets: dict[str, Budget]
    refunded: dict[str, int]
    debt: int
    uncollected: int
    clock: datetime

    def allowance_table(self) -> dict[str, Allowance]: ...

    def initialise(self, opened: WalletOpened) -> None: ...

    def release(self, allocations: Iterable[dict[str, Any]]) -> None: ...

    def restore(self, allocations: Iterable[dict[str, Any]]) -> None: ...

    def charge_budgets(self, charges: Iterable[dict[str, Any]]) -> None: ...

    def check_invariants(self) -> None: ...


class WalletEvent(Aggregate.Event):
    """Base of wallet events: every one carries its business time and its postings."""

    TOPIC: ClassVar[str]

    occurred_at: datetime
    postings: list[dict[str, Any]]

    def apply(self, aggregate: Any) -> None:
        wallet: AppliesFacts = aggregate
        self.apply_to(wallet)
        wallet.clock = max(wallet.clock, self.occurred_at)
        wallet.check_invariants()

    def apply_to(self, wallet: AppliesFacts) -> None:
        raise NotImplementedError


class WalletOpened(WalletEvent, Aggregate.Created):
    """The wallet exists; its unit and overdraft limit are fixed here."""

    TOPIC = "ledger:Wallet.Opened"
    wallet_id: str
    customer_id: str
    unit: str
    overdraft_limit: int
    price_book_id: str
    metadata: dict[str, Any]

    def apply_to(self, wallet: AppliesFacts) -> None:
        wallet.initialise(self)
