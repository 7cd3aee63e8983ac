"""Wallet commands for allowances (set, remove) and the facts their schedule records.

``Wallet.advance`` records an allowance's due periods and rollovers in business-time order
with the other due facts (expiries), through :meth:`AllowanceCommands.grant_period` and
:meth:`AllowanceCommands.roll_over`; decision 0018 has the rules and the postings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.domain.allowances import (
    Allowance,
    carried,
    check_allowance_input,
    first_period_start,
    next_period_start,
    period_end,
    period_grant_id,
    reserved_period,
    rollover_grant_id,
)
from ledger.domain.errors import AllowanceNotFound, FieldError, ValidationFailed
from ledger.domain.events import AllowanceGranted, AllowanceRemoved, AllowanceSet, RolloverGranted
from ledger.domain.periods import Period, period_bounds
from ledger.domain.postings import (
    Posting,
    assert_balanced,
    grant_account,
    issued_account,
    postings_to_dicts,
)
from ledger.domain.wallet_state import WalletState

__all__ = ["NO_CURRENCY", "AllowanceCommands", "allowance_view"]

NO_CURRENCY = "XXX"
"""ISO 4217's code for "no currency": the cost basis of credits carried from a free grant."""


def _refused(field: str, message: str) -> ValidationFailed:
    """Well-formed terms that the wallet's state refuses (so a repeated key replays)."""
    return ValidationFailed(FieldError(field, message), depends_on_state=True)


def allowance_view(allowance: Allowance) -> dict[str, Any]:
    """An allowance as reads show it (the terms, and when its next grant is due)."""
    return {
        "allowance_id": allowance.allowance_id,
        "amount": allowance.amount,
        "category": allowance.category,
        "priority": allowance.priority,
        "period": allowance.period,
        "timezone": allowance.timezone,
        "starts_at": allowance.starts_at,
        "ends_at": allowance.ends_at,
        "rollover": None if allowance.rollover is None else dict(allowance.rollover),
        "next_grant_at": allowance.next_grant_at,
        "created_at": allowance.created_at,
        "updated_at": allowance.updated_at,
    }


