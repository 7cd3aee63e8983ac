"""Allowances: recurring grants on calendar periods, and the pure arithmetic of their schedule.

An allowance grants ``amount`` at the start of every calendar period (``day``, ``week``,
``month``, ``year`` in its time zone, the same boundaries as budgets: ``ledger.domain.periods``)
that starts at or after ``starts_at`` and before ``ends_at``. Each period's grant is
effective at the period start and expires at the period end; with ``rollover_max`` set
(``UNCAPPED`` for no cap), what is left of it when the period ends is carried into a
``rollover`` grant that expires at the end of the next period. Decision 0018 has the rules
and the postings.

Nothing here reads a clock or touches a wallet: commands (``ledger.domain.commands_allowances``)
compute the schedule with these functions and record the result on events, so replaying
history never recomputes a calendar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.domain.periods import Period, parse_timezone, period_bounds
from ledger.domain.validation import check_amount, check_aware, check_id, fail

__all__ = [
    "ALLOWANCE_CATEGORIES",
    "ALLOWANCE_PERIODS",
    "MAX_ALLOWANCE_ID",
    "Allowance",
    "carried",
    "check_allowance_input",
    "first_period_start",
    "instant_text",
    "next_period_start",
    "period_end",
    "period_grant_id",
    "reserved_period",
    "rollover_grant_id",
]

ALLOWANCE_PERIODS = frozenset({"day", "week", "month", "year"})
ALLOWANCE_CATEGORIES = frozenset({"paid", "promotional", "trial"})
"""``rollover`` is what rollover grants are; ``refund`` gives back a debit, never a plan."""
_TIME_TEXT = 20  # len("2026-01-01T00:00:00Z")
_ROLLOVER_SUFFIX = ":rollover"
MAX_ALLOWANCE_ID = 128 - 1 - _TIME_TEXT - len(_ROLLOVER_SUFFIX)
"""98: the longest allowance id whose grant ids still fit the 128 characters of an id."""
_TIME_PATTERN = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
_MAX_PRIORITY = 1_000_000


@dataclass
class Allowance:
    """An allowance as the wallet holds it: the terms in force, and where its schedule is.

    ``rollover`` is None (no rollover) or ``{"max_amount": cap}`` (``None``: no cap).
    ``next_grant_at`` is the start of the next period to grant (None: no further period).
    ``last_grant_id`` is the latest period grant and ``last_rollover`` the rollover in force
    when it was made: when that grant expires, what ``carried`` says of what is left goes
    into the next period, if the allowance goes on straight into it.
    """

    allowance_id: str
    amount: int
    category: str
    priority: int
    period: str
    timezone: str
    starts_at: datetime
    ends_at: datetime | None
    rollover: dict[str, int | None] | None
    created_at: datetime
    updated_at: datetime
    next_grant_at: datetime | None
    last_grant_id: str | None = None
    last_rollover: dict[str, int | None] | None = None


def check_allowance_input(
    *,
    allowance_id: str,
    amount: int,
    category: str,
    priority: int,
    period: str,
    timezone: str,
    starts_at: datetime | None,
    ends_at: datetime | None,
    rollover: dict[str, int | None] | None,
) -> None:
    """Refuse malformed terms (``validation_error`` naming the field).

    ``starts_at`` None (not given: the command fills it in) skips the check of ``ends_at``
    against it, which the wallet makes once it knows the start.
    """
    check_id("allowance_id", allowance_id)
    if len(allowance_id) > MAX_ALLOWANCE_ID:
        raise fail(
            "allowance_id",
            f"must be at most {MAX_ALLOWANCE_ID} characters (its grant ids add a period start)",
        )
    check_amount("amount", amount)
    if category not in ALLOWANCE_CATEGORIES:
        raise fail("category", f"must be one of {', '.join(sorted(ALLOWANCE_CATEGORIES))}")
    check_amount("priority", priority, minimum=0)
    if priority > _MAX_PRIORITY:
        raise fail("priority", f"must be at most {_MAX_PRIORITY}")
    if period not in ALLOWANCE_PERIODS:
        raise fail("period", "must be one of day, week, month, year")
    try:
        parse_timezone(timezone)
    except ValueError:
        raise fail("timezone", f"unknown time zone {timezone!r}") from None
    if starts_at is not None:
        check_aware("starts_at", starts_at)
    if ends_at is not None:
        check_aware("ends_at", ends_at)
        if starts_at is not None and ends_at <= starts_at:
            raise fail("ends_at", "must be after starts_at")
    if rollover is not None:
        if set(rollover) != {"max_amount"}:
            raise fail("rollover", "must be an object with max_amount (an amount, or null)")
        if rollover["max_amount"] is not None:
            check_amount("rollover.max_amount", rollover["max_amount"])


def carried(remaining: int, rollover: dict[str, int | None] | None) -> int:
    """What of ``remaining`` rolls over: nothing without a rollover, else at most its cap."""
    if rollover is None:
        return 0
    cap = rollover["max_amount"]
    return remaining if cap is None else min(remaining, cap)


def instant_text(when: datetime) -> str:
    """An instant as grant ids spell it: RFC 3339 in UTC, whole seconds, ``Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def period_grant_id(allowance_id: str, period_start: datetime) -> str:
    """``<allowance_id>:<period start>``: the one grant of that period (the contract)."""
    return f"{allowance_id}:{instant_text(period_start)}"


def rollover_grant_id(allowance_id: str, period_start: datetime) -> str:
    """``<allowance_id>:<period start>:rollover``: what was carried into that period.

    Period grant ids end in a time and rollover ids in ``:rollover``, and both have a fixed
    length after the allowance id, so no two allowances ever share a grant id.
    """
    return f"{period_grant_id(allowance_id, period_start)}{_ROLLOVER_SUFFIX}"


def reserved_period(allowance_id: str, grant_id: str) -> datetime | None:
    """The period start ``grant_id`` names if it has the shape of this allowance's grant ids."""
    pattern = f"{re.escape(allowance_id)}:({_TIME_PATTERN})(?:{_ROLLOVER_SUFFIX})?"
    found = re.fullmatch(pattern, grant_id)
    if found is None:
        return None
    return datetime.strptime(found.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def period_end(period: str, timezone: str, start: datetime) -> datetime:
    """The end of the period that starts (or is under way) at ``start``."""
    _, end = period_bounds(Period(period), start, timezone)
    if end is None:  # only Period.TOTAL has no end, and allowances never use it
        raise AssertionError(f"period {period!r} has no end")
    return end


def first_period_start(period: str, timezone: str, not_before: datetime) -> datetime:
    """The first period boundary at or after ``not_before``."""
    start, _ = period_bounds(Period(period), not_before, timezone)
    return start if start == not_before else period_end(period, timezone, not_before)


def next_period_start(
    period: str, timezone: str, ends_at: datetime | None, start: datetime
) -> datetime | None:
    """The period after the one starting at ``start`` (periods tile time), or None past
    ``ends_at`` (exclusive: a period starting at ``ends_at`` is not the allowance's)."""
    following = period_end(period, timezone, start)
    return None if ends_at is not None and following >= ends_at else following
