"""Properties of budget periods over random instants and a sample of awkward zones.

The sample covers no DST (UTC, Asia/Kolkata), ordinary northern and southern DST
(Europe/Berlin, America/New_York), DST that starts at midnight so midnight is skipped
(America/Santiago), a 30-minute DST shift (Australia/Lord_Howe) and a +12:45/+13:45
zone (Pacific/Chatham).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.tz import datetime_exists
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.periods import Period, period_bounds

HOUR = timedelta(hours=1)
MICROSECOND = timedelta(microseconds=1)


def bounded(period: Period, at: datetime, tz: str) -> tuple[datetime, datetime]:
    """period_bounds for a period that has an end (everything except TOTAL)."""
    start, end = period_bounds(period, at, tz)
    assert end is not None
    return start, end


SAMPLE_ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/Santiago",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
]

instants = st.datetimes(
    min_value=datetime(1971, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=datetime(2100, 12, 31, 23, 59, 59),  # noqa: DTZ001
    timezones=st.just(UTC),
)
bounded_periods = st.sampled_from([Period.DAY, Period.WEEK, Period.MONTH, Period.YEAR])


def assert_starts_a_local_calendar_period(period: Period, start: datetime, tz: str) -> None:
    """Check that ``start`` is the first instant of a local day, Monday, 1st or New Year."""
    zone = ZoneInfo(tz)
    local = start.astimezone(zone)
    local_midnight = datetime.combine(local.date(), time(0), tzinfo=zone)
    # Either the wall clock reads midnight, or midnight was skipped by a DST jump...
    assert local.time() == time(0) or not datetime_exists(local_midnight)
    # ...and in both cases the instant just before is on an earlier local date.
    assert (start - MICROSECOND).astimezone(zone).date() < local.date()
    if period is Period.WEEK:
        assert local.weekday() == 0
    if period is Period.MONTH:
        assert local.day == 1
    if period is Period.YEAR:
        assert (local.month, local.day) == (1, 1)


@given(at=instants, period=bounded_periods, tz=st.sampled_from(SAMPLE_ZONES))
def test_periods_contain_at_start_on_local_boundaries_and_tile_time(
    at: datetime, period: Period, tz: str
) -> None:
    # Given a random instant, period kind and zone

    # When its period and both neighbours are computed
    start, end = bounded(period, at, tz)
    following_start, _ = bounded(period, end, tz)
    _, preceding_end = bounded(period, start - MICROSECOND, tz)

    # Then the period contains the instant, starts on a local calendar boundary,
    # and its neighbours meet it exactly (no gap, no overlap)
    assert start.tzinfo is UTC
    assert end.tzinfo is UTC
    assert start <= at < end
    assert_starts_a_local_calendar_period(period, start, tz)
    assert following_start == end
    assert preceding_end == start


@given(at=instants, tz=st.sampled_from(SAMPLE_ZONES))
def test_a_local_day_is_between_22_and_26_hours(at: datetime, tz: str) -> None:
    # Given a random instant and zone (Lord Howe shifts by only 30 minutes)

    # When its daily period is computed
    start, end = bounded(Period.DAY, at, tz)

    # Then DST can shorten or lengthen the day, but only by a couple of hours
    assert 22 * HOUR <= end - start <= 26 * HOUR
