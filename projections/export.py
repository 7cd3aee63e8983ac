"""CSV exports: the journal streamed in chunks of text (never the whole journal in memory),
and a wallet's usage series (small: one row per window and group) in one piece.

Rows are read in keyset pages (``(position, leg) > last seen``), each page in its own short
read snapshot, so a long download holds no transaction open. The journal only grows at
positions above the projection's position, and a rebuilt generation holds the same rows at
the same keys, so paging by key neither skips nor repeats a row even across a rebuild.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from projections.catalog import JOURNAL
from projections.engine.reading import journal_filter, live, reading
from projections.engine.store import Tx, ViewStore
from projections.models.journal import SELECT_COLUMNS

__all__ = ["CSV_COLUMNS", "journal_csv", "usage_csv"]

CSV_COLUMNS = (
    "position",
    "transaction_id",
    "wallet_id",
    "account",
    "debit",
    "credit",
    "unit",
    "occurred_at",
    "recorded_at",
    "event_wallet_id",
    "event_version",
    "event_type",
    "idempotency_key",
)
CHUNK_ROWS = 1000
_LAST_LEG = 2**31 - 1  # (after, _LAST_LEG) as the first key means "position > after"
PAGE = (
    f"SELECT {SELECT_COLUMNS} FROM {{journal}} WHERE (position, leg) > (?, ?){{filters}}"  # noqa: S608 - constant identifiers; values are parameters
    " ORDER BY position, leg LIMIT ?"
)
# Spreadsheets run a cell starting with these as a formula. Only idempotency keys and subject
# values are free text (ids and accounts are limited to A-Z a-z 0-9 . _ : -), so only they
# are defused.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _text(value: object) -> str:
    """A free-text cell: empty for None, quoted (``'``) where a spreadsheet sees a formula."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_row(tx: Tx, row: tuple[Any, ...]) -> list[Any]:
    (position, _leg, transaction_id, wallet_id, account, debit, credit, unit) = row[:8]
    occurred_at, recorded_at, version, event_type, key = row[8:]
    return [
        position,
        transaction_id,
        wallet_id,
        account,
        debit,
        credit,
        unit,
        _instant(tx.dialect.from_db(occurred_at)),
        _instant(tx.dialect.from_db(recorded_at)),
        wallet_id,
        version,
        event_type,
        _text(key),
    ]


def journal_csv(
    views: ViewStore,
    *,
    wallet_id: str | None = None,
    account: str | None = None,
    from_: datetime | None = None,
    to: datetime | None = None,
    after: int = 0,
    after_leg: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[str]:
    """The journal rows matching the filters as CSV text: a header, then one chunk per page.

    Filters mean what they mean for :func:`projections.queries.journal`; rows come in
    journal order from position ``after`` (exclusive; with ``after_leg``, from that leg of
    it, exclusive) to the end the view has reached.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be positive")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    key = (after, _LAST_LEG if after_leg is None else after_leg)
    while True:

        def page(tx: Tx, key: tuple[int, int] = key) -> list[list[Any]]:
            filters, params = journal_filter(
                tx, wallet_id=wallet_id, account=account, from_=from_, to=to
            )
            sql = tx.dialect.sql(
                PAGE.replace("{filters}", filters), journal=live(tx, JOURNAL).table()
            )
            rows = tx.all(sql, [*key, *params, chunk_rows])
            return [[*row[:2], *_csv_row(tx, row)] for row in rows]

        rows = reading(views, page)
        if not rows:
            return
        writer.writerows(row[2:] for row in rows)
        yield flush()
        if len(rows) < chunk_rows:
            return
        key = (int(rows[-1][0]), int(rows[-1][1]))


def usage_csv(series: list[dict[str, Any]], group_by: list[str]) -> str:
    """A usage series (``projections.queries.usage_series``) as CSV: a header row
    (``window_start``, each ``group_by`` key, ``debited``, ``count``), then a row per window
    and group in the series' order; a key the subject lacked is an empty cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["window_start", *group_by, "debited", "count"])
    for point in series:
        groups = [_text(point["group"].get(key)) for key in group_by]
        writer.writerow(
            [_instant(point["window_start"]), *groups, point["debited"], point["count"]]
        )
    return buffer.getvalue()
