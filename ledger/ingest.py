"""Usage ingest, the pure part: check each event on its own and name why one is rejected.

One bad event never fails its batch: :func:`check_event` returns either a
:class:`UsageEvent` or a :class:`Rejection` (index, stable ``code``, ``detail``). Codes:

* ``validation_error`` — a field is missing or malformed; ``detail`` names it;
* ``occurred_at_in_future`` — more than :data:`MAX_FUTURE_SKEW` ahead of the server;
* ``wallet_not_found``, ``price_book_not_found``, ``unknown_model`` — decided against the
  store by the application (``ledger.service_usage``), for billed events the last two.

An event is ``late`` when it occurred more than the grace window (``LEDGER_USAGE_LATE_GRACE_
SECONDS``, 24 h by default) before it was received; late events are kept and flagged.
Nothing is billed unless the event says ``"bill": true``.

:func:`check_events` checks a whole batch. Its items are decoded JSON objects, checked field
by field (:func:`check_event`), or :class:`ShapedEvent` values whose types and simple limits
an edge has already checked (the HTTP API decodes them with compiled validators): for those
only what the edge cannot express is checked here, batch-wide where possible. Any shaped
event that fails a check here is handed to :func:`check_event` as the object it stands for,
so both kinds always get the same answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from ledger.errors import ValidationFailed
from ledger.validation import MAX_AMOUNT, check_id, check_subject

__all__ = [
    "DEFAULT_LATE_GRACE",
    "MAX_BATCH",
    "MAX_FUTURE_SKEW",
    "MAX_QUANTITIES",
    "MAX_TYPE_LENGTH",
    "Rejection",
    "ShapedEvent",
    "UsageEvent",
    "check_event",
    "check_events",
    "usage_time",
]

MAX_BATCH = 1_000
MAX_FUTURE_SKEW = timedelta(minutes=5)
DEFAULT_LATE_GRACE = timedelta(hours=24)
MAX_TYPE_LENGTH = 128
MAX_QUANTITIES = 32
MAX_PROPERTY_NODES = 256
MAX_PROPERTY_DEPTH = 8
MAX_PROPERTY_STRING = 1_024
TOKEN_KEYS = ("input_tokens", "cached_input_tokens", "output_tokens")

_FIELDS = frozenset(
    {"event_id", "wallet_id", "type", "occurred_at", "subject", "quantities", "properties", "bill"}
)
_QUANTITY_KEY = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Many ids at once, each followed by a newline (never an id character): one regex call for
# a whole batch instead of one per id.
_IDS = re.compile(r"(?:[A-Za-z0-9._:-]{1,128}\n)*")
_KNOWN_KEYS_MAX = 10_000
_known_quantity_keys: set[str] = set()
"""Quantity keys already found well-formed: most batches repeat a handful of keys."""
# RFC 3339 date-time with a mandatory offset (Python's parser alone accepts much more).
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


@dataclass(slots=True)  # not frozen: a frozen __init__ costs a setattr call per field
class UsageEvent:
    """One checked usage event (read-only by convention); ``occurred_at`` in UTC, and
    ``occurred_at_text`` as recorded."""

    index: int
    wallet_id: str
    event_id: str
    type: str
    occurred_at: datetime
    occurred_at_text: str
    subject: dict[str, str]
    quantities: dict[str, int]
    properties: dict[str, Any]
    bill: bool
    late: bool
    key: tuple[str, str]
    """``(wallet_id, event_id)``: what deduplicates."""


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    code: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "code": self.code, "detail": self.detail}


class ShapedEvent:
    """A usage event decoded by an edge that guarantees its shape; subclassed there.

    The edge (``api.schemas.usage_events``) promises: no other fields; ``event_id``,
    ``wallet_id``, ``type`` are strings of 1-128 characters; ``occurred_at`` is a string;
    ``subject`` maps keys of ``ledger.state.SUBJECT_KEYS`` to strings of 1-256 characters;
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


