"""The wallet aggregate: one event stream per wallet, the unit of consistency.

Public commands (in the ``commands_*`` mixins) validate, run the policy and read ``at``; they
then trigger events from ``ledger.domain.events`` whose ``apply`` only assigns the decided facts.
"""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.domain.commands_allowances import AllowanceCommands
from ledger.domain.commands_budgets import BudgetCommands
from ledger.domain.commands_grants import GrantCommands
from ledger.domain.commands_holds import HoldCommands
from ledger.domain.commands_spending import SpendingCommands
from ledger.domain.commands_usage import UsageCommands
from ledger.domain.events import (
    AppliesFacts,
    GrantExpired,
    HoldExpired,
    WalletEvent,
    WalletOpened,
)
from ledger.domain.ids import wallet_uuid
from ledger.domain.postings import (
    Posting,
    assert_balanced,
    expired_account,
    grant_account,
    postings_to_dicts,
)
from ledger.domain.validation import check_amount, check_aware, check_id

__all__ = ["AdvanceLimitReached", "Wallet"]


class AdvanceLimitReached(Exception):
    """:meth:`Wallet.advance` met more due expiries and periods than it was allowed."""


class Wallet(
    GrantCommands,
    SpendingCommands,
    HoldCommands,
    BudgetCommands,
    UsageCommands,
    AllowanceCommands,
    Aggregate,
):
    TOPIC = "ledger:Wallet"
    Event = WalletEvent
    Created = WalletOpened

    @staticmethod
    def derive_id(wallet_id: str) -> UUID:
        """The aggregate id of a client-chosen wallet id; opening it twice collides."""
        return wallet_uuid(wallet_id)

    @classmethod
    def open(
        cls,
        *,
        wallet_id: str,
        customer_id: str,
        unit: str,
        overdraft_limit: int,
        price_book_id: str,
        metadata: dict[str, Any],
        at: datetime,
    ) -> Wallet:
        check_id("wallet_id", wallet_id)
        check_id("customer_id", customer_id)
        check_id("unit", unit)
        check_id("price_book_id", price_book_id)
        check_amount("overdraft_limit", overdraft_limit, minimum=0)
        check_aware("at", at)
        return cls._create(
            WalletOpened,
            id=cls.derive_id(wallet_id),
            occurred_at=at,
            postings=[],
            wallet_id=wallet_id,
            customer_id=customer_id,
            unit=unit,
            overdraft_limit=overdraft_limit,
            price_book_id=price_book_id,
            metadata=metadata,
        )

    def has_due(self, at: datetime) -> bool:
        """Would :meth:`advance` record anything at ``at``? (Cheap: no events, no copies.)"""
        at = max(at, self.clock)
        if any(h.expires_at <= at for h in self.holds.values()):
            return True
        if any(
            a.next_grant_at is not None and a.next_grant_at <= at for a in self.allowances.values()
        ):
            return True
        return any(
            g.expires_at is not None and g.expires_at <= at and not (g.expired or g.voided)
            for g in self.open_grants()
        )

    def advance(self, at: datetime, *, max_steps: int | None = None) -> tuple[datetime, set[str]]:
        """Record everything due by ``at`` (expiries, allowance periods and rollovers), each
        dated when it happened, in business-time order; return the time.

        Business time never runs backwards within a wallet: an ``at`` earlier than the last
        event (clock skew between processes) is taken as that event's time. With that, event
        dates are non-decreasing in version order, which ``as_of`` reads rely on.
        At one instant: hold expiries, then grant expiries (a period grant first rolls over),
        then new allowance periods. Recording a period can make more due (its own expiry,
        the next period), so what is due is kept in a heap.
        Returns the effective time and the ids of holds that expired in this call.

        Raises:
            AdvanceLimitReached: More than ``max_steps`` things were due (a read far ahead
                of a short allowance period would otherwise record them without end).
        """
        check_aware("at", at)
        at = max(at, self.clock)
        due: list[tuple[datetime, int, str]] = [
            (h.expires_at, 0, h.hold_id) for h in self.holds.values() if h.expires_at <= at
        ]
        due += [
            (g.expires_at, 1, g.grant_id)
            for g in self.open_grants()
            if g.expires_at is not None and g.expires_at <= at and not (g.expired or g.voided)
        ]
        due += [(when, 2, allowance_id) for when, allowance_id in self.allowances_due(at)]
        heapq.heapify(due)
        expired_holds: set[str] = set()
        steps = 0
        while due:
            steps += 1
            if max_steps is not None and steps > max_steps:
                raise AdvanceLimitReached(max_steps)
            when, kind, object_id = heapq.heappop(due)
            if kind == 0:
                self._expire_hold(object_id, when)
                expired_holds.add(object_id)
                continue
            if kind == 1:
                made = self.roll_over(object_id, when)
                self._expire_grant(object_id, when)
            else:
                made = self.grant_period(object_id)
                following = self.allowances[object_id].next_grant_at
                if following is not None and following <= at:
                    heapq.heappush(due, (following, 2, object_id))
            ends = None if made is None else self.grants[made].expires_at
            if made is not None and ends is not None and ends <= at:
                heapq.heappush(due, (ends, 1, made))
        return at, expired_holds

    def _expire_hold(self, hold_id: str, when: datetime) -> None:
        released = self.releases_of(self.holds[hold_id], 0, when)
        postings = self.release_postings(released)
        assert_balanced(postings)
        self.trigger_event(
            HoldExpired,
            occurred_at=when,
            postings=postings_to_dicts(postings),
            hold_id=hold_id,
            released_allocations=released,
        )
        self.settle_returned(released, when)

    def _expire_grant(self, grant_id: str, when: datetime) -> None:
        grant = self.grants[grant_id]
        postings: list[Posting] = []
        if grant.remaining:
            postings.append(
                Posting(
                    grant_account(self.wallet_id, grant_id),
                    expired_account(self.unit),
                    grant.remaining,
                )
            )
        assert_balanced(postings)
        self.trigger_event(
            GrantExpired,
            occurred_at=when,
            postings=postings_to_dicts(postings),
            grant_id=grant_id,
            amount=grant.remaining,
        )


_EVENTS_APPLY_TO_A_WALLET: type[AppliesFacts] = Wallet
"""mypy checks here that every fact an event applies has its place on a ``Wallet``."""
