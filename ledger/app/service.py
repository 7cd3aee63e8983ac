"""CreditLedger: the facade the API, the CLI and the tests call, one method per operation.

It is the home shard's application (:class:`~ledger.app.application.LedgerApplication`:
the store of server-wide aggregates and of the wallets that hash to shard 0) with the
application services attached by :func:`ledger.app.bootstrap.wire`. Its methods only
delegate: what a command does is in the service that owns it (:mod:`ledger.app.wallets`,
:mod:`ledger.app.spending`, :mod:`ledger.app.pricing`, :mod:`ledger.app.shard_ingest`,
:mod:`ledger.app.reads`); meters, alerting and keys are functions and a small service over
the same application (:mod:`ledger.app.meters`, :mod:`ledger.app.alerting`,
:mod:`ledger.app.keys`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import Any, Self

from ledger.app.application import MAX_ATTEMPTS, LedgerApplication, utc_now
from ledger.app.bootstrap import wire
from ledger.app.commands import (
    CaptureHold,
    Debit,
    GrantCredits,
    IngestUsage,
    OpenWallet,
    PlaceHold,
    PutPriceBook,
    Refund,
    ReleaseHold,
    RemoveAllowance,
    RemoveBudget,
    SetAllowance,
    SetBudget,
    VoidGrant,
)
from ledger.app.committer import Committer
from ledger.app.executor import Outcome
from ledger.app.ports import Fence
from ledger.domain.wallet import Wallet
from ledger.store.env import store_env

__all__ = ["CreditLedger"]


class CreditLedger(LedgerApplication):
    """The ledger: its shards, their writers and the services, behind one object."""

    # eventsourcing names every subclass after itself unless told: keep "Ledger" (tables
    # ledger_events, ledger_snapshots; env prefix LEDGER_), exactly as the home shard.
    name = "Ledger"

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        max_attempts: int = MAX_ATTEMPTS,
        on_conflict: Callable[[str], None] | None = None,
        group_commit: bool | None = None,
    ) -> None:
        super().__init__(env, clock=clock, max_attempts=max_attempts, on_conflict=on_conflict)
        services = wire(self, group_commit=group_commit)
        self.wallets = services.wallets
        self.spending = services.spending
        self.pricing = services.pricing
        self.usage = services.usage
        self.reads = services.reads
        self.allowances_service = services.allowances

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        clock: Callable[[], datetime] = utc_now,
        group_commit: bool | None = None,
        **env: str,
    ) -> Self:
        return cls({**store_env(url), **env}, clock=clock, group_commit=group_commit)

    @property
    def committer(self) -> Committer | None:
        """The home shard's group-commit writer; None on the direct write path."""
        writer = self.writer
        return writer if isinstance(writer, Committer) else None

    @committer.setter
    def committer(self, committer: Committer) -> None:
        self.writer = committer

    # -- wallets -----------------------------------------------------------------------------

    def open_wallet(self, cmd: OpenWallet) -> Outcome:
        return self.wallets.open_wallet(cmd)

    def grant(self, cmd: GrantCredits) -> Outcome:
        return self.wallets.grant(cmd)

    def void_grant(self, cmd: VoidGrant) -> Outcome:
        return self.wallets.void_grant(cmd)

    def set_budget(self, cmd: SetBudget) -> Outcome:
        return self.wallets.set_budget(cmd)

    def remove_budget(self, cmd: RemoveBudget) -> Outcome:
        return self.wallets.remove_budget(cmd)

    def expire_due(self, wallet_id: str) -> int:
        return self.wallets.expire_due(wallet_id)

    def sweep(self) -> int:
        return self.wallets.sweep()

    def settle(self, future: Future[Outcome]) -> Outcome:
        return self.wallets.settle(future)

    # -- spending ----------------------------------------------------------------------------

    def debit(self, cmd: Debit) -> Outcome:
        return self.spending.debit(cmd)

    def debit_later(self, cmd: Debit, *, fence: Fence | None = None) -> Future[Outcome]:
        return self.spending.debit_later(cmd, fence=fence)

    def refund(self, cmd: Refund) -> Outcome:
        return self.spending.refund(cmd)

    def refund_later(self, cmd: Refund, *, fence: Fence | None = None) -> Future[Outcome]:
        return self.spending.refund_later(cmd, fence=fence)

    def debit_facts(self, wallet_id: str, debit_id: str) -> dict[str, Any]:
        return self.spending.debit_facts(wallet_id, debit_id)

    def place_hold(self, cmd: PlaceHold) -> Outcome:
        return self.spending.place_hold(cmd)

    def place_hold_later(self, cmd: PlaceHold, *, fence: Fence | None = None) -> Future[Outcome]:
        return self.spending.place_hold_later(cmd, fence=fence)

    def capture_hold(self, cmd: CaptureHold) -> Outcome:
        return self.spending.capture_hold(cmd)

    def capture_hold_later(
        self, cmd: CaptureHold, *, fence: Fence | None = None
    ) -> Future[Outcome]:
        return self.spending.capture_hold_later(cmd, fence=fence)

    def release_hold(self, cmd: ReleaseHold) -> Outcome:
        return self.spending.release_hold(cmd)

    def release_hold_later(
        self, cmd: ReleaseHold, *, fence: Fence | None = None
    ) -> Future[Outcome]:
        return self.spending.release_hold_later(cmd, fence=fence)

    # -- pricing and usage -------------------------------------------------------------------

    def put_price_book(self, cmd: PutPriceBook) -> Outcome:
        return self.pricing.put_price_book(cmd)

    def price_book(self, price_book_id: str, version: int | None = None) -> dict[str, Any]:
        return self.pricing.price_book(price_book_id, version)

    def ingest_usage(
        self, cmd: IngestUsage | Sequence[object], *, received_at: datetime | None = None
    ) -> Outcome:
        return self.usage.ingest_usage(cmd, received_at=received_at)

    # -- allowances --------------------------------------------------------------------------

    def set_allowance(self, cmd: SetAllowance) -> Outcome:
        return self.allowances_service.set_allowance(cmd)

    def remove_allowance(self, cmd: RemoveAllowance) -> Outcome:
        return self.allowances_service.remove_allowance(cmd)

    def allowances(self, wallet_id: str) -> list[dict[str, Any]]:
        return self.allowances_service.allowances(wallet_id)

    def allowance(self, wallet_id: str, allowance_id: str) -> dict[str, Any]:
        return self.allowances_service.allowance(wallet_id, allowance_id)

    # -- reads -------------------------------------------------------------------------------

    def wallet_at(self, wallet_id: str, as_of: datetime | None = None) -> tuple[Wallet, datetime]:
        return self.reads.wallet_at(wallet_id, as_of)

    def wallet(self, wallet_id: str, as_of: datetime | None = None) -> dict[str, Any]:
        return self.reads.wallet(wallet_id, as_of)

    def hold(self, wallet_id: str, hold_id: str) -> dict[str, Any]:
        return self.reads.hold(wallet_id, hold_id)

    def budgets(self, wallet_id: str) -> list[dict[str, Any]]:
        return self.reads.budgets(wallet_id)

    def budget(self, wallet_id: str, budget_id: str) -> dict[str, Any]:
        return self.reads.budget(wallet_id, budget_id)

    def wallet_events(
        self, wallet_id: str, after_version: int = 0, limit: int = 100
    ) -> dict[str, Any]:
        return self.reads.wallet_events(wallet_id, after_version, limit)
