"""Budget periods: calendar boundaries in the account's zone, returned in UTC.

Every expected value below is computed by hand from the zone's UTC offset on that
date (noted in the comments), not by calling the code under test. The DST dates were
confirmed against the installed tz database before being written down.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from ledger.domain.periods import EPOCH, Period, UnknownTimezone, parse_timezone, period_bounds

HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)
MICROSECOND = timedelta(microseconds=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Build an aware UTC datetime: utc(2026, 3, 29, 22) is 2026-03-29T22:00Z."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def bounded(period: Period, at: datetime, tz: str) -> tuple[datetime, datetime]:
    """period_bounds for a period that has an end (everything except TOTAL)."""
    start, end = period_bounds(period, at, tz)
    assert end is not None
    return start, end


# --- day ---------------------------------------------------------------------------


def test_day_in_utc_runs_from_midnight_to_midnight() -> None:
    # Given an afternoon instant in UTC
    at = utc(2026, 5, 14, 15, 30)

    # When the daily period is computed in UTC
    bounds = bounded(Period.DAY, at, "UTC")

    # Then it is that calendar day
    assert bounds == (utc(2026, 5, 14), utc(2026, 5, 15))


def test_day_in_berlin_winter_is_offset_by_one_hour() -> None:
    # Given an instant in January, when Berlin is on CET (+01:00)
    at = utc(2026, 1, 15, 10)

    # When the daily period is computed in Berlin
    bounds = bounded(Period.DAY, at, "Europe/Berlin")

    # Then local midnight is 23:00 UTC the evening before
    assert bounds == (utc(2026, 1, 14, 23), utc(2026, 1, 15, 23))


def test_day_in_berlin_summer_is_offset_by_two_hours() -> None:
    # Given an instant in July, when Berlin is on CEST (+02:00)
    at = utc(2026, 7, 15, 10)

    # When the daily period is computed in Berlin
    bounds = bounded(Period.DAY, at, "Europe/Berlin")

    # Then local midnight is 22:00 UTC the evening before
    assert bounds == (utc(2026, 7, 14, 22), utc(2026, 7, 15, 22))


def test_local_date_not_utc_date_decides_the_day() -> None:
    # Given 00:30 on 15 January in Berlin, which is still 14 January in UTC
    at = datetime(2026, 1, 15, 0, 30, tzinfo=timezone(HOUR))

    # When the daily period is computed in Berlin and in UTC
    berlin = bounded(Period.DAY, at, "Europe/Berlin")
    in_utc = bounded(Period.DAY, at, "UTC")

    # Then Berlin counts it on the 15th and UTC on the 14th
    assert berlin == (utc(2026, 1, 14, 23), utc(2026, 1, 15, 23))
    assert in_utc == (utc(2026, 1, 14), utc(2026, 1, 15))


def test_spring_forward_day_is_23_hours_long() -> None:
    # Given noon on 2026-03-29, when Berlin jumps from 02:00 CET to 03:00 CEST
    at = utc(2026, 3, 29, 12)

    # When the daily period is computed in Berlin
    start, end = bounded(Period.DAY, at, "Europe/Berlin")

    # Then it starts at midnight CET (+01:00) and ends at midnight CEST (+02:00)
    assert (start, end) == (utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))
    assert end - start == 23 * HOUR


def test_fall_back_day_is_25_hours_long() -> None:
    # Given noon on 2026-10-25, when Berlin falls back from 03:00 CEST to 02:00 CET
    at = utc(2026, 10, 25, 12)

    # When the daily period is computed in Berlin
    start, end = bounded(Period.DAY, at, "Europe/Berlin")

    # Then it starts at midnight CEST (+02:00) and ends at midnight CET (+01:00)
    assert (start, end) == (utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))
    assert end - start == 25 * HOUR


# --- week --------------------------------------------------------------------------


def test_week_starts_on_monday() -> None:
    # Given Thursday 2026-05-14 in UTC
    at = utc(2026, 5, 14, 9)

    # When the weekly period is computed
    bounds = bounded(Period.WEEK, at, "UTC")

    # Then it is the ISO week from Monday 11 May to Monday 18 May
    assert bounds == (utc(2026, 5, 11), utc(2026, 5, 18))


def test_week_spanning_a_month_and_year_boundary() -> None:
    # Given Thursday 2026-12-31, in ISO week 53 of 2026
    at = utc(2026, 12, 31, 18)

    # When the weekly period is computed
    bounds = bounded(Period.WEEK, at, "UTC")

    # Then the week runs from Monday 28 December into the new year
    assert bounds == (utc(2026, 12, 28), utc(2027, 1, 4))


def test_week_in_berlin_starts_sunday_evening_utc() -> None:
    # Given Monday 2026-05-11 00:00 in Berlin (+02:00), i.e. Sunday 22:00 UTC
    at = utc(2026, 5, 10, 22)

    # When the weekly period is computed in Berlin
    bounds = bounded(Period.WEEK, at, "Europe/Berlin")

    # Then the instant opens the new week rather than closing the old one
    assert bounds == (utc(2026, 5, 10, 22), utc(2026, 5, 17, 22))


def test_week_containing_spring_forward_is_one_hour_short() -> None:
    # Given Sunday 2026-03-29 in Berlin, the last day of its ISO week
    at = utc(2026, 3, 29, 12)

    # When the weekly period is computed in Berlin
    start, end = bounded(Period.WEEK, at, "Europe/Berlin")

    # Then it starts Monday 23 March at +01:00 and ends Monday 30 March at +02:00
    assert (start, end) == (utc(2026, 3, 22, 23), utc(2026, 3, 29, 22))
    assert end - start == 7 * 24 * HOUR - HOUR


# --- month -------------------------------------------------------------------------


def test_february_of_a_leap_year_has_29_days() -> None:
    # Given 29 February 2028
    at = utc(2028, 2, 29, 12)

    # When the monthly period is computed
    start, end = bounded(Period.MONTH, at, "UTC")

    # Then it is the whole of February, 29 days long
    assert (start, end) == (utc(2028, 2, 1), utc(2028, 3, 1))
    assert end - start == timedelta(days=29)


def test_month_in_tokyo_starts_at_15_00_utc_the_day_before() -> None:
    # Given mid-June 2026; Tokyo is +09:00 all year
    at = utc(2026, 6, 15)

    # When the monthly period is computed in Tokyo
    bounds = bounded(Period.MONTH, at, "Asia/Tokyo")

    # Then 1 June 00:00 JST is 31 May 15:00 UTC, and 1 July is 30 June 15:00 UTC
    assert bounds == (utc(2026, 5, 31, 15), utc(2026, 6, 30, 15))


def test_month_containing_a_dst_change_is_one_hour_short() -> None:
    # Given mid-March 2026 in Berlin, which switches to summer time on the 29th
    at = utc(2026, 3, 15)

    # When the monthly period is computed in Berlin
    start, end = bounded(Period.MONTH, at, "Europe/Berlin")

    # Then it starts 1 March at +01:00 and ends 1 April at +02:00
    assert (start, end) == (utc(2026, 2, 28, 23), utc(2026, 3, 31, 22))
    assert end - start == timedelta(days=31) - HOUR


def test_last_instant_before_a_boundary_belongs_to_the_earlier_month() -> None:
    # Given the last microsecond of March in Berlin (April starts 2026-03-31T22:00Z)
    at = utc(2026, 3, 31, 22) - MICROSECOND

    # When the monthly period is computed in Berlin
    bounds = bounded(Period.MONTH, at, "Europe/Berlin")

    # Then it is still March
    assert bounds == (utc(2026, 2, 28, 23), utc(2026, 3, 31, 22))


def test_instant_exactly_on_a_boundary_belongs_to_the_period_starting_there() -> None:
    # Given exactly 1 April 00:00 in Berlin, written with its local offset
    at = datetime(2026, 4, 1, tzinfo=timezone(2 * HOUR))

    # When the monthly period is computed in Berlin
    bounds = bounded(Period.MONTH, at, "Europe/Berlin")

    # Then it is April (1 May 00:00 CEST is 30 April 22:00 UTC)
    assert bounds == (utc(2026, 3, 31, 22), utc(2026, 4, 30, 22))


# --- midnights that do not exist or happen twice -------------------------------------


def test_day_after_a_nonexistent_midnight_starts_when_the_clock_resumes() -> None:
    # Given 2026-09-06 in Santiago, where 23:59:59 (-04:00) is followed by 01:00
    # (-03:00): local midnight does not exist; the jump happens at 04:00 UTC
    at = utc(2026, 9, 6, 12)

    # When the daily period is computed in Santiago
    start, end = bounded(Period.DAY, at, "America/Santiago")

    # Then the day starts at the jump and ends at the next midnight (-03:00)
    assert (start, end) == (utc(2026, 9, 6, 4), utc(2026, 9, 7, 3))
    assert end - start == 23 * HOUR


def test_day_before_a_nonexistent_midnight_ends_when_the_clock_jumps() -> None:
    # Given the last second of 2026-09-05 in Santiago (-04:00)
    at = utc(2026, 9, 6, 4) - SECOND

    # When the daily period is computed in Santiago
    start, end = bounded(Period.DAY, at, "America/Santiago")

    # Then it is a full 24-hour day ending at the jump, with no gap before the next
    assert (start, end) == (utc(2026, 9, 5, 4), utc(2026, 9, 6, 4))
    assert end - start == 24 * HOUR


@pytest.mark.parametrize("period", [Period.DAY, Period.WEEK, Period.MONTH])
def test_period_starting_on_a_nonexistent_midnight(period: Period) -> None:
    # Given Monday 2009-06-01 in Casablanca, where the clock jumped from 00:00 (+00:00)
    # to 01:00 (+01:00), so the day, the ISO week and the month all lack a midnight
    at = utc(2009, 6, 1, 12)

    # When the period is computed in Casablanca
    start, _ = bounded(period, at, "Africa/Casablanca")

    # Then it starts at the jump, 00:00 UTC
    assert start == utc(2009, 6, 1)


def test_ambiguous_midnight_uses_the_first_occurrence() -> None:
    # Given 2026-11-01 in Havana, where 00:59:59 (-04:00) is followed by 00:00
    # (-05:00), so midnight happens at 04:00 UTC and again at 05:00 UTC
    first_pass, second_pass = utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 5, 30)

    # When the daily period is computed for both passes through 00:30
    first = bounded(Period.DAY, first_pass, "America/Havana")
    second = bounded(Period.DAY, second_pass, "America/Havana")

    # Then both are in one 25-hour day starting at the first midnight
    assert first == second == (utc(2026, 11, 1, 4), utc(2026, 11, 2, 5))


def test_fall_back_across_midnight_keeps_the_day_that_already_started() -> None:
    # Given 1987-10-25 in St. John's, where 00:01 NDT (-02:30) fell back to 23:01 NST
    # (-03:30) of the 24th; 02:45 UTC reads "23:15 on the 24th" for the second time
    at = utc(1987, 10, 25, 2, 45)

    # When the daily period is computed in St. John's
    start, end = bounded(Period.DAY, at, "America/St_Johns")

    # Then it belongs to the 25th, which began at the first midnight (02:30 UTC);
    # going by the wall clock would put it after the end of the 24th's period
    assert (start, end) == (utc(1987, 10, 25, 2, 30), utc(1987, 10, 26, 3, 30))
    assert start <= at < end


# --- total, validation -------------------------------------------------------------


def test_total_period_starts_at_the_epoch_and_never_ends() -> None:
    # Given any instant
    at = utc(2026, 5, 14, 15, 30)

    # When the total period is computed, in any zone
    bounds = period_bounds(Period.TOTAL, at, "Pacific/Chatham")

    # Then it starts at the Unix epoch and has no end
    assert bounds == (EPOCH, None)
    assert utc(1970, 1, 1) == EPOCH


@pytest.mark.parametrize("period", list(Period))
def test_naive_datetime_is_rejected(period: Period) -> None:
    # Given a datetime without a time zone
    naive = datetime(2026, 5, 14, 15, 30)  # noqa: DTZ001 - naive on purpose

    # When / Then computing its period fails instead of guessing a zone
    with pytest.raises(ValueError, match="aware"):
        period_bounds(period, naive, "UTC")


def test_utc_is_a_known_timezone() -> None:
    # Given / When the UTC zone is parsed
    zone = parse_timezone("UTC")

    # Then it is the IANA UTC zone
    assert zone == ZoneInfo("UTC")


@pytest.mark.parametrize(
    "name",
    ["Mars/Olympus_Mons", "europe/berlin", " Europe/Berlin", "", "../etc", "/etc/passwd", "Europe"],
)
def test_unknown_or_malformed_timezone_is_rejected(name: str) -> None:
    # Given a name that is not an IANA zone (unknown, wrong case, path-like, a folder)

    # When / Then parsing it raises UnknownTimezone, which is a ValueError
    with pytest.raises(UnknownTimezone) as excinfo:
        parse_timezone(name)
    assert isinstance(excinfo.value, ValueError)
    assert excinfo.value.name == name


@pytest.mark.parametrize("period", list(Period))
def test_period_bounds_rejects_an_unknown_timezone(period: Period) -> None:
    # Given a valid instant and an unknown zone

    # When / Then every period, even total, reports the bad zone
    with pytest.raises(UnknownTimezone):
        period_bounds(period, utc(2026, 5, 14), "Nowhere/Special")


def test_period_parses_from_its_string_value() -> None:
    # Given / When / Then the stored strings map to the enum members
    assert [Period(v) for v in ("day", "week", "month", "year", "total")] == list(Period)


def test_a_year_runs_from_local_new_year_to_the_next() -> None:
    # Given mid-2026 in Santiago (UTC-3 in summer, January; UTC-4 in winter, July)
    at = utc(2026, 7, 1)

    # When its year is computed
    start, end = bounded(Period.YEAR, at, "America/Santiago")

    # Then it runs from local midnight of 1 January 2026 to that of 1 January 2027
    assert (start, end) == (utc(2026, 1, 1, 3), utc(2027, 1, 1, 3))


def test_the_first_instant_of_a_year_belongs_to_it() -> None:
    # Given Berlin's new year 2027, 23:00 UTC on 31 December
    at = utc(2026, 12, 31, 23)

    # When its year is computed
    start, end = bounded(Period.YEAR, at, "Europe/Berlin")

    # Then it starts exactly there and the year after is the end
    assert (start, end) == (at, utc(2027, 12, 31, 23))
