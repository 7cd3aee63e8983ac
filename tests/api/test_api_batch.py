"""HTTP: ``POST /v1/batch`` answers each operation exactly as its single endpoint would.

The equality tests run the same operations twice, on twin apps (two ledgers, the same
frozen clock, the same wallets): one operation at a time through the single endpoints, and
all at once in one batch. Every result must carry the single endpoint's status and body
byte for byte, ``replayed`` where it sent ``Idempotent-Replayed`` and ``position`` where it
sent ``Ledger-Position``; both write paths (group commit and direct) are checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.support.api import Api, assert_problem, error_fields, running_api
from tests.support.api import metric_value as value
from tests.support.builders import FakeClock, make_ledger

BOOK = {"rates": [{"model": "gpt-4.1", "input_per_million": 1000, "output_per_million": 2000}]}
BUDGET = {"scope": {"team_id": "t1"}, "limit": 200, "period": "month", "mode": "hard"}
USAGE = {"model": "gpt-4.1", "input_tokens": 1000, "output_tokens": 500}
LATER = "2026-01-01T01:10:00+01:00"  # answered in UTC, 00:10Z
DEEP: dict[str, Any] = {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}

# (op, wallet, idempotency key, fields): every op, and every refusal each can meet.
SCRIPT: list[tuple[str, str, str, dict[str, Any]]] = [
    ("debit", "acme", "d1", {"amount": 30, "subject": {"user_id": "u1"}, "metadata": {"r": 1}}),
    ("debit", "acme", "d2", {"usage": USAGE}),
    ("debit", "acme", "d3", {"amount": 5000}),  # insufficient_credits
    ("debit", "acme", "d4", {"amount": 150, "subject": {"team_id": "t1"}}),
    ("debit", "acme", "d5", {"amount": 100, "subject": {"team_id": "t1"}}),  # budget_exceeded
    ("debit", "nobody", "d6", {"amount": 1}),  # wallet_not_found
    ("debit", "acme", "d7", {"amount": "3"}),  # validation_error: a string amount
    ("debit", "acme", "d8", {"amount": 3, "usage": USAGE}),  # validation_error: both
    ("debit", "acme", "d9", {"amount": 3, "colour": "red"}),  # validation_error: unknown
    ("debit", "acme", "d10", {"amount": 3, "subject": {"planet": "x"}}),  # validation_error
    ("debit", "acme", "d11", {"usage": {"model": "gpt-9", "input_tokens": 1}}),  # unknown_model
    ("debit", "acme", "d12", {"amount": 3, "metadata": DEEP}),  # validation_error: too deep
    ("debit", "acme", "d13", {"amount": -3}),  # validation_error: negative
    ("debit", "acme", "d1", {"amount": 30, "subject": {"user_id": "u1"}, "metadata": {"r": 1}}),
    ("debit", "acme", "d1", {"amount": 31}),  # idempotency_conflict
    ("hold", "acme", "hk1", {"hold_id": "h1", "amount": 50}),
    ("hold", "acme", "hk2", {"hold_id": "h1", "amount": 5}),  # hold_exists
    ("hold", "acme", "hk3", {"hold_id": "h2", "amount": 100_000}),  # insufficient_credits
    ("hold", "acme", "hk4", {"hold_id": "h3", "amount": 20, "expires_at": LATER}),
    ("hold", "acme", "hk5", {"amount": 0}),  # validation_error
    ("capture", "acme", "ck1", {"hold_id": "h1", "amount": 30}),
    ("capture", "acme", "ck2", {"hold_id": "h1"}),  # hold_not_open
    ("capture", "acme", "ck3", {"hold_id": "h3", "amount": 999}),  # capture_exceeds_hold
    ("capture", "acme", "ck4", {"hold_id": "nope"}),  # hold_not_found
    ("capture", "acme", "ck5", {"hold_id": "h3", "usage": {"model": "other", "input_tokens": 1}}),
    ("release", "acme", "rk1", {"hold_id": "h3"}),
    ("release", "acme", "rk2", {"hold_id": "h3"}),  # hold_not_open
    ("release", "acme", "rk3", {"hold_id": "nope"}),  # hold_not_found
    ("capture", "acme", "ck1", {"hold_id": "h1", "amount": 30}),  # replayed
    ("debit", "beta", "b1", {"amount": 7}),
    ("hold", "beta", "bk1", {"hold_id": "h1", "amount": 3}),  # the same hold id, another wallet
    ("release", "beta", "bk2", {"hold_id": "h1"}),
]


@contextmanager
def app(*, group_commit: bool) -> Iterator[Api]:
    clock = FakeClock()
    with running_api(make_ledger(clock=clock, group_commit=group_commit), clock) as api:
        for wallet in ("acme", "beta"):
            api.funded_wallet(wallet, 1000)
        assert api.put("/v1/price-books/default", BOOK).status_code == 201
        assert api.put("/v1/wallets/acme/budgets/team-t1", BUDGET).status_code == 201
        yield api


def operation(op: str, wallet: str, key: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"op": op, "wallet_id": wallet, "idempotency_key": key, **fields}


def single(api: Api, op: str, wallet: str, key: str, fields: dict[str, Any]) -> httpx.Response:
    """The same operation through its single endpoint."""
    body = dict(fields)
    base = f"/v1/wallets/{wallet}"
    if op == "debit":
        return api.post(f"{base}/debits", body, idempotency_key=key)
    if op == "hold":
        return api.post(f"{base}/holds", body, idempotency_key=key)
    hold = body.pop("hold_id")
    if op == "capture":
        return api.post(f"{base}/holds/{hold}/capture", body or None, idempotency_key=key)
    return api.post(f"{base}/holds/{hold}/release", None, idempotency_key=key)


def batch(api: Api, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = api.post("/v1/batch", {"operations": operations})
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    assert [r["index"] for r in results] == list(range(len(operations)))
    return results


def as_result(response: httpx.Response) -> dict[str, Any]:
    """What a batch result must hold for the single endpoint's ``response``."""
    return {
        "status": response.status_code,
        "body": response.json(),
        "replayed": response.headers.get("Idempotent-Replayed") == "true",
        "recorded": "Ledger-Position" in response.headers,
    }


