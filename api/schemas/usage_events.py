"""Usage event batches: ``POST /v1/usage-events`` and its per-event answer."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from api.schemas.fields import RequestBody, ResponseBody
from ledger.ingest import MAX_BATCH

__all__ = ["UsageEventsIn", "UsageEventsOut", "UsageRejectionOut"]

RawEvent = Annotated[
    dict[str, Any],
    Meta(
        description=(
            "One usage event: `event_id` and `wallet_id` (1-128 characters of A-Z a-z 0-9 . _ "
            ": -), `type` (1-128 characters), `occurred_at` (RFC 3339 with an offset), and "
            "optionally `subject` (the debit subject keys), `quantities` (name -> integer "
            "0..2^53-1, at most 32), `properties` (a JSON object, at most 256 values nested "
            "8 deep, strings up to 1,024 characters) and `bill` (default false: nothing is "
            "charged unless asked). Each event is checked on its own."
        ),
        examples=[
            {
                "event_id": "e-1",
                "wallet_id": "acme",
                "type": "llm.completion",
                "occurred_at": "2026-01-01T00:00:00Z",
                "subject": {"user_id": "u1", "model": "gpt-4.1"},
                "quantities": {"input_tokens": 1200, "output_tokens": 350},
                "properties": {},
                "bill": True,
            }
        ],
    ),
]


class UsageEventsIn(RequestBody):
    """Up to 1,000 usage events; a bad event is rejected alone, the good ones are kept."""

    events: Annotated[list[RawEvent], Meta(max_length=MAX_BATCH)]


class UsageRejectionOut(ResponseBody):
    """Why the event at ``index`` was not recorded: ``validation_error`` (``detail`` names the
    field), ``occurred_at_in_future``, ``wallet_not_found``, ``price_book_not_found``,
    ``unknown_model`` or ``idempotency_conflict`` (its debit key ``usage:<event_id>`` was used
    by a debit)."""

    index: int
    code: str
    detail: str


class UsageEventsOut(ResponseBody):
    """How many events were recorded now (``accepted``, of which ``late``: older than the
    grace window), how many were recorded before or repeated within the batch
    (``duplicates``), and each rejected event."""

    accepted: int
    duplicates: int
    late: int
    rejected: list[UsageRejectionOut] = msgspec.field(default_factory=list)
