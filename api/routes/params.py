"""Parameter annotations shared by the route modules.

Times in query strings are taken as text and parsed here (:func:`parse_time`), not by
litestar: its lax conversion would read ``?to=0.5`` as a Unix timestamp, where the contract
accepts only RFC 3339 times with an offset.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar.params import HeaderParameter, PathParameter, QueryParameter

from api.validation import IDEMPOTENCY_HEADER, MAX_IDEMPOTENCY_KEY_LENGTH
from ledger.domain.validation import MAX_POSITION, check_aware, fail

__all__ = [
    "AsOf",
    "FromTime",
    "IdempotencyKey",
    "MinPosition",
    "PathId",
    "Position",
    "ToTime",
    "parse_time",
]

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name=IDEMPOTENCY_HEADER,
        min_length=1,
        max_length=MAX_IDEMPOTENCY_KEY_LENGTH,
        description="Repeat the request with the same key to get the first answer back.",
    ),
]
PathId = Annotated[str, PathParameter()]
AsOf = Annotated[
    str | None,
    QueryParameter(
        format="date-time",
        description="Answer from history, as the ledger stood at this time (RFC 3339).",
    ),
]
FromTime = Annotated[
    str | None,
    QueryParameter(
        name="from",
        format="date-time",
        description="Only what occurred at or after this time (RFC 3339 with an offset).",
    ),
]
ToTime = Annotated[
    str | None,
    QueryParameter(
        format="date-time",
        description="Only what occurred before this time (RFC 3339 with an offset).",
    ),
]

Position = Annotated[
    int,
    QueryParameter(ge=0, le=MAX_POSITION, description="A log position: later events only."),
]

MinPosition = Annotated[
    int,
    QueryParameter(
        ge=0,
        le=MAX_POSITION,
        description="Read your writes: first wait (briefly) until the read models have applied "
        "this ledger position, the `Ledger-Position` header of an earlier command; 503 "
        "`projection_lagging` if they have not in time. 0 (the default): answer at once, as "
        "of wherever the read models are.",
    ),
]


def parse_time(name: str, raw: str | None) -> datetime | None:
    """The time the query parameter ``name`` gave, if any.

    Raises:
        ValidationFailed: Not an RFC 3339 time, or one without an offset; naming ``name``.
    """
    if raw is None:
        return None
    try:
        value = msgspec.convert(raw, datetime)  # RFC 3339 only; no numbers, no bare dates
    except msgspec.ValidationError:
        raise fail(name, "must be an RFC 3339 time, e.g. 2026-01-01T00:00:00Z") from None
    return check_aware(name, value)
