"""Budget periods: calendar-aligned, DST-correct time windows in UTC.

A budget resets (and an allowance grants) on calendar boundaries in its own IANA time
zone (local midnight, Monday of the ISO week, the 1st of the month, the 1st of January),
but the ledger stores and compares instants in UTC. This module turns "the period
containing this instant" into a half-open UTC interval ``[start, end)``.

Boundaries are computed as local wall-clock *dates* and only then converted to UTC,
so a local day is 23 or 25 hours long across a DST change instead of drifting by an
hour. Two rare cases in the tz database need explicit rules:

* A local midnight that does not exist (the clocks jump from 23:59:59 to 01:00, as in
  America/Santiago every September): the boundary is the first instant after the
  gap.
* A local midnight that happens twice (the clocks fall back across or onto midnight,
  as in America/Havana every November): the boundary is the first occurrence.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta
from dateutil.tz import resolve_imaginary

__all__ = [
    "BUDGET_PERIODS",
    "EPOCH",
    "Period",
    "UnknownTimezone",
    "parse_timezone",
    "period_bounds",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""Start of the ``total`` period, which covers all of ledger time and never ends."""


class Period(StrEnum):
    """The length of a budget window or an allowance period."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"
    TOTAL = "total"


BUDGET_PERIODS = (Period.DAY, Period.WEEK, Period.MONTH, Period.TOTAL)
"""The periods a budget may have (the contract's list; allowances use ``ledger.allowances``)."""


class UnknownTimezone(ValueError):
    """The name is not an IANA time zone known to this installation."""

    def __init__(self, name: str) -> None:
        """Record the rejected name.

        Args:
            name: The time zone name that could not be loaded.
        """
        super().__init__(f"unknown time zone: {name!r}")
        self.name = name


# Calendar length of one period of each kind. relativedelta(months=1) moves to the same
# day of the next month, which is what we want because month periods always start on
# the 1st; a fixed "30 days" would drift.
_STEP: dict[Period, relativedelta] = {
    Period.DAY: relativedelta(days=1),
    Period.WEEK: relativedelta(weeks=1),
    Period.MONTH: relativedelta(months=1),
    Period.YEAR: relativedelta(years=1),
}


def parse_timezone(name: str) -> ZoneInfo:
    """Load an IANA time zone by name.

    ``zoneinfo`` caches instances per key, so repeated calls are cheap.

    Args:
        name: An IANA key such as ``"Europe/Berlin"`` or ``"UTC"`` (case-sensitive).

    Returns:
        The loaded time zone.

    Raises:
        UnknownTimezone: If the name is not a known zone or is not a valid key at all.
    """
    if name == "localtime":  # the server's own setting: a budget must not depend on the host
        raise UnknownTimezone(name)
    try:
        return ZoneInfo(name)
    # ZoneInfoNotFoundError: well-formed but unknown key. ValueError: malformed key
    # ("", "../etc", absolute paths, NUL bytes). OSError: the key names a directory
    # of the tz database ("Europe") or an unreadable file.
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise UnknownTimezone(name) from exc


def period_bounds(period: Period, at: datetime, timezone: str) -> tuple[datetime, datetime | None]:
    """Return the budget period that contains an instant.

    Args:
        period: Which kind of period.
        at: The instant; must be timezone-aware (any offset).
        timezone: IANA name of the zone whose calendar defines the boundaries.

    Returns:
        ``(start, end)`` in UTC, half-open: ``start <= at < end``. An ``at`` exactly on
        a boundary belongs to the period starting there. ``end`` is ``None`` for
        ``Period.TOTAL``, which starts at the Unix epoch and never ends.

    Raises:
        ValueError: If ``at`` is naive.
        UnknownTimezone: If ``timezone`` is not a known IANA zone.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"period_bounds needs an aware datetime, got naive {at!r}")
    # Validate the zone even for TOTAL so a misconfigured account fails loudly.
    zone = parse_timezone(timezone)
    if period is Period.TOTAL:
        return EPOCH, None
    step = _STEP[period]
    first = _first_day(period, at.astimezone(zone).date())
    # The local date of `at` can disagree with the boundaries for up to an hour
    # around a transition that crosses midnight (e.g. America/St_Johns until 2010
    # fell back from 00:01 to 23:01 of the previous day). Comparing instants, not
    # dates, keeps start <= at < end and the periods tiling time in every zone.
    while at < _local_midnight_utc(first, zone):
        first -= step
    while at >= _local_midnight_utc(first + step, zone):
        first += step
    return _local_midnight_utc(first, zone), _local_midnight_utc(first + step, zone)


def _first_day(period: Period, day: date) -> date:
    """Return the local calendar date on which the period containing ``day`` starts."""
    if period is Period.WEEK:
        # ISO weeks start on Monday; weekday() is 0 for Monday.
        return day - timedelta(days=day.weekday())
    if period is Period.MONTH:
        return day.replace(day=1)
    if period is Period.YEAR:
        return day.replace(month=1, day=1)
    return day


def _local_midnight_utc(day: date, zone: ZoneInfo) -> datetime:
    """Return the first instant of a local calendar date, in UTC.

    fold=0 (the default) picks the first of two occurrences of an ambiguous midnight.
    A nonexistent midnight is moved forward by the size of the gap. In every such case
    in tzdata 2026 (checked for 1971-2100) the gap starts exactly at midnight, so this
    lands on the first instant of the day; period_bounds stays consistent even if not.
    """
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    return resolve_imaginary(midnight).astimezone(UTC)
