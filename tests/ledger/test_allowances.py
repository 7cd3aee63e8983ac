"""Allowances by hand: which periods are granted, when, with which ids, and how changes,
removal and a wallet left alone for months come out (decision 0018).

Every expected id, date and amount below was worked out by hand from the calendar: America/
Santiago is UTC-3 until its clocks go back on 5 April 2026 and UTC-4 from then until 6
September 2026, so its local midnight is 03:00Z in summer and 04:00Z in winter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from ledger.app.commands import Debit, GrantCredits, OpenWallet, RemoveAllowance, SetAllowance
from ledger.app.reads import MAX_READ_STEPS
from ledger.app.service import CreditLedger
from ledger.domain.errors import AllowanceNotFound, LedgerError
from tests.support.builders import FakeClock, at, make_ledger
from tests.support.wallets import events, version

W = "acme"


def _ledger(start: str) -> tuple[CreditLedger, FakeClock]:
    clock = FakeClock(at(start))
    ledger = make_ledger(clock=clock)
    ledger.open_wallet(OpenWallet(wallet_id=W))
    return ledger, clock


def _set(ledger: CreditLedger, allowance_id: str = "plan", **terms: Any) -> dict[str, Any]:
    terms.setdefault("amount", 1000)
    terms.setdefault("period", "month")
    body: dict[str, Any] = ledger.set_allowance(
        SetAllowance(wallet_id=W, allowance_id=allowance_id, **terms)
    ).body
    return body


def _grants(ledger: CreditLedger, as_of: datetime | None = None) -> list[tuple[Any, ...]]:
    """(grant_id, effective_at, expires_at, remaining, status) by effective_at, then id."""
    view = ledger.wallet(W, as_of=as_of)
    return sorted(
        (g["grant_id"], g["effective_at"], g["expires_at"], g["remaining"], g["status"])
        for g in view["grants"]
    )


def _recorded(ledger: CreditLedger, after_version: int = 0) -> list[tuple[str, datetime, Any]]:
    """(type, occurred_at, grant or allowance id) of each recorded event."""
    return [
        (e["type"], e["occurred_at"], e["data"].get("grant_id") or e["data"].get("allowance_id"))
        for e in events(ledger, W, after_version)
    ]


# -- which periods, in which zone -------------------------------------------------------------


def test_a_monthly_allowance_from_mid_january_in_santiago_follows_local_midnights() -> None:
    # Given a monthly allowance of 1000 set on 15 January (it starts then: February is the
    # first month that starts after it)
    ledger, clock = _ledger("2026-01-15T12:00")
    body = _set(ledger, timezone="America/Santiago")
    assert body["next_grant_at"] == at("2026-02-01T03:00")

    # When the wallet is read on 2 October, never touched in between
    clock.set(at("2026-10-02T00:00"))

    # Then every month was granted from local midnight to local midnight, across both
    # changes of the clocks (April: -03 to -04; September: -04 to -03)
    assert _grants(ledger) == [
        ("plan:2026-02-01T03:00:00Z", at("2026-02-01T03:00"), at("2026-03-01T03:00"), 0, "expired"),
        ("plan:2026-03-01T03:00:00Z", at("2026-03-01T03:00"), at("2026-04-01T03:00"), 0, "expired"),
        ("plan:2026-04-01T03:00:00Z", at("2026-04-01T03:00"), at("2026-05-01T04:00"), 0, "expired"),
        ("plan:2026-05-01T04:00:00Z", at("2026-05-01T04:00"), at("2026-06-01T04:00"), 0, "expired"),
        ("plan:2026-06-01T04:00:00Z", at("2026-06-01T04:00"), at("2026-07-01T04:00"), 0, "expired"),
        ("plan:2026-07-01T04:00:00Z", at("2026-07-01T04:00"), at("2026-08-01T04:00"), 0, "expired"),
        ("plan:2026-08-01T04:00:00Z", at("2026-08-01T04:00"), at("2026-09-01T04:00"), 0, "expired"),
        ("plan:2026-09-01T04:00:00Z", at("2026-09-01T04:00"), at("2026-10-01T03:00"), 0, "expired"),
        (
            "plan:2026-10-01T03:00:00Z",
            at("2026-10-01T03:00"),
            at("2026-11-01T03:00"),
            1000,
            "active",
        ),
    ]
    assert ledger.wallet(W)["balance"]["available"] == 1000
    assert ledger.allowance(W, "plan")["next_grant_at"] == at("2026-11-01T03:00")


def test_each_calendar_period_kind_starts_on_its_local_boundary() -> None:
    # Given allowances of every period kind in Berlin (UTC+1 in winter), set on Wed 14 Jan
    ledger, _ = _ledger("2026-01-14T12:00")
    starts = {
        period: _set(ledger, f"a-{period}", period=period, timezone="Europe/Berlin")[
            "next_grant_at"
        ]
        for period in ("day", "week", "month", "year")
    }

    # Then each waits for the next local midnight, Monday, 1st of the month, New Year
    assert starts == {
        "day": at("2026-01-14T23:00"),
        "week": at("2026-01-18T23:00"),
        "month": at("2026-01-31T23:00"),
        "year": at("2026-12-31T23:00"),
    }


def test_a_start_in_the_past_grants_the_period_under_way_at_once() -> None:
    # Given it is 10 March and a monthly allowance starts on 1 January
    ledger, _ = _ledger("2026-03-10T09:00")

    # When it is set
    body = _set(ledger, starts_at=at("2026-01-01T00:00"))

    # Then March is granted now (effective from 1 March), the months already over are not
    assert _grants(ledger) == [
        (
            "plan:2026-03-01T00:00:00Z",
            at("2026-03-01T00:00"),
            at("2026-04-01T00:00"),
            1000,
            "active",
        )
    ]
    assert _recorded(ledger)[-1] == (
        "AllowanceGranted",
        at("2026-03-10T09:00"),
        "plan:2026-03-01T00:00:00Z",
    )
    assert body["next_grant_at"] == at("2026-04-01T00:00")


def test_a_start_in_the_future_grants_nothing_before_it() -> None:
    # Given a daily allowance starting on 3 January, set on 1 January
    ledger, clock = _ledger("2026-01-01T00:00")
    _set(ledger, period="day", amount=5, starts_at=at("2026-01-03T00:00"))

    # When the wallet is read just before, and then on, 3 January
    clock.set(at("2026-01-02T23:59:59"))
    before = ledger.wallet(W)["balance"]["available"]
    clock.set(at("2026-01-03T00:00"))

    # Then the first grant is there from its start, not a moment earlier
    assert before == 0
    assert ledger.wallet(W)["balance"]["available"] == 5


def test_periods_stop_at_ends_at() -> None:
    # Given a weekly allowance (UTC; 5 January 2026 is a Monday) ending on Wednesday 21 January
    ledger, clock = _ledger("2026-01-05T00:00")
    _set(
        ledger,
        period="week",
        amount=7,
        ends_at=at("2026-01-21T00:00"),
        rollover={"max_amount": None},
    )

    # When it is read in February
    clock.set(at("2026-02-10T00:00"))

    # Then the weeks of 5 and 12 January were granted, the one that starts on the 19th too
    # (it starts before ends_at), and nothing after; the last rolls over into no period
    ids = [row[0] for row in _grants(ledger)]
    assert ids == [
        "plan:2026-01-05T00:00:00Z",
        "plan:2026-01-12T00:00:00Z",
        "plan:2026-01-12T00:00:00Z:rollover",
        "plan:2026-01-19T00:00:00Z",
        "plan:2026-01-19T00:00:00Z:rollover",
    ]
    assert ledger.allowance(W, "plan")["next_grant_at"] is None


# -- recorded once, lazily --------------------------------------------------------------------


def test_a_period_is_recorded_once_dated_at_its_start_on_the_first_touch() -> None:
    # Given a monthly allowance set on 15 January
    ledger, clock = _ledger("2026-01-15T00:00")
    _set(ledger)
    stored = version(ledger, W)

    # When it is read on 3 February, and then a debit is made there, twice
    clock.set(at("2026-02-03T00:00"))
    read = ledger.wallet(W)["balance"]["available"]
    recorded_by_the_read = version(ledger, W) - stored
    ledger.debit(Debit(wallet_id=W, amount=1))
    ledger.debit(Debit(wallet_id=W, amount=1))

    # Then the read counted February without recording it; the first debit recorded it,
    # dated 1 February, and the second found nothing more to record
    assert (read, recorded_by_the_read) == (1000, 0)
    assert _recorded(ledger, stored) == [
        ("AllowanceGranted", at("2026-02-01T00:00"), "plan:2026-02-01T00:00:00Z"),
        ("CreditsDebited", at("2026-02-03T00:00"), None),
        ("CreditsDebited", at("2026-02-03T00:00"), None),
    ]


def test_sweep_records_due_periods_and_then_nothing() -> None:
    # Given a daily allowance set on 1 January, swept on the 3rd
    ledger, clock = _ledger("2026-01-01T00:00")
    _set(ledger, period="day", amount=10)
    clock.set(at("2026-01-03T12:00"))

    # When swept twice
    first, second = ledger.sweep(), ledger.sweep()

    # Then the first recorded the 2nd's and 3rd's grants and the 1st's and 2nd's expiries
    assert (first, second) == (4, 0)
    assert [row[0] for row in _recorded(ledger)[-4:]] == [
        "GrantExpired",
        "AllowanceGranted",
        "GrantExpired",
        "AllowanceGranted",
    ]


def test_a_wallet_untouched_for_three_periods_catches_up_in_business_time_order() -> None:
    # Given a monthly allowance of 1000 (UTC) rolling over at most 500, from 1 January;
    # 200 are spent on 5 January, then nothing happens until 15 April
    ledger, clock = _ledger("2026-01-01T00:00")
    _set(ledger, rollover={"max_amount": 500})
    clock.set(at("2026-01-05T00:00"))
    ledger.debit(Debit(wallet_id=W, amount=200))
    stored = version(ledger, W)
    clock.set(at("2026-04-15T00:00"))

    # When the wallet is touched
    ledger.debit(Debit(wallet_id=W, amount=1))

    # Then each month end rolled 500 over and expired the rest, then granted the new month,
    # each dated when it happened
    jan, feb, mar, apr = (f"plan:2026-0{m}-01T00:00:00Z" for m in (1, 2, 3, 4))
    assert _recorded(ledger, stored) == [
        ("RolloverGranted", at("2026-02-01T00:00"), f"{feb}:rollover"),
        ("GrantExpired", at("2026-02-01T00:00"), jan),
        ("AllowanceGranted", at("2026-02-01T00:00"), feb),
        ("RolloverGranted", at("2026-03-01T00:00"), f"{mar}:rollover"),
        ("GrantExpired", at("2026-03-01T00:00"), feb),
        ("GrantExpired", at("2026-03-01T00:00"), f"{feb}:rollover"),
        ("AllowanceGranted", at("2026-03-01T00:00"), mar),
        ("RolloverGranted", at("2026-04-01T00:00"), f"{apr}:rollover"),
        ("GrantExpired", at("2026-04-01T00:00"), mar),
        ("GrantExpired", at("2026-04-01T00:00"), f"{mar}:rollover"),
        ("AllowanceGranted", at("2026-04-01T00:00"), apr),
        ("CreditsDebited", at("2026-04-15T00:00"), None),
    ]
    # and the amounts: January had 800 left (500 carried, 300 expired), February and March
    # 1000 each (500 carried, 500 expired) and their rollovers 500 each (all expired)
    amounts = [e["data"]["amount"] for e in events(ledger, W, stored)][:-1]
    assert amounts == [500, 300, 1000, 500, 500, 500, 1000, 500, 500, 500, 1000]
    assert ledger.wallet(W)["balance"]["available"] == 1499


def test_as_of_reads_count_periods_whether_recorded_or_not() -> None:
    # Given a monthly allowance with uncapped rollover from 1 January; 300 spent on 10 Jan
    ledger, clock = _ledger("2026-01-01T00:00")
    _set(ledger, rollover={"max_amount": None})
    clock.set(at("2026-01-10T00:00"))
    ledger.debit(Debit(wallet_id=W, amount=300))
    clock.set(at("2026-03-20T00:00"))
    mid_feb, mid_jan = at("2026-02-15T00:00"), at("2026-01-20T00:00")

    # When balances as of mid-February and mid-January are read before and after the
    # months in between are recorded
    unrecorded = [ledger.wallet(W, as_of=t)["balance"]["available"] for t in (mid_jan, mid_feb)]
    grants_before = _grants(ledger, as_of=mid_feb)
    ledger.sweep()
    recorded = [ledger.wallet(W, as_of=t)["balance"]["available"] for t in (mid_jan, mid_feb)]

    # Then both say 700 in January and 1700 (700 carried + 1000) in February
    assert unrecorded == recorded == [700, 1700]
    assert grants_before == _grants(ledger, as_of=mid_feb)


def test_a_read_of_now_answers_however_much_fell_due_since_the_last_sweep() -> None:
    # Given a daily allowance of 10 (no rollover) left alone, unswept, for three years: more
    # periods and expiries fall due than a read may apply on its way to a chosen as_of
    ledger, clock = _ledger("2026-01-01T00:00")
    _set(ledger, amount=10, period="day")
    clock.set(at("2029-01-01T12:00"))
    due = 2 * (365 * 3 + 1)  # each day: the day before expires, the day is granted
    assert due > MAX_READ_STEPS

    # When the wallet is read now, and then as of the same instant named
    view = ledger.wallet(W)
    with pytest.raises(LedgerError) as named:
        ledger.wallet(W, as_of=at("2029-01-01T12:00"))

    # Then the read of now answers with today's grant (a read names no time to fix), while
    # the named instant is still held to the bound; nothing was recorded by the read
    assert view["balance"]["available"] == 10
    assert len(view["grants"]) == 365 * 3 + 2
    assert named.value.code == "validation_error"
    assert named.value.details()["errors"][0]["field"] == "as_of"
    assert version(ledger, W) == view["version"]


# -- changes and removal ---------------------------------------------------------------------


def test_a_change_mid_period_takes_effect_next_period() -> None:
    # Given a monthly allowance of 1000 from 1 January
    ledger, clock = _ledger("2026-01-01T00:00")
    _set(ledger)

    # When on 10 January it is changed to 2000 a month
    clock.set(at("2026-01-10T00:00"))
    body = _set(ledger, amount=2000)
    clock.set(at("2026-02-02T00:00"))

    # Then January keeps its 1000, February gets 2000; the start stays 1 January
    assert (body["created"], body["next_grant_at"], body["starts_at"]) == (
        False,
        at("2026-02-01T00:00"),
        at("2026-01-01T00:00"),
    )
    assert {g["grant_id"]: g["amount"] for g in ledger.wallet(W)["grants"]} == {
        "plan:2026-01-01T00:00:00Z": 1000,
        "plan:2026-02-01T00:00:00Z": 2000,
    }


def test_a_change_to_another_calendar_starts_at_its_first_boundary_after_the_period() -> None:
    # Given a monthly allowance from 1 January (UTC)
    ledger, _ = _ledger("2026-01-01T00:00")
    _set(ledger)

    # When on 10 January it becomes weekly
    body = _set(ledger, period="week", amount=250)

    # Then the first week is the one starting on the first Monday after January's grant
    # ends (1 February 2026 is a Sunday)
    assert body["next_grant_at"] == at("2026-02-02T00:00")


def test_removal_stops_future_periods_only() -> None:
    # Given a monthly allowance with uncapped rollover from 1 January, 100 spent on the 5th
    ledger, clock = _ledger("2026-01-01T00:00")
    _set(ledger, rollover={"max_amount": None})
    clock.set(at("2026-01-05T00:00"))
    ledger.debit(Debit(wallet_id=W, amount=100))

    # When it is removed on the 10th
    clock.set(at("2026-01-10T00:00"))
    ledger.remove_allowance(RemoveAllowance(wallet_id=W, allowance_id="plan"))

    # Then January's grant stays usable to its end, and nothing follows it: no February
    # grant and no rollover (what was left expires)
    assert ledger.wallet(W)["balance"]["available"] == 900
    clock.set(at("2026-03-01T00:00"))
    assert _grants(ledger) == [
        ("plan:2026-01-01T00:00:00Z", at("2026-01-01T00:00"), at("2026-02-01T00:00"), 0, "expired")
    ]
    with pytest.raises(AllowanceNotFound):
        ledger.allowance(W, "plan")
    with pytest.raises(AllowanceNotFound):
        ledger.remove_allowance(RemoveAllowance(wallet_id=W, allowance_id="plan"))


def test_setting_a_removed_allowance_again_never_grants_a_period_twice() -> None:
    # Given a monthly allowance from 1 January, removed and set again on the 10th
    ledger, clock = _ledger("2026-01-01T00:00")
    _set(ledger, starts_at=at("2026-01-01T00:00"))
    clock.set(at("2026-01-10T00:00"))
    ledger.remove_allowance(RemoveAllowance(wallet_id=W, allowance_id="plan"))

    # When set again with the same start
    body = _set(ledger, starts_at=at("2026-01-01T00:00"))

    # Then January (already granted) is not granted again; February is next
    assert body["next_grant_at"] == at("2026-02-01T00:00")
    assert ledger.wallet(W)["balance"]["available"] == 1000


# -- ids and input ---------------------------------------------------------------------------


def test_a_grant_may_not_take_an_id_of_an_allowance_of_the_wallet() -> None:
    # Given allowance "plan"
    ledger, _ = _ledger("2026-01-01T00:00")
    _set(ledger)

    # When a grant asks for an id of its form
    with pytest.raises(LedgerError) as refused:
        ledger.grant(
            GrantCredits(
                wallet_id=W, grant_id="plan:2026-02-01T00:00:00Z", amount=5, category="paid"
            )
        )

    # Then it is refused, naming grant_id; other ids with the prefix are fine
    assert refused.value.code == "validation_error"
    assert refused.value.details()["errors"][0]["field"] == "grant_id"
    ledger.grant(GrantCredits(wallet_id=W, grant_id="plan:bonus", amount=5, category="paid"))


def test_an_allowance_whose_future_grant_id_is_taken_is_refused() -> None:
    # Given a grant made with the id allowance "plan" would give March
    ledger, _ = _ledger("2026-01-01T00:00")
    ledger.grant(
        GrantCredits(wallet_id=W, grant_id="plan:2026-03-01T00:00:00Z", amount=5, category="paid")
    )

    # When the allowance is set
    with pytest.raises(LedgerError) as refused:
        _set(ledger)

    # Then it is refused, naming allowance_id
    assert refused.value.details()["errors"][0]["field"] == "allowance_id"


def test_a_change_may_not_end_an_allowance_before_the_start_it_keeps() -> None:
    # Given an allowance from 1 January
    ledger, clock = _ledger("2026-01-01T00:00")
    _set(ledger)
    clock.set(at("2026-03-01T00:00"))

    # When it is changed, without a start, to end on 15 December 2025
    with pytest.raises(LedgerError) as refused:
        _set(ledger, ends_at=at("2025-12-15T00:00"))

    # Then the end is refused against the start it keeps
    assert refused.value.details()["errors"][0]["field"] == "ends_at"
    assert ledger.allowance(W, "plan")["ends_at"] is None


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": -5}, "amount"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"period": "total"}, "period"),
        ({"category": "rollover"}, "category"),
        ({"starts_at": at("2026-02-01T00:00"), "ends_at": at("2026-02-01T00:00")}, "ends_at"),
        ({"rollover": {"max_amount": 0}}, "rollover.max_amount"),
        ({"priority": 1_000_001}, "priority"),
    ],
)
def test_malformed_terms_are_refused_before_anything_is_recorded(
    terms: dict[str, Any], field: str
) -> None:
    ledger, _ = _ledger("2026-01-01T00:00")
    stored = version(ledger, W)

    with pytest.raises(LedgerError) as refused:
        _set(ledger, **terms)

    assert refused.value.code == "validation_error"
    assert refused.value.details()["errors"][0]["field"] == field
    assert version(ledger, W) == stored


def test_an_allowance_id_leaves_room_for_its_grant_ids() -> None:
    # Given ids of 98 and 99 characters
    ledger, _ = _ledger("2026-01-01T00:00")

    # When allowances are set with them
    body = _set(ledger, "a" * 98)
    with pytest.raises(LedgerError) as refused:
        _set(ledger, "a" * 99)

    # Then the longer is refused: its rollover ids would pass 128 characters
    assert len(f"{body['allowance_id']}:2026-02-01T00:00:00Z:rollover") == 128
    assert refused.value.details()["errors"][0]["field"] == "allowance_id"
