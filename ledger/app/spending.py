"""Spending commands: debit and refund, and holds (place, capture, release).

Every command is one decision on one wallet, handed to the writer of its shard through
:meth:`ledger.app.wallets.Wallets.later`. A ``*_later`` method stops at the future (with
group commit no store I/O happens in the caller, so an event loop may call it); the plain
method waits for it. Usage given instead of an amount is rated by :mod:`ledger.app.pricing`.
"""

from __future__ import annotations

from concurrent.futures import Future
from datetime import UTC, timedelta
from typing import Any
from uuid import UUID, uuid4

from ledger.app.application import LedgerApplication
from ledger.app.commands import CaptureHold, Debit, PlaceHold, Refund, ReleaseHold, key_of
from ledger.app.executor import Outcome
from ledger.app.ports import Fence
from ledger.app.pricing import Pricing
from ledger.app.wallets import Wallets
from ledger.domain.commands_holds import check_hold_input
from ledger.domain.errors import (
    BudgetExceeded,
    DebitNotFound,
    HoldExists,
    HoldNotFound,
    HoldNotOpen,
    InsufficientCredits,
)
from ledger.domain.events import HOLD_CLOSED_AS, CreditsDebited
from ledger.domain.ids import hold_record_id, receipt_id, wallet_uuid
from ledger.domain.rating import Rating, Usage, check_amount_or_usage
from ledger.domain.records import HoldRecord, Receipt
from ledger.domain.validation import check_amount, check_aware, check_subject, fail
from ledger.domain.wallet import Wallet

__all__ = ["DEFAULT_HOLD_DURATION", "MAX_FUTURE_SKEW", "Spending"]

DEFAULT_HOLD_DURATION = timedelta(minutes=15)
MAX_FUTURE_SKEW = timedelta(minutes=5)


def _with_model(subject: dict[str, str], usage: Usage | None) -> dict[str, str]:
    """The subject, naming the usage's model when it names none (budgets match on it)."""
    if usage is None or "model" in subject:
        return subject
    return {**subject, "model": usage.model}


def _spent(amount: int | None, rating: Rating | None) -> int:
    """What a debit or hold spends: what its usage rated to, or the client's amount."""
    if rating is not None:
        return rating.amount
    if amount is None:  # check_amount_or_usage made sure one of the two was given
        raise AssertionError("neither amount nor usage")
    return amount