class _Invalid(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")


def usage_time(value: datetime) -> str:
    """A UTC time as recorded on a usage record: RFC 3339 ending in ``Z``."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def check_event(index: int, raw: object, received_at: datetime, grace: timedelta) -> Any:
    """``raw`` (a decoded JSON object) as a :class:`UsageEvent`, or its :class:`Rejection`."""
    try:
        event = _checked(index, raw, received_at, grace)
    except _Invalid as error:
        return Rejection(index, "validation_error", str(error))
    except ValidationFailed as error:
        return Rejection(index, "validation_error", error.detail)
    if event.occurred_at > received_at + MAX_FUTURE_SKEW:
        return Rejection(
            index, "occurred_at_in_future", "occurred_at is more than 5 minutes in the future"
        )
    return event


def check_events(
    events: list[object], received_at: datetime, grace: timedelta
) -> tuple[list[UsageEvent], list[Rejection]]:
    """Every item of a batch checked: the kept events and the rejections, each in order.

    Items are decoded JSON objects or :class:`ShapedEvent` values; the answer for an item
    is the same either way (``check_event``'s).
    """
    valid: list[UsageEvent] = []
    rejected: list[Rejection] = []
    if any(not isinstance(raw, ShapedEvent) for raw in events):
        for index, raw in enumerate(events):
            if not isinstance(raw, ShapedEvent):
                checked = check_event(index, raw, received_at, grace)
                (valid if isinstance(checked, UsageEvent) else rejected).append(checked)
    for index in _check_shaped(events, received_at, grace, valid):
        shaped = cast(ShapedEvent, events[index])
        checked = check_event(index, _as_object(shaped), received_at, grace)
        (valid if isinstance(checked, UsageEvent) else rejected).append(checked)
    # Checked apart, kinds and refusals: back to batch order (indexes are unique).
    valid.sort(key=_event_index)
    rejected.sort(key=_rejection_index)
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
            seen = times[given] = _kept_time(given, received_at, grace)
        quantities, properties = event.quantities, event.properties
        if (
            seen is None
            or index in bad_ids
            or (quantities and not known_keys.issuperset(quantities) and not _learn(quantities))
            or (properties and not _properties_fit(properties))
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


_UNSEEN: Any = object()


def _ids_fit(ids: list[str]) -> bool:
    """Whether every id is 1-128 characters of A-Z a-z 0-9 . _ : - (one regex call)."""
    joined = "\n".join(ids) + "\n"
    # The count too: an id holding a newline would otherwise pass as two.
    return joined.count("\n") == len(ids) and _IDS.fullmatch(joined) is not None


def _kept_time(
    given: str, received_at: datetime, grace: timedelta
) -> tuple[datetime, str, bool] | None:
    """``(occurred_at, as recorded, late)`` as :func:`_checked` makes them, or None when
    the time is refused (malformed, invalid, or in the future)."""
    try:
        occurred_at = _time(given)
    except _Invalid:
        return None
    if occurred_at > received_at + MAX_FUTURE_SKEW:
        return None
    return occurred_at, _recorded_time(given, occurred_at), occurred_at < received_at - grace


def _learn(quantities: dict[str, int]) -> bool:
    """Whether every key is well-formed; well-formed keys are remembered (bounded)."""
    keys = [key for key in quantities if key not in _known_quantity_keys]
    if not all(type(key) is str and _QUANTITY_KEY.fullmatch(key) for key in keys):
        return False
    if len(_known_quantity_keys) + len(keys) > _KNOWN_KEYS_MAX:
        _known_quantity_keys.clear()
    _known_quantity_keys.update(keys)
    return True


def _properties_fit(properties: dict[str, Any]) -> bool:
    try:
        _properties(properties)
    except _Invalid:
        return False
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


def _event_index(event: UsageEvent) -> int:
    return event.index


def _rejection_index(rejection: Rejection) -> int:
    return rejection.index


def _recorded_time(given: object, occurred_at: datetime) -> str:
    # Already canonical (UTC, whole seconds, "T" and "Z"), as most clients send it: kept as
    # given, which is what usage_time would make of it, at a tenth of the cost.
    canonical = isinstance(given, str) and len(given) == 20 and given[10::9] == "TZ"
    return given if canonical and isinstance(given, str) else usage_time(occurred_at)


def _checked(index: int, raw: object, received_at: datetime, grace: timedelta) -> UsageEvent:
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise _Invalid(f"events[{index}]", "must be an object")
    if not _FIELDS.issuperset(raw):
        raise _Invalid(sorted(str(k) for k in raw if k not in _FIELDS)[0], "unknown field")
    for name in ("event_id", "wallet_id", "type", "occurred_at"):
        if name not in raw:
            raise _Invalid(name, "required field is missing")
    event_id, wallet_id = (
        _client_id("event_id", raw["event_id"]),
        _client_id("wallet_id", raw["wallet_id"]),
    )
    kind = raw["type"]
    if not isinstance(kind, str) or not 1 <= len(kind) <= MAX_TYPE_LENGTH:
        raise _Invalid("type", f"must be a string of 1-{MAX_TYPE_LENGTH} characters")
    occurred_at = _time(raw["occurred_at"])
    occurred_at_text = _recorded_time(raw["occurred_at"], occurred_at)
    subject = raw.get("subject", {})
    if not isinstance(subject, Mapping):
        raise _Invalid("subject", "must be an object")
    bill = raw.get("bill", False)
    if not isinstance(bill, bool):
        raise _Invalid("bill", "must be true or false")
    return UsageEvent(
        index=index,
        wallet_id=wallet_id,
        event_id=event_id,
        type=kind,
        occurred_at=occurred_at,
        occurred_at_text=occurred_at_text,
        subject=check_subject(subject),
        quantities=_quantities(raw.get("quantities", {})),
        properties=_properties(raw.get("properties", {})),
        bill=bill,
        late=occurred_at < received_at - grace,
        key=(wallet_id, event_id),
    )


def _client_id(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid(field, "must be a string")
    return check_id(field, value)


def _time(value: object) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise _Invalid("occurred_at", "must have a UTC offset")
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise _Invalid("occurred_at", "is not a valid time") from None
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise _Invalid("occurred_at", "must be an RFC 3339 time with an offset")
    try:
        # OverflowError: a valid local time whose UTC falls outside years 1-9999.
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError):
        raise _Invalid("occurred_at", "is not a valid time") from None


def _quantities(value: object) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise _Invalid("quantities", "must be an object")
    if len(value) > MAX_QUANTITIES:
        raise _Invalid("quantities", f"must have at most {MAX_QUANTITIES} keys")
    checked: dict[str, int] = {}
    for key, number in value.items():
        if not isinstance(key, str) or not _QUANTITY_KEY.fullmatch(key):
            raise _Invalid("quantities", "keys must be 1-128 characters of A-Z a-z 0-9 . _ : -")
        if type(number) is not int or not 0 <= number <= MAX_AMOUNT:
            raise _Invalid(f"quantities.{key}", f"must be an integer from 0 to {MAX_AMOUNT}")
        checked[key] = number
    return checked


def _properties(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid("properties", "must be an object")
    if value:
        nodes = _walk(value, 1, [0])
        if nodes > MAX_PROPERTY_NODES:
            raise _Invalid("properties", f"must have at most {MAX_PROPERTY_NODES} values")
    return value


def _walk(value: object, depth: int, count: list[int]) -> int:
    """Count JSON values under ``value``; refuse what JSON cannot hold or is too deep/long."""
    count[0] += 1
    if count[0] > MAX_PROPERTY_NODES:
        return count[0]
    if depth > MAX_PROPERTY_DEPTH:
        raise _Invalid("properties", f"must nest at most {MAX_PROPERTY_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or len(key) > MAX_PROPERTY_STRING:
                raise _Invalid("properties", f"keys must be at most {MAX_PROPERTY_STRING} long")
            _walk(item, depth + 1, count)
    elif isinstance(value, list):
        for item in value:
            _walk(item, depth + 1, count)
    elif isinstance(value, str):
        if len(value) > MAX_PROPERTY_STRING:
            raise _Invalid("properties", f"strings must be at most {MAX_PROPERTY_STRING} long")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _Invalid("properties", "numbers must be finite")
    elif value is not None and not isinstance(value, bool | int):
        raise _Invalid("properties", "must hold only JSON values")
    return count[0]
