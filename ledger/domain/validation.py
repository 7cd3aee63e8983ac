"""Input checks shared by commands; each failure names the field (``validation_error``).

The HTTP layer validates shapes first; these checks make the domain safe on its own, for
any caller (CLI, tests, future transports).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ledger.domain.errors import FieldError, ValidationFailed
from ledger.domain.state import SUBJECT_KEYS

__all__ = [
    "ID_PATTERN",
    "MAX_AMOUNT",
    "MAX_POSITION",
    "check_amount",
    "check_aware",
    "check_id",
    "check_position",
    "check_subject",
    "check_time_range",
    "fail",
]

MAX_POSITION = 2**63 - 1  # the store's 64-bit integer: log positions and event versions
MAX_AMOUNT = 9_007_199_254_740_991  # 2**53 - 1: the largest integer every JSON client keeps exact
ID_PATTERN = r"[A-Za-z0-9._:-]{1,128}"
"""What ids (and quantity keys) may be: 1-128 letters, digits and ``._:-``."""
_ID = re.compile(ID_PATTERN)


def fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(FieldError(field, message))


def check_amount(field: str, value: object, *, minimum: int = 1) -> int:
    """An integer (never bool or float) in ``[minimum, MAX_AMOUNT]``."""
    if type(value) is not int:
        raise fail(field, "must be an integer")
    if not minimum <= value <= MAX_AMOUNT:
        raise fail(field, f"must be between {minimum} and {MAX_AMOUNT}")
    return value


def check_position(field: str, value: int) -> int:
    """A log position or event version to page after: 0 to the store's largest integer."""
    if not 0 <= value <= MAX_POSITION:
        raise fail(field, f"must be between 0 and {MAX_POSITION}")
    return value


def check_aware(field: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise fail(field, "must have a UTC offset")
    try:  # 0001-01-01T00:00:00+01:00 is a valid RFC 3339 time whose UTC is before year 1
        value.astimezone(UTC)
    except OverflowError:
        raise fail(field, "must fall within the years 1-9999 in UTC") from None
    return value


def check_time_range(from_: datetime | None, to: datetime | None) -> None:
    """``[from, to)`` of a query: ``from`` later than ``to`` is a client error, never an
    empty answer that hides the mistake (equal bounds are an empty range)."""
    if from_ is not None and to is not None and from_ > to:
        raise fail("from", "must not be later than to")


def check_id(field: str, value: str) -> str:
    if not _ID.fullmatch(value):
        raise fail(field, "must be 1-128 characters of A-Z a-z 0-9 . _ : -")
    return value


def check_subject(subject: Mapping[str, Any]) -> dict[str, str]:
    for key, value in subject.items():
        if key not in SUBJECT_KEYS:
            raise fail(f"subject.{key}", f"unknown key; allowed: {', '.join(sorted(SUBJECT_KEYS))}")
        if not isinstance(value, str) or not 1 <= len(value) <= 256:
            raise fail(f"subject.{key}", "must be a string of 1-256 characters")
    return dict(subject)
