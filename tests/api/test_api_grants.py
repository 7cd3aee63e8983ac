"""HTTP: grant credits, void a grant, and the field checks of a request body."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.api import Api, assert_problem, error_fields, running_api


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as api:
        api.open_wallet("acme")
        yield api


def test_granting_answers_201_with_the_grant(api: Api) -> None:
    response = api.post(
        "/v1/wallets/acme/grants",
        {
            "grant_id": "g1",
            "amount": 1000,
            "category": "paid",
            "priority": 10,
            "effective_at": "2026-01-01T00:00:00Z",
            "expires_at": "2027-01-01T00:00:00Z",
            "cost_basis": {"amount_minor": 1000, "currency": "USD"},
            "metadata": {"invoice": "inv-1"},
        },
    )

    assert response.status_code == 201
    assert response.json() == {
        "grant_id": "g1",
        "category": "paid",
        "priority": 10,
        "amount": 1000,
        "remaining": 1000,
        "held": 0,
        "effective_at": "2026-01-01T00:00:00Z",
        "expires_at": "2027-01-01T00:00:00Z",
        "status": "active",
        "cost_basis": {"amount_minor": 1000, "currency": "USD"},
        "debt_settled": 0,
        "metadata": {"invoice": "inv-1"},
    }


def test_a_grant_needs_only_amount_and_category(api: Api) -> None:
    api.clock.advance(minutes=5)

    body = api.post("/v1/wallets/acme/grants", {"amount": 5, "category": "trial"}).json()

    assert body["grant_id"].startswith("g_")
    assert body["effective_at"] == "2026-01-01T00:05:00Z"
    assert body["priority"] == 100


def test_times_are_answered_in_utc(api: Api) -> None:
    body = api.grant(
        effective_at="2026-01-01T02:00:00+02:00", expires_at="2026-06-01T00:00:00-05:00"
    )

    assert body["effective_at"] == "2026-01-01T00:00:00Z"
    assert body["expires_at"] == "2026-06-01T05:00:00Z"


def test_a_future_grant_is_pending(api: Api) -> None:
    assert api.grant(effective_at="2026-02-01T00:00:00Z")["status"] == "pending"


def test_voiding_withdraws_what_is_left(api: Api) -> None:
    api.grant(amount=1000)
    api.post("/v1/wallets/acme/debits", {"amount": 100})

    response = api.post("/v1/wallets/acme/grants/g1/void", {"reason": "chargeback"})

    assert response.status_code == 200
    assert response.json()["status"] == "voided"
    assert response.json()["remaining"] == 0
    assert api.get("/v1/wallets/acme").json()["balance"]["available"] == 0


def test_voiding_needs_no_body(api: Api) -> None:
    api.grant()

    assert api.post("/v1/wallets/acme/grants/g1/void").json()["status"] == "voided"


def test_a_voided_grant_cannot_be_voided_again(api: Api) -> None:
    api.grant()
    api.post("/v1/wallets/acme/grants/g1/void")

    body = assert_problem(api.post("/v1/wallets/acme/grants/g1/void"), 409, "grant_not_voidable")
    assert body["grant_status"] == "voided"


def test_an_existing_grant_id_is_a_conflict(api: Api) -> None:
    api.grant(grant_id="g1")

    response = api.post(
        "/v1/wallets/acme/grants", {"amount": 1, "category": "paid", "grant_id": "g1"}
    )

    assert_problem(response, 409, "grant_exists")


def test_an_unknown_grant_is_not_found(api: Api) -> None:
    assert_problem(api.post("/v1/wallets/acme/grants/nope/void"), 404, "grant_not_found")


def test_granting_to_an_unknown_wallet_is_not_found(api: Api) -> None:
    response = api.post("/v1/wallets/ghost/grants", {"amount": 1, "category": "paid"})

    assert_problem(response, 404, "wallet_not_found")


@pytest.mark.parametrize(
    "amount",
    [30.0, 30.5, "30", -1, 0, True, None, 9_007_199_254_740_992],
    ids=["float", "fraction", "string", "negative", "zero", "bool", "null", "too-large"],
)
def test_an_amount_must_be_a_positive_json_integer(api: Api, amount: Any) -> None:
    response = api.post("/v1/wallets/acme/grants", {"amount": amount, "category": "paid"})

    assert error_fields(response) == ["amount"]


def test_the_largest_exact_json_integer_is_accepted(api: Api) -> None:
    assert api.grant(amount=9_007_199_254_740_991)["amount"] == 9_007_199_254_740_991


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("category", "gift"),
        ("effective_at", "2026-01-01T00:00:00"),
        ("expires_at", "2026-06-01"),
        ("grant_id", "g" * 129),
        ("priority", -1),
        ("cost_basis", {"amount_minor": 1, "currency": "usd"}),
    ],
)
def test_malformed_fields_are_named(api: Api, field: str, value: Any) -> None:
    response = api.post("/v1/wallets/acme/grants", {"amount": 1, "category": "paid", field: value})

    assert error_fields(response)[0].split(".")[0] == field


def test_expiry_must_come_after_effectiveness(api: Api) -> None:
    response = api.post(
        "/v1/wallets/acme/grants",
        {
            "amount": 1,
            "category": "paid",
            "effective_at": "2026-03-01T00:00:00Z",
            "expires_at": "2026-03-01T00:00:00Z",
        },
    )

    assert error_fields(response) == ["expires_at"]


def test_a_refused_grant_records_nothing(api: Api) -> None:
    api.post("/v1/wallets/acme/grants", {"amount": "1000", "category": "paid"})

    assert api.get("/v1/wallets/acme").json()["version"] == 1
