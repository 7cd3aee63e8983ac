"""Harness of the batch endpoint tests (no tests here): a script meeting every operation and
every refusal, twin apps to run it on, and the shapes a batch result is compared in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from tests.support.api import Api, running_api
from tests.support.builders import FakeClock, make_ledger

__all__ = [
    "BOOK",
    "BUDGET",
    "SCRIPT",
    "USAGE",
    "app",
    "as_result",
    "batch",
    "operation",
    "prepare",
    "seen",
    "single",
]

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


def prepare(api: Api) -> None:
    """acme and beta with 1000 credits each, the price book, and acme's team t1 budget."""
    for wallet in ("acme", "beta"):
        api.funded_wallet(wallet, 1000)
    assert api.put("/v1/price-books/default", BOOK).status_code == 201
    assert api.put("/v1/wallets/acme/budgets/team-t1", BUDGET).status_code == 201


@contextmanager
def app(*, group_commit: bool) -> Iterator[Api]:
    clock = FakeClock()
    with running_api(make_ledger(clock=clock, group_commit=group_commit), clock) as api:
        prepare(api)
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
