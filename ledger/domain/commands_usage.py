"""Billing a usage event that already happened: never refused, so never a denial.

``bill_usage`` consumes available credits in consumption order; what the grants cannot cover
becomes debt up to the wallet's ``overdraft_limit`` (less the debt already owed), and what is
beyond that is ``uncollected``: recorded on the event (``UsageUncollected`` when nothing
could be billed), never posted. Budgets are charged with
what was billed but never refuse: a hard budget over its limit only warns.

The facts are the ordinary wallet events, so every projection, refunds and the audit keep
working: one ``CreditsDebited`` (``amount`` = billed, its ``debt`` and ``uncollected``), then a
``DebtIncurred`` for the debt part, exactly as a hold capture with ``allow_overage`` records it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.domain.budgets import decide_budgets
from ledger.domain.consumption import POLICY_VERSION, allocate
from ledger.domain.events import CreditsDebited, UsageUncollected
from ledger.domain.postings import (
    consumption_postings,
    postings_to_dicts,
)
from ledger.domain.validation import check_amount, check_subject
from ledger.domain.wallet_state import WalletState

__all__ = ["UsageCommands"]


class UsageCommands(WalletState):
    def bill_usage(
        self,
        *,
        debit_id: str,
        event_id: str,
        amount: int,
        subject: dict[str, str],
        usage_at: datetime,
        metadata: dict[str, Any],
        at: datetime,
        rating: dict[str, Any],
    ) -> dict[str, Any]:
        """Bill ``amount`` (rated, > 0) for usage event ``event_id``; returns what it did.

        Result: ``billed`` (posted: grants plus debt), ``debt``, ``uncollected``,
        ``allocations``, ``warnings`` and ``debit_version`` (the ``CreditsDebited``'s
        version, None when nothing could be billed and so nothing was recorded).
        """
        check_amount("amount", amount)
        subject = check_subject(subject)
        at, _ = self.advance(at)
        allocations, shortfall = allocate(self.open_grants(), amount, at)
        debt = min(shortfall, max(0, self.overdraft_limit - self.debt))
        uncollected = shortfall - debt
        billed = amount - uncollected
        result: dict[str, Any] = {
            "billed": billed,
            "debt": debt,
            "uncollected": uncollected,
            "allocations": allocations,
            "warnings": [],
            "debit_version": None,
        }
        if billed == 0:  # all of it uncollected (amount > 0): the wallet still keeps the fact
            self.trigger_event(
                UsageUncollected,
                occurred_at=at,
                postings=[],
                event_id=event_id,
                amount=uncollected,
                subject=subject,
                usage_at=usage_at,
                rating=rating,
            )
            return result
        decision = decide_budgets(
            self.budgets, self.holds.values(), subject, billed, at, refuse_hard=False
        )
        charges, result["warnings"] = decision.charges, decision.warnings
        postings = consumption_postings(self.wallet_id, self.unit, allocations)
        self.trigger_event(
            CreditsDebited,
            occurred_at=at,
            postings=postings_to_dicts(postings),
            debit_id=debit_id,
            amount=billed,
            allocations=allocations,
            policy_version=POLICY_VERSION,
            subject=subject,
            budget_charges=charges,
            usage_at=usage_at,
            metadata=metadata,
            idempotency_key=None,
            rating=rating,
            debt=debt,
            uncollected=uncollected,
        )
        result["debit_version"] = self.version
        self.incur_debt(debt, f"usage:{event_id}", at)
        return result
