"""Allowances on the application service: set and remove (commands), list and read.

Commands run as one decision on the wallet (``WalletService._on_wallet``), so their
idempotency keys, group commit and shard routing are those of every wallet command. Reads
answer from the wallet advanced to now on a copy, so a period due but not yet recorded is
already counted in ``next_grant_at``.
"""

from __future__ import annotations

from typing import Any

from ledger.allowances import check_allowance_input
from ledger.commands import RemoveAllowance, SetAllowance
from ledger.errors import AllowanceNotFound
from ledger.executor import Outcome
from ledger.service_base import WalletService
from ledger.shards import on_wallet_shard
from ledger.wallet import Wallet

__all__ = ["AllowanceService"]


class AllowanceService(WalletService):
    @on_wallet_shard
    def set_allowance(self, cmd: SetAllowance) -> Outcome:
        """Create or change an allowance (the body says ``created``)."""
        # Bad terms are refused before the store is touched (the wallet checks them again).
        check_allowance_input(
            allowance_id=cmd.allowance_id,
            amount=cmd.amount,
            category=cmd.category,
            priority=cmd.priority,
            period=cmd.period,
            timezone=cmd.timezone,
            starts_at=cmd.starts_at,
            ends_at=cmd.ends_at,
            rollover=None if cmd.rollover is None else dict(cmd.rollover),
        )

        def act(wallet: Wallet, at: Any, key: str | None, _: bool) -> dict[str, Any]:
            return wallet.set_allowance(
                allowance_id=cmd.allowance_id,
                amount=cmd.amount,
                category=cmd.category,
                priority=cmd.priority,
                period=cmd.period,
                timezone=cmd.timezone,
                starts_at=cmd.starts_at,
                ends_at=cmd.ends_at,
                rollover=None if cmd.rollover is None else dict(cmd.rollover),
                idempotency_key=key,
                at=at,
            )

        return self._on_wallet(cmd, cmd.wallet_id, act)

    @on_wallet_shard
    def remove_allowance(self, cmd: RemoveAllowance) -> Outcome:
        def act(wallet: Wallet, at: Any, key: str | None, _: bool) -> dict[str, Any]:
            return wallet.remove_allowance(
                allowance_id=cmd.allowance_id, idempotency_key=key, at=at
            )

        return self._on_wallet(cmd, cmd.wallet_id, act)

    @on_wallet_shard
    def allowances(self, wallet_id: str) -> list[dict[str, Any]]:
        """The wallet's allowances by id, as of now."""
        wallet, _ = self.wallet_at(wallet_id)
        return wallet.allowance_views()

    @on_wallet_shard
    def allowance(self, wallet_id: str, allowance_id: str) -> dict[str, Any]:
        for view in self.allowances(wallet_id):
            if view["allowance_id"] == allowance_id:
                return view
        raise AllowanceNotFound(allowance_id)
