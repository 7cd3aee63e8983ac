"""HTTP: set, read, list and remove budgets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.api import Api, assert_problem, error_fields, running_api

TEAM_BUDGET = {
    "scope": {"team_id": "t1"},
    "limit": 500,
    "period": "month",
    "timezone": "Europe/Berlin",
    "mode": "hard",
    "alert_thresholds": [0.75, 0.9, 1.0],
}


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as api:
        api.funded_wallet("acme", 1000)
        yield api


def test_a_new_budget_answers_201_with_its_period(api: Api) -> None:
    response = api.put("/v1/wallets/acme/budgets/team-t1", TEAM_BUDGET)

    assert response.status_code == 201
    assert response.json() == {
        "budget_id": "team-t1",
        "scope": {"team_id": "t1"},
        "limit": 500,
        "period": "month",
        "timezone": "Europe/Berlin",
        "mode": "hard",
        "alert_thresholds": [0.75, 0.9, 1.0],
        "spent": 0,
        "remaining": 500,
        "period_start": "2025-12-31T23:00:00Z",
        "period_end": "2026-01-31T23:00:00Z",
    }


def test_changing_a_budget_answers_200(api: Api) -> None:
    api.put("/v1/wallets/acme/budgets/team-t1", TEAM_BUDGET)

    response = api.put("/v1/wallets/acme/budgets/team-t1", {**TEAM_BUDGET, "limit": 600})

    assert response.status_code == 200
    assert response.json()["limit"] == 600
    assert "created" not in response.json()


def test_a_new_budget_counts_what_was_already_spent_this_period(api: Api) -> None:
    api.post("/v1/wallets/acme/debits", {"amount": 120, "subject": {"team_id": "t1"}})

    body = api.put("/v1/wallets/acme/budgets/team-t1", TEAM_BUDGET).json()

    assert (body["spent"], body["remaining"]) == (120, 380)


def test_a_total_budget_never_ends(api: Api) -> None:
    body = api.put("/v1/wallets/acme/budgets/all", {"limit": 5, "period": "total"}).json()

    assert body["period_end"] is None
    assert body["timezone"] == "UTC"
    assert body["scope"] == {}


def test_budgets_are_read_one_by_one_or_all_together(api: Api) -> None:
    api.put("/v1/wallets/acme/budgets/b2", {"limit": 2, "period": "day"})
    api.put("/v1/wallets/acme/budgets/b1", {"limit": 1, "period": "week"})

    one = api.get("/v1/wallets/acme/budgets/b1")
    every = api.get("/v1/wallets/acme/budgets")

    assert one.status_code == 200
    assert one.json()["period_start"] == "2025-12-29T00:00:00Z"  # the ISO week's Monday
    assert [b["budget_id"] for b in every.json()["budgets"]] == ["b1", "b2"]


def test_removing_a_budget_answers_204(api: Api) -> None:
    api.put("/v1/wallets/acme/budgets/b1", {"limit": 1, "period": "day"})

    response = api.delete("/v1/wallets/acme/budgets/b1")

    assert response.status_code == 204
    assert response.content == b""
    assert_problem(api.get("/v1/wallets/acme/budgets/b1"), 404, "budget_not_found")
    assert_problem(api.delete("/v1/wallets/acme/budgets/b1"), 404, "budget_not_found")


def test_an_unknown_time_zone_is_refused(api: Api) -> None:
    response = api.put("/v1/wallets/acme/budgets/b1", {**TEAM_BUDGET, "timezone": "Mars/Olympus"})

    assert error_fields(response) == ["timezone"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("alert_thresholds", [0]),
        ("alert_thresholds", [100.5]),
        ("alert_thresholds", ["0.5"]),
        ("period", "fortnight"),
        ("mode", "strict"),
        ("limit", -1),
        ("limit", 1.0),
        ("scope", {"tenant": "x"}),
    ],
)
def test_malformed_budget_fields_are_named(api: Api, field: str, value: Any) -> None:
    response = api.put("/v1/wallets/acme/budgets/b1", {**TEAM_BUDGET, field: value})

    assert error_fields(response)[0].startswith(field)


def test_thresholds_may_be_integers_and_reach_100(api: Api) -> None:
    body = api.put(
        "/v1/wallets/acme/budgets/b1", {**TEAM_BUDGET, "alert_thresholds": [1, 100]}
    ).json()

    assert body["alert_thresholds"] == [1.0, 100.0]


def test_a_budget_id_is_checked(api: Api) -> None:
    assert error_fields(api.put(f"/v1/wallets/acme/budgets/{'b' * 129}", TEAM_BUDGET)) == [
        "budget_id"
    ]


def test_budgets_of_an_unknown_wallet_are_not_found(api: Api) -> None:
    assert_problem(api.put("/v1/wallets/ghost/budgets/b1", TEAM_BUDGET), 404, "wallet_not_found")