def seen(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": result["status"],
        "body": result["body"],
        "replayed": result.get("replayed", False),
        "recorded": "position" in result,
    }


@pytest.mark.parametrize("group_commit", [True, False], ids=["group_commit", "direct"])
def test_each_operation_answers_what_its_single_endpoint_answers(group_commit: bool) -> None:
    with app(group_commit=group_commit) as one_by_one, app(group_commit=group_commit) as batched:
        expected = [as_result(single(one_by_one, *step)) for step in SCRIPT]
        results = batch(batched, [operation(*step) for step in SCRIPT])

        assert [seen(r) for r in results] == expected
        for wallet in ("acme", "beta"):
            assert batched.get(f"/v1/wallets/{wallet}").json() == (
                one_by_one.get(f"/v1/wallets/{wallet}").json()
            )
    statuses = [e["status"] for e in expected]
    assert {201, 200, 402, 404, 409, 422} <= set(statuses)  # the script meets every answer
    assert sum(e["replayed"] for e in expected) == 2


def test_a_retried_batch_replays_what_it_recorded_and_decides_nothing_twice() -> None:
    with app(group_commit=True) as api:
        operations = [operation(*step) for step in SCRIPT]
        first = batch(api, operations)
        wallet = api.get("/v1/wallets/acme").json()

        again = batch(api, operations)

        assert api.get("/v1/wallets/acme").json() == wallet
        for before, after in zip(first, again, strict=True):
            assert after["status"] == before["status"]
            if "position" in before:  # recorded the first time: a replay now, nothing new
                assert after["body"] == before["body"]
                assert after.get("replayed") is True
                assert "position" not in after
        assert sum("position" in r for r in first) >= 8


def test_operations_on_one_wallet_are_decided_in_the_order_given() -> None:
    with app(group_commit=True) as api:
        first = batch(
            api,
            [
                operation("debit", "acme", "a", {"amount": 600}),
                operation("debit", "beta", "x", {"amount": 1}),
                operation("debit", "acme", "b", {"amount": 500}),
            ],
        )
        second = batch(
            api,
            [
                operation("debit", "beta", "y", {"amount": 500}),
                operation("debit", "beta", "z", {"amount": 600}),
            ],
        )

    assert [r["status"] for r in first] == [201, 201, 402]
    assert [r["status"] for r in second] == [201, 402]


def test_one_refusal_undoes_no_other_operation() -> None:
    with app(group_commit=True) as api:
        results = batch(
            api,
            [
                operation("debit", "acme", "a", {"amount": 10}),
                operation("debit", "acme", "b", {"amount": 10_000}),
                operation("debit", "acme", "c", {"amount": 20}),
            ],
        )
        available = api.get("/v1/wallets/acme").json()["balance"]["available"]

    assert [r["status"] for r in results] == [201, 402, 201]
    assert available == 1000 - 30


