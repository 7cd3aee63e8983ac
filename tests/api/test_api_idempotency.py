"""HTTP: ``Idempotency-Key`` replays answer the first status and bytes, and change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.api import Api, assert_problem, error_fields, running_api


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as api:
        api.funded_wallet("acme", 1000)
        api.post("/v1/wallets/acme/holds", {"amount": 10, "hold_id": "open-hold"})
        yield api


REQUESTS: list[tuple[str, str, dict[str, Any] | None, int]] = [
    ("POST", "/v1/wallets", {"wallet_id": "globex", "metadata": {"plan": "pro"}}, 201),
    (
        "POST",
        "/v1/wallets/acme/grants",
        {"amount": 5, "category": "promotional", "effective_at": "2026-01-01T01:00:00+01:00"},
        201,
    ),
    ("POST", "/v1/wallets/acme/debits", {"amount": 30, "subject": {"team_id": "t1"}}, 201),
    ("POST", "/v1/wallets/acme/holds", {"amount": 20}, 201),
    ("POST", "/v1/wallets/acme/holds/open-hold/capture", {"amount": 4}, 200),
    ("POST", "/v1/wallets/acme/holds/open-hold/release", None, 200),
    ("POST", "/v1/wallets/acme/grants/g1/void", {"reason": "oops"}, 200),
    ("PUT", "/v1/wallets/acme/budgets/b1", {"limit": 500, "period": "month"}, 201),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"), REQUESTS, ids=[r[1] for r in REQUESTS]
)
def test_a_replay_answers_the_first_status_and_bytes(
    api: Api, method: str, path: str, body: dict[str, Any] | None, status: int
) -> None:
    first = api.request(method, path, json=body, idempotency_key="k-1")
    version = api.get("/v1/wallets/acme").json()["version"]
    api.clock.advance(minutes=1)  # a replay must not re-decide, even later

    again = api.request(method, path, json=body, idempotency_key="k-1")

    assert first.status_code == again.status_code == status
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert api.get("/v1/wallets/acme").json()["version"] == version


def test_a_debit_replay_spends_once(api: Api) -> None:
    for _ in range(3):
        api.post("/v1/wallets/acme/debits", {"amount": 100}, idempotency_key="once")

    assert api.get("/v1/wallets/acme").json()["balance"]["available"] == 890


def test_without_a_key_each_debit_counts(api: Api) -> None:
    for _ in range(3):
        api.post("/v1/wallets/acme/debits", {"amount": 100})

    assert api.get("/v1/wallets/acme").json()["balance"]["available"] == 690


def test_a_replay_of_a_refusal_is_refused_again(api: Api) -> None:
    first = api.post("/v1/wallets/acme/debits", {"amount": 5000}, idempotency_key="k")
    api.grant(amount=5000, grant_id="g2")

    again = api.post("/v1/wallets/acme/debits", {"amount": 5000}, idempotency_key="k")

    assert_problem(first, 402, "insufficient_credits")
    assert again.status_code == 201  # nothing was recorded, so the key was still free


def test_a_budget_change_replays_as_200(api: Api) -> None:
    api.put("/v1/wallets/acme/budgets/b1", {"limit": 1, "period": "day"})
    first = api.put(
        "/v1/wallets/acme/budgets/b1", {"limit": 2, "period": "day"}, idempotency_key="c"
    )

    again = api.put(
        "/v1/wallets/acme/budgets/b1", {"limit": 2, "period": "day"}, idempotency_key="c"
    )

    assert first.status_code == again.status_code == 200
    assert again.content == first.content


def test_a_budget_removal_replays_as_204(api: Api) -> None:
    api.put("/v1/wallets/acme/budgets/b1", {"limit": 1, "period": "day"})
    api.delete("/v1/wallets/acme/budgets/b1", idempotency_key="rm")

    again = api.delete("/v1/wallets/acme/budgets/b1", idempotency_key="rm")

    assert again.status_code == 204
    assert again.headers["Idempotent-Replayed"] == "true"


def test_the_same_key_with_another_body_is_a_conflict(api: Api) -> None:
    api.post("/v1/wallets/acme/debits", {"amount": 10}, idempotency_key="k")

    response = api.post("/v1/wallets/acme/debits", {"amount": 11}, idempotency_key="k")

    assert_problem(response, 409, "idempotency_conflict")


def test_keys_are_scoped_to_the_wallet(api: Api) -> None:
    api.funded_wallet("globex", 1000)
    api.post("/v1/wallets/acme/debits", {"amount": 10}, idempotency_key="k")

    other = api.post("/v1/wallets/globex/debits", {"amount": 11}, idempotency_key="k")

    assert other.status_code == 201
    assert "Idempotent-Replayed" not in other.headers


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_a_key_must_have_1_to_255_characters(api: Api, key: str) -> None:
    response = api.post("/v1/wallets/acme/debits", {"amount": 1}, idempotency_key=key)

    assert error_fields(response) == ["Idempotency-Key"]


def test_a_255_character_key_is_accepted(api: Api) -> None:
    response = api.post("/v1/wallets/acme/debits", {"amount": 1}, idempotency_key="k" * 255)

    assert response.status_code == 201
