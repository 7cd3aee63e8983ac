"""Another writer that beats a ledger to each wallet it reads: the store's version check then
fails its save, as when two processes (two owners of a shard) write one wallet."""

from __future__ import annotations

from typing import Any

from ledger.app.commands import Debit
from ledger.app.service import CreditLedger

__all__ = ["beat_each_read"]


def beat_each_read(
    racing: CreditLedger, other: CreditLedger, times: int, wallet_id: str | None = None
) -> list[int]:
    """After each of ``racing``'s reads of a wallet (``wallet_id`` only, if given), ``other``
    debits it 1, at most ``times`` times; returns the list those debits are counted in."""
    beaten: list[int] = []
    load = racing.load_wallet

    def racing_load(read_id: str) -> Any:
        wallet = load(read_id)
        if wallet_id in (None, read_id) and len(beaten) < times:
            other.debit(Debit(wallet_id=read_id, amount=1))
            beaten.append(1)
        return wallet

    racing.load_wallet = racing_load  # type: ignore[method-assign,assignment]
    return beaten
