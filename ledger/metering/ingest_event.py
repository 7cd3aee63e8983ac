"""Usage ingest, one event on its own: check it field by field and name why it is rejected.

:func:`check_event` returns either a :class:`UsageEvent` or a :class:`Rejection` (index,
stable ``code``, ``detail``). Codes:

* ``validation_error`` — a field is missing or malformed; ``detail`` names it;
* ``occurred_at_in_future`` — more than :data:`MAX_FUTURE_SKEW` ahead of the server;
* ``wallet_not_found``, ``price_book_not_found``, ``unknown_model`` — decided against the
  store by the application (``ledger.app.service_usage``), for billed events the last two.

An event is ``late`` when it occurred more than the grace window (``LEDGER_USAGE_LATE_GRACE_
SECONDS``, 24 h by default) before it was received; late events are kept and flagged.
Nothing is billed unless the event says ``"bill": true``.

:func:`kept_time` and :func:`properties_fit` answer parts of the same checks without
raising, for ``ledger.metering.ingest``, which checks a batch of events whose shape is already
known."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.domain.errors import ValidationFailed
from ledger.domain.validation import ID_PATTERN, MAX_AMOUNT, check_id, check_subject

__all__ = [
    "DEFAULT_LATE_GRACE",
    "MAX_FUTURE_SKEW",
    "MAX_QUANTITIES",
    "MAX_TYPE_LENGTH",
    "QUANTITY_KEY",
    "TOKEN_KEYS",
    "Rejection",
    "UsageEvent",
    "check_event",
    "kept_time",
    "properties_fit",
    "usage_time",
]

MAX_FUTURE_SKEW = timedelta(minutes=5)
DEFAULT_LATE_GRACE = timedelta(hours=24)
MAX_TYPE_LENGTH = 128
MAX_QUANTITIES = 32
MAX_PROPERTY_NODES = 256
MAX_PROPERTY_DEPTH = 8
MAX_PROPERTY_STRING = 1_024
TOKEN_KEYS = ("input_tokens", "cached_input_tokens", "output_tokens")
QUANTITY_KEY = re.compile(ID_PATTERN)

_FIELDS = frozenset(
    {"event_id", "wallet_id", "type", "occurred_at", "subject", "quantities", "properties", "bill"}
)
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


class _Invalid(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")


class _InFuture(Exception):
    """``occurred_at`` is more than :data:`MAX_FUTURE_SKEW` after the event was received."""


def usage_time(value: datetime) -> str:
    """A UTC time as recorded on a usage record: RFC 3339 ending in ``Z``."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def check_event(index: int, raw: object, received_at: datetime, grace: timedelta) -> Any:
    """``raw`` (a decoded JSON object) as a :class:`UsageEvent`, or its :class:`Rejection`."""
    try:
        return _checked(index, raw, received_at, grace)
    except _Invalid as error:
        return Rejection(index, "validation_error", str(error))
    except ValidationFailed as error:
        return Rejection(index, "validation_error", error.detail)
    except _InFuture:
        return Rejection(
            index, "occurred_at_in_future", "occurred_at is more than 5 minutes in the future"
        )


def kept_time(
    given: str, received_at: datetime, grace: timedelta
) -> tuple[datetime, str, bool] | None:
    """``(occurred_at, as recorded, late)`` as :func:`check_event` makes them, or None when
    the time is refused (malformed, invalid, or in the future)."""
    try:
        occurred_at = _time(given)
        late = _late(occurred_at, received_at, grace)
    except (_Invalid, _InFuture):
        return None
    return occurred_at, _recorded_time(given, occurred_at), late


def properties_fit(properties: dict[str, Any]) -> bool:
    """Whether :func:`check_event` accepts ``properties`` (a dict)."""
    try:
        _properties(properties)
    except _Invalid:
        return False
    return True


def _late(occurred_at: datetime, received_at: datetime, grace: timedelta) -> bool:
    """Whether an event is late (kept, flagged); :class:`_InFuture` when it occurred too far
    after it was received to be kept at all."""
    if occurred_at > received_at + MAX_FUTURE_SKEW:
        raise _InFuture
    return occurred_at < received_at - grace


def _recorded_time(given: object, occurred_at: datetime) -> str:
    # Already canonical (UTC, whole seconds, "T" and "Z"), as most clients send it: kept as
    # given, which is what usage_time would make of it, at a tenth of the cost.
    if isinstance(given, str) and len(given) == 20 and given[10::9] == "TZ":
        return given
    return usage_time(occurred_at)


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
    subject = check_subject(subject)
    quantities = _quantities(raw.get("quantities", {}))
    properties = _properties(raw.get("properties", {}))
    # Last: a malformed field is answered before a time in the future.
    late = _late(occurred_at, received_at, grace)
    return UsageEvent(
        index=index,
        wallet_id=wallet_id,
        event_id=event_id,
        type=kind,
        occurred_at=occurred_at,
        occurred_at_text=occurred_at_text,
        subject=subject,
        quantities=quantities,
        properties=properties,
        bill=bill,
        late=late,
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
        if not isinstance(key, str) or not QUANTITY_KEY.fullmatch(key):
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