GOOD = operation("debit", "acme", "first", {"amount": 1})


@pytest.mark.parametrize(
    ("operations", "field"),
    [
        ({"debit": 1}, "operations"),
        ([operation("debit", "acme", f"k{i}", {"amount": 1}) for i in range(1001)], "operations"),
        ([GOOD, {"op": "refund", "wallet_id": "acme", "idempotency_key": "k"}], "operations[1].op"),
        (
            [GOOD, {"op": "debit", "wallet_id": "acme", "amount": 1}],
            "operations[1].idempotency_key",
        ),
        ([GOOD, operation("debit", "acme", "", {"amount": 1})], "operations[1].idempotency_key"),
        ([GOOD, operation("debit", "acme", "k" * 256, {})], "operations[1].idempotency_key"),
        ([GOOD, {"op": "debit", "idempotency_key": "k", "amount": 1}], "operations[1].wallet_id"),
        ([GOOD, operation("capture", "acme", "k", {"amount": 1})], "operations[1].hold_id"),
        ([GOOD, operation("release", "acme", "k", {})], "operations[1].hold_id"),
        ([GOOD, "debit"], "operations[1]"),
        ([GOOD, {"wallet_id": "acme", "idempotency_key": "k"}], "operations[1].op"),
    ],
    ids=[
        "not_a_list",
        "over_1000",
        "unknown_op",
        "no_key",
        "empty_key",
        "long_key",
        "no_wallet",
        "capture_without_hold",
        "release_without_hold",
        "not_an_object",
        "no_op",
    ],
)
def test_a_malformed_batch_is_refused_whole_and_decides_nothing(
    operations: Any, field: str
) -> None:
    with app(group_commit=True) as api:
        before = api.get("/v1/wallets/acme").json()

        response = api.post("/v1/batch", {"operations": operations})

        assert error_fields(response) == [field]
        assert api.get("/v1/wallets/acme").json() == before


def test_a_batch_without_operations_is_refused_and_an_empty_one_answers_no_results() -> None:
    with app(group_commit=True) as api:
        assert error_fields(api.post("/v1/batch", {})) == ["operations"]
        assert api.post("/v1/batch", {"operations": []}).json() == {"results": []}


def test_a_batch_needs_the_scope_of_its_operations() -> None:
    with app(group_commit=True) as api:
        body = {"operations": [operation("debit", "acme", "k", {"amount": 1})]}
        service = api.issue_key("service")
        assert api.post("/v1/batch", body, key=service).status_code == 200
        for scopes in (["auditor"], ["customer:acme"]):
            assert_problem(
                api.post("/v1/batch", body, key=api.issue_key(*scopes)), 403, "forbidden"
            )
        assert_problem(api.post("/v1/batch", body, key=None), 401, "unauthenticated")


def test_a_batch_carries_the_highest_position_its_operations_recorded() -> None:
    with app(group_commit=True) as api:
        response = api.post(
            "/v1/batch",
            {
                "operations": [
                    operation("debit", "acme", "a", {"amount": 1}),
                    operation("debit", "beta", "b", {"amount": 1}),
                    operation("debit", "acme", "c", {"amount": 10_000}),
                ]
            },
        )
        results = response.json()["results"]
        positions = [r["position"] for r in results if "position" in r]
        assert len(positions) == 2
        assert int(response.headers["Ledger-Position"]) == max(positions)
        refused = api.post(
            "/v1/batch", {"operations": [operation("debit", "acme", "d", {"amount": 10_000})]}
        )
        assert "Ledger-Position" not in refused.headers


def test_each_operation_of_a_batch_counts_as_a_decision() -> None:
    with app(group_commit=True) as api:
        batch(
            api,
            [
                operation("debit", "acme", "a", {"amount": 1}),
                operation("debit", "acme", "b", {"amount": 10_000}),
                operation("debit", "acme", "a", {"amount": 1}),
                operation("hold", "acme", "h", {"hold_id": "h1", "amount": 1}),
            ],
        )

        assert value(api, "ledger_decisions_total", operation="debit", outcome="ok") == 1
        assert value(api, "ledger_decisions_total", operation="debit", outcome="replayed") == 1
        assert (
            value(api, "ledger_decisions_total", operation="debit", outcome="insufficient_credits")
            == 1
        )
        assert value(api, "ledger_decisions_total", operation="place_hold", outcome="ok") == 1
