"""Parameter annotations shared by the route modules.

Times in query strings are taken as text and parsed here (:func:`parse_time`), not by
litestar: its lax conversion would read ``?to=0.5`` as a Unix timestamp, where the contract
accepts only RFC 3339 times with an offset.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar.enums import RequestEncodingType
from litestar.openapi.spec import Example, OpenAPIType
from litestar.params import Body, BodyKwarg, HeaderParameter, PathParameter, QueryParameter

from api.validation import IDEMPOTENCY_HEADER, MAX_IDEMPOTENCY_KEY_LENGTH
from ledger.domain.validation import MAX_POSITION, check_aware, check_time_range, fail

__all__ = [
    "PLAIN_INTEGER",
    "PLAIN_STRING",
    "AsOf",
    "FromTime",
    "IdempotencyKey",
    "MinPosition",
    "PathId",
    "Position",
    "ToTime",
    "json_body",
    "parse_range",
    "parse_time",
]

PLAIN_STRING: dict[str, Any] = {"one_of": None, "type": OpenAPIType.STRING}
"""``schema_extra`` of an optional header or query parameter: documented as a plain string.

A parameter is never JSON null (absent is how a client leaves it out), but litestar documents
``str | None`` as ``oneOf: [string, null]`` with ``format`` beside the ``oneOf``, where
generators ignore it; a generated client then sends ``None`` as a header and crashes."""

PLAIN_INTEGER: dict[str, Any] = {"one_of": None, "type": OpenAPIType.INTEGER}
"""``schema_extra`` of an optional integer query parameter (see :data:`PLAIN_STRING`)."""

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name=IDEMPOTENCY_HEADER,
        min_length=1,
        max_length=MAX_IDEMPOTENCY_KEY_LENGTH,
        required=False,
        description="Repeat the request with the same key to get the first answer back.",
        schema_extra=PLAIN_STRING,
    ),
]
PathId = Annotated[str, PathParameter()]
AsOf = Annotated[
    str | None,
    QueryParameter(
        format="date-time",
        description="Answer from history, as the ledger stood at this time (RFC 3339).",
        schema_extra=PLAIN_STRING,
    ),
]
FromTime = Annotated[
    str | None,
    QueryParameter(
        name="from",
        format="date-time",
        description="Only what occurred at or after this time (RFC 3339 with an offset).",
        schema_extra=PLAIN_STRING,
    ),
]
ToTime = Annotated[
    str | None,
    QueryParameter(
        format="date-time",
        description="Only what occurred before this time (RFC 3339 with an offset); not "
        "earlier than `from`.",
        schema_extra=PLAIN_STRING,
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


def parse_range(
    from_raw: str | None, to_raw: str | None
) -> tuple[datetime | None, datetime | None]:
    """The ``from`` and ``to`` query parameters, parsed, with ``from`` not later than ``to``.

    Raises:
        ValidationFailed: Either is not an RFC 3339 time with an offset, or ``from`` > ``to``.
    """
    from_, to = parse_time("from", from_raw), parse_time("to", to_raw)
    check_time_range(from_, to)
    return from_, to


def json_body(**examples: dict[str, Any]) -> BodyKwarg:
    """A JSON request body documented with ``examples`` by name (the first is what "Try it
    out" sends).

    Without them a UI builds one from the schema: every optional field at once, so a debit's
    example would carry both ``amount`` and ``usage`` and be refused with 422.
    """
    body: BodyKwarg = Body(
        media_type=RequestEncodingType.JSON,
        examples=[Example(summary=name, value=body) for name, body in examples.items()],
    )
    return body
