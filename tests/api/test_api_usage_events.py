"""HTTP: ``POST /v1/usage-events``: batch answers, per-event rejections, scopes, billing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ledger.domain.ids import receipt_id
from tests.support.api import Api, assert_problem, error_fields, running_api

GPT = {"model": "gpt-4.1", "input_per_million": 20_000, "output_per_million": 80_000}


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as api:
        api.funded_wallet("acme", 1000)
        yield api


def event(event_id: str = "e-1", **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "wallet_id": "acme",
        "type": "llm.completion",
        "occurred_at": "2026-01-01T00:00:00Z",
        "subject": {"user_id": "u1", "model": "gpt-4.1"},
        "quantities": {"input_tokens": 1200, "output_tokens": 350},
        "properties": {"region": "eu"},
        **fields,
    }


def test_ingest_answers_200_with_counts_and_the_log_position(api: Api) -> None:
    response = api.post("/v1/usage-events", {"events": [event("e-1"), event("e-2")]})

    assert response.status_code == 200, response.text
    assert response.json() == {
        "accepted": 2,
        "duplicates": 0,
        "late": 0,
        "rejected": [],
        "uncollected": 0,
        "uncollected_events": [],
    }
    assert int(response.headers["Ledger-Position"]) > 0


def test_a_retried_batch_is_answered_with_duplicates_and_no_position(api: Api) -> None:
    batch = {"events": [event("e-1"), event("e-2")]}
    api.post("/v1/usage-events", batch, idempotency_key="batch-1")

    again = api.post("/v1/usage-events", batch, idempotency_key="batch-1")

    assert again.status_code == 200
    assert again.json() == {
        "accepted": 0,
        "duplicates": 2,
        "late": 0,
        "rejected": [],
        "uncollected": 0,
        "uncollected_events": [],
    }
    assert "Ledger-Position" not in again.headers


def test_a_bad_event_is_rejected_alone(api: Api) -> None:
    bad_time = event("e-2", occurred_at="yesterday")
    future = event("e-3", occurred_at="2030-01-01T00:00:00Z")
    unknown = event("e-4", wallet_id="nobody")

    response = api.post("/v1/usage-events", {"events": [event("e-1"), bad_time, future, unknown]})

    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [
        (1, "validation_error"),
        (2, "occurred_at_in_future"),
        (3, "wallet_not_found"),
    ]
    assert body["rejected"][0]["detail"].startswith("occurred_at:")


def test_an_empty_batch_answers_zeros(api: Api) -> None:
    response = api.post("/v1/usage-events", {"events": []})

    assert response.json() == {
        "accepted": 0,
        "duplicates": 0,
        "late": 0,
        "rejected": [],
        "uncollected": 0,
        "uncollected_events": [],
    }


def test_more_than_1000_events_is_a_validation_error_naming_events(api: Api) -> None:
    events = [event(f"e-{i}") for i in range(1001)]

    response = api.post("/v1/usage-events", {"events": events})

    assert error_fields(response) == ["events"]
    again = api.post("/v1/usage-events", {"events": events[:1]})
    assert again.json()["accepted"] == 1  # nothing of the refused batch was recorded


@pytest.mark.parametrize(
    "body",
    [
        {"events": [event()], "extra": 1},
        {},
        {"events": {"event_id": "e-1"}},
        {"events": [1, 2]},
    ],
)
def test_the_envelope_is_strict(api: Api, body: dict[str, Any]) -> None:
    assert_problem(api.post("/v1/usage-events", body), 422, "validation_error")


@pytest.mark.parametrize("scope", ["customer:acme", "auditor"])
def test_only_service_and_admin_keys_may_ingest(api: Api, scope: str) -> None:
    key = api.issue_key(scope)

    response = api.post("/v1/usage-events", {"events": [event()]}, key=key)

    assert_problem(response, 403, "forbidden")


def test_a_service_key_may_ingest(api: Api) -> None:
    key = api.issue_key("service")

    response = api.post("/v1/usage-events", {"events": [event()]}, key=key)

    assert response.json()["accepted"] == 1


def test_a_billed_event_debits_the_wallet_and_can_be_refunded(api: Api) -> None:
    api.put("/v1/price-books/default", {"unit": "credits", "rates": [GPT]})

    api.post("/v1/usage-events", {"events": [event(bill=True)]})

    wallet = api.get("/v1/wallets/acme").json()
    assert wallet["balance"]["available"] == 1000 - 52
    debit_id = receipt_id("acme", "usage:e-1")  # the documented debit id of a usage event
    refund = api.post(f"/v1/wallets/acme/debits/{debit_id}/refunds", {})
    assert refund.status_code == 201, refund.text
    assert refund.json()["amount"] == 52