class AllowanceCommands(WalletState):
    def set_allowance(
        self,
        *,
        allowance_id: str,
        amount: int,
        category: str,
        priority: int,
        period: str,
        timezone: str,
        starts_at: datetime | None,
        ends_at: datetime | None,
        rollover: dict[str, int | None] | None,
        idempotency_key: str | None,
        at: datetime,
    ) -> dict[str, Any]:
        """Create or change an allowance; a change takes effect from the next period.

        ``starts_at`` None keeps a changed allowance's start, and starts a new one now. The
        period under way is granted at once when the terms cover it and no grant of this
        allowance covers it yet.
        """
        check_allowance_input(
            allowance_id=allowance_id,
            amount=amount,
            category=category,
            priority=priority,
            period=period,
            timezone=timezone,
            starts_at=starts_at,
            ends_at=ends_at,
            rollover=rollover,
        )
        at, _ = self.advance(at)
        current = self.allowances.get(allowance_id)
        if starts_at is None:  # the start then comes from the wallet (or now): not the input's
            starts_at = at if current is None else current.starts_at
            if ends_at is not None and ends_at <= starts_at:
                raise _refused("ends_at", "must be after starts_at (the allowance's start)")
        self._check_ids_free(allowance_id, at)
        self.trigger_event(
            AllowanceSet,
            occurred_at=at,
            postings=[],
            allowance_id=allowance_id,
            amount=amount,
            category=category,
            priority=priority,
            period=period,
            timezone=timezone,
            starts_at=starts_at,
            ends_at=ends_at,
            rollover=None if rollover is None else dict(rollover),
            next_grant_at=self._first_period(
                current=current,
                allowance_id=allowance_id,
                period=period,
                timezone=timezone,
                starts_at=starts_at,
                ends_at=ends_at,
                at=at,
            ),
            idempotency_key=idempotency_key,
        )
        self.advance(at)  # the period under way, when the new terms grant it
        return {**allowance_view(self.allowances[allowance_id]), "created": current is None}

    def remove_allowance(
        self, *, allowance_id: str, idempotency_key: str | None, at: datetime
    ) -> dict[str, Any]:
        """Stop an allowance: no further periods (nor rollovers); grants made stay."""
        at, _ = self.advance(at)
        if allowance_id not in self.allowances:
            raise AllowanceNotFound(allowance_id)
        self.trigger_event(
            AllowanceRemoved,
            occurred_at=at,
            postings=[],
            allowance_id=allowance_id,
            idempotency_key=idempotency_key,
        )
        return {"allowance_id": allowance_id}

    def allowance_views(self) -> list[dict[str, Any]]:
        return [allowance_view(self.allowances[key]) for key in sorted(self.allowances)]

    # -- deciding the schedule ---------------------------------------------------------------

    def _first_period(
        self,
        *,
        current: Allowance | None,
        allowance_id: str,
        period: str,
        timezone: str,
        starts_at: datetime,
        ends_at: datetime | None,
        at: datetime,
    ) -> datetime | None:
        """The first period the terms grant: none before ``starts_at``, none already over at
        ``at``, none overlapping this allowance's latest grant (so a change waits for the next
        period), and none whose grant id is taken (a removed allowance set again)."""
        under_way, _ = period_bounds(Period(period), at, timezone)
        not_before = max(starts_at, under_way)
        if current is not None and current.last_grant_id is not None:
            latest = self.grants.get(current.last_grant_id)
            if latest is not None and latest.expires_at is not None:
                not_before = max(not_before, latest.expires_at)
        start = first_period_start(period, timezone, not_before)
        while period_grant_id(allowance_id, start) in self.grants:
            start = period_end(period, timezone, start)
        return None if ends_at is not None and start >= ends_at else start

    def _check_ids_free(self, allowance_id: str, at: datetime) -> None:
        """Refuse an allowance whose future grant ids a grant of this wallet already has."""
        for grant_id in self.grants:
            start = reserved_period(allowance_id, grant_id)
            if start is not None and start > at:
                raise _refused(
                    "allowance_id",
                    f"grant {grant_id!r} already has an id this allowance would give later",
                )

    # -- recording what falls due (called by Wallet.advance, in business-time order) ---------

    def allowances_due(self, at: datetime) -> list[tuple[datetime, str]]:
        """``(period start, allowance_id)`` of every allowance with a period due by ``at``."""
        return [
            (a.next_grant_at, a.allowance_id)
            for a in self.allowances.values()
            if a.next_grant_at is not None and a.next_grant_at <= at
        ]

    def grant_period(self, allowance_id: str) -> str:
        """Record the due period's grant (dated at its start, or now if the wallet's clock
        is past it: the period under way when the allowance was set); returns its id."""
        allowance = self.allowances[allowance_id]
        start = allowance.next_grant_at
        if start is None:
            raise AssertionError(f"allowance {allowance_id} has no period due")
        grant_id = period_grant_id(allowance_id, start)
        if grant_id in self.grants:  # _first_period and the grant command keep ids free
            raise AssertionError(f"allowance grant {grant_id} exists already")
        when = max(start, self.clock)
        amount = allowance.amount
        postings = [
            Posting(
                issued_account(self.unit, allowance.category),
                grant_account(self.wallet_id, grant_id),
                amount,
            )
        ]
        assert_balanced(postings)
        period, timezone = allowance.period, allowance.timezone
        self.trigger_event(
            AllowanceGranted,
            occurred_at=when,
            postings=postings_to_dicts(postings),
            grant_id=grant_id,
            category=allowance.category,
            priority=allowance.priority,
            amount=amount,
            effective_at=start,
            expires_at=period_end(period, timezone, start),
            cost_basis_minor=None,
            cost_basis_currency=None,
            metadata={"allowance_id": allowance_id},
            idempotency_key=None,
            allowance_id=allowance_id,
            rollover=None if allowance.rollover is None else dict(allowance.rollover),
            next_grant_at=next_period_start(period, timezone, allowance.ends_at, start),
        )
        # Like every new grant, it pays debt first (decision 0007).
        self.settle_debt(grant_id, min(self.debt, amount), when)
        return grant_id

    def roll_over(self, grant_id: str, when: datetime) -> str | None:
        """Carry what is left of an expiring period grant into a ``rollover`` grant for the
        period that starts as it ends; returns the rollover grant's id, if one was made.

        Only an allowance's latest period grant rolls over, with the rollover in force when
        it was made, and only into a period of the same allowance that follows straight on
        (a removed or ended allowance, or new terms on another calendar, carry nothing).
        """
        allowance = next((a for a in self.allowances.values() if a.last_grant_id == grant_id), None)
        if allowance is None:
            return None
        grant = self.grants[grant_id]
        if allowance.next_grant_at is None or allowance.next_grant_at != grant.expires_at:
            return None
        amount = carried(grant.remaining, allowance.last_rollover)
        new_id = rollover_grant_id(allowance.allowance_id, when)
        if amount == 0 or new_id in self.grants:
            return None
        # Carried credits keep what they cost: from a free grant they are free, so policy v1
        # (decision 0003) spends them before the new period's grant, which may still roll.
        free = grant.is_free()
        postings = [
            Posting(
                grant_account(self.wallet_id, grant_id),
                grant_account(self.wallet_id, new_id),
                amount,
            )
        ]
        assert_balanced(postings)
        self.trigger_event(
            RolloverGranted,
            occurred_at=when,
            postings=postings_to_dicts(postings),
            grant_id=new_id,
            category="rollover",
            priority=allowance.priority,
            amount=amount,
            effective_at=when,
            expires_at=period_end(allowance.period, allowance.timezone, when),
            cost_basis_minor=0 if free else None,
            cost_basis_currency=NO_CURRENCY if free else None,
            metadata={"allowance_id": allowance.allowance_id, "rolled_over_from": grant_id},
            idempotency_key=None,
            allowance_id=allowance.allowance_id,
            from_grant_id=grant_id,
        )
        self.settle_debt(new_id, min(self.debt, amount), when)
        return new_id
