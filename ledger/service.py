"""CreditLedger: every command of the ledger, each one decide-then-save via ``_run``."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any
from uuid import UUID, uuid4

from ledger.budgets import spent_from_history
from ledger.commands import (
    CaptureHold,
    Command,
    Debit,
    GrantCredits,
    OpenWallet,
    PlaceHold,
    Refund,
    ReleaseHold,
    RemoveBudget,
    SetBudget,
    VoidGrant,
)
from ledger.commands_budgets import check_budget_input
from ledger.commands_grants import check_grant_input
from ledger.commands_holds import check_hold_input
from ledger.commands_spending import check_debit_input
from ledger.committer import Job
from ledger.errors import (
    BudgetExceeded,
    DebitNotFound,
    HoldExists,
    HoldNotFound,
    HoldNotOpen,
    InsufficientCredits,
    WalletExists,
)
from ledger.events import CreditsDebited, HoldCaptured, HoldExpired, HoldReleased, WalletOpened
from ledger.executor import Decision, Outcome
from ledger.ids import hold_record_id, receipt_id, wallet_uuid
from ledger.periods import Period, period_bounds
from ledger.pricing import PricingLedger
from ledger.rating import Rating, Usage, check_amount_or_usage
from ledger.records import HoldRecord, Receipt
from ledger.validation import check_amount, check_aware, check_id, fail
from ledger.wallet import Wallet

__all__ = ["DEFAULT_HOLD_DURATION", "MAX_FUTURE_SKEW", "CreditLedger", "ExpireDue"]

DEFAULT_HOLD_DURATION = timedelta(minutes=15)
MAX_FUTURE_SKEW = timedelta(minutes=5)
SWEEP_PAGE = 500
_CLOSING_STATUS: dict[type, str] = {
    HoldCaptured: "captured",
    HoldReleased: "released",
    HoldExpired: "expired",
}


class ExpireDue(Command):
    """Internal command of the sweep: record the expiries due in one wallet."""


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


class CreditLedger(PricingLedger):
    # eventsourcing names tables and env prefixes after the class unless told: keep "Ledger"
    # (tables ledger_events, ledger_snapshots; env prefix LEDGER_).
    name = "Ledger"

    def open_wallet(self, cmd: OpenWallet) -> Outcome:
        key, given = self.key_of(cmd)

        def decide(_: bool) -> Decision:
            at = self.now()
            check_id("wallet_id", cmd.wallet_id)
            if self.find(wallet_uuid(cmd.wallet_id)) is not None:
                raise WalletExists(cmd.wallet_id)
            wallet = Wallet.open(
                wallet_id=cmd.wallet_id,
                customer_id=cmd.customer_id or cmd.wallet_id,
                unit=cmd.unit,
                overdraft_limit=cmd.overdraft_limit,
                price_book_id=cmd.price_book_id,
                metadata=dict(cmd.metadata),
                at=at,
            )
            return Decision(
                {**wallet.view(at), "version": wallet.version}, [wallet], wallet.version
            )

        return self._run(scope="", key=key, key_given=given, command=cmd, decide=decide)

    def _on_wallet(
        self,
        cmd: Command,
        wallet_id: str,
        act: Any,
        *,
        keep_receipt: bool = False,
        key: tuple[str, bool] | None = None,
    ) -> Outcome:
        """Run ``act(wallet, at, key, retrying) -> body`` as one decision on the wallet."""
        key_value, given = key or self.key_of(cmd)
        if self.committer is not None:
            return self.committer.submit(Job(wallet_id, key_value, given, cmd, act, keep_receipt))

        def decide(retrying: bool) -> Decision:
            at = self.now()
            wallet = self.load_wallet(wallet_id)
            body = act(wallet, at, key_value if given else None, retrying)
            return Decision(body, [wallet] if wallet.pending_events else [], wallet.version)

        return self._run(
            scope=wallet_id,
            key=key_value,
            key_given=given,
            command=cmd,
            decide=decide,
            keep_receipt=keep_receipt,
        )

    def grant(self, cmd: GrantCredits) -> Outcome:
        grant_id = f"g_{uuid4().hex}" if cmd.grant_id is None else cmd.grant_id
        check_grant_input(
            grant_id=grant_id,
            amount=cmd.amount,
            category=cmd.category,
            priority=cmd.priority,
            effective_at=cmd.effective_at or self.now(),
            expires_at=cmd.expires_at,
            cost_basis=cmd.cost_basis,
        )

        def act(wallet: Wallet, at: Any, key: str | None, _: bool) -> dict[str, Any]:
            return wallet.grant(
                grant_id=grant_id,
                amount=cmd.amount,
                category=cmd.category,
                priority=cmd.priority,
                effective_at=cmd.effective_at or at,
                expires_at=cmd.expires_at,
                cost_basis=cmd.cost_basis,
                metadata=dict(cmd.metadata),
                idempotency_key=key,
                at=at,
            )

        return self._on_wallet(cmd, cmd.wallet_id, act)

    def void_grant(self, cmd: VoidGrant) -> Outcome:
        def act(wallet: Wallet, at: Any, key: str | None, _: bool) -> dict[str, Any]:
            return wallet.void_grant(
                grant_id=cmd.grant_id, reason=cmd.reason, idempotency_key=key, at=at
            )

        return self._on_wallet(cmd, cmd.wallet_id, act)

    def debit(self, cmd: Debit) -> Outcome:
        check_debit_input(cmd.amount, dict(cmd.subject))
        usage = check_amount_or_usage(cmd.amount, cmd.usage)
        if cmd.occurred_at is not None:
            check_aware("occurred_at", cmd.occurred_at)
        key = self.key_of(cmd)
        debit_id = str(receipt_id(cmd.wallet_id, key[0]))  # the debit's receipt is its record

        def act(wallet: Wallet, at: Any, key_value: str | None, _: bool) -> dict[str, Any]:
            # Stored in UTC, whatever offset the client sent, so usage windows agree everywhere.
            usage_at = at if cmd.occurred_at is None else cmd.occurred_at.astimezone(UTC)
            if usage_at > at + MAX_FUTURE_SKEW:
                raise fail("occurred_at", "must not be more than 5 minutes in the future")
            rating = None if usage is None else self.rating_for(wallet, usage)
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

        return self._on_wallet(cmd, cmd.wallet_id, act, keep_receipt=True, key=key)

    def refund(self, cmd: Refund) -> Outcome:
        if cmd.amount is not None:
            check_amount("amount", cmd.amount)
        key = self.key_of(cmd)
        refund_id = str(receipt_id(cmd.wallet_id, key[0]))

        def act(wallet: Wallet, at: Any, key_value: str | None, _: bool) -> dict[str, Any]:
            return wallet.refund(
                refund_id=refund_id,
                debit=self.debit_facts(cmd.wallet_id, cmd.debit_id),
                amount=cmd.amount,
                reason=cmd.reason,
                idempotency_key=key_value,
                at=at,
            )

        return self._on_wallet(cmd, cmd.wallet_id, act, key=key)

    def debit_facts(self, wallet_id: str, debit_id: str) -> dict[str, Any]:
        """The recorded ``CreditsDebited`` facts of a debit, found through its receipt."""
        try:
            receipt: Receipt | None = self.find(UUID(debit_id))
        except ValueError:
            receipt = None
        if (
            not isinstance(receipt, Receipt)
            or receipt.operation != "Debit"
            or receipt.scope != wallet_id
        ):
            raise DebitNotFound(debit_id)
        version = receipt.wallet_version or 0
        (event,) = self.events.get(wallet_uuid(wallet_id), gt=version - 1, lte=version)
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
        hold_id = f"h_{uuid4().hex}" if cmd.hold_id is None else cmd.hold_id
        check_hold_input(hold_id, cmd.amount, dict(cmd.subject), cmd.expires_at or self.now())
        usage = check_amount_or_usage(cmd.amount, cmd.usage)

        def act(wallet: Wallet, at: Any, key: str | None, retrying: bool) -> dict[str, Any]:
            rating = None if usage is None else self.rating_for(wallet, usage)
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

        return self._on_wallet(cmd, cmd.wallet_id, act)

    def _hold_was_placed(self, wallet_id: str, hold_id: str) -> bool:
        return self.find(hold_record_id(wallet_id, hold_id)) is not None

    def _resolved_hold(self, wallet: Wallet, hold_id: str) -> HoldNotOpen | HoldNotFound:
        """Why ``hold_id`` is not open: resolved (and how), or never placed."""
        # Resolved earlier in the same uncommitted batch: its record does not say so yet.
        for event in reversed(wallet.pending_events):
            status = _CLOSING_STATUS.get(type(event))
            if status is not None and getattr(event, "hold_id", None) == hold_id:
                return HoldNotOpen(hold_id, status)
        record: HoldRecord | None = self.find(hold_record_id(wallet.wallet_id, hold_id))
        return HoldNotFound(hold_id) if record is None else HoldNotOpen(hold_id, record.status)

    def capture_hold(self, cmd: CaptureHold) -> Outcome:
        usage = check_amount_or_usage(cmd.amount, cmd.usage, required=False)

        def act(wallet: Wallet, at: Any, key: str | None, _: bool) -> dict[str, Any]:
            rating = None if usage is None else self.rating_for(wallet, usage)
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

        return self._on_wallet(cmd, cmd.wallet_id, act)

    def release_hold(self, cmd: ReleaseHold) -> Outcome:
        def act(wallet: Wallet, at: Any, key: str | None, _: bool) -> dict[str, Any]:
            try:
                return wallet.release_hold(hold_id=cmd.hold_id, idempotency_key=key, at=at)
            except HoldNotFound:
                raise self._resolved_hold(wallet, cmd.hold_id) from None

        return self._on_wallet(cmd, cmd.wallet_id, act)

    def set_budget(self, cmd: SetBudget) -> Outcome:
        check_budget_input(
            budget_id=cmd.budget_id,
            scope=dict(cmd.scope),
            limit=cmd.limit,
            period=cmd.period,
            timezone=cmd.timezone,
            mode=cmd.mode,
            alert_thresholds_bps=list(cmd.alert_thresholds_bps),
        )

        def act(wallet: Wallet, at: Any, key: str | None, _: bool) -> dict[str, Any]:
            spent = None
            if wallet.budget_needs_history(
                cmd.budget_id, dict(cmd.scope), cmd.period, cmd.timezone
            ):
                start, _end = period_bounds(Period(cmd.period), max(at, wallet.clock), cmd.timezone)
                newest_first = self.events.get(wallet_uuid(cmd.wallet_id), desc=True)
                spent = spent_from_history(newest_first, dict(cmd.scope), start)
            return wallet.set_budget(
                budget_id=cmd.budget_id,
                scope=dict(cmd.scope),
                limit=cmd.limit,
                period=cmd.period,
                timezone=cmd.timezone,
                mode=cmd.mode,
                alert_thresholds_bps=list(cmd.alert_thresholds_bps),
                spent_in_period=spent,
                idempotency_key=key,
                at=at,
            )

        return self._on_wallet(cmd, cmd.wallet_id, act)

    def remove_budget(self, cmd: RemoveBudget) -> Outcome:
        def act(wallet: Wallet, at: Any, key: str | None, _: bool) -> dict[str, Any]:
            return wallet.remove_budget(budget_id=cmd.budget_id, idempotency_key=key, at=at)

        return self._on_wallet(cmd, cmd.wallet_id, act)

    def expire_due(self, wallet_id: str) -> int:
        """Record the expiries due now in one wallet; returns how many events that made."""

        def act(wallet: Wallet, at: Any, _key: str | None, _: bool) -> dict[str, Any]:
            before = wallet.version
            wallet.advance(at)
            return {"events": wallet.version - before}

        outcome = self._on_wallet(ExpireDue(), wallet_id, act)
        return int(outcome.body["events"])

    def sweep(self) -> int:
        """Expire due grants and holds in every wallet (for cron / ``ledger sweep``)."""
        recorded, start = 0, 1
        while True:
            page = self.recorder.select_notifications(
                start=start, limit=SWEEP_PAGE, topics=[WalletOpened.TOPIC]
            )
            for notification in page:
                wallet: Wallet = self.repository.get(UUID(str(notification.originator_id)))
                recorded += self.expire_due(wallet.wallet_id)
            if len(page) < SWEEP_PAGE:
                return recorded
            start = page[-1].id + 1
