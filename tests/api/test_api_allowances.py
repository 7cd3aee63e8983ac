"""HTTP: set, read, list and remove allowances (contract 1.1, "Allowances")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from api.routes.wallets import WalletController
from ledger.app.reads import MAX_READ_STEPS
from tests.support.api import Api, assert_problem, error_fields, running_api
from tests.support.builders import at

PLAN = {
    "amount": 1000,
    "category": "promotional",
    "priority": 100,
    "period": "month",
    "timezone": "Europe/Berlin",
    "starts_at": "2026-01-01T00:00:00+01:00",
    "ends_at": None,
    "rollover": {"max_amount": 500},
}
PATH = "/v1/wallets/acme/allowances/plan"


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as running:  # the clock stands at 2026-01-01T00:00Z
        running.open_wallet("acme")
        yield running


def test_a_new_allowance_answers_201_and_grants_the_period_under_way(api: Api) -> None:
    response = api.put(PATH, PLAN)

    assert response.status_code == 201, response.text
    assert response.json() == {
        "allowance_id": "plan",
        "amount": 1000,
        "category": "promotional",
        "priority": 100,
        "period": "month",
        "timezone": "Europe/Berlin",
        "starts_at": "2025-12-31T23:00:00Z",
        "ends_at": None,
        "rollover": {"max_amount": 500},
        "next_grant_at": "2026-01-31T23:00:00Z",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    assert "Ledger-Position" in response.headers
    grants = api.get("/v1/wallets/acme").json()["grants"]
    assert [
        (g["grant_id"], g["effective_at"], g["expires_at"], g["remaining"]) for g in grants
    ] == [("plan:2025-12-31T23:00:00Z", "2025-12-31T23:00:00Z", "2026-01-31T23:00:00Z", 1000)]


def test_changing_an_allowance_answers_200_and_waits_for_the_next_period(api: Api) -> None:
    api.put(PATH, PLAN)
    api.clock.set(at("2026-01-10T00:00"))

    response = api.put(PATH, {**PLAN, "amount": 3000})

    assert response.status_code == 200
    assert response.json()["amount"] == 3000
    assert response.json()["next_grant_at"] == "2026-01-31T23:00:00Z"
    assert api.get("/v1/wallets/acme").json()["balance"]["available"] == 1000


def test_allowances_are_read_one_by_one_or_all_together(api: Api) -> None:
    api.put("/v1/wallets/acme/allowances/b", {"amount": 7, "period": "week"})
    api.put("/v1/wallets/acme/allowances/a", {"amount": 1, "period": "day"})

    one = api.get("/v1/wallets/acme/allowances/b")
    every = api.get("/v1/wallets/acme/allowances")

    assert one.status_code == 200
    # defaults: promotional, priority 100, UTC, from now, no end, no rollover
    assert {k: one.json()[k] for k in ("category", "priority", "timezone", "rollover")} == {
        "category": "promotional",
        "priority": 100,
        "timezone": "UTC",
        "rollover": None,
    }
    assert one.json()["next_grant_at"] == "2026-01-05T00:00:00Z"  # the next Monday
    assert [a["allowance_id"] for a in every.json()["allowances"]] == ["a", "b"]


def test_a_read_counts_a_period_not_yet_recorded(api: Api) -> None:
    api.put("/v1/wallets/acme/allowances/daily", {"amount": 5, "period": "day"})
    api.clock.set(at("2026-01-03T12:00"))

    body = api.get("/v1/wallets/acme/allowances/daily").json()
    wallet = api.get("/v1/wallets/acme").json()

    assert body["next_grant_at"] == "2026-01-04T00:00:00Z"
    assert wallet["balance"]["available"] == 5  # only the 3rd's grant is still active


def test_an_uncapped_rollover_is_an_empty_object_or_a_null_cap(api: Api) -> None:
    empty = api.put("/v1/wallets/acme/allowances/a", {"amount": 1, "period": "day", "rollover": {}})
    null = api.put(
        "/v1/wallets/acme/allowances/b",
        {"amount": 1, "period": "day", "rollover": {"max_amount": None}},
    )

    assert empty.json()["rollover"] == null.json()["rollover"] == {"max_amount": None}


def test_removing_an_allowance_answers_204_and_keeps_its_grants(api: Api) -> None:
    api.put(PATH, PLAN)

    response = api.delete(PATH)

    assert response.status_code == 204
    assert response.content == b""
    assert_problem(api.get(PATH), 404, "allowance_not_found")
    assert_problem(api.delete(PATH), 404, "allowance_not_found")
    assert api.get("/v1/wallets/acme").json()["balance"]["available"] == 1000


def test_a_repeated_put_with_its_key_is_replayed(api: Api) -> None:
    first = api.put(PATH, PLAN, idempotency_key="k1")
    again = api.put(PATH, PLAN, idempotency_key="k1")
    other = api.put(PATH, {**PLAN, "amount": 5}, idempotency_key="k1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert_problem(other, 409, "idempotency_conflict")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": -1}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"period": "total"}, "period"),
        ({"category": "rollover"}, "category"),
        ({"ends_at": "2025-12-31T23:00:00Z"}, "ends_at"),
        ({"ends_at": "2025-01-01T00:00:00Z"}, "ends_at"),
        ({"starts_at": "2026-01-01T00:00:00"}, "starts_at"),
        ({"rollover": {"max_amount": 0}}, "rollover"),
        ({"rollover": {"cap": 5}}, "rollover"),
        ({"every": "month"}, ""),
    ],
)
def test_malformed_allowances_are_refused(api: Api, change: dict[str, Any], field: str) -> None:
    response = api.put(PATH, {**PLAN, **change})

    assert error_fields(response)[0].startswith(field)
    assert_problem(api.get(PATH), 404, "allowance_not_found")


def test_an_allowance_id_too_long_for_its_grant_ids_is_refused(api: Api) -> None:
    assert error_fields(api.put(f"/v1/wallets/acme/allowances/{'a' * 99}", PLAN)) == [
        "allowance_id"
    ]


def test_allowances_of_an_unknown_wallet_are_not_found(api: Api) -> None:
    assert_problem(api.put("/v1/wallets/ghost/allowances/a", PLAN), 404, "wallet_not_found")
    assert_problem(api.get("/v1/wallets/ghost/allowances"), 404, "wallet_not_found")


def test_only_admins_set_allowances_and_customers_read_their_own(api: Api) -> None:
    api.put(PATH, PLAN)
    customer = api.issue_key("customer:acme")
    service = api.issue_key("service")

    assert_problem(api.put(PATH, PLAN, key=customer), 403, "forbidden")
    assert_problem(api.delete(PATH, key=service), 403, "forbidden")
    assert api.get(PATH, key=customer).status_code == 200
    assert api.get("/v1/wallets/acme/allowances", key=service).status_code == 200


def test_a_read_far_ahead_of_a_short_period_is_refused_not_computed_without_end(api: Api) -> None:
    # A daily allowance read fifty years ahead is ~18,000 periods (each checked against every
    # grant): refused with the field to fix, while a read a month ahead is answered.
    assert api.put(PATH, {**PLAN, "period": "day", "rollover": None}).status_code == 201

    near = api.get("/v1/wallets/acme?as_of=2026-02-01T00:00:00Z")
    far = api.get("/v1/wallets/acme?as_of=2076-01-01T00:00:00Z")

    assert near.status_code == 200, near.text
    assert len(near.json()["grants"]) == 32  # the period under way and 31 more days
    assert_problem(far, 422, "validation_error")
    assert error_fields(far) == ["as_of"]


def test_the_read_limit_is_the_one_the_wallet_route_documents() -> None:
    documented = WalletController.get_wallet.fn.__doc__ or ""
    assert f"at most {MAX_READ_STEPS:,} expiries and allowance periods" in documented
