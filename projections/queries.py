"""Audit and dashboard reads answered from the views instead of by scanning the log.

``journal``, ``trial_balance`` and ``usage_series`` take the same keyword parameters and
return the same shapes as their namesakes in :mod:`ledger.app.audit`; only the first argument
differs (the :class:`~projections.engine.store.ViewStore` instead of the ledger application).
Each answer comes from one read snapshot, so it describes one prefix of the log: the
position the projection had reached (see ``wait_for`` for read-your-writes).

Deliberate differences from the log scan:

* ``usage_series`` requires ``from_``/``to`` on UTC hour boundaries (the view's grain)
  and returns an empty series for a wallet it has never seen, rather than raising
  ``WalletNotFound`` (the API checks the wallet anyway, to authorise the caller).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.app.audit import (
    MAX_LEG,
    check_after_leg,
    check_page_limit,
    check_usage_query,
    journal_cut,
)
from ledger.domain.validation import check_position, check_time_range, fail
from projections.budget_queries import budget_status
from projections.catalog import BALANCES, JOURNAL, UNCOLLECTED, USAGE
from projections.engine.dialect import day_start, hour_start
from projections.engine.reading import Live, journal_filter, live, reading
from projections.engine.store import Tx, ViewStore
from projections.export import journal_csv
from projections.models.journal import SELECT_COLUMNS, decode_row
from projections.models.usage import ABSENT

__all__ = [
    "account_balance",
    "budget_status",
    "journal",
    "journal_csv",
    "trial_balance",
    "usage_series",
]

# Balances as of T (see projections.models.balances): whole days before T's day from the daily
# movements, T's own day from the journal's legs, cut at the balances' position.
AS_OF_SPLIT = (
    "SELECT account, SUM(debit), SUM(credit) FROM ("
    "SELECT account, unit, debit, credit FROM {days} WHERE day < ?"
    " UNION ALL SELECT account, unit, debit, credit FROM {journal}"
    " WHERE occurred_at >= ? AND occurred_at <= ? AND {applied}) moves"
    " WHERE 1 = 1{filters} GROUP BY account"
)
# The journal alone, for when it lags the balances (e.g. just after a switch).
AS_OF_JOURNAL = (
    "SELECT account, SUM(debit), SUM(credit) FROM {journal}"
    " WHERE occurred_at <= ?{filters} GROUP BY account"
)
TOTALS = "SELECT account, debit_total, credit_total FROM {balances} WHERE 1 = 1{filters}"
LATEST = "SELECT MAX(last_occurred_at) FROM {balances}"
ACCOUNT = "SELECT unit, debit_total, credit_total FROM {balances} WHERE account = ?"
USAGE_SERIES = (
    "SELECT {window}{groups}, SUM(debited), SUM(debit_count) FROM {usage}"
    " WHERE wallet_id = ?{filters} GROUP BY {positions}"
)
UNCOLLECTED_SERIES = (
    "SELECT {window}{groups}, SUM(uncollected), SUM(events) FROM {usage}"
    " WHERE wallet_id = ?{filters} GROUP BY {positions}"
)
JOURNAL_PAGE = (
    f"SELECT {SELECT_COLUMNS} FROM {{journal}} WHERE (position, leg) > (?, ?){{filters}}"  # noqa: S608 - constant identifiers; values are parameters
    " ORDER BY position, leg LIMIT ?"
)


def journal(
    views: ViewStore,
    *,
    wallet_id: str | None = None,
    account: str | None = None,
    from_: datetime | None = None,
    to: datetime | None = None,
    after: int = 0,
    after_leg: int | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """A page of journal rows, as :func:`ledger.app.audit.journal` returns it.

    At most ``limit`` rows after the cursor ``(after, after_leg)``, whole events while they fit
    (``ledger.audit.journal_cut``). ``next_after`` is the page's last position, or, on a short
    (last) page, the last wallet event the view has applied, as the log scan reports the last
    event it looked at; ``next_after_leg`` is set when the page ends inside an event.
    """
    check_page_limit(limit)
    check_position("after", after)
    check_after_leg(after, after_leg)
    check_time_range(from_, to)

    def query(tx: Tx) -> dict[str, Any]:
        view = live(tx, JOURNAL)
        filters, params = journal_filter(
            tx, wallet_id=wallet_id, account=account, from_=from_, to=to
        )
        leg = MAX_LEG + 1 if after_leg is None else after_leg  # MAX_LEG + 1: the whole event
        sql = tx.dialect.sql(JOURNAL_PAGE.replace("{filters}", filters), journal=view.table())
        rows = tx.all(sql, [after, leg, *params, limit + 1])
        count, stop_leg = journal_cut([(int(r[0]), int(r[1])) for r in rows], limit)
        page = rows[:count]
        next_after = int(page[-1][0]) if len(rows) > limit else max(after, view.last_event)
        return {
            "entries": [decode_row(tx.dialect, row) for row in page],
            "next_after": next_after,
            "next_after_leg": stop_leg,
        }

    return reading(views, query)


def _as_of_totals(
    tx: Tx, as_of: datetime, filters: str, params: list[Any]
) -> list[tuple[Any, ...]]:
    """(account, debit, credit) over postings dated at or before ``as_of``."""
    balances, journal_view = live(tx, BALANCES), live(tx, JOURNAL)
    names = {
        "balances": balances.table(),
        "days": balances.table("days"),
        "journal": journal_view.table(),
    }
    to_db = tx.dialect.to_db
    latest = tx.one(tx.dialect.sql(LATEST, **names))
    if latest is None or latest[0] is None or as_of >= tx.dialect.from_db(latest[0]):
        return tx.all(tx.dialect.sql(TOTALS.replace("{filters}", filters), **names), params)
    if journal_view.covers(balances):
        day = day_start(as_of)
        applied, cut = balances.applied()
        template = AS_OF_SPLIT.replace("{filters}", filters).replace("{applied}", applied)
        sql = tx.dialect.sql(template, **names)
        return tx.all(sql, [to_db(day), to_db(day), to_db(as_of), *cut, *params])
    sql = tx.dialect.sql(AS_OF_JOURNAL.replace("{filters}", filters), **names)
    return tx.all(sql, [to_db(as_of), *params])


def trial_balance(views: ViewStore, *, as_of: datetime, unit: str | None = None) -> dict[str, Any]:
    """Debit and credit totals per account over postings dated at or before ``as_of``."""
    filters, params = (" AND unit = ?", [unit]) if unit is not None else ("", [])
    rows = reading(views, lambda tx: _as_of_totals(tx, as_of, filters, params))
    accounts = [
        {
            "account": account,
            "debit_total": int(d),
            "credit_total": int(c),
            "balance": int(d) - int(c),
        }
        for account, d, c in sorted(rows)
    ]
    debit_total = sum(a["debit_total"] for a in accounts)
    credit_total = sum(a["credit_total"] for a in accounts)
    return {
        "as_of": as_of,
        "unit": unit,
        "accounts": accounts,
        "debit_total": debit_total,
        "credit_total": credit_total,
        "balanced": debit_total == credit_total,
    }


def account_balance(
    views: ViewStore, account: str, as_of: datetime | None = None
) -> dict[str, Any]:
    """One account's totals now (``as_of`` None) or over postings dated at or before ``as_of``."""

    def query(tx: Tx) -> tuple[str | None, list[tuple[Any, ...]]]:
        names = {"balances": live(tx, BALANCES).table()}
        row = tx.one(tx.dialect.sql(ACCOUNT, **names), (account,))
        if row is None:
            return None, []
        if as_of is None:
            return row[0], [(account, row[1], row[2])]
        return row[0], _as_of_totals(tx, as_of, " AND account = ?", [account])

    unit, rows = reading(views, query)
    debit_total = sum(int(d) for _, d, _ in rows)
    credit_total = sum(int(c) for _, _, c in rows)
    return {
        "account": account,
        "unit": unit,
        "as_of": as_of,
        "debit_total": debit_total,
        "credit_total": credit_total,
        "balance": debit_total - credit_total,
    }


