"""Pages of the lists projection (:mod:`projections.lists`): wallets, debits, holds, items.

Every page holds at most ``limit`` rows and says where the next one starts (``next_after``,
None on the last page): one row more than ``limit`` is read to know whether there is a next
page. Wallets are paged by ``wallet_id``; the rest by log position (a wallet's debits and
holds oldest first, or newest first with ``descending``; items in the order they were
created). Each page comes from one read snapshot of the live generation.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from ledger.domain.validation import check_id, check_position, fail
from projections.catalog import LISTS
from projections.engine.reading import live, reading
from projections.engine.store import Tx, ViewStore
from projections.models.lists import ITEM_KINDS

__all__ = [
    "HOLD_STATUSES",
    "MAX_LIMIT",
    "Page",
    "check_limit",
    "debit_page",
    "find_debit",
    "hold_page",
    "item_page",
    "wallet_page",
]

MAX_LIMIT = 1000
HOLD_STATUSES = ("open", "captured", "released", "expired")

WALLETS = "SELECT wallet_id, customer_id, unit, created_at FROM {t} WHERE wallet_id > ?"
DEBIT_COLUMNS = (
    "debit_id, position, amount, refunded, subject, occurred_at, decided_at, rating,"
    " allocations, metadata, debt, uncollected"
)
DEBITS = f"SELECT {DEBIT_COLUMNS} FROM {{debits}} WHERE wallet_id = ?"  # noqa: S608 - constant identifiers; values are parameters
REFUNDS = (
    "SELECT refund_id, amount, allocations, reason, occurred_at, position FROM {refunds}"
    " WHERE wallet_id = ? AND debit_id = ? ORDER BY position"
)
HOLD_COLUMNS = (
    "hold_id, position, status, amount, allocations, subject, metadata, rating, placed_at,"
    " expires_at, closed_at, captured, released, overage"
)
HOLDS = f"SELECT {HOLD_COLUMNS} FROM {{holds}} WHERE wallet_id = ?"  # noqa: S608 - constant identifiers; values are parameters
# An open hold past its expiry is expired (as the point read says): it is only not yet
# recorded, which the next command on the wallet or the sweep does.
HOLD_STATUS_FILTER = {
    "open": " AND status = 'open' AND expires_at > ?",
    "expired": " AND (status = 'expired' OR (status = 'open' AND expires_at <= ?))",
    "captured": " AND status = 'captured'",
    "released": " AND status = 'released'",
}
ITEMS = "SELECT aggregate_id, position FROM {items} WHERE kind = ? AND active = 1"


@dataclass(frozen=True)
class Page:
    """Up to ``limit`` items and the cursor of the next page (None on the last)."""

    items: list[dict[str, Any]]
    next_after: Any


def check_limit(limit: int) -> int:
    """A page holds 1 to 1000 items."""
    if not 1 <= limit <= MAX_LIMIT:
        raise fail("limit", f"must be between 1 and {MAX_LIMIT}")
    return limit


def _cut(rows: list[dict[str, Any]], limit: int, key: str) -> Page:
    """The first ``limit`` rows (``limit + 1`` were read) and the next page's cursor."""
    if len(rows) <= limit:
        return Page(rows, None)
    return Page(rows[:limit], rows[limit - 1][key])


def _position_clause(after: int | None, descending: bool) -> tuple[str, list[Any], str]:
    if after is not None:
        check_position("after", after)
    order = " ORDER BY position DESC LIMIT ?" if descending else " ORDER BY position LIMIT ?"
    if after is None:
        return "", [], order
    return (" AND position < ?" if descending else " AND position > ?"), [after], order


def wallet_page(
    views: ViewStore,
    *,
    customer_id: str | None,
    allowed: Collection[str] | None,
    after: str | None,
    limit: int,
) -> Page:
    """Wallets by id after ``after``, of ``customer_id`` if given, and only of the customers
    in ``allowed`` unless it is None (a customer key's customers: others are not shown)."""
    check_limit(limit)
    if after is not None:
        check_id("after", after)
    if customer_id is not None:
        check_id("customer_id", customer_id)
    customers = None if allowed is None else sorted(allowed)
    if customers is not None and customer_id is not None:
        customers = [customer_id] if customer_id in customers else []
    elif customer_id is not None:
        customers = [customer_id]
    if customers == []:
        return Page([], None)

    def query(tx: Tx) -> list[tuple[Any, ...]]:
        sql, params = WALLETS, [after or ""]
        if customers is not None:
            sql += f" AND customer_id IN ({', '.join('?' for _ in customers)})"
            params += customers
        sql += " ORDER BY wallet_id LIMIT ?"
        return tx.all(tx.dialect.sql(sql, t=live(tx, LISTS).table()), [*params, limit + 1])

    from_db = views.dialect.from_db
    rows = [
        {"wallet_id": w, "customer_id": c, "unit": u, "created_at": from_db(at)}
        for w, c, u, at in reading(views, query)
    ]
    return _cut(rows, limit, "wallet_id")