class Spending:
    """Debits, refunds and holds, decided by ``wallets``' door; usage rated by ``pricing``."""

    def __init__(self, wallets: Wallets, pricing: Pricing) -> None:
        self._wallets = wallets
        self._pricing = pricing
        self._home = pricing.home

    def _shard(self, wallet_id: str) -> LedgerApplication:
        return self._home.shard_for(wallet_id)

    def debit(self, cmd: Debit) -> Outcome:
        """Authorize and deduct ``cmd.amount`` (or its rated usage) if the balance and every
        matching hard budget allow it."""
        return self._wallets.settle(self.debit_later(cmd))

    def debit_later(self, cmd: Debit, *, fence: Fence | None = None) -> Future[Outcome]:
        """``debit`` up to its answer (see ``_on_wallet_later``)."""
        # Refuse bad input before touching the store (Wallet.debit checks again on its own).
        check_subject(cmd.subject)
        usage = check_amount_or_usage(cmd.amount, cmd.usage)
        if cmd.occurred_at is not None:
            check_aware("occurred_at", cmd.occurred_at)
        key = key_of(cmd)
        rid = receipt_id(cmd.wallet_id, key[0])
        debit_id = str(rid)  # the debit's receipt is its record

        def act(wallet: Wallet, at: Any, key_value: str | None, _: bool) -> dict[str, Any]:
            # Stored in UTC, whatever offset the client sent, so usage windows agree everywhere.
            usage_at = at if cmd.occurred_at is None else cmd.occurred_at.astimezone(UTC)
            if usage_at > at + MAX_FUTURE_SKEW:
                raise fail("occurred_at", "must not be more than 5 minutes in the future")
            rating = None if usage is None else self._pricing.rating_for(wallet, usage)
            return wallet.debit(
                debit_id=debit_id,
                amount=_spent(cmd.amount, rating),
                subject=_with_model(dict(cmd.subject), usage),
                usage_at=usage_at,
                metadata=dict(cmd.metadata),
                idempotency_key=key_value,
                at=at,
                rating=None if rating is None else rating.record(),
            )

        return self._wallets.later(
            cmd, cmd.wallet_id, act, keep_receipt=True, key=key, fence=fence, rid=rid
        )

    def refund(self, cmd: Refund) -> Outcome:
        """Give back (part of) a debit."""
        return self._wallets.settle(self.refund_later(cmd))

    def refund_later(self, cmd: Refund, *, fence: Fence | None = None) -> Future[Outcome]:
        """``refund`` up to its answer (see ``_on_wallet_later``)."""
        if cmd.amount is not None:
            check_amount("amount", cmd.amount)
        key = key_of(cmd)
        rid = receipt_id(cmd.wallet_id, key[0])
        refund_id = str(rid)

        def act(wallet: Wallet, at: Any, key_value: str | None, _: bool) -> dict[str, Any]:
            return wallet.refund(
                refund_id=refund_id,
                debit=self.debit_facts(cmd.wallet_id, cmd.debit_id),
                amount=cmd.amount,
                reason=cmd.reason,
                idempotency_key=key_value,
                at=at,
            )

        return self._wallets.later(cmd, cmd.wallet_id, act, key=key, fence=fence, rid=rid)

    def debit_facts(self, wallet_id: str, debit_id: str) -> dict[str, Any]:
        """The recorded ``CreditsDebited`` facts of a debit, found through its receipt."""
        shard = self._shard(wallet_id)
        try:
            receipt: Receipt | None = shard.find(UUID(debit_id))
        except ValueError:
            receipt = None
        if (
            not isinstance(receipt, Receipt)
            or receipt.operation != "Debit"
            or receipt.scope != wallet_id
        ):
            raise DebitNotFound(debit_id)
        version = receipt.wallet_version or 0
        (event,) = shard.events.get(wallet_uuid(wallet_id), gt=version - 1, lte=version)
        if not isinstance(event, CreditsDebited) or event.debit_id != debit_id:
            raise AssertionError(f"receipt of debit {debit_id} points at {event!r}")
        return {
            k: getattr(event, k)
            for k in (
                "debit_id",
                "amount",
                "allocations",
                "subject",
                "budget_charges",
                "occurred_at",
            )
        }

    def place_hold(self, cmd: PlaceHold) -> Outcome:
        """Reserve credits for a later capture."""
        return self._wallets.settle(self.place_hold_later(cmd))

    def place_hold_later(self, cmd: PlaceHold, *, fence: Fence | None = None) -> Future[Outcome]:
        """``place_hold`` up to its answer (see ``_on_wallet_later``)."""
        hold_id = f"h_{uuid4().hex}" if cmd.hold_id is None else cmd.hold_id
        check_hold_input(hold_id, cmd.amount, dict(cmd.subject), cmd.expires_at or self._home.now())
        usage = check_amount_or_usage(cmd.amount, cmd.usage)

        def act(wallet: Wallet, at: Any, key: str | None, retrying: bool) -> dict[str, Any]:
            rating = None if usage is None else self._pricing.rating_for(wallet, usage)
            # A resolved hold is only in its record: a success finds out by colliding at save
            # (then retrying), a refusal asks, since hold_exists precedes budgets and balance.
            if retrying and self._hold_was_placed(cmd.wallet_id, hold_id):
                raise HoldExists(hold_id)
            try:
                return wallet.place_hold(
                    hold_id=hold_id,
                    amount=_spent(cmd.amount, rating),
                    subject=_with_model(dict(cmd.subject), usage),
                    expires_at=cmd.expires_at or at + DEFAULT_HOLD_DURATION,
                    metadata=dict(cmd.metadata),
                    idempotency_key=key,
                    at=at,
                    rating=None if rating is None else rating.record(),
                )
            except (BudgetExceeded, InsufficientCredits):
                if self._hold_was_placed(cmd.wallet_id, hold_id):
                    raise HoldExists(hold_id) from None
                raise

        return self._wallets.later(cmd, cmd.wallet_id, act, fence=fence)

    def _hold_was_placed(self, wallet_id: str, hold_id: str) -> bool:
        return self._shard(wallet_id).find(hold_record_id(wallet_id, hold_id)) is not None

    def _resolved_hold(self, wallet: Wallet, hold_id: str) -> HoldNotOpen | HoldNotFound:
        """Why ``hold_id`` is not open: resolved (and how), or never placed."""
        # Resolved earlier in the same uncommitted batch: its record does not say so yet.
        for event in reversed(wallet.pending_events):
            status = HOLD_CLOSED_AS.get(type(event))
            if status is not None and getattr(event, "hold_id", None) == hold_id:
                return HoldNotOpen(hold_id, status)
        shard = self._shard(wallet.wallet_id)
        record: HoldRecord | None = shard.find(hold_record_id(wallet.wallet_id, hold_id))
        return HoldNotFound(hold_id) if record is None else HoldNotOpen(hold_id, record.status)

    def capture_hold(self, cmd: CaptureHold) -> Outcome:
        """Spend (part of) a hold; the rest is released."""
        return self._wallets.settle(self.capture_hold_later(cmd))

    def capture_hold_later(
        self, cmd: CaptureHold, *, fence: Fence | None = None
    ) -> Future[Outcome]:
        """``capture_hold`` up to its answer (see ``_on_wallet_later``)."""
        usage = check_amount_or_usage(cmd.amount, cmd.usage, required=False)

        def act(wallet: Wallet, at: Any, key: str | None, _: bool) -> dict[str, Any]:
            rating = None if usage is None else self._pricing.rating_for(wallet, usage)
            try:
                return wallet.capture_hold(
                    hold_id=cmd.hold_id,
                    amount=cmd.amount if rating is None else rating.amount,
                    allow_overage=cmd.allow_overage,
                    idempotency_key=key,
                    at=at,
                    rating=None if rating is None else rating.record(),
                )
            except HoldNotFound:
                raise self._resolved_hold(wallet, cmd.hold_id) from None

        return self._wallets.later(cmd, cmd.wallet_id, act, fence=fence)

    def release_hold(self, cmd: ReleaseHold) -> Outcome:
        """Release a hold whole."""
        return self._wallets.settle(self.release_hold_later(cmd))

    def release_hold_later(
        self, cmd: ReleaseHold, *, fence: Fence | None = None
    ) -> Future[Outcome]:
        """``release_hold`` up to its answer (see ``_on_wallet_later``)."""

        def act(wallet: Wallet, at: Any, key: str | None, _: bool) -> dict[str, Any]:
            try:
                return wallet.release_hold(hold_id=cmd.hold_id, idempotency_key=key, at=at)
            except HoldNotFound:
                raise self._resolved_hold(wallet, cmd.hold_id) from None

        return self._wallets.later(cmd, cmd.wallet_id, act, fence=fence)
