"""Wallet commands that add or withdraw credits: grant and void."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.domain.allowances import reserved_period
from ledger.domain.errors import (
    FieldError,
    GrantExists,
    GrantNotFound,
    GrantNotVoidable,
    ValidationFailed,
)
from ledger.domain.events import CreditsGranted, GrantVoided
from ledger.domain.postings import (
    Posting,
    assert_balanced,
    grant_account,
    issued_account,
    postings_to_dicts,
    voided_account,
)
from ledger.domain.state import GRANT_CATEGORIES, GrantStatus
from ledger.domain.validation import check_amount, check_aware, check_id, fail
from ledger.domain.wallet_state import WalletState

__all__ = ["GrantCommands", "check_grant_input"]

MAX_PRIORITY = 1_000_000


def check_grant_input(
    *,
    grant_id: str,
    amount: int,
    category: str,
    priority: int,
    effective_at: datetime,
    expires_at: datetime | None,
    cost_basis: tuple[int, str] | None,
) -> None:
    check_id("grant_id", grant_id)
    check_amount("amount", amount)
    if category not in GRANT_CATEGORIES:
        raise fail("category", f"must be one of {', '.join(sorted(GRANT_CATEGORIES))}")
    check_amount("priority", priority, minimum=0)
    if priority > MAX_PRIORITY:
        raise fail("priority", f"must be at most {MAX_PRIORITY}")
    check_aware("effective_at", effective_at)
    if expires_at is not None and check_aware("expires_at", expires_at) <= effective_at:
        raise fail("expires_at", "must be after effective_at")
    if cost_basis is not None:
        check_amount("cost_basis.amount_minor", cost_basis[0], minimum=0)
        if not (len(cost_basis[1]) == 3 and cost_basis[1].isascii() and cost_basis[1].isupper()):
            raise fail("cost_basis.currency", "must be a three-letter ISO 4217 code")


class GrantCommands(WalletState):
    def grant(
        self,
        *,
        grant_id: str,
        amount: int,
        category: str,
        priority: int,
        effective_at: datetime,
        expires_at: datetime | None,
        cost_basis: tuple[int, str] | None,
        metadata: dict[str, Any],
        idempotency_key: str | None,
        at: datetime,
    ) -> dict[str, Any]:
        """Add credits; a new grant first settles any debt (DR grant / CR debt)."""
        check_grant_input(
            grant_id=grant_id,
            amount=amount,
            category=category,
            priority=priority,
            effective_at=effective_at,
            expires_at=expires_at,
            cost_basis=cost_basis,
        )
        at, _ = self.advance(at)
        if expires_at is not None and expires_at <= at:
            raise fail("expires_at", "must be in the future")
        if grant_id in self.grants:
            raise GrantExists(grant_id)
        for allowance_id in self.allowances:  # its grant ids are the allowance's alone
            if reserved_period(allowance_id, grant_id) is not None:
                message = f"has the form of allowance {allowance_id!r}'s grant ids"
                raise ValidationFailed(FieldError("grant_id", message), depends_on_state=True)
        postings = [
            Posting(
                issued_account(self.unit, category), grant_account(self.wallet_id, grant_id), amount
            )
        ]
        assert_balanced(postings)
        self.trigger_event(
            CreditsGranted,
            occurred_at=at,
            postings=postings_to_dicts(postings),
            grant_id=grant_id,
            category=category,
            priority=priority,
            amount=amount,
            effective_at=effective_at,
            expires_at=expires_at,
            cost_basis_minor=cost_basis[0] if cost_basis else None,
            cost_basis_currency=cost_basis[1] if cost_basis else None,
            metadata=metadata,
            idempotency_key=idempotency_key,
        )
        # Every new grant pays debt first, at once, even one effective later: otherwise its
        # credits could expire unused while the wallet still owes (decision 0007).
        self.settle_debt(grant_id, min(self.debt, self.grants[grant_id].remaining), at)
        return {**self.grant_view(self.grants[grant_id], at)}

    def void_grant(
        self, *, grant_id: str, reason: str, idempotency_key: str | None, at: datetime
    ) -> dict[str, Any]:
        """Withdraw what is left of a grant to ``voided``; credits it has on hold stay held."""
        at, _ = self.advance(at)
        grant = self.grants.get(grant_id)
        if grant is None:
            raise GrantNotFound(grant_id)
        status = grant.status_at(at)
        if status in (GrantStatus.VOIDED, GrantStatus.EXPIRED):
            raise GrantNotVoidable(grant_id, str(status))
        postings = []
        if grant.remaining:
            postings.append(
                Posting(
                    grant_account(self.wallet_id, grant_id),
                    voided_account(self.unit),
                    grant.remaining,
                )
            )
        assert_balanced(postings)
        self.trigger_event(
            GrantVoided,
            occurred_at=at,
            postings=postings_to_dicts(postings),
            grant_id=grant_id,
            amount=grant.remaining,
            reason=reason,
            idempotency_key=idempotency_key,
        )
        return self.grant_view(grant, at)
