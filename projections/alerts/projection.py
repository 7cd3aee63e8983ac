"""The alerts projection: turns the log into alerts in the outbox (``projections.alerts.outbox``).

Its own tables (per generation) hold what deciding an alert needs, from the log alone:

* ``alerts_g<N>``: per wallet its ``available`` credits (net of postings on its accounts
  other than ``holds``, so debt counts against it; a grant not yet effective counts from
  its grant), its alert settings and whether it is below its low-balance threshold;
* ``alerts_hooks_g<N>``: every webhook's definition (the delivery worker signs with it);
* ``alerts_budgets_g<N>`` / ``alerts_periods_g<N>``: budget limits and thresholds, and
  charged spend per period (the rules of ``projections.models.budgets``: holds do not count);
* ``alerts_grants_g<N>``: grants with an expiry, their remaining credits and when their
  ``grant.expiring`` alert is due (the delivery worker scans it: that alert is time-based).

Alert ids are stable, so a replay or rebuild finds them in the outbox and sends nothing:
``budget.threshold_crossed:<wallet>:<budget>:<period_start>:<threshold>`` (once per
threshold per period), ``wallet.balance_low:<wallet>:<position>`` (when ``available``
falls below the threshold; re-armed once it is back at or above it),
``hold.expired:<wallet>:<hold>``, ``grant.expiring:<wallet>:<grant>:<expires_at>``.
Each alert is queued for the webhooks subscribed to its type at that point of the log.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.alerts.settings import DEFAULT_GRANT_EXPIRING_LEAD_SECONDS, AlertSettingsSet
from ledger.alerts.webhooks import WebhookEvent
from ledger.domain.events import (
    BudgetRemoved,
    BudgetSet,
    CreditsDebited,
    CreditsGranted,
    DebitRefunded,
    GrantExpired,
    GrantVoided,
    HoldCaptured,
    HoldExpired,
)
from projections.alerts.outbox import FIXED_TABLES, create_outbox, emit
from projections.alerts.sql import DDL, SQL, grant_alert_id, grant_of, iso, threshold_text
from projections.engine.base import Change, Projection
from projections.engine.store import Tx

__all__ = ["AlertsProjection", "expiring_alert_at"]


def expiring_alert_at(expires_at: datetime, lead_seconds: int, *not_before: datetime) -> datetime:
    """When a grant's ``grant.expiring`` alert is due, and the time it is dated at: the lead
    before expiry, but never before the grant existed (``not_before``: when it was granted
    and became effective). A grant made inside its own lead window is announced as made."""
    return max(expires_at - timedelta(seconds=lead_seconds), *not_before)


class _Writer:
    """One batch: wallets are read once and written back at the end; the rest goes through."""

    def __init__(self, projection: AlertsProjection, tx: Tx, generation: int) -> None:
        self.tx = tx
        self.sql = {
            name: projection.sql(tx, template, generation) for name, template in SQL.items()
        }
        self.wallets: dict[str, list[Any]] = {}
        self.hooks: dict[str, list[str]] | None = None
        self.grant_moves: dict[tuple[str, str], int] = {}
        self.read: set[str] = set()
        self.stored: dict[str, tuple[Any, ...]] = {}
        self.grants: set[tuple[str, str]] = set()

    def read_ahead(self, wallet_ids: set[str]) -> None:
        """Read the batch's wallets, and which of their grants expire, with one statement
        each instead of one lookup per wallet (and one update per grant a debit moves,
        though only grants with an expiry have a row to move)."""
        ids = sorted(wallet_ids)
        self.stored = {row[0]: row[1:] for row in self.tx.all_in(self.sql["wallets"], ids)}
        self.grants = {(w, g) for w, g in self.tx.all_in(self.sql["grants_in"], ids)}
        self.read = set(ids)

    def wallet(self, wallet_id: str) -> list[Any]:
        state = self.wallets.get(wallet_id)
        if state is None:
            if wallet_id in self.read:
                row = self.stored.get(wallet_id)
            else:
                row = self.tx.one(self.sql["wallet"], (wallet_id,))
            state = list(row) if row else [0, None, DEFAULT_GRANT_EXPIRING_LEAD_SECONDS, 0]
            self.wallets[wallet_id] = state
        return state

    def has_row(self, wallet_id: str, grant_id: str) -> bool:
        """Might grant ``grant_id`` have a row to move (an expiry)? Known for wallets read
        ahead; assumed for any other."""
        return wallet_id not in self.read or (wallet_id, grant_id) in self.grants

    def subscribers(self, alert_type: str) -> list[str]:
        if self.hooks is None:
            self.hooks = {
                hook: json.loads(events) for hook, events in self.tx.all(self.sql["hooks"])
            }
        return [hook for hook, events in self.hooks.items() if alert_type in events]

    def emit(
        self, alert_id: str, alert_type: str, wallet_id: str, at: datetime, **data: Any
    ) -> None:
        emit(
            self.tx,
            alert_id=alert_id,
            alert_type=alert_type,
            wallet_id=wallet_id,
            occurred_at=at,
            data={"wallet_id": wallet_id, **data},
            webhooks=self.subscribers(alert_type),
        )

    # -- other aggregates ----------------------------------------------------------------

    def other(self, position: int, event: Any) -> None:
        if isinstance(event, WebhookEvent):
            self.tx.execute(
                self.sql["save_hook"],
                (
                    event.webhook_id,
                    event.url,
                    event.secret,
                    json.dumps(event.events),
                    int(event.active),
                ),
            )
            self.hooks = None
        elif isinstance(event, AlertSettingsSet):
            state = self.wallet(event.wallet_id)
            lead_changed = state[2] != event.grant_expiring_lead_seconds
            state[1], state[2] = event.balance_low_threshold, event.grant_expiring_lead_seconds
            self.check_low(event.wallet_id, position, event.occurred_at)
            if lead_changed:
                self.reschedule_grants(event.wallet_id, state[2], event.occurred_at)

    def reschedule_grants(self, wallet_id: str, lead: int, at: datetime) -> None:
        """A new lead moves each grant's alert, never to before the change (``at``, itself
        after every grant it moves), which the alert would otherwise be dated at."""
        from_db, to_db = self.tx.dialect.from_db, self.tx.dialect.to_db
        rows = self.tx.all(self.sql["grants_of"], (wallet_id,))
        self.tx.executemany(
            self.sql["due_at"],
            [
                (to_db(expiring_alert_at(from_db(expires), lead, at)), wallet_id, grant_id)
                for grant_id, expires in rows
            ],
        )

    # -- wallet events -------------------------------------------------------------------

    def change(self, change: Change) -> None:
        event, wallet_id, to_db = change.event, change.wallet_id, self.tx.dialect.to_db
        if isinstance(event, CreditsGranted) and event.expires_at is not None:
            lead = self.wallet(wallet_id)[2]
            self.grants.add((wallet_id, event.grant_id))
            self.tx.execute(
                self.sql["add_grant"],
                (
                    wallet_id,
                    event.grant_id,
                    to_db(event.expires_at),
                    to_db(
                        expiring_alert_at(
                            event.expires_at, lead, event.occurred_at, event.effective_at
                        )
                    ),
                    grant_alert_id(wallet_id, event.grant_id, event.expires_at),
                ),
            )
        elif isinstance(event, GrantExpired | GrantVoided):
            self.tx.execute(self.sql["end_grant"], (wallet_id, event.grant_id))
            self.grant_moves.pop((wallet_id, event.grant_id), None)
            self.grants.discard((wallet_id, event.grant_id))
        elif isinstance(event, HoldExpired):
            released = sum(int(a["amount"]) for a in event.released_allocations)
            self.emit(
                f"hold.expired:{wallet_id}:{event.hold_id}",
                "hold.expired",
                wallet_id,
                event.occurred_at,
                hold_id=event.hold_id,
                released=released,
                expired_at=iso(event.occurred_at),
            )
        self.budgets(change)
        if event.postings:
            self.post(change)

    def post(self, change: Change) -> None:
        wallet_id, state = change.wallet_id, self.wallet(change.wallet_id)
        for posting in change.event.postings:
            amount = int(posting["amount"])
            for account, sign in ((posting["credit"], 1), (posting["debit"], -1)):
                if not account.startswith("wallet:") or account.endswith(":holds"):
                    continue
                state[0] += sign * amount
                grant_id = grant_of(account)
                if grant_id is not None:
                    key = (wallet_id, grant_id)
                    self.grant_moves[key] = self.grant_moves.get(key, 0) + sign * amount
        self.check_low(wallet_id, change.position, change.event.occurred_at)

    def check_low(self, wallet_id: str, position: int, at: datetime) -> None:
        state = self.wallet(wallet_id)
        available, threshold, _, below = state
        if threshold is None or available >= threshold:
            state[3] = 0
        elif not below:
            state[3] = 1
            self.emit(
                f"wallet.balance_low:{wallet_id}:{position}",
                "wallet.balance_low",
                wallet_id,
                at,
                available=available,
                threshold=threshold,
            )

    def budgets(self, change: Change) -> None:
        event, wallet_id = change.event, change.wallet_id
        if isinstance(event, BudgetSet):
            self.tx.execute(
                self.sql["save_budget"],
                (
                    wallet_id,
                    event.budget_id,
                    event.limit,
                    json.dumps(event.alert_thresholds_bps),
                    0,
                ),
            )
            self.spend(change, event.budget_id, event.period_start, event.spent, absolute=True)
        elif isinstance(event, BudgetRemoved):
            found = self.tx.one(self.sql["budget"], (wallet_id, event.budget_id))
            if found is not None:
                self.tx.execute(
                    self.sql["save_budget"], (wallet_id, event.budget_id, found[0], found[1], 1)
                )
        elif isinstance(event, CreditsDebited | HoldCaptured):
            for charge in event.budget_charges:
                self.spend(change, charge["budget_id"], charge["period_start"], charge["amount"])
        elif isinstance(event, DebitRefunded):
            for release in event.budget_releases:
                self.spend(
                    change, release["budget_id"], release["period_start"], -release["amount"]
                )

    def spend(
        self,
        change: Change,
        budget_id: str,
        start: datetime,
        amount: int,
        *,
        absolute: bool = False,
    ) -> None:
        wallet_id, to_db = change.wallet_id, self.tx.dialect.to_db
        key = (wallet_id, budget_id, to_db(start.astimezone(UTC)))
        row = self.tx.one(self.sql["period"], key)
        before = 0 if row is None else int(row[0])
        spent = int(amount) if absolute else max(0, before + int(amount))
        self.tx.execute(self.sql["save_period"], (*key, spent))
        budget = self.tx.one(self.sql["budget"], (wallet_id, budget_id))
        if budget is None or budget[2] or (spent <= before and not absolute):
            return
        limit = int(budget[0])
        for bps in json.loads(budget[1]):
            # Integers only: spent / limit >= bps / 10000, crossed by this change (a BudgetSet
            # counts as crossing every threshold already reached: the id keeps it to once).
            reached = spent * 10_000 >= bps * limit
            was = before * 10_000 >= bps * limit and not absolute
            if reached and not was:
                self.emit(
                    f"budget.threshold_crossed:{wallet_id}:{budget_id}:{iso(start)}:"
                    f"{threshold_text(bps)}",
                    "budget.threshold_crossed",
                    wallet_id,
                    change.event.occurred_at,
                    budget_id=budget_id,
                    threshold=bps / 10_000,
                    spent=spent,
                    limit=limit,
                    period_start=iso(start),
                )

    def finish(self) -> None:
        self.tx.insert_many(  # one row per wallet
            self.sql["save_wallet"], [(w, *state) for w, state in sorted(self.wallets.items())]
        )
        self.tx.executemany(
            self.sql["move_grant"],
            [
                (delta, w, g)
                for (w, g), delta in sorted(self.grant_moves.items())
                if delta and self.has_row(w, g)
            ],
        )


class AlertsProjection(Projection):
    """Alerts into the outbox, from wallet events and the alert configuration's events."""

    name = "alerts"
    parts = ("", "hooks", "budgets", "periods", "grants")
    indexes = ("due",)
    ddl = DDL
    reads_others = True

    def names(self, generation: int) -> dict[str, str]:
        return {**super().names(generation), **FIXED_TABLES}

    def create(self, tx: Tx, generation: int) -> None:
        super().create(tx, generation)
        create_outbox(tx)

    def apply(self, tx: Tx, generation: int, changes: Sequence[Change]) -> None:
        self.apply_with_others(tx, generation, changes, ())

    def apply_with_others(
        self, tx: Tx, generation: int, changes: Sequence[Change], others: Sequence[Any]
    ) -> None:
        writer = _Writer(self, tx, generation)
        writer.read_ahead(
            {c.wallet_id for c in changes}
            | {o.event.wallet_id for o in others if isinstance(o.event, AlertSettingsSet)}
        )
        merged: list[tuple[int, Any]] = [(c.position, c) for c in changes]
        merged.extend((o.position, o) for o in others)
        for _, item in sorted(merged, key=lambda pair: pair[0]):
            if isinstance(item, Change):
                writer.change(item)
            else:
                writer.other(item.position, item.event)
        writer.finish()

    def dump(self, tx: Tx, generation: int) -> dict[str, dict[Any, Any]]:
        # Not reconciled: the outbox is checked by its own tests (stable ids, no duplicates).
        del tx, generation
        return {}
