"""Allowances (recurring grants): set and remove (wallet commands), list and read.

Commands go through the wallets' one door (:meth:`~ledger.app.wallets.Wallets.now`), so their
idempotency keys, group commit and shard routing are those of every wallet command. Reads
answer from the wallet advanced to now on a copy (:meth:`~ledger.app.reads.Reads.wallet_at`),
so a period due but not yet recorded is already counted in ``next_grant_at``.
"""

from __future__ import annotations

from typing import Any

from ledger.app.commands import RemoveAllowance, SetAllowance
from ledger.app.executor import Outcome
from ledger.app.reads import Reads
from ledger.app.wallets import Wallets
from ledger.domain.allowances import check_allowance_input
from ledger.domain.errors import AllowanceNotFound
from ledger.domain.wallet import Wallet

__all__ = ["Allowances"]


class Allowances:
    """Allowance commands and reads over the wallets' door and the reads."""

    def __init__(self, wallets: Wallets, reads: Reads) -> None:
        self._wallets = wallets
        self._reads = reads

    def set_allowance(self, cmd: SetAllowance) -> Outcome:
        """Create or change an allowance (the body says ``created``)."""
        terms: dict[str, Any] = {
            "allowance_id": cmd.allowance_id,
            "amount": cmd.amount,
            "category": cmd.category,
            "priority": cmd.priority,
            "period": cmd.period,
            "timezone": cmd.timezone,
            "starts_at": cmd.starts_at,
            "ends_at": cmd.ends_at,
            "rollover": None if cmd.rollover is None else dict(cmd.rollover),
        }
        # Bad terms are refused before the store is touched (the wallet checks them again).
        check_allowance_input(**terms)

        def act(wallet: Wallet, at: Any, key: str | None, _: bool) -> dict[str, Any]:
            return wallet.set_allowance(**terms, idempotency_key=key, at=at)

        return self._wallets.now(cmd, cmd.wallet_id, act)

    def remove_allowance(self, cmd: RemoveAllowance) -> Outcome:
        def act(wallet: Wallet, at: Any, key: str | None, _: bool) -> dict[str, Any]:
            return wallet.remove_allowance(
                allowance_id=cmd.allowance_id, idempotency_key=key, at=at
            )

        return self._wallets.now(cmd, cmd.wallet_id, act)

    def allowances(self, wallet_id: str) -> list[dict[str, Any]]:
        """The wallet's allowances by id, as of now."""
        wallet, _ = self._reads.wallet_at(wallet_id)
        return wallet.allowance_views()

    def allowance(self, wallet_id: str, allowance_id: str) -> dict[str, Any]:
        for view in self.allowances(wallet_id):
            if view["allowance_id"] == allowance_id:
                return view
        raise AllowanceNotFound(allowance_id)
