"""Point reads of the ledger: wallets (now or as of a past time), holds, budgets, events.

Reads never save: a wallet is advanced to the read time on a copy, so a grant that expired
at T is never counted at T even before its expiry event has been recorded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.app.application import LedgerApplication
from ledger.domain.errors import BudgetNotFound, HoldNotFound
from ledger.domain.events import event_type
from ledger.domain.ids import hold_record_id, wallet_uuid
from ledger.domain.records import HoldRecord
from ledger.domain.validation import check_aware, check_position, fail
from ledger.domain.wallet import AdvanceLimitReached, Wallet

__all__ = ["Reads"]

MAX_EVENTS_PAGE = 1000
MAX_READ_STEPS = 1000
"""Expiries and allowance periods a wallet read may apply on its way to an ``as_of`` the caller
chose: an hourly allowance read a century ahead is ~876,000 periods, each checked against every
grant. A read of now has no such bound: what is due by now is what a write would record at
once, and the sweeper keeps it to the time since its last round."""
_ENVELOPE = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})


class Reads:
    """Reads of one wallet, each from the shard that holds it."""

    def __init__(self, home: LedgerApplication) -> None:
        self._home = home

    def wallet_at(self, wallet_id: str, as_of: datetime | None = None) -> tuple[Wallet, datetime]:
        """The wallet now (cached, fast-forwarded) or as of a past time, and that time.

        The expiries due by then are applied to this copy (never saved). A future ``as_of``
        answers what the wallet will hold then if nothing else happens. Only a chosen
        ``as_of`` is held to ``MAX_READ_STEPS``: a read of now names no time to fix, and
        refusing it would leave a wallet idle since its last sweep unreadable.
        """
        shard = self._home.shard_for(wallet_id)
        now = shard.now()
        at = now if as_of is None else check_aware("as_of", as_of)
        wallet = shard.load_wallet(wallet_id) if at >= now else shard.wallet_as_of(wallet_id, at)
        try:
            wallet.advance(at, max_steps=None if as_of is None else MAX_READ_STEPS)
        except AdvanceLimitReached:
            raise fail(
                "as_of",
                f"more than {MAX_READ_STEPS} expiries and allowance periods fall due by then;"
                " ask for an earlier time",
            ) from None
        return wallet, at

    def wallet(self, wallet_id: str, as_of: datetime | None = None) -> dict[str, Any]:
        wallet, at = self.wallet_at(wallet_id, as_of)
        stored_version = wallet.version - len(wallet.pending_events)
        return {**wallet.view(at), "version": stored_version, "as_of": at}

    def hold(self, wallet_id: str, hold_id: str) -> dict[str, Any]:
        wallet, _ = self.wallet_at(wallet_id)
        if hold_id in wallet.holds:
            return wallet.hold_view(wallet.holds[hold_id])
        shard = self._home.shard_for(wallet_id)
        record: HoldRecord | None = shard.find(hold_record_id(wallet_id, hold_id))
        if record is None:
            raise HoldNotFound(hold_id)
        if record.status == "open":
            # Expired by now but not yet recorded: report what the sweep will record.
            return {
                **record.view,
                "status": "expired",
                "closed_at": record.view["expires_at"],
                "captured": 0,
                "released": record.view["amount"],
                "overage": 0,
            }
        return dict(record.view)

    def budgets(self, wallet_id: str) -> list[dict[str, Any]]:
        wallet, at = self.wallet_at(wallet_id)
        return wallet.budget_views(at)

    def budget(self, wallet_id: str, budget_id: str) -> dict[str, Any]:
        for view in self.budgets(wallet_id):
            if view["budget_id"] == budget_id:
                return view
        raise BudgetNotFound(budget_id)

    def wallet_events(
        self, wallet_id: str, after_version: int = 0, limit: int = 100
    ) -> dict[str, Any]:
        if not 1 <= limit <= MAX_EVENTS_PAGE:
            raise fail("limit", f"must be between 1 and {MAX_EVENTS_PAGE}")
        check_position("after_version", after_version)
        shard = self._home.shard_for(wallet_id)
        shard.load_wallet(wallet_id)
        events: list[Any] = list(
            shard.events.get(wallet_uuid(wallet_id), gt=after_version, limit=limit)
        )
        rows = [
            {
                "version": e.originator_version,
                "type": event_type(e),
                "occurred_at": getattr(e, "occurred_at", e.timestamp),
                "recorded_at": e.timestamp,
                "data": {k: v for k, v in vars(e).items() if k not in _ENVELOPE},
            }
            for e in events
        ]
        next_after = rows[-1]["version"] if rows else after_version
        return {"events": rows, "next_after_version": next_after}
