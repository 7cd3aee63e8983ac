"""The wallet machine's model of allowances: plain data and calendar arithmetic written from
the contract (1.1, "Allowances") and decision 0018, not from ``ledger.allowances``.

Only zones without daylight saving time are modelled (the machine's UTC and Asia/Kolkata),
so a local calendar date's midnight is one fixed offset away from UTC; DST zones are covered
by the example tables in tests/unit/test_allowances.py and by tests/property/
test_periods_properties.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "MAllowance",
    "allowance_grant_id",
    "boundary_at_or_after",
    "carry",
    "next_boundary",
    "start_of",
]


@dataclass
class MAllowance:
    amount: int
    category: str
    priority: int
    period: str
    timezone: str
    starts_at: datetime
    ends_at: datetime | None
    rollover: dict[str, int | None] | None
    next_start: datetime | None
    last_grant: str | None = None
    last_rollover: dict[str, int | None] | None = None


def _midnight(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def _first_day(period: str, day: date) -> date:
    """The local date on which the period containing ``day`` starts."""
    if period == "week":
        return day - timedelta(days=day.weekday())  # Monday
    if period == "month":
        return day.replace(day=1)
    if period == "year":
        return day.replace(month=1, day=1)
    return day


def _following_day(period: str, first: date) -> date:
    """The local date on which the period after the one starting on ``first`` starts."""
    if period == "day":
        return first + timedelta(days=1)
    if period == "week":
        return first + timedelta(days=7)
    if period == "month":
        return date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return date(first.year + 1, 1, 1)


def next_boundary(period: str, timezone: str, at: datetime) -> datetime:
    """The first period start strictly after ``at``."""
    local = at.astimezone(ZoneInfo(timezone)).date()
    return _midnight(_following_day(period, _first_day(period, local)), timezone)


def boundary_at_or_after(period: str, timezone: str, at: datetime) -> datetime:
    """The first period start at or after ``at``."""
    start = start_of(period, timezone, at)
    return start if start == at else next_boundary(period, timezone, at)


def allowance_grant_id(allowance_id: str, start: datetime, *, rollover: bool = False) -> str:
    text = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{allowance_id}:{text}{':rollover' if rollover else ''}"


def carry(remaining: int, rollover: dict[str, int | None] | None) -> int:
    """What of ``remaining`` rolls over: nothing without rollover, else up to the cap."""
    if rollover is None:
        return 0
    cap = rollover["max_amount"]
    return remaining if cap is None else min(remaining, cap)


def start_of(period: str, timezone: str, at: datetime) -> datetime:
    """The start of the period that contains ``at``."""
    local = at.astimezone(ZoneInfo(timezone)).date()
    return _midnight(_first_day(period, local), timezone)
