"""HTTP: open a wallet, read it (now and as of a past time), page through its events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.api import (
    ADMIN_KEY,
    Api,
    assert_problem,
    error_fields,
    running_api,
)


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as api:
        yield api


def test_opening_a_wallet_answers_201_with_the_wallet(api: Api) -> None:
    response = api.post(
        "/v1/wallets",
        {
            "wallet_id": "acme",
            "customer_id": "acme-corp",
            "unit": "credits",
            "overdraft_limit": 100,
            "price_book_id": "default",
            "metadata": {"plan": "pro"},
        },
    )

    assert response.status_code == 201
    assert response.json() == {
        "wallet_id": "acme",
        "customer_id": "acme-corp",
        "unit": "credits",
        "overdraft_limit": 100,
        "price_book_id": "default",
        "metadata": {"plan": "pro"},
        "version": 1,
        "balance": {"available": 0, "held": 0, "debt": 0},
        "uncollected": 0,
        "grants": [],
        "budgets": [],
    }


def test_a_wallet_needs_only_its_id(api: Api) -> None:
    body = api.open_wallet("acme")

    assert body["customer_id"] == "acme"
    assert body["unit"] == "credits"
    assert body["overdraft_limit"] == 0
    assert body["price_book_id"] == "default"


def test_reading_a_wallet_shows_balance_grants_and_budgets(api: Api) -> None:
    api.funded_wallet("acme", 1000)
    api.put("/v1/wallets/acme/budgets/b1", {"limit": 500, "period": "month"})
    api.post("/v1/wallets/acme/holds", {"amount": 50})
    api.post("/v1/wallets/acme/debits", {"amount": 10})

    response = api.get("/v1/wallets/acme")

    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {
        "wallet_id",
        "customer_id",
        "unit",
        "overdraft_limit",
        "version",
        "balance",
        "grants",
        "budgets",
    }
    assert body["version"] == 5
    assert body["balance"] == {"available": 940, "held": 50, "debt": 0}
    assert body["as_of"] == "2026-01-01T00:00:00Z"
    (grant,) = body["grants"]
    assert grant == {
        "grant_id": "g1",
        "category": "paid",
        "priority": 100,
        "amount": 1000,
        "remaining": 940,
        "held": 50,
        "effective_at": "2026-01-01T00:00:00Z",
        "expires_at": None,
        "status": "active",
        "cost_basis": None,
        "debt_settled": 0,
        "metadata": {},
    }
    assert [b["budget_id"] for b in body["budgets"]] == ["b1"]


def test_as_of_answers_from_history(api: Api) -> None:
    api.funded_wallet("acme", 1000)
    api.clock.advance(hours=1)
    api.post("/v1/wallets/acme/debits", {"amount": 300})

    past = api.get("/v1/wallets/acme?as_of=2026-01-01T00:30:00Z").json()
    now = api.get("/v1/wallets/acme").json()

    assert past["balance"]["available"] == 1000
    assert past["as_of"] == "2026-01-01T00:30:00Z"
    assert now["balance"]["available"] == 700


def test_as_of_without_an_offset_is_refused(api: Api) -> None:
    api.open_wallet("acme")

    assert error_fields(api.get("/v1/wallets/acme?as_of=2026-01-01T00:30:00")) == ["as_of"]
    assert error_fields(api.get("/v1/wallets/acme?as_of=yesterday")) == ["as_of"]


def test_events_are_paged_by_version(api: Api) -> None:
    api.funded_wallet("acme", 1000)
    api.post("/v1/wallets/acme/debits", {"amount": 30})

    first = api.get("/v1/wallets/acme/events?limit=2").json()
    rest = api.get(f"/v1/wallets/acme/events?after_version={first['next_after_version']}").json()

    assert [e["version"] for e in first["events"]] == [1, 2]
    assert first["next_after_version"] == 2
    assert [e["type"] for e in rest["events"]] == ["CreditsDebited"]
    event = rest["events"][0]
    assert set(event) == {"version", "type", "occurred_at", "recorded_at", "data"}
    assert event["occurred_at"] == "2026-01-01T00:00:00Z"
    assert event["recorded_at"].endswith("Z")
    assert event["data"]["amount"] == 30
    assert rest["next_after_version"] == 3


def test_an_events_page_limit_out_of_range_is_refused(api: Api) -> None:
    api.open_wallet("acme")

    assert error_fields(api.get("/v1/wallets/acme/events?limit=0")) == ["limit"]
    assert error_fields(api.get("/v1/wallets/acme/events?after_version=-1")) == ["after_version"]
    assert error_fields(api.get("/v1/wallets/acme/events?limit=ten")) == ["limit"]


def test_an_existing_wallet_id_is_a_conflict(api: Api) -> None:
    api.open_wallet("acme")

    assert_problem(api.post("/v1/wallets", {"wallet_id": "acme"}), 409, "wallet_exists")


@pytest.mark.parametrize(
    "path",
    ["/v1/wallets/ghost", "/v1/wallets/ghost/events", "/v1/wallets/ghost/budgets"],
)
def test_an_unknown_wallet_is_not_found(api: Api, path: str) -> None:
    assert_problem(api.get(path), 404, "wallet_not_found")


def test_an_unknown_body_field_is_refused(api: Api) -> None:
    response = api.post("/v1/wallets", {"wallet_id": "acme", "colour": "blue"})

    assert error_fields(response) == ["colour"]
    assert api.get("/v1/wallets/acme").status_code == 404  # nothing was recorded


def test_an_oversized_id_is_refused(api: Api) -> None:
    assert error_fields(api.post("/v1/wallets", {"wallet_id": "w" * 129})) == ["wallet_id"]
    assert error_fields(api.post("/v1/wallets", {"wallet_id": "a b"})) == ["wallet_id"]


def test_every_missing_and_unknown_field_is_named(api: Api) -> None:
    response = api.post("/v1/wallets", {"unit": "credits", "colour": "blue", "size": 1})

    assert sorted(error_fields(response)) == ["colour", "size", "wallet_id"]


def test_a_body_that_is_not_json_is_a_validation_error(api: Api) -> None:
    missing = api.client.post("/v1/wallets", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    broken = api.client.post(
        "/v1/wallets",
        content=b'{"wallet_id": ',
        headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"},
    )

    assert error_fields(missing) == ["body"]
    assert error_fields(broken) == ["body"]