def _debit(views: ViewStore, row: tuple[Any, ...]) -> dict[str, Any]:
    from_db = views.dialect.from_db
    (debit_id, position, amount, refunded, subject, occurred_at, decided_at, rating) = row[:8]
    allocations, metadata, debt, uncollected = row[8:]
    return {
        "debit_id": debit_id,
        "position": int(position),
        "amount": int(amount),
        "refunded": int(refunded),
        "subject": json.loads(subject),
        "occurred_at": from_db(occurred_at),
        "decided_at": from_db(decided_at),
        "rating": None if rating is None else json.loads(rating),
        "allocations": json.loads(allocations),
        "metadata": json.loads(metadata),
        "debt": int(debt),
        "uncollected": int(uncollected),
    }


def debit_page(
    views: ViewStore, wallet_id: str, *, after: int | None, limit: int, descending: bool = False
) -> Page:
    """A wallet's debits in log order (newest first with ``descending``) after ``after``."""
    check_limit(limit)
    clause, params, order = _position_clause(after, descending)

    def query(tx: Tx) -> list[tuple[Any, ...]]:
        sql = tx.dialect.sql(DEBITS + clause + order, debits=live(tx, LISTS).table("debits"))
        return tx.all(sql, [wallet_id, *params, limit + 1])

    return _cut([_debit(views, row) for row in reading(views, query)], limit, "position")


def find_debit(views: ViewStore, wallet_id: str, debit_id: str) -> dict[str, Any] | None:
    """One debit with its refunds (oldest first), or None if the view has not seen it."""

    def query(tx: Tx) -> tuple[tuple[Any, ...] | None, list[tuple[Any, ...]]]:
        view = live(tx, LISTS)
        names = {"debits": view.table("debits"), "refunds": view.table("refunds")}
        row = tx.one(tx.dialect.sql(DEBITS + " AND debit_id = ?", **names), (wallet_id, debit_id))
        if row is None:
            return None, []
        return row, tx.all(tx.dialect.sql(REFUNDS, **names), (wallet_id, debit_id))

    row, refunds = reading(views, query)
    if row is None:
        return None
    from_db = views.dialect.from_db
    debit = _debit(views, row)
    debit["refunds"] = [
        {
            "refund_id": refund_id,
            "amount": int(amount),
            "allocations": json.loads(allocations),
            "reason": reason,
            "occurred_at": from_db(occurred_at),
            "position": int(position),
        }
        for refund_id, amount, allocations, reason, occurred_at, position in refunds
    ]
    return debit


def _hold(views: ViewStore, row: tuple[Any, ...], now: datetime) -> dict[str, Any]:
    from_db = views.dialect.from_db
    (hold_id, position, status, amount, allocations, subject, metadata, rating) = row[:8]
    placed_at, expires_at, closed_at, captured, released, overage = row[8:]
    hold: dict[str, Any] = {
        "hold_id": hold_id,
        "position": int(position),
        "status": status,
        "amount": int(amount),
        "allocations": json.loads(allocations),
        "subject": json.loads(subject),
        "metadata": json.loads(metadata),
        "rating": None if rating is None else json.loads(rating),
        "placed_at": from_db(placed_at),
        "expires_at": from_db(expires_at),
    }
    if status == "open" and hold["expires_at"] <= now:
        # What the point read reports, and what the sweep will record (dated at expiry).
        closed_at, captured, released, overage = expires_at, 0, amount, 0
        hold["status"] = "expired"
    if hold["status"] != "open":
        hold.update(
            closed_at=from_db(closed_at),
            captured=int(captured),
            released=int(released),
            overage=int(overage),
        )
    return hold


def hold_page(
    views: ViewStore,
    wallet_id: str,
    *,
    status: str | None,
    now: datetime,
    after: int | None,
    limit: int,
    descending: bool = False,
) -> Page:
    """A wallet's holds in the order they were placed, of ``status`` if given, as of ``now``
    (an open hold past its expiry counts as expired)."""
    check_limit(limit)
    if status is not None and status not in HOLD_STATUSES:
        raise fail("status", f"must be one of {', '.join(HOLD_STATUSES)}")
    clause, params, order = _position_clause(after, descending)

    def query(tx: Tx) -> list[tuple[Any, ...]]:
        sql, values = HOLDS, [wallet_id]
        if status is not None:
            sql += HOLD_STATUS_FILTER[status]
            values += [tx.dialect.to_db(now)] if "?" in HOLD_STATUS_FILTER[status] else []
        sql = tx.dialect.sql(sql + clause + order, holds=live(tx, LISTS).table("holds"))
        return tx.all(sql, [*values, *params, limit + 1])

    rows = [_hold(views, row, now) for row in reading(views, query)]
    return _cut(rows, limit, "position")


def item_page(views: ViewStore, kind: str, *, after: int, limit: int) -> tuple[list[UUID], Any]:
    """Ids of the aggregates of ``kind`` (``api_key``, ``webhook``, ``meter``,
    ``price_book``) in the order they were created, after position ``after``, and the next
    page's cursor (None on the last page). Deleted webhooks are left out."""
    if kind not in ITEM_KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    check_limit(limit)
    check_position("after", after)

    def query(tx: Tx) -> list[tuple[Any, ...]]:
        sql = ITEMS + " AND position > ? ORDER BY position LIMIT ?"
        sql = tx.dialect.sql(sql, items=live(tx, LISTS).table("items"))
        return tx.all(sql, [kind, after, limit + 1])

    rows = [{"id": UUID(str(i)), "position": int(p)} for i, p in reading(views, query)]
    page = _cut(rows, limit, "position")
    return [row["id"] for row in page.items], page.next_after
