"""Reads from the read models (journal, trial balance, usage, meters), rating (price
books) and metering (usage events, meter definitions).

Reads served from read models take ``min_position``: pass ``ledger.last_position`` (the
``Ledger-Position`` of your last command) to read your own writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from credit_ledger.calls import (
    Answer,
    Call,
    decode_as,
    decode_items,
    decode_page,
    decode_text,
    json_body,
    new_key,
    query,
    segment,
)
from credit_ledger.reports import (
    JournalEntry,
    JournalPage,
    Meter,
    MeterPoint,
    Page,
    PriceBook,
    Rate,
    TrialBalance,
    UsageEventsResult,
    UsagePoint,
)

__all__ = [
    "get_journal",
    "get_meter",
    "get_price_book",
    "get_usage",
    "ingest_usage_events",
    "journal_csv",
    "list_meters",
    "list_price_books",
    "meter_series",
    "put_meter",
    "put_price_book",
    "trial_balance",
    "usage_csv",
]

CSV = "text/csv"
Window = Literal["hour", "day", "month"]
Aggregation = Literal["count", "sum", "unique_count", "min", "max", "avg", "latest"]


def get_journal(
    *,
    wallet_id: str | None = None,
    account: str | None = None,
    from_: datetime | None = None,
    to: datetime | None = None,
    after: int | None = None,
    after_leg: int | None = None,
    limit: int | None = None,
    min_position: int | None = None,
) -> Call[JournalPage]:
    """A page of at most ``limit`` journal rows (two per posting), in log order;
    ``[from_, to)`` filters ``occurred_at``. Continue with ``after=next_after`` and
    ``after_leg=next_after_leg`` (``iter_journal`` does)."""
    params = query(
        wallet_id=wallet_id,
        account=account,
        from_=from_,
        to=to,
        after=after,
        after_leg=after_leg,
        limit=limit,
        min_position=min_position,
    )
    return Call("GET", "/v1/journal", _decode_journal, params=params)


def _decode_journal(answer: Answer) -> JournalPage:
    page = decode_page(JournalEntry, "entries")(answer)
    leg = (answer.json() or {}).get("next_after_leg")
    return JournalPage(page.items, page.next_after, leg if isinstance(leg, int) else None)


def journal_csv(
    *,
    wallet_id: str | None = None,
    account: str | None = None,
    from_: datetime | None = None,
    to: datetime | None = None,
    after: int | None = None,
    after_leg: int | None = None,
    min_position: int | None = None,
) -> Call[str]:
    """Every journal row after the cursor (``after``, ``after_leg``) as CSV (header row
    first)."""
    params = query(
        wallet_id=wallet_id,
        account=account,
        from_=from_,
        to=to,
        after=after,
        after_leg=after_leg,
        min_position=min_position,
    )
    return Call("GET", "/v1/journal", decode_text, params=params, accept=CSV)


def trial_balance(
    *, as_of: datetime | None = None, unit: str | None = None, min_position: int | None = None
) -> Call[TrialBalance]:
    """Debit and credit totals per account; ``balanced`` says whether they are equal."""
    params = query(as_of=as_of, unit=unit, min_position=min_position)
    return Call("GET", "/v1/trial-balance", decode_as(TrialBalance), params=params)


def get_usage(
    wallet_id: str,
    *,
    from_: datetime | None = None,
    to: datetime | None = None,
    window: Window | None = None,
    group_by: Sequence[str] | None = None,
    min_position: int | None = None,
) -> Call[list[UsagePoint]]:
    """Credits debited per UTC window and subject group (``from_``/``to`` on the hour)."""
    params = query(from_=from_, to=to, window=window, group_by=group_by, min_position=min_position)
    path = f"/v1/wallets/{segment(wallet_id)}/usage"
    return Call("GET", path, decode_items(UsagePoint, "series"), params=params)


def usage_csv(
    wallet_id: str,
    *,
    from_: datetime | None = None,
    to: datetime | None = None,
    window: Window | None = None,
    group_by: Sequence[str] | None = None,
    min_position: int | None = None,
) -> Call[str]:
    """The same series as CSV: ``window_start``, each ``group_by`` key, ``debited``,
    ``count`` (contract 1.1)."""
    params = query(from_=from_, to=to, window=window, group_by=group_by, min_position=min_position)
    path = f"/v1/wallets/{segment(wallet_id)}/usage"
    return Call("GET", path, decode_text, params=params, accept=CSV)


def put_price_book(
    price_book_id: str,
    rates: Sequence[Mapping[str, Any] | Rate],
    *,
    unit: str | None = None,
    idempotency_key: str | None = None,
) -> Call[PriceBook]:
    """The next version of a price book (admin): every model's rate, in integer credits per
    1,000,000 tokens (``model``, ``input_per_million``, ``output_per_million``, optionally
    ``cached_input_per_million``)."""
    body = json_body(rates=list(rates), unit=unit)
    path = f"/v1/price-books/{segment(price_book_id)}"
    key = idempotency_key or new_key()
    return Call("PUT", path, decode_as(PriceBook), body=body, idempotency_key=key)


def get_price_book(price_book_id: str, *, version: int | None = None) -> Call[PriceBook]:
    path = f"/v1/price-books/{segment(price_book_id)}"
    return Call("GET", path, decode_as(PriceBook), params=query(version=version))


def list_price_books(
    *, after: int | None = None, limit: int | None = None, min_position: int | None = None
) -> Call[Page[PriceBook, int]]:
    """A page of price books in the order they were created, each at its current version
    (admin and auditor; contract 1.1)."""
    params = query(after=after, limit=limit, min_position=min_position)
    return Call("GET", "/v1/price-books", decode_page(PriceBook, "price_books"), params=params)


def ingest_usage_events(
    events: Iterable[Mapping[str, Any]], *, idempotency_key: str | None = None
) -> Call[UsageEventsResult]:
    """Record up to 1,000 usage events, each once per ``(wallet_id, event_id)``; a bad event
    is rejected alone (see ``rejected``)."""
    body = json_body(events=list(events))
    key = idempotency_key or new_key()
    return Call(
        "POST", "/v1/usage-events", decode_as(UsageEventsResult), body=body, idempotency_key=key
    )


def put_meter(
    meter_id: str,
    *,
    event_type: str,
    aggregation: Aggregation,
    value: str | None = None,
    group_by: Sequence[str] | None = None,
    idempotency_key: str | None = None,
) -> Call[Meter]:
    """Define or change a meter over usage events (admin)."""
    body = json_body(
        event_type=event_type,
        aggregation=aggregation,
        value=value,
        group_by=None if group_by is None else list(group_by),
    )
    key = idempotency_key or new_key()
    path = f"/v1/meters/{segment(meter_id)}"
    return Call("PUT", path, decode_as(Meter), body=body, idempotency_key=key)


def get_meter(meter_id: str, *, version: int | None = None) -> Call[Meter]:
    path = f"/v1/meters/{segment(meter_id)}"
    return Call("GET", path, decode_as(Meter), params=query(version=version))


def list_meters(
    *, after: int | None = None, limit: int | None = None, min_position: int | None = None
) -> Call[Page[Meter, int]]:
    """A page of meters in the order they were defined, each at its current version
    (admin; contract 1.1)."""
    params = query(after=after, limit=limit, min_position=min_position)
    return Call("GET", "/v1/meters", decode_page(Meter, "meters"), params=params)


def meter_series(
    wallet_id: str,
    meter_id: str,
    *,
    from_: datetime | None = None,
    to: datetime | None = None,
    window: Window | None = None,
    group_by: Sequence[str] | None = None,
    min_position: int | None = None,
) -> Call[list[MeterPoint]]:
    """A meter's value for the wallet per UTC window and group."""
    params = query(from_=from_, to=to, window=window, group_by=group_by, min_position=min_position)
    path = f"/v1/wallets/{segment(wallet_id)}/meters/{segment(meter_id)}"
    return Call("GET", path, decode_items(MeterPoint, "series"), params=params)
