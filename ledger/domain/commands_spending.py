"""Wallet commands that spend credits and give them back: debit and refund."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ledger.domain.consumption import POLICY_VERSION
from ledger.domain.errors import RefundExceedsDebit
from ledger.domain.events import CreditsDebited, DebitRefunded
from ledger.domain.periods import Period, period_bounds
from ledger.domain.postings import (
    assert_balanced,
    consumed_account,
    consumption_postings,
    postings_to_dicts,
)
from ledger.domain.rating import rating_summary
from ledger.domain.validation import check_amount, check_subject
from ledger.domain.wallet_state import WalletState

__all__ = ["SpendingCommands", "check_debit_input", "refund_pieces"]


def refund_pieces(
    allocations: list[dict[str, Any]], already_refunded: int, amount: int
) -> list[dict[str, Any]]:
    """Take ``amount`` from a debit's allocations, last-consumed first.

    Earlier refunds of the same debit took from the end too, so they are skipped first.
    """
    pieces: list[dict[str, Any]] = []
    skip, left = already_refunded, amount
    for allocation in reversed(allocations):
        available = allocation["amount"]
        skipped = min(skip, available)
        skip -= skipped
        take = min(left, available - skipped)
        if take:
            pieces.append({"grant_id": allocation["grant_id"], "amount": take})
            left -= take
    return pieces


def check_debit_input(amount: int | None, subject: dict[str, str]) -> dict[str, str]:
    """``amount`` is None only for a debit of ``usage``, rated by the application."""
    if amount is not None:
        check_amount("amount", amount)
    return check_subject(subject)


class SpendingCommands(WalletState):
    def debit(
        self,
        *,
        debit_id: str,
        amount: int,
        subject: dict[str, str],
        usage_at: datetime,
        metadata: dict[str, Any],
        idempotency_key: str | None,
        at: datetime,
        rating: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Authorize and deduct in one decision: budgets, then balance, then allocation.

        ``rating`` records how the application rated usage into ``amount`` (if it did).
        """
        check_amount("amount", amount)  # rated already: an amount, never None, here
        subject = check_subject(subject)
        at, _ = self.advance(at)
        decision, allocations, _ = self.authorize(subject, amount, at)
        postings = consumption_postings(self.wallet_id, self.unit, allocations)
        self.trigger_event(
            CreditsDebited,
            occurred_at=at,
            postings=postings_to_dicts(postings),
            debit_id=debit_id,
            amount=amount,
            allocations=allocations,
            policy_version=POLICY_VERSION,
            subject=subject,
            budget_charges=decision.charges,
            usage_at=usage_at,
            metadata=metadata,
            idempotency_key=idempotency_key,
            rating=rating,
        )
        body = {
            "debit_id": debit_id,
            "wallet_id": self.wallet_id,
            "amount": amount,
            "allocations": allocations,
            "balance": self.balance(at),
            "budgets": self.budget_views(at, subject),
            "warnings": decision.warnings,
        }
        if rating is not None:
            body["rating"] = rating_summary(rating)
        return body

    def refund(
        self,
        *,
        refund_id: str,
        debit: Mapping[str, Any],
        amount: int | None,
        reason: str,
        idempotency_key: str | None,
        at: datetime,
    ) -> dict[str, Any]:
        """Return credits of ``debit`` (the recorded ``CreditsDebited`` facts) to its grants.

        The part whose grant has since expired or been voided goes to breakage instead.
        """
        if amount is not None:
            check_amount("amount", amount)
        at, _ = self.advance(at)
        debit_id = debit["debit_id"]
        already = self.refunded.get(debit_id, 0)
        # What grants paid: a billed usage event's debt part (``amount`` minus its allocations)
        # was never taken from a grant, so there is nothing of it to give back to one.
        refundable = sum(a["amount"] for a in debit["allocations"]) - already
        requested = refundable if amount is None else amount
        if requested > refundable or requested == 0:
            raise RefundExceedsDebit(refundable, requested)
        pieces = [
            {**p, "to": self.destination(p["grant_id"], at)}
            for p in refund_pieces(debit["allocations"], already, requested)
        ]
        postings = self.return_postings(consumed_account(self.unit), pieces)
        assert_balanced(postings)
        self.trigger_event(
            DebitRefunded,
            occurred_at=at,
            postings=postings_to_dicts(postings),
            refund_id=refund_id,
            debit_id=debit_id,
            amount=requested,
            allocations=pieces,
            subject=dict(debit["subject"]),
            debited_at=debit["occurred_at"],
            budget_releases=self._budget_releases(debit, requested, at),
            reason=reason,
            idempotency_key=idempotency_key,
        )
        self.settle_returned(pieces, at)
        return {
            "refund_id": refund_id,
            "debit_id": debit_id,
            "amount": requested,
            "allocations": pieces,
            "balance": self.balance(at),
        }

    def _budget_releases(
        self, debit: Mapping[str, Any], amount: int, at: datetime
    ) -> list[dict[str, Any]]:
        """Room given back to budgets: every budget matching the debit's subject whose current
        period contains the debit (the rule the history recount uses, so both agree)."""
        releases = []
        debited_at = debit["occurred_at"]
        for budget_id in sorted(self.budgets):
            budget = self.budgets[budget_id]
            if not budget.matches(debit["subject"]):
                continue
            start, end = period_bounds(Period(budget.period), at, budget.timezone)
            if start <= debited_at and (end is None or debited_at < end):
                releases.append({"budget_id": budget_id, "period_start": start, "amount": amount})
        return releases
