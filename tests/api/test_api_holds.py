"""HTTP: place a hold, read it, capture or release it exactly once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.api import Api, assert_problem, error_fields, running_api


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as api:
        api.funded_wallet("acme", 1000)
        yield api


def place(api: Api, amount: int = 50, hold_id: str = "h1") -> None:
    response = api.post("/v1/wallets/acme/holds", {"amount": amount, "hold_id": hold_id})
    assert response.status_code == 201, response.text


def test_placing_a_hold_answers_201_with_the_hold_and_balance(api: Api) -> None:
    response = api.post(
        "/v1/wallets/acme/holds",
        {
            "hold_id": "h1",
            "amount": 50,
            "subject": {"user_id": "u1"},
            "expires_at": "2026-01-01T01:10:00+01:00",
            "metadata": {"call": "c1"},
        },
    )

    assert response.status_code == 201
    assert response.json() == {
        "hold_id": "h1",
        "status": "open",
        "amount": 50,
        "allocations": [{"grant_id": "g1", "amount": 50}],
        "subject": {"user_id": "u1"},
        "placed_at": "2026-01-01T00:00:00Z",
        "expires_at": "2026-01-01T00:10:00Z",
        "metadata": {"call": "c1"},
        "balance": {"available": 950, "held": 50, "debt": 0},
        "warnings": [],
    }


def test_a_hold_expires_after_15_minutes_by_default(api: Api) -> None:
    body = api.post("/v1/wallets/acme/holds", {"amount": 5}).json()

    assert body["hold_id"].startswith("h_")
    assert body["expires_at"] == "2026-01-01T00:15:00Z"


def test_reading_an_open_hold(api: Api) -> None:
    place(api)

    response = api.get("/v1/wallets/acme/holds/h1")

    assert response.status_code == 200
    assert response.json()["status"] == "open"
    assert "closed_at" not in response.json()


def test_capturing_consumes_part_and_releases_the_rest(api: Api) -> None:
    place(api, 50)

    response = api.post("/v1/wallets/acme/holds/h1/capture", {"amount": 30})

    assert response.status_code == 200
    assert response.json() == {
        "hold_id": "h1",
        "status": "captured",
        "captured": 30,
        "released": 20,
        "overage": 0,
        "debt_incurred": 0,
        "balance": {"available": 970, "held": 0, "debt": 0},
        "warnings": [],
    }
    read = api.get("/v1/wallets/acme/holds/h1").json()
    assert (read["status"], read["captured"], read["released"]) == ("captured", 30, 20)
    assert read["closed_at"] == "2026-01-01T00:00:00Z"


def test_capture_defaults_to_the_held_amount(api: Api) -> None:
    place(api, 50)

    assert api.post("/v1/wallets/acme/holds/h1/capture").json()["captured"] == 50


def test_capturing_more_than_held_needs_allow_overage(api: Api) -> None:
    place(api, 50)

    refused = api.post("/v1/wallets/acme/holds/h1/capture", {"amount": 60})
    allowed = api.post("/v1/wallets/acme/holds/h1/capture", {"amount": 60, "allow_overage": True})

    body = assert_problem(refused, 409, "capture_exceeds_hold")
    assert (body["held"], body["requested"]) == (50, 60)
    assert allowed.json()["overage"] == 10


def test_releasing_gives_everything_back(api: Api) -> None:
    place(api, 50)

    response = api.post("/v1/wallets/acme/holds/h1/release")

    assert response.status_code == 200
    assert response.json() == {
        "hold_id": "h1",
        "status": "released",
        "released": 50,
        "balance": {"available": 1000, "held": 0, "debt": 0},
    }


@pytest.mark.parametrize("resolution", ["capture", "release"])
def test_a_resolved_hold_is_not_open(api: Api, resolution: str) -> None:
    place(api)
    api.post(f"/v1/wallets/acme/holds/h1/{resolution}")

    response = api.post("/v1/wallets/acme/holds/h1/capture")

    body = assert_problem(response, 409, "hold_not_open")
    expected = {"capture": "captured", "release": "released"}[resolution]
    assert body["hold_status"] == expected
    assert body["status"] == 409  # always the HTTP status (contract 1.1), never the hold's


def test_an_expired_hold_is_not_open(api: Api) -> None:
    place(api)
    api.clock.advance(minutes=16)

    body = assert_problem(api.post("/v1/wallets/acme/holds/h1/release"), 409, "hold_not_open")
    assert body["hold_status"] == "expired"
    assert api.get("/v1/wallets/acme/holds/h1").json()["status"] == "expired"


def test_a_hold_id_cannot_be_reused(api: Api) -> None:
    place(api, hold_id="h1")

    assert_problem(
        api.post("/v1/wallets/acme/holds", {"amount": 1, "hold_id": "h1"}), 409, "hold_exists"
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/wallets/acme/holds/nope"),
        ("POST", "/v1/wallets/acme/holds/nope/capture"),
        ("POST", "/v1/wallets/acme/holds/nope/release"),
    ],
)
def test_an_unknown_hold_is_not_found(api: Api, method: str, path: str) -> None:
    assert_problem(api.request(method, path), 404, "hold_not_found")


def test_a_hold_is_denied_like_a_debit(api: Api) -> None:
    body = assert_problem(
        api.post("/v1/wallets/acme/holds", {"amount": 2000}), 402, "insufficient_credits"
    )
    assert (body["available"], body["requested"]) == (1000, 2000)


def test_hold_fields_are_checked(api: Api) -> None:
    assert error_fields(api.post("/v1/wallets/acme/holds", {"amount": "5"})) == ["amount"]
    naive = api.post("/v1/wallets/acme/holds", {"amount": 5, "expires_at": "2026-01-01T00:10:00"})
    assert error_fields(naive) == ["expires_at"]
    too_late = api.post(
        "/v1/wallets/acme/holds", {"amount": 5, "expires_at": "2026-02-01T00:00:00Z"}
    )
    assert error_fields(too_late) == ["expires_at"]
    assert error_fields(
        api.post("/v1/wallets/acme/holds/h1/capture", {"amount": 1, "extra": 1})
    ) == ["extra"]
