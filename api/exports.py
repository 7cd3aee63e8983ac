"""The journal as CSV, produced in chunks so an export of any size streams in bounded memory.

Columns are the JSON entry's fields with the nested ``event`` flattened to ``event_wallet_id``,
``event_version`` and ``event_type`` (the same columns as ``projections.export``). Times are UTC
with ``Z``; a missing idempotency key is an empty cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from ledger.application import CreditLedgerBase
from ledger.audit import journal

__all__ = ["CHUNK_ROWS", "CSV_COLUMNS", "CSV_MEDIA_TYPE", "csv_row", "journal_csv"]

CSV_MEDIA_TYPE = "text/csv"
"""litestar adds ``; charset=utf-8`` to text media types itself."""
CHUNK_ROWS = 1000
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
# Spreadsheets run a cell starting with these as a formula. Only idempotency keys are free
# text (ids and accounts are limited to A-Z a-z 0-9 . _ : -), so only they are defused.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def csv_row(entry: Mapping[str, Any]) -> list[Any]:
    """One journal entry (as ``ledger.audit.journal`` returns it) as a CSV row."""
    key = entry["idempotency_key"]
    if key is not None and str(key).startswith(_FORMULA_START):
        key = "'" + str(key)
    event = entry["event"]
    return [
        entry["position"],
        entry["transaction_id"],
        entry["wallet_id"],
        entry["account"],
        entry["debit"],
        entry["credit"],
        entry["unit"],
        _instant(entry["occurred_at"]),
        _instant(entry["recorded_at"]),
        event["wallet_id"],
        event["version"],
        event["type"],
        "" if key is None else key,
    ]


def journal_csv(
    ledger: CreditLedgerBase,
    *,
    wallet_id: str | None = None,
    account: str | None = None,
    from_: datetime | None = None,
    to: datetime | None = None,
    after: int = 0,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[str]:
    """Every journal row matching the filters after position ``after``, as CSV text.

    Yields the header row first, then one chunk per page of about ``chunk_rows`` rows (whole
    events), reading each page from the log only when the previous one has been sent.
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
    while True:
        page = journal(
            ledger,
            wallet_id=wallet_id,
            account=account,
            from_=from_,
            to=to,
            after=after,
            limit=chunk_rows,
        )
        entries = page["entries"]
        if entries:
            writer.writerows(csv_row(entry) for entry in entries)
            yield flush()
        # A short page means the scan reached the end of the log.
        if len(entries) < chunk_rows:
            return
        after = page["next_after"]
