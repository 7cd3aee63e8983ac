"""Budgets: scope matching, calendar periods in the budget's zone, hard and soft modes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from ledger.app.commands import (
    Debit,
    SetBudget,
)
from ledger.domain.errors import BudgetExceeded
from ledger.domain.periods import EPOCH
from ledger.domain.state import Budget
from tests.support.builders import T0, at
from tests.support.wallets import budget_ledger, set_budget, version

US = timedelta(microseconds=1)
T1 = {"team_id": "t1"}


@pytest.mark.parametrize(
    ("scope", "subject", "matches"),
    [
        pytest.param({}, {}, True, id="empty-scope-matches-empty-subject"),
        pytest.param({}, {"user_id": "u1", "model": "m"}, True, id="empty-scope-matches-all"),
        pytest.param(T1, {"team_id": "t1", "user_id": "u1"}, True, id="extra-subject-keys-ok"),
        pytest.param(T1, {"team_id": "t2"}, False, id="other-value"),
        pytest.param(T1, {}, False, id="key-missing-from-subject"),
        pytest.param({"team_id": "t1", "model": "m"}, T1, False, id="every-scope-key-must-match"),
    ],
)
def test_scope_matches_when_every_scope_key_equals(
    scope: dict[str, str], subject: dict[str, str], matches: bool
) -> None:
    # Given a budget with the scope
    budget = Budget("b", scope, 100, "month", "UTC", "hard", [], T0)

    # When a subject is matched / Then every scope key must equal the subject's value
    assert budget.matches(subject) is matches


def test_debit_outside_the_scope_is_neither_checked_nor_charged() -> None:
    # Given a hard budget of 10 for team t1
    ledger, _ = budget_ledger()
    set_budget(ledger, 10, scope=T1)

    # When team t2 and an anonymous caller debit 50 each
    ledger.debit(Debit(wallet_id="acme", amount=50, subject={"team_id": "t2"}))
    body = ledger.debit(Debit(wallet_id="acme", amount=50)).body

    # Then both pass, the budget is untouched and not listed on the response
    assert body["budgets"] == []
    assert ledger.budget("acme", "b")["spent"] == 0


# period, time zone, first debit, last instant of its period, first instant of the next
PERIODS = [
    pytest.param("day", "UTC", at("2026-01-15T10:00"), at("2026-01-16T00:00"), id="day-utc"),
    pytest.param(
        "day", "Europe/Berlin", at("2026-01-15T10:00"), at("2026-01-15T23:00"), id="day-berlin-cet"
    ),
    pytest.param(
        "day", "Europe/Berlin", at("2026-07-15T10:00"), at("2026-07-15T22:00"), id="day-berlin-cest"
    ),
    pytest.param(  # 2026-01-12 is a Monday; the ISO week ends at Monday 2026-01-19
        "week", "UTC", at("2026-01-12T00:00"), at("2026-01-19T00:00"), id="week-iso-monday"
    ),
    pytest.param(  # 31 days: not a 30-day window
        "month", "UTC", at("2026-01-01T00:00"), at("2026-02-01T00:00"), id="month-31-days"
    ),
    pytest.param(
        "month", "UTC", at("2026-02-01T00:00"), at("2026-03-01T00:00"), id="month-28-days"
    ),
    pytest.param(  # Berlin's 1 February 00:00 (CET, +01:00) is 23:00Z the day before
        "month",
        "Europe/Berlin",
        at("2026-01-15T00:00"),
        at("2026-01-31T23:00"),
        id="month-berlin",
    ),
]


@pytest.mark.parametrize(("period", "zone", "first", "next_start"), PERIODS)
def test_hard_budget_denies_until_the_period_ends(
    period: str, zone: str, first: datetime, next_start: datetime
) -> None:
    # Given a hard budget of 100 fully spent at the start of a period
    ledger, clock = budget_ledger(first)
    set_budget(ledger, 100, period=period, timezone=zone)
    ledger.debit(Debit(wallet_id="acme", amount=100))
    before = version(ledger, "acme")

    # When 1 more is debited at the last instant of that period
    clock.set(next_start - US)
    with pytest.raises(BudgetExceeded) as refused:
        ledger.debit(Debit(wallet_id="acme", amount=1))

    # Then budget_exceeded names the budget and when it resets; nothing is recorded
    assert refused.value.code == "budget_exceeded"
    assert refused.value.details() == {
        "budget_id": "b",
        "limit": 100,
        "spent": 100,
        "requested": 1,
        "period_end": next_start,
    }
    assert version(ledger, "acme") == before


@pytest.mark.parametrize(("period", "zone", "first", "next_start"), PERIODS)
def test_budget_resets_at_the_calendar_boundary(
    period: str, zone: str, first: datetime, next_start: datetime
) -> None:
    # Given a hard budget of 100 fully spent in one period
    ledger, clock = budget_ledger(first)
    set_budget(ledger, 100, period=period, timezone=zone)
    ledger.debit(Debit(wallet_id="acme", amount=100))

    # When 1 is debited at the first instant of the next period
    clock.set(next_start)
    body = ledger.debit(Debit(wallet_id="acme", amount=1)).body

    # Then it is allowed and the new period has spent 1
    (view,) = body["budgets"]
    assert (view["spent"], view["remaining"], view["period_start"]) == (1, 99, next_start)


def test_total_budget_never_resets() -> None:
    # Given a total budget of 100 fully spent in 2026
    ledger, clock = budget_ledger()
    set_budget(ledger, 100, period="total")
    ledger.debit(Debit(wallet_id="acme", amount=100))

    # When 1 is debited four years later
    clock.set(at("2030-01-01T00:00"))
    with pytest.raises(BudgetExceeded) as refused:
        ledger.debit(Debit(wallet_id="acme", amount=1))

    # Then it is still refused, with no period end
    assert refused.value.period_end is None
    assert ledger.budget("acme", "b")["period_start"] == EPOCH


def test_soft_budget_allows_and_warns() -> None:
    # Given a soft budget of 100 with 80 spent
    ledger, _ = budget_ledger()
    set_budget(ledger, 100, mode="soft")
    ledger.debit(Debit(wallet_id="acme", amount=80))

    # When 30 more are debited
    body = ledger.debit(Debit(wallet_id="acme", amount=30)).body

    # Then it passes with a soft_budget_exceeded warning and counts 110
    assert body["warnings"] == [{"code": "soft_budget_exceeded", "budget_id": "b"}]
    (view,) = body["budgets"]
    assert (view["spent"], view["limit"], view["remaining"]) == (110, 100, 0)


def test_first_refusing_budget_by_id_is_named() -> None:
    # Given hard budgets "b-team" (limit 10, t1) and "a-all" (limit 5), and a roomy "c-all"
    ledger, _ = budget_ledger()
    for budget_id, limit, scope in (("b-team", 10, T1), ("a-all", 5, {}), ("c-all", 999, {})):
        ledger.set_budget(
            SetBudget(wallet_id="acme", budget_id=budget_id, limit=limit, period="day", scope=scope)
        )

    # When team t1 debits 20, which both of the small ones refuse
    with pytest.raises(BudgetExceeded) as refused:
        ledger.debit(Debit(wallet_id="acme", amount=20, subject=T1))

    # Then the one first by budget_id is named
    assert refused.value.budget_id == "a-all"
