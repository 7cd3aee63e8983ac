"""Two-phase wallet commands: place a hold, then capture or release it (exactly once)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ledger.domain.consumption import POLICY_VERSION
from ledger.domain.errors import (
    CaptureExceedsHold,
    HoldExists,
    HoldNotFound,
    HoldNotOpen,
)
from ledger.domain.events import HoldCaptured, HoldPlaced, HoldReleased
from ledger.domain.postings import (
    Posting,
    assert_balanced,
    consumed_account,
    grant_account,
    holds_account,
    postings_to_dicts,
)
from ledger.domain.rating import check_capture_model, rating_summary
from ledger.domain.state import Hold
from ledger.domain.validation import check_amount, check_aware, check_id, check_subject, fail
from ledger.domain.wallet_state import WalletState

__all__ = ["MAX_HOLD_DURATION", "HoldCommands", "check_hold_input"]

MAX_HOLD_DURATION = timedelta(days=7)


def check_hold_input(
    hold_id: str, amount: int | None, subject: dict[str, str], expires_at: datetime
) -> None:
    """``amount`` is None only for a hold of ``usage``, rated by the application."""
    check_id("hold_id", hold_id)
    if amount is not None:
        check_amount("amount", amount)
    check_subject(subject)
    check_aware("expires_at", expires_at)


class HoldCommands(WalletState):
    def place_hold(
        self,
        *,
        hold_id: str,
        amount: int,
        subject: dict[str, str],
        expires_at: datetime,
        metadata: dict[str, Any],
        idempotency_key: str | None,
        at: datetime,
        rating: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Reserve credits from specific grants (policy order); they count against budgets.

        ``rating`` records how the application rated usage into ``amount`` (if it did).
        """
        check_amount("amount", amount)  # rated already: an amount, never None, here
        check_hold_input(hold_id, None, subject, expires_at)  # the rest of the input
        subject = dict(subject)
        at, _ = self.advance(at)
        if not at < expires_at <= at + MAX_HOLD_DURATION:
            raise fail("expires_at", "must be in the future and at most 7 days ahead")
        if hold_id in self.holds:
            raise HoldExists(hold_id)
        decision, allocations, _ = self.authorize(subject, amount, at)
        holds = holds_account(self.wallet_id)
        postings = [
            Posting(grant_account(self.wallet_id, a["grant_id"]), holds, a["amount"])
            for a in allocations
        ]
        assert_balanced(postings)
        self.trigger_event(
            HoldPlaced,
            occurred_at=at,
            postings=postings_to_dicts(postings),
            hold_id=hold_id,
            amount=amount,
            allocations=allocations,
            policy_version=POLICY_VERSION,
            subject=subject,
            expires_at=expires_at,
            metadata=metadata,
            idempotency_key=idempotency_key,
            rating=rating,
        )
        body = {
            **self.hold_view(self.holds[hold_id]),
            "balance": self.balance(at),
            "warnings": decision.warnings,
        }
        if rating is not None:
            body["rating"] = rating_summary(rating)
        return body

    def open_hold(self, hold_id: str, expired_now: set[str]) -> Hold:
        if hold_id in expired_now:
            raise HoldNotOpen(hold_id, "expired")
        hold = self.holds.get(hold_id)
        if hold is None:
            # The application tells a hold that never existed from one already resolved.
            raise HoldNotFound(hold_id)
        return hold

    def capture_hold(
        self,
        *,
        hold_id: str,
        amount: int | None,
        allow_overage: bool,
        idempotency_key: str | None,
        at: datetime,
        rating: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Consume up to the held amount from the pinned grants and release the rest.

        With ``allow_overage`` the excess is debited like a normal debit (checked against
        hard budgets) and what the grants cannot cover becomes debt, up to the overdraft limit.
        ``rating`` records how the application rated usage into ``amount`` (if it did).
        """
        if amount is not None:
            check_amount("amount", amount)
        at, expired_now = self.advance(at)
        hold = self.open_hold(hold_id, expired_now)
        check_capture_model(hold.subject, rating)
        requested = hold.amount if amount is None else amount
        if requested > hold.amount and not allow_overage:
            raise CaptureExceedsHold(hold.amount, requested)
        overage = max(0, requested - hold.amount)
        decision, overage_allocations, shortfall = self.authorize(
            hold.subject, overage, at, into_debt=True
        )
        charges = [{**c, "amount": requested} for c in decision.charges]
        released = self.releases_of(hold, min(requested, hold.amount), at)
        captured = self._captured_allocations(hold, min(requested, hold.amount))
        postings = self._capture_postings(captured, released, overage_allocations)
        assert_balanced(postings)
        self.trigger_event(
            HoldCaptured,
            occurred_at=at,
            postings=postings_to_dicts(postings),
            hold_id=hold_id,
            captured=requested,
            captured_allocations=captured,
            released_allocations=released,
            overage=overage,
            overage_allocations=overage_allocations,
            policy_version=POLICY_VERSION,
            subject=dict(hold.subject),
            budget_charges=charges,
            idempotency_key=idempotency_key,
            rating=rating,
        )
        self.settle_returned(released, at)
        self.incur_debt(shortfall, f"hold:{hold_id}", at)
        body = {
            "hold_id": hold_id,
            "status": "captured",
            "captured": requested,
            "released": sum(r["amount"] for r in released),
            "overage": overage,
            "debt_incurred": shortfall,
            "balance": self.balance(at),
            "warnings": decision.warnings,
        }
        if rating is not None:
            body["rating"] = rating_summary(rating)
        return body

    @staticmethod
    def _captured_allocations(hold: Hold, captured: int) -> list[dict[str, Any]]:
        pieces, left = [], captured
        for allocation in hold.allocations:
            take = min(left, allocation["amount"])
            if take:
                pieces.append({"grant_id": allocation["grant_id"], "amount": take})
            left -= take
        return pieces

    def _capture_postings(
        self,
        captured: list[dict[str, Any]],
        released: list[dict[str, Any]],
        overage: list[dict[str, Any]],
    ) -> list[Posting]:
        holds, consumed = holds_account(self.wallet_id), consumed_account(self.unit)
        postings = [Posting(holds, consumed, a["amount"]) for a in captured]
        postings += self.release_postings(released)
        postings += [
            Posting(grant_account(self.wallet_id, a["grant_id"]), consumed, a["amount"])
            for a in overage
        ]
        return postings

    def release_hold(
        self, *, hold_id: str, idempotency_key: str | None, at: datetime
    ) -> dict[str, Any]:
        """Give every held credit back: to its grant, or to breakage if the grant has ended."""
        at, expired_now = self.advance(at)
        hold = self.open_hold(hold_id, expired_now)
        released = self.releases_of(hold, 0, at)
        postings = self.release_postings(released)
        assert_balanced(postings)
        self.trigger_event(
            HoldReleased,
            occurred_at=at,
            postings=postings_to_dicts(postings),
            hold_id=hold_id,
            released_allocations=released,
            idempotency_key=idempotency_key,
        )
        self.settle_returned(released, at)
        return {
            "hold_id": hold_id,
            "status": "released",
            "released": hold.amount,
            "balance": self.balance(at),
        }
