"""Wallet commands: open a wallet, grant and void credits, set and remove budgets, expiry.

Every command on a wallet is one decision (``act``) handed to the writer of the wallet's
shard as a :class:`~ledger.app.ports.Job` (:meth:`Wallets.later`); the spending commands
(:mod:`ledger.app.spending`) go through the same door.
"""

from __future__ import annotations

from concurrent.futures import Future
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from ledger.app.application import LedgerApplication
from ledger.app.commands import (
    Command,
    GrantCredits,
    OpenWallet,
    RemoveBudget,
    SetBudget,
    VoidGrant,
    key_of,
)
from ledger.app.executor import Decision, Outcome
from ledger.app.ports import Act, Fence, Job, settle
from ledger.domain.budgets import spent_from_history
from ledger.domain.commands_budgets import check_budget_input
from ledger.domain.commands_grants import check_grant_input
from ledger.domain.errors import WalletExists
from ledger.domain.events import WalletOpened
from ledger.domain.ids import wallet_uuid
from ledger.domain.periods import Period, period_bounds
from ledger.domain.validation import check_id
from ledger.domain.wallet import Wallet

__all__ = ["ExpireDue", "Wallets"]

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


class Wallets:
    """Wallet commands over the shards of ``home``."""

    def __init__(self, home: LedgerApplication) -> None:
        self._home = home

    # -- the one door of every wallet command -----------------------------------------------

    def later(
        self,
        cmd: Command,
        wallet_id: str,
        act: Act,
        *,
        keep_receipt: bool = False,
        key: tuple[str, bool] | None = None,
        fence: Fence | None = None,
        rid: UUID | None = None,
    ) -> Future[Outcome]:
        """Hand ``act(wallet, at, key, retrying) -> body`` to the writer of the wallet's shard.

        With group commit the command is only queued (no store I/O here, so an event loop
        may call this); without, it is decided and saved here, and the future is already
        done. ``fence`` is confirmed before deciding; ``rid`` is the command's receipt id when
        the caller derived it already.
        """
        key_value, given = key or key_of(cmd)
        shard = self._home.shard_for(wallet_id)
        job = Job(wallet_id, key_value, given, cmd, act, keep_receipt, fence, known_rid=rid)
        return shard.writer.submit(job)

    def now(
        self,
        cmd: Command,
        wallet_id: str,
        act: Act,
        *,
        keep_receipt: bool = False,
        key: tuple[str, bool] | None = None,
    ) -> Outcome:
        """:meth:`later`, waited for in this thread."""
        return self.settle(self.later(cmd, wallet_id, act, keep_receipt=keep_receipt, key=key))

    def settle(self, future: Future[Outcome]) -> Outcome:
        """Wait (in this thread) for the outcome of a command a ``*_later`` method queued."""
        return settle(future, self._home.writer.wait_seconds)

    # -- commands ----------------------------------------------------------------------------

    def open_wallet(self, cmd: OpenWallet) -> Outcome:
        """Open a wallet in its shard. Its idempotency key is server-wide (the contract): in a
        sharded store it is first claimed in the home shard (see ``claim_key``)."""
        home = self._home
        shard = home.shard_for(cmd.wallet_id) if isinstance(cmd.wallet_id, str) else home
        if shard is not home and cmd.idempotency_key is not None:
            _new_wallet(cmd, home.now())  # bad input is refused before the key is claimed
            home.claim_key("", cmd.idempotency_key, cmd)
        key, given = key_of(cmd)

        def decide(_: bool) -> Decision:
            at = shard.now()
            wallet = _new_wallet(cmd, at)
            if shard.find(wallet_uuid(cmd.wallet_id)) is not None:
                raise WalletExists(cmd.wallet_id)
            return Decision(
                {**wallet.view(at), "version": wallet.version}, [wallet], wallet.version
            )

        return shard.writer.run(scope="", key=key, key_given=given, command=cmd, decide=decide)

    def grant(self, cmd: GrantCredits) -> Outcome:
        grant_id = f"g_{uuid4().hex}" if cmd.grant_id is None else cmd.grant_id
        check_grant_input(
            grant_id=grant_id,
            amount=cmd.amount,
            category=cmd.category,
            priority=cmd.priority,
            effective_at=cmd.effective_at or self._home.now(),
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

        return self.now(cmd, cmd.wallet_id, act)

    def void_grant(self, cmd: VoidGrant) -> Outcome:
        def act(wallet: Wallet, at: Any, key: str | None, _: bool) -> dict[str, Any]:
            return wallet.void_grant(
                grant_id=cmd.grant_id, reason=cmd.reason, idempotency_key=key, at=at
            )

        return self.now(cmd, cmd.wallet_id, act)

    def set_budget(self, cmd: SetBudget) -> Outcome:
        check_budget_input(**cmd.spec())
        shard = self._home.shard_for(cmd.wallet_id)

        def act(wallet: Wallet, at: Any, key: str | None, _: bool) -> dict[str, Any]:
            spent = None
            if wallet.budget_needs_history(
                cmd.budget_id, dict(cmd.scope), cmd.period, cmd.timezone
            ):
                start, _end = period_bounds(Period(cmd.period), max(at, wallet.clock), cmd.timezone)
                newest_first = shard.events.get(wallet_uuid(cmd.wallet_id), desc=True)
                spent = spent_from_history(newest_first, dict(cmd.scope), start)
            return wallet.set_budget(
                **cmd.spec(), spent_in_period=spent, idempotency_key=key, at=at
            )

        return self.now(cmd, cmd.wallet_id, act)

    def remove_budget(self, cmd: RemoveBudget) -> Outcome:
        def act(wallet: Wallet, at: Any, key: str | None, _: bool) -> dict[str, Any]:
            return wallet.remove_budget(budget_id=cmd.budget_id, idempotency_key=key, at=at)

        return self.now(cmd, cmd.wallet_id, act)

    def expire_due(self, wallet_id: str) -> int:
        """Record the expiries due now in one wallet; returns how many events that made."""

        def act(wallet: Wallet, at: Any, _key: str | None, _: bool) -> dict[str, Any]:
            before = wallet.version
            wallet.advance(at)
            return {"events": wallet.version - before}

        outcome = self.now(ExpireDue(), wallet_id, act)
        return int(outcome.body["events"])

    def sweep(self) -> int:
        """Expire due grants and holds in every wallet of every shard (cron, ``ledger sweep``)."""
        return sum(self._sweep_shard(shard) for shard in self._home.shards)

    def _sweep_shard(self, shard: LedgerApplication) -> int:
        recorded, start = 0, 1
        while True:
            page = shard.recorder.select_notifications(
                start=start, limit=SWEEP_PAGE, topics=[WalletOpened.TOPIC]
            )
            for notification in page:
                wallet = shard.find(UUID(str(notification.originator_id)))
                if isinstance(wallet, Wallet):
                    recorded += self.expire_due(wallet.wallet_id)
            if len(page) < SWEEP_PAGE:
                return recorded
            start = page[-1].id + 1
