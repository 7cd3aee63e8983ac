"""WalletService: the shared command runner, wallet opening, budgets and expiry upkeep.

``CreditLedger`` (ledger/app/service.py) adds the spending and hold commands on top.
"""

from __future__ import annotations

from concurrent.futures import Future
from datetime import datetime
from typing import Any
from uuid import UUID

from ledger.app.commands import Command, OpenWallet, RemoveBudget, SetBudget
from ledger.app.committer import WAIT_SECONDS, Fence, Job, settle
from ledger.app.executor import Decision, Outcome
from ledger.app.pricing import PricingLedger
from ledger.app.shards import on_wallet_shard
from ledger.domain.budgets import spent_from_history
from ledger.domain.commands_budgets import check_budget_input
from ledger.domain.errors import WalletExists
from ledger.domain.events import WalletOpened
from ledger.domain.ids import wallet_uuid
from ledger.domain.periods import Period, period_bounds
from ledger.domain.validation import check_id
from ledger.domain.wallet import Wallet

__all__ = ["ExpireDue", "WalletService"]

SWEEP_PAGE = 500


class ExpireDue(Command):
    """Internal command of the sweep: record the expiries due in one wallet."""


def _new_wallet(cmd: OpenWallet, at: datetime) -> Wallet:
    check_id("wallet_id", cmd.wallet_id)
    return Wallet.open(
        wallet_id=cmd.wallet_id,
        customer_id=cmd.customer_id or cmd.wallet_id,
        unit=cmd.unit,
        overdraft_limit=cmd.overdraft_limit,
        price_book_id=cmd.price_book_id,
        metadata=dict(cmd.metadata),
        at=at,
    )


class WalletService(PricingLedger):
    def open_wallet(self, cmd: OpenWallet) -> Outcome:
        """Open a wallet in its shard. Its idempotency key is server-wide (the contract): in a
        sharded store it is first claimed in the home shard (see ``claim_key``)."""
        shard = self.shard_for(cmd.wallet_id) if isinstance(cmd.wallet_id, str) else self
        if shard is not self.home and cmd.idempotency_key is not None:
            _new_wallet(cmd, self.now())  # bad input is refused before the key is claimed
            self.home.claim_key("", cmd.idempotency_key, cmd)
        return shard._open_wallet_here(cmd)

    def _open_wallet_here(self, cmd: OpenWallet) -> Outcome:
        key, given = self.key_of(cmd)

        def decide(_: bool) -> Decision:
            at = self.now()
            wallet = _new_wallet(cmd, at)
            if self.find(wallet_uuid(cmd.wallet_id)) is not None:
                raise WalletExists(cmd.wallet_id)
            return Decision(
                {**wallet.view(at), "version": wallet.version}, [wallet], wallet.version
            )

        return self._run(scope="", key=key, key_given=given, command=cmd, decide=decide)

    def settle(self, future: Future[Outcome]) -> Outcome:
        """Wait (in this thread) for the outcome of a command a ``*_later`` method queued."""
        return settle(future, self.committer.wait_seconds if self.committer else WAIT_SECONDS)

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
        later = self._on_wallet_later(cmd, wallet_id, act, keep_receipt=keep_receipt, key=key)
        return self.settle(later)

    def _on_wallet_later(
        self,
        cmd: Command,
        wallet_id: str,
        act: Any,
        *,
        keep_receipt: bool = False,
        key: tuple[str, bool] | None = None,
        fence: Fence | None = None,
    ) -> Future[Outcome]:
        """``_on_wallet`` up to its answer: with group commit the command is only queued (no
        store I/O here, so an event loop may call this); without, it is decided and saved
        here, and the future is already done. ``fence`` is confirmed before deciding."""
        key_value, given = key or self.key_of(cmd)
        if self.committer is not None:
            job = Job(wallet_id, key_value, given, cmd, act, keep_receipt, fence)
            return self.committer.enqueue(job)

        def decide(retrying: bool) -> Decision:
            at = self.now()
            wallet = self.load_wallet(wallet_id)
            body = act(wallet, at, key_value if given else None, retrying)
            return Decision(body, [wallet] if wallet.pending_events else [], wallet.version)

        done: Future[Outcome] = Future()
        try:
            if fence is not None:
                fence.check(self)
            done.set_result(
                self._run(
                    scope=wallet_id,
                    key=key_value,
                    key_given=given,
                    command=cmd,
                    decide=decide,
                    keep_receipt=keep_receipt,
                )
            )
        except Exception as error:  # raised again by whoever settles the future
            done.set_exception(error)
        return done

    @on_wallet_shard
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

    @on_wallet_shard
    def remove_budget(self, cmd: RemoveBudget) -> Outcome:
        def act(wallet: Wallet, at: Any, key: str | None, _: bool) -> dict[str, Any]:
            return wallet.remove_budget(budget_id=cmd.budget_id, idempotency_key=key, at=at)

        return self._on_wallet(cmd, cmd.wallet_id, act)

    @on_wallet_shard
    def expire_due(self, wallet_id: str) -> int:
        """Record the expiries due now in one wallet; returns how many events that made."""

        def act(wallet: Wallet, at: Any, _key: str | None, _: bool) -> dict[str, Any]:
            before = wallet.version
            wallet.advance(at)
            return {"events": wallet.version - before}

        outcome = self._on_wallet(ExpireDue(), wallet_id, act)
        return int(outcome.body["events"])

    def sweep(self) -> int:
        """Expire due grants and holds in every wallet of every shard (cron, ``ledger sweep``)."""
        return sum(
            shard._sweep_shard() for shard in self.home.shards if isinstance(shard, WalletService)
        )

    def _sweep_shard(self) -> int:
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
