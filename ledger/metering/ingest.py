"""Usage ingest, the pure part: check a batch, each event on its own (one bad event never
fails its batch), and name why one is rejected.

:func:`check_events` checks a whole batch. Its items are decoded JSON objects, checked field
by field (:func:`~ledger.metering.ingest_event.check_event`, which also lists the rejection codes
and says when an event is late), or :class:`ShapedEvent` values whose types and simple limits
an edge has already checked (the HTTP API decodes them with compiled validators): for those
only what the edge cannot express is checked here, batch-wide where possible. Any shaped
event that fails a check here is handed to ``check_event`` as the object it stands for, so
both kinds always get the same answer.

The names of ``ledger.metering.ingest_event`` that other modules use are re-exported from here.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, cast

from ledger.domain.validation import ID_PATTERN
from ledger.metering.ingest_event import (
    DEFAULT_LATE_GRACE,
    MAX_FUTURE_SKEW,
    MAX_QUANTITIES,
    MAX_TYPE_LENGTH,
    QUANTITY_KEY,
    TOKEN_KEYS,
    Rejection,
    UsageEvent,
    check_event,
    kept_time,
    properties_fit,
    usage_time,
)

__all__ = [
    "DEFAULT_LATE_GRACE",
    "MAX_BATCH",
    "MAX_FUTURE_SKEW",
    "MAX_QUANTITIES",
    "MAX_TYPE_LENGTH",
    "TOKEN_KEYS",
    "Rejection",
    "ShapedEvent",
    "UsageEvent",
    "check_event",
    "check_events",
    "usage_time",
]

MAX_BATCH = 1_000

# Many ids at once, each followed by a newline (never an id character): one regex call for
# a whole batch instead of one per id.
_IDS = re.compile(rf"(?:{ID_PATTERN}\n)*")
_KNOWN_KEYS_MAX = 10_000
_known_quantity_keys: set[str] = set()
"""Quantity keys already found well-formed: most batches repeat a handful of keys."""
_UNSEEN: Any = object()


class ShapedEvent:
    """A usage event decoded by an edge that guarantees its shape; subclassed there.

    The edge (``api.schemas.usage_events``) promises: no other fields; ``event_id``,
    ``wallet_id``, ``type`` are strings of 1-128 characters; ``occurred_at`` is a string;
    ``subject`` maps keys of ``ledger.domain.state.SUBJECT_KEYS`` to strings of 1-256 characters;
    ``quantities`` holds at most 32 integers from 0 to ``MAX_AMOUNT`` (never bools) under
    string keys; ``properties`` is a dict of decoded JSON; ``bill`` is a bool. The absent
    optional fields take their defaults (``{}``, ``{}``, ``{}``, false).

    :func:`check_events` checks the rest: the characters of the ids and quantity keys, the
    time (format, value, future, late) and the limits of ``properties``.
    """

    __slots__ = ()
    event_id: str
    wallet_id: str
    type: str
    occurred_at: str
    subject: dict[str, str]
    quantities: dict[str, int]
    properties: dict[str, Any]
    bill: bool


def check_events(
    events: list[object], received_at: datetime, grace: timedelta
) -> tuple[list[UsageEvent], list[Rejection]]:
    """Every item of a batch checked: the kept events and the rejections, each in order.

    Items are decoded JSON objects or :class:`ShapedEvent` values; the answer for an item
    is the same either way (``check_event``'s).
    """
    valid: list[UsageEvent] = []
    rejected: list[Rejection] = []
    for index, raw in enumerate(events):
        if not isinstance(raw, ShapedEvent):
            checked = check_event(index, raw, received_at, grace)
            (valid if isinstance(checked, UsageEvent) else rejected).append(checked)
    for index in _check_shaped(events, received_at, grace, valid):
        shaped = cast(ShapedEvent, events[index])
        checked = check_event(index, _as_object(shaped), received_at, grace)
        (valid if isinstance(checked, UsageEvent) else rejected).append(checked)
    # Checked apart, kinds and refusals: back to batch order (indexes are unique).
    valid.sort(key=attrgetter("index"))
    rejected.sort(key=attrgetter("index"))
    return valid, rejected


def _check_shaped(
    events: list[object], received_at: datetime, grace: timedelta, valid: list[UsageEvent]
) -> list[int]:
    """Append to ``valid`` the shaped events :func:`check_event` would keep, as it builds
    them; return the indexes of the others, for :func:`check_event` to answer."""
    shaped = [e for e in events if isinstance(e, ShapedEvent)]
    if not shaped:
        return []
    if _ids_fit([i for e in shaped for i in (e.event_id, e.wallet_id)]):
        bad_ids: set[int] = set()
    else:  # rare: find which (the answer is check_event's)
        bad_ids = {
            index
            for index, e in enumerate(events)
            if isinstance(e, ShapedEvent) and not _ids_fit([e.event_id, e.wallet_id])
        }
    # Clients send many events of the same second: each distinct time is checked once.
    times: dict[str, tuple[datetime, str, bool] | None] = {}
    others: list[int] = []
    known_keys = _known_quantity_keys
    for index, event in enumerate(events):
        if not isinstance(event, ShapedEvent):
            continue
        given = event.occurred_at
        seen = times.get(given, _UNSEEN)
        if seen is _UNSEEN:
            seen = times[given] = kept_time(given, received_at, grace)
        quantities, properties = event.quantities, event.properties
        if (
            seen is None
            or index in bad_ids
            or (quantities and not known_keys.issuperset(quantities) and not _learn(quantities))
            or (properties and not properties_fit(properties))
        ):
            others.append(index)
            continue
        occurred_at, occurred_at_text, late = seen
        wallet_id, event_id = event.wallet_id, event.event_id
        valid.append(
            UsageEvent(
                index,
                wallet_id,
                event_id,
                event.type,
                occurred_at,
                occurred_at_text,
                event.subject,
                quantities,
                properties,
                event.bill,
                late,
                (wallet_id, event_id),
            )
        )
    return others


def _ids_fit(ids: list[str]) -> bool:
    """Whether every id is 1-128 characters of A-Z a-z 0-9 . _ : - (one regex call)."""
    joined = "\n".join(ids) + "\n"
    # The count too: an id holding a newline would otherwise pass as two.
    return joined.count("\n") == len(ids) and _IDS.fullmatch(joined) is not None


def _learn(quantities: dict[str, int]) -> bool:
    """Whether every key is well-formed; well-formed keys are remembered (bounded)."""
    keys = [key for key in quantities if key not in _known_quantity_keys]
    if not all(type(key) is str and QUANTITY_KEY.fullmatch(key) for key in keys):
        return False
    if len(_known_quantity_keys) + len(keys) > _KNOWN_KEYS_MAX:
        _known_quantity_keys.clear()
    _known_quantity_keys.update(keys)
    return True


def _as_object(event: ShapedEvent) -> dict[str, Any]:
    """The decoded JSON object a shaped event stands for (absent fields at their defaults,
    which is how :func:`check_event` reads absent fields)."""
    return {
        "event_id": event.event_id,
        "wallet_id": event.wallet_id,
        "type": event.type,
        "occurred_at": event.occurred_at,
        "subject": event.subject,
        "quantities": event.quantities,
        "properties": event.properties,
        "bill": event.bill,
    }