def _check_usage_bounds(from_: datetime | None, to: datetime | None) -> None:
    for field, bound in (("from", from_), ("to", to)):
        if bound is not None and bound != hour_start(bound):
            raise fail(field, "must be on a UTC hour boundary (usage is kept per hour)")


def usage_series(
    views: ViewStore,
    *,
    wallet_id: str,
    from_: datetime | None,
    to: datetime | None,
    window: str,
    group_by: list[str],
) -> dict[str, Any]:
    """Credits debited and their count per window and subject group (``ledger.audit``), and
    the credits of billed usage not collected (``uncollected``, from its own view)."""
    check_usage_query(window, group_by)
    check_time_range(from_, to)
    _check_usage_bounds(from_, to)

    def select(tx: Tx, template: str, view: Live) -> list[tuple[Any, ...]]:
        filters, params = "", [wallet_id]
        if from_ is not None:
            filters, params = filters + " AND hour >= ?", [*params, tx.dialect.to_db(from_)]
        if to is not None:
            filters, params = filters + " AND hour < ?", [*params, tx.dialect.to_db(to)]
        # group_by holds only validated subject keys, which are the column names.
        sql = template.replace("{window}", tx.dialect.window_start(window, "hour"))
        sql = sql.replace("{groups}", "".join(f", {key}" for key in group_by))
        sql = sql.replace("{filters}", filters)
        sql = sql.replace("{positions}", ", ".join(str(i + 1) for i in range(len(group_by) + 1)))
        return tx.all(tx.dialect.sql(sql, usage=view.table()), params)

    def query(tx: Tx) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        return (
            select(tx, USAGE_SERIES, live(tx, USAGE)),
            select(tx, UNCOLLECTED_SERIES, live(tx, UNCOLLECTED)),
        )

    debited_rows, uncollected_rows = reading(views, query)
    cells: dict[tuple[datetime, tuple[str | None, ...]], list[int]] = {}
    for rows, first in ((debited_rows, 0), (uncollected_rows, 2)):
        for row in rows:
            group = tuple(None if value == ABSENT else value for value in row[1:-2])
            cell = cells.setdefault((views.dialect.from_db(row[0]), group), [0, 0, 0])
            cell[first] += int(row[-2])
            if first == 0:
                cell[1] += int(row[-1])
    # The log scan's order: window start, then the group tuple's text.
    series = [
        {
            "window_start": start,
            "group": dict(zip(group_by, group, strict=True)),
            "debited": debited,
            "count": count,
            "uncollected": uncollected,
        }
        for (start, group), (debited, count, uncollected) in sorted(
            cells.items(), key=lambda item: (item[0][0], str(item[0][1]))
        )
    ]
    return {"series": series}
