"""The wallet's state, the helpers events use to apply facts, and read-only views.

Commands live in the mixins (``ledger.commands_*``); the aggregate in ``ledger.domain.wallet``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ledger.domain.allowances import Allowance
from ledger.domain.budgets import BudgetDecision, budget_view, decide_budgets
from ledger.domain.consumption import allocate, consumption_key
from ledger.domain.errors import InsufficientCredits
from ledger.domain.events import DebtIncurred, DebtSettled
from ledger.domain.postings import (
    Posting,
    assert_balanced,
    consumed_account,
    debt_account,
    expired_account,
    grant_account,
    holds_account,
    postings_to_dicts,
    voided_account,
)
from ledger.domain.state import Budget, Grant, Grants, Hold

if TYPE_CHECKING:
    from ledger.domain.events import WalletOpened

__all__ = ["WalletState"]


class WalletState:
    """State and reads shared by the wallet aggregate and its command mixins."""

    wallet_id: str
    customer_id: str
    unit: str
    overdraft_limit: int
    price_book_id: str
    metadata: dict[str, Any]
    holds: dict[str, Hold]
    budgets: dict[str, Budget]
    refunded: dict[str, int]
    debt: int
    clock: datetime
    allowances: Mapping[str, Allowance] = MappingProxyType({})
    """Allowances by id; read-only here (a wallet from before allowances has none): events
    change them through :meth:`allowance_table`."""
    uncollected: int = 0
    """Rated credits of billed usage never collected (beyond the overdraft). A class default,
    so a wallet restored from a snapshot taken before it was counted starts from 0."""

    if TYPE_CHECKING:  # provided by eventsourcing's Aggregate at runtime

        @property
        def version(self) -> int: ...

        @version.setter
        def version(self, value: int) -> None: ...

        def trigger_event(self, event_class: type[Any], **kwargs: Any) -> None: ...

        def advance(self, at: datetime) -> tuple[datetime, set[str]]: ...

    # -- applying facts (called only from events' apply) ------------------------------------

    def initialise(self, opened: WalletOpened) -> None:
        self.wallet_id = opened.wallet_id
        self.customer_id = opened.customer_id
        self.unit = opened.unit
        self.overdraft_limit = opened.overdraft_limit
        self.price_book_id = opened.price_book_id
        self.metadata = dict(opened.metadata)
        self.grants = Grants()
        self.holds = {}
        self.budgets = {}
        self.refunded = {}
        self.debt = 0
        self.uncollected = 0
        self.clock = opened.occurred_at

    @property
    def grants(self) -> Grants:
        """Every grant the wallet was given, by id (:class:`Grants`). A wallet restored from
        a snapshot holds them as a plain dict: wrapped on first use, so the instance a
        cache keeps is wrapped too (its copies then share the closed grants)."""
        grants = self.__dict__["grants"]
        if type(grants) is not Grants:
            grants = self.__dict__["grants"] = Grants(grants)
        return grants

    @grants.setter
    def grants(self, grants: Grants) -> None:
        self.__dict__["grants"] = grants

    def open_grants(self) -> list[Grant]:
        """The grants a decision can touch (``Grants.open``): every one but the closed."""
        return self.grants.open()

    def allowance_table(self) -> dict[str, Allowance]:
        """The wallet's own, mutable table of allowances (made on first use)."""
        table: dict[str, Allowance] | None = self.__dict__.get("allowances")
        if table is None:
            table = {}
            self.__dict__["allowances"] = table
        return table

    def release(self, allocations: Iterable[dict[str, Any]]) -> None:
        """Held credits leave the holds account; those marked ``to: grant`` go back to it."""
        for allocation in allocations:
            grant = self.grants[allocation["grant_id"]]
            grant.held -= allocation["amount"]
            if allocation["to"] == "grant":
                grant.remaining += allocation["amount"]

    def restore(self, allocations: Iterable[dict[str, Any]]) -> None:
        """Refunded credits marked ``to: grant`` return to that grant."""
        for allocation in allocations:
            if allocation["to"] == "grant":
                self.grants[allocation["grant_id"]].remaining += allocation["amount"]

    def charge_budgets(self, charges: Iterable[dict[str, Any]]) -> None:
        for charge in charges:
            budget = self.budgets[charge["budget_id"]]
            if budget.period_start != charge["period_start"]:
                budget.period_start = charge["period_start"]
                budget.spent = 0
            budget.spent += charge["amount"]

    def check_invariants(self) -> None:
        """Pair assertions: state must never go below zero, whatever history says."""
        grants = self.open_grants()  # a closed grant holds and has nothing: it cannot fail
        for grant in grants:
            if grant.remaining < 0 or grant.held < 0:
                raise AssertionError(f"grant {grant.grant_id} below zero: {grant!r}")
        if self.debt < 0:
            raise AssertionError(f"wallet {self.wallet_id} debt below zero: {self.debt}")
        if sum(g.held for g in grants) != sum(h.amount for h in self.holds.values()):
            raise AssertionError(f"wallet {self.wallet_id} holds disagree with grants")

    # -- decisions shared by commands -------------------------------------------------------

    def destination(self, grant_id: str, at: datetime) -> str:
        """Where credits returning to ``grant_id`` at ``at`` go: the grant, or breakage."""
        grant = self.grants[grant_id]
        if grant.voided:
            return "voided"
        if grant.has_ended(at):
            return "expired"
        return "grant"

    def return_postings(self, source: str, allocations: Iterable[dict[str, Any]]) -> list[Posting]:
        """Postings that move credits from ``source`` back per each allocation's ``to``."""
        accounts = {"expired": expired_account(self.unit), "voided": voided_account(self.unit)}
        return [
            Posting(
                source,
                accounts.get(a["to"]) or grant_account(self.wallet_id, a["grant_id"]),
                a["amount"],
            )
            for a in allocations
        ]

    def releases_of(self, hold: Hold, captured: int, at: datetime) -> list[dict[str, Any]]:
        """Split what a hold keeps beyond ``captured``; capture takes allocations in order."""
        released: list[dict[str, Any]] = []
        to_capture = captured
        for allocation in hold.allocations:
            take = min(to_capture, allocation["amount"])
            to_capture -= take
            rest = allocation["amount"] - take
            if rest:
                grant_id = allocation["grant_id"]
                released.append(
                    {"grant_id": grant_id, "amount": rest, "to": self.destination(grant_id, at)}
                )
        return released

    def release_postings(self, released: Iterable[dict[str, Any]]) -> list[Posting]:
        return self.return_postings(holds_account(self.wallet_id), released)

    def settle_debt(self, grant_id: str, amount: int, at: datetime) -> None:
        """Pay ``amount`` of debt from ``grant_id`` (DR grant / CR debt); see decision 0007."""
        if amount <= 0:
            return
        postings = [
            Posting(grant_account(self.wallet_id, grant_id), debt_account(self.wallet_id), amount)
        ]
        assert_balanced(postings)
        self.trigger_event(
            DebtSettled,
            occurred_at=at,
            postings=postings_to_dicts(postings),
            grant_id=grant_id,
            amount=amount,
        )

    def incur_debt(self, amount: int, cause: str, at: datetime) -> None:
        """Record usage beyond what the wallet held as debt (DR debt / CR consumed)."""
        if amount == 0:
            return
        postings = [Posting(debt_account(self.wallet_id), consumed_account(self.unit), amount)]
        assert_balanced(postings)
        self.trigger_event(
            DebtIncurred,
            occurred_at=at,
            postings=postings_to_dicts(postings),
            amount=amount,
            cause=cause,
        )

    def settle_returned(self, pieces: Iterable[dict[str, Any]], at: datetime) -> None:
        """Credits coming back to grants (refund, release, expired hold) pay debt first.

        Otherwise they could expire as breakage while the wallet still owes. One settlement
        per grant, in the order the credits came back.
        """
        returned: dict[str, int] = {}
        for piece in pieces:
            if piece["to"] == "grant":
                returned[piece["grant_id"]] = returned.get(piece["grant_id"], 0) + piece["amount"]
        for grant_id, amount in returned.items():
            self.settle_debt(grant_id, min(self.debt, amount), at)

    # -- reads ------------------------------------------------------------------------------

    def authorize(
        self, subject: dict[str, str], amount: int, at: datetime, *, into_debt: bool = False
    ) -> tuple[BudgetDecision, list[dict[str, Any]], int]:
        """The authorize step of every spend (a debit, a hold, a capture's overage): the
        matching hard budgets first (``budget_exceeded``), then the balance
        (``insufficient_credits``), then the grants it draws on in policy order.

        Without ``into_debt`` the whole amount must be available; with it, what the grants
        cannot cover becomes debt up to the overdraft limit. Returns the budget decision, the
        allocations and the shortfall (the debt to incur; 0 without ``into_debt``).
        """
        decision = decide_budgets(self.budgets, self.holds.values(), subject, amount, at)
        if not into_debt:
            available = self.available(at)
            if amount > available:
                raise InsufficientCredits(available, amount)
        allocations, shortfall = allocate(self.open_grants(), amount, at)
        if into_debt and self.debt + shortfall > self.overdraft_limit:
            headroom = self.available(at) + self.overdraft_limit
            raise InsufficientCredits(max(0, headroom), amount)
        if shortfall and not into_debt:  # available counts exactly the usable grants
            raise AssertionError(f"allocation short by {shortfall} with {amount} available")
        return decision, allocations, shortfall

    def available(self, at: datetime) -> int:
        """Remaining credits of grants active at ``at`` (holds already taken out) minus debt."""
        active = sum(
            g.remaining for g in self.open_grants() if g.effective_at <= at and not g.has_ended(at)
        )
        return active - self.debt

    def balance(self, at: datetime) -> dict[str, int]:
        held = sum(h.amount for h in self.holds.values() if at < h.expires_at)
        return {"available": self.available(at), "held": held, "debt": self.debt}

    def grant_view(self, grant: Grant, at: datetime) -> dict[str, Any]:
        cost_basis = None
        if grant.cost_basis_minor is not None:
            cost_basis = {
                "amount_minor": grant.cost_basis_minor,
                "currency": grant.cost_basis_currency,
            }
        return {
            "grant_id": grant.grant_id,
            "category": grant.category,
            "priority": grant.priority,
            "amount": grant.amount,
            "remaining": grant.remaining,
            "held": grant.held,
            "effective_at": grant.effective_at,
            "expires_at": grant.expires_at,
            "status": str(grant.status_at(at)),
            "cost_basis": cost_basis,
            "debt_settled": grant.debt_settled,
            "metadata": dict(grant.metadata),
        }

    def hold_view(self, hold: Hold) -> dict[str, Any]:
        return {
            "hold_id": hold.hold_id,
            "status": "open",
            "amount": hold.amount,
            "allocations": [dict(a) for a in hold.allocations],
            "subject": dict(hold.subject),
            "placed_at": hold.placed_at,
            "expires_at": hold.expires_at,
            "metadata": dict(hold.metadata),
        }

    def budget_views(
        self, at: datetime, subject: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Views of all budgets, or only of those matching ``subject``, by ``budget_id``."""
        return [
            budget_view(self.budgets[budget_id], self.holds.values(), at)
            for budget_id in sorted(self.budgets)
            if subject is None or self.budgets[budget_id].matches(subject)
        ]

    def view(self, at: datetime) -> dict[str, Any]:
        grants = sorted(self.grants.values(), key=consumption_key)
        return {
            "wallet_id": self.wallet_id,
            "customer_id": self.customer_id,
            "unit": self.unit,
            "overdraft_limit": self.overdraft_limit,
            "price_book_id": self.price_book_id,
            "metadata": dict(self.metadata),
            "version": self.version,
            "balance": self.balance(at),
            "uncollected": self.uncollected,
            "grants": [self.grant_view(g, at) for g in grants],
            "budgets": self.budget_views(at),
        }
