"""HTTP: authorize-and-deduct, its denials, subjects and budgets, and refunds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.connection import request as litestar_request

from tests.support.api import Api, assert_problem, error_fields, running_api


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as api:
        api.funded_wallet("acme", 1000)
        yield api


def test_debiting_answers_201_with_allocations_balance_and_budgets(api: Api) -> None:
    api.put(
        "/v1/wallets/acme/budgets/team-t1",
        {"scope": {"team_id": "t1"}, "limit": 500, "period": "month"},
    )
    api.post("/v1/wallets/acme/debits", {"amount": 100, "subject": {"team_id": "t1"}})

    response = api.post(
        "/v1/wallets/acme/debits",
        {
            "amount": 30,
            "subject": {"user_id": "u1", "team_id": "t1", "agent_id": "a1", "model": "gpt-4.1"},
            "occurred_at": "2025-12-31T23:59:00Z",
            "metadata": {"request_id": "r-9"},
        },
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "debit_id",
        "wallet_id",
        "amount",
        "allocations",
        "balance",
        "budgets",
        "warnings",
    }
    assert isinstance(body["debit_id"], str)
    assert body["wallet_id"] == "acme"
    assert body["amount"] == 30
    assert body["allocations"] == [{"grant_id": "g1", "amount": 30}]
    assert body["balance"] == {"available": 870, "held": 0, "debt": 0}
    (budget,) = body["budgets"]
    assert budget["budget_id"] == "team-t1"
    assert (budget["spent"], budget["limit"], budget["remaining"]) == (130, 500, 370)
    assert body["warnings"] == []


def test_a_soft_budget_warns_but_allows(api: Api) -> None:
    api.put("/v1/wallets/acme/budgets/soft", {"limit": 10, "period": "day", "mode": "soft"})

    body = api.post("/v1/wallets/acme/debits", {"amount": 20}).json()

    assert body["warnings"] == [{"code": "soft_budget_exceeded", "budget_id": "soft"}]


def test_insufficient_credits_names_what_was_available(api: Api) -> None:
    response = api.post("/v1/wallets/acme/debits", {"amount": 1001})

    body = assert_problem(response, 402, "insufficient_credits")
    assert (body["available"], body["requested"]) == (1000, 1001)
    assert api.get("/v1/wallets/acme").json()["version"] == 2  # nothing was recorded


def test_a_hard_budget_refuses_and_names_itself(api: Api) -> None:
    api.put(
        "/v1/wallets/acme/budgets/team-t1",
        {"scope": {"team_id": "t1"}, "limit": 50, "period": "month", "timezone": "Europe/Berlin"},
    )
    api.post("/v1/wallets/acme/debits", {"amount": 40, "subject": {"team_id": "t1"}})

    response = api.post("/v1/wallets/acme/debits", {"amount": 20, "subject": {"team_id": "t1"}})

    body = assert_problem(response, 402, "budget_exceeded")
    assert body["budget_id"] == "team-t1"
    assert (body["limit"], body["spent"], body["requested"]) == (50, 40, 20)
    assert body["period_end"] == "2026-01-31T23:00:00Z"  # midnight of 1 February in Berlin


def test_other_subjects_are_not_held_to_a_scoped_budget(api: Api) -> None:
    api.put(
        "/v1/wallets/acme/budgets/t1", {"scope": {"team_id": "t1"}, "limit": 1, "period": "day"}
    )

    response = api.post("/v1/wallets/acme/debits", {"amount": 20, "subject": {"team_id": "t2"}})

    assert response.status_code == 201


def test_an_unknown_subject_key_is_refused(api: Api) -> None:
    response = api.post("/v1/wallets/acme/debits", {"amount": 1, "subject": {"region": "eu"}})

    assert error_fields(response) == ["subject.region"]


def test_a_debit_needs_an_amount_or_usage(api: Api) -> None:
    response = api.post("/v1/wallets/acme/debits", {"subject": {"user_id": "u1"}})

    assert error_fields(response) == ["amount", "usage"]


def test_a_usage_time_without_an_offset_is_refused(api: Api) -> None:
    response = api.post(
        "/v1/wallets/acme/debits", {"amount": 1, "occurred_at": "2026-01-01T00:00:00"}
    )

    assert error_fields(response) == ["occurred_at"]


def test_debiting_an_unknown_wallet_is_not_found(api: Api) -> None:
    assert_problem(api.post("/v1/wallets/ghost/debits", {"amount": 1}), 404, "wallet_not_found")


def test_refunding_returns_credits_to_the_grants(api: Api) -> None:
    debit_id = api.post("/v1/wallets/acme/debits", {"amount": 30}).json()["debit_id"]

    response = api.post(
        f"/v1/wallets/acme/debits/{debit_id}/refunds", {"amount": 10, "reason": "bad answer"}
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"refund_id", "debit_id", "amount", "allocations", "balance"}
    assert body["debit_id"] == debit_id
    assert body["amount"] == 10
    assert body["allocations"] == [{"grant_id": "g1", "amount": 10, "to": "grant"}]
    assert body["balance"]["available"] == 980


def test_a_refund_defaults_to_what_is_left(api: Api) -> None:
    debit_id = api.post("/v1/wallets/acme/debits", {"amount": 30}).json()["debit_id"]
    api.post(f"/v1/wallets/acme/debits/{debit_id}/refunds", {"amount": 10})

    body = api.post(f"/v1/wallets/acme/debits/{debit_id}/refunds").json()

    assert body["amount"] == 20


def test_refunding_more_than_is_left_is_a_conflict(api: Api) -> None:
    debit_id = api.post("/v1/wallets/acme/debits", {"amount": 30}).json()["debit_id"]

    response = api.post(f"/v1/wallets/acme/debits/{debit_id}/refunds", {"amount": 31})

    body = assert_problem(response, 409, "refund_exceeds_debit")
    assert (body["refundable"], body["requested"]) == (30, 31)


def test_refunding_an_unknown_debit_is_not_found(api: Api) -> None:
    response = api.post("/v1/wallets/acme/debits/not-a-debit/refunds", {"amount": 1})

    assert_problem(response, 404, "debit_not_found")


def test_a_refund_amount_must_be_a_positive_integer(api: Api) -> None:
    debit_id = api.post("/v1/wallets/acme/debits", {"amount": 30}).json()["debit_id"]

    response = api.post(f"/v1/wallets/acme/debits/{debit_id}/refunds", {"amount": 1.5})

    assert error_fields(response) == ["amount"]


def test_a_body_is_decoded_once_the_strict_check_hands_litestar_its_result(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A spy on litestar's request-body decoder (it still decodes): the strict check in
    # api.validation already decoded the body, so litestar must not decode it again.
    calls: list[bytes] = []
    original = litestar_request.decode_json  # type: ignore[attr-defined]

    def counted(value: bytes, *args: Any, **kwargs: Any) -> Any:
        calls.append(value)
        return original(value, *args, **kwargs)

    monkeypatch.setattr(litestar_request, "decode_json", counted)

    response = api.post("/v1/wallets/acme/debits", json={"amount": 30, "subject": {"user_id": "u"}})

    assert response.status_code == 201
    assert response.json()["amount"] == 30
    assert calls == []
