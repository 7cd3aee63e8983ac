"""Usage event batches: ``POST /v1/usage-events`` and its per-event answer.

The body declares each event as a free-form object, so that one bad event is rejected
alone (with its index) rather than failing the batch. :func:`shaped_events` then decodes
the events again into :class:`UsageEventShape`, msgspec's compiled checks of what each
field must be, so the ledger only checks what those cannot express (``ledger.metering.ingest``); an
event that does not fit goes to the ledger as the object it was, and gets the same answer.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

import msgspec
from msgspec import Meta

from api.schemas.fields import ID_PATTERN, RequestBody, ResponseBody
from ledger.domain.state import SUBJECT_KEYS
from ledger.domain.validation import MAX_AMOUNT
from ledger.metering.ingest import MAX_BATCH, MAX_QUANTITIES, MAX_TYPE_LENGTH, ShapedEvent

__all__ = [
    "DOCUMENTED_EVENT",
    "UncollectedEventOut",
    "UsageEventShape",
    "UsageEventsIn",
    "UsageEventsOut",
    "UsageRejectionOut",
    "shaped_events",
]

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


def _documented_event() -> dict[str, Any]:
    """What one event may hold, as JSON Schema, for the OpenAPI document only: decoding keeps
    each event a free-form object (see the module docstring), so a bad one is rejected alone.
    """
    text = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": ID_PATTERN}
    count = {"type": "integer", "minimum": 0, "maximum": MAX_AMOUNT}
    tokens = ("input_tokens", "cached_input_tokens", "output_tokens")
    return {
        "type": "object",
        "title": "UsageEventIn",
        "required": ["event_id", "wallet_id", "type", "occurred_at"],
        "properties": {
            "event_id": text,
            "wallet_id": text,
            "type": {"type": "string", "minLength": 1, "maxLength": MAX_TYPE_LENGTH},
            "occurred_at": {"type": "string", "format": "date-time"},
            "subject": {"$ref": "#/components/schemas/Subject"},
            "quantities": {
                "type": "object",
                "description": "Name -> integer count, at most 32. Billing reads "
                + ", ".join(tokens)
                + ": input_tokens counts uncached input only (OpenAI's prompt_tokens minus "
                "cached_tokens; Anthropic's input_tokens as they are), cached_input_tokens "
                "the cached input (see UsageIn).",
                "properties": dict.fromkeys(tokens, count),
                "additionalProperties": count,
                "maxProperties": MAX_QUANTITIES,
            },
            "properties": {"type": "object", "additionalProperties": {}},
            "bill": {"type": "boolean", "default": False},
        },
        "additionalProperties": False,
    }


DOCUMENTED_EVENT = _documented_event()


class UsageEventsIn(RequestBody):
    """Up to 1,000 usage events; a bad event is rejected alone, the good ones are kept."""

    events: Annotated[
        list[RawEvent],
        Meta(max_length=MAX_BATCH, extra_json_schema={"extra": {"items": DOCUMENTED_EVENT}}),
    ]


class UsageRejectionOut(ResponseBody):
    """Why the event at ``index`` was not recorded: ``validation_error`` (``detail`` names the
    field), ``occurred_at_in_future``, ``wallet_not_found``, ``price_book_not_found``,
    ``unknown_model`` or ``idempotency_conflict`` (its debit key ``usage:<event_id>`` was used
    by a debit)."""

    index: int
    code: str
    detail: str


class UncollectedEventOut(ResponseBody):
    """A billed event of this batch whose wallet could not pay all of it: ``uncollected``
    credits beyond the overdraft were recorded but not charged."""

    index: int
    wallet_id: str
    event_id: str
    uncollected: int


class UsageEventsOut(ResponseBody):
    """How many events were recorded now (``accepted``, of which ``late``: older than the
    grace window), how many were recorded before or repeated within the batch
    (``duplicates``), each rejected event, and what billing could not collect
    (``uncollected`` credits in all, ``uncollected_events`` one by one)."""

    accepted: int
    duplicates: int
    late: int
    rejected: list[UsageRejectionOut] = msgspec.field(default_factory=list)
    uncollected: int = 0
    uncollected_events: list[UncollectedEventOut] = msgspec.field(default_factory=list)


_Id = Annotated[str, Meta(min_length=1, max_length=128)]  # the characters: ledger.metering.ingest
_SubjectKey = Literal["user_id", "team_id", "agent_id", "project_id", "feature", "model"]
if frozenset(get_args(_SubjectKey)) != SUBJECT_KEYS:  # a new subject key must be allowed here
    raise ImportError("usage event subject keys no longer match ledger.domain.state.SUBJECT_KEYS")
_SubjectValue = Annotated[str, Meta(min_length=1, max_length=256)]
_Quantity = Annotated[int, Meta(ge=0, le=MAX_AMOUNT)]


class UsageEventShape(msgspec.Struct, ShapedEvent, forbid_unknown_fields=True, gc=False):
    """One usage event as ``ledger.metering.ingest.ShapedEvent`` promises it (what no constraint
    here expresses, the ledger checks: id and key characters, the time, ``properties``).

    ``gc=False``: a thousand of these live through each request, and every object the
    garbage collector tracks makes its sweeps more frequent (it holds no reference cycle:
    strings, a bool, and dicts of decoded JSON)."""

    event_id: _Id
    wallet_id: _Id
    type: Annotated[str, Meta(min_length=1, max_length=MAX_TYPE_LENGTH)]
    occurred_at: str
    # Literal keys are str keys; the ledger only reads them (dict is invariant to mypy).
    subject: dict[_SubjectKey, _SubjectValue] = msgspec.field(default_factory=dict)  # type: ignore[assignment]
    quantities: Annotated[dict[str, _Quantity], Meta(max_length=MAX_QUANTITIES)] = msgspec.field(
        default_factory=dict
    )
    properties: dict[str, Any] = msgspec.field(default_factory=dict)
    bill: bool = False


def shaped_events(events: list[dict[str, Any]]) -> list[object]:
    """``events`` for ``ledger.metering.ingest.check_events``: each a :class:`UsageEventShape` if it
    fits one, else the decoded object as it came (the ledger answers why it does not fit)."""
    try:
        shaped: list[object] = msgspec.convert(events, list[UsageEventShape], strict=True)
    except msgspec.ValidationError:
        return [_shaped(event) for event in events]
    return shaped


def _shaped(event: Any) -> object:
    try:
        return msgspec.convert(event, UsageEventShape, strict=True)
    except msgspec.ValidationError:
        return event
