"""What the group-commit writer keeps while it works: each job's decision until the batch's
fate is known, and its cache of wallets (both owned by the committer thread).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ledger.app.executor import Outcome
from ledger.app.ports import Job, ShardStore
from ledger.domain.errors import LedgerError
from ledger.domain.records import Receipt
from ledger.domain.wallet import Wallet
from ledger.store.bulk_load import load_wallets

__all__ = ["Decided", "WalletCache"]

log = logging.getLogger(__name__)


@dataclass
class Decided:
    """A job's decision, answered only once the batch's fate is known.

    A refusal depends on state, possibly on earlier decisions of this very batch; if the
    batch fails, the refusal is decided again with it rather than answered prematurely.
    """

    job: Job
    body: dict[str, Any]
    receipt: Receipt | None
    refusal: LedgerError | None = None

    def answer(self, position: int | None) -> None:
        if self.refusal is not None:
            self.job.future.set_exception(self.refusal)
        else:
            self.job.future.set_result(Outcome(self.body, position=position))


class WalletCache:
    """Wallets as the committer last saved them (least recently used ones dropped): a
    command on a cached wallet needs no store read. The store's version check still decides
    at save; a refusal decided on a cached wallet is checked (``was_cached``)."""

    def __init__(self, size: int) -> None:
        self._wallets: OrderedDict[str, Wallet] = OrderedDict()
        self._size = size
        self._read_from_cache: set[str] = set()
        self._loaded: dict[str, Wallet] = {}

    def new_batch(self, store: ShardStore, wallet_ids: Iterable[str]) -> None:
        """Start a batch over ``wallet_ids``: those not cached are loaded together, with one
        query (ledger.store.bulk_load, PostgreSQL: one round trip, where loading even one
        wallet on its own takes two); if that fails, or elsewhere, each is loaded on its own
        when asked for, as before (with the store's retries)."""
        self._read_from_cache.clear()
        missing = sorted({w for w in wallet_ids if w not in self._wallets})
        self._loaded = {}
        if missing:
            try:
                self._loaded = load_wallets(store, missing)
            except Exception:
                log.warning("loading %d wallets at once failed", len(missing), exc_info=True)

    def was_cached(self, wallet_id: str) -> bool:
        """Did this batch take ``wallet_id`` from the cache (not fresh from the store)?"""
        return wallet_id in self._read_from_cache

    def get(self, wallet_id: str, store: ShardStore) -> Wallet:
        wallet = self._wallets.get(wallet_id)
        if wallet is None:
            loaded = self._loaded.pop(wallet_id, None)
            return store.load_wallet(wallet_id) if loaded is None else loaded
        self._wallets.move_to_end(wallet_id)
        self._read_from_cache.add(wallet_id)
        return wallet

    def remember(self, wallet_id: str, wallet: Wallet) -> None:
        self._wallets[wallet_id] = wallet
        self._wallets.move_to_end(wallet_id)
        while len(self._wallets) > self._size:
            self._wallets.popitem(last=False)

    def evict(self, wallet_ids: Iterable[str]) -> None:
        for wallet_id in wallet_ids:
            self._wallets.pop(wallet_id, None)

    def clear(self) -> None:
        self._wallets.clear()
