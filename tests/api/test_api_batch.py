"""HTTP: ``POST /v1/batch`` answers each operation exactly as its single endpoint would.

The equality tests run the same operations twice, on twin apps (two ledgers, the same
frozen clock, the same wallets): one operation at a time through the single endpoints, and
all at once in one batch. Every result must carry the single endpoint's status and body
byte for byte, ``replayed`` where it sent ``Idempotent-Replayed`` and ``position`` where it
sent ``Ledger-Position``; both write paths (group commit and direct) are checked.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import assert_problem, error_fields
from tests.support.api import metric_value as value
from tests.support.batch import (
    SCRIPT,
    app,
    as_result,
    batch,
    operation,
    seen,
    single,
)


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
