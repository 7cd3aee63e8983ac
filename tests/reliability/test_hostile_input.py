"""Hostile input: every body-taking operation of the OpenAPI, fed bodies no client should send.

For each operation with a request body (found in the app's own OpenAPI document, so routes
added later are covered without editing this file), with its path ids pointing at things that
exist, each bad body must be answered with a 4xx problem document, never a 5xx, and must
write nothing: the ledger's notification log does not move. Free-form ``metadata`` beyond its
limits (depth, keys, size) is refused the same way on every operation that takes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.validation import MAX_METADATA_BYTES, MAX_METADATA_DEPTH, MAX_METADATA_KEYS
from ledger.app.commands import Debit, GrantCredits, OpenWallet, PlaceHold
from ledger.app.service import CreditLedger
from tests.support.api import ADMIN_KEY, Api, assert_problem, running_api
from tests.support.builders import make_ledger
from tests.support.reliability.common import report

pytestmark = pytest.mark.reliability

MAX_BODY_BYTES = 256 * 1024
JSON = "application/json"

BAD_BODIES: dict[str, tuple[bytes, str]] = {
    "truncated_json": (b'{"amount": 1, "metadata": {', JSON),
    "not_json": (b"amount=1&wallet_id=acme", JSON),
    "trailing_garbage": (b'{"amount": 1} {"amount": 2}', JSON),
    "invalid_utf8": (b'{"amount": 1, "metadata": {"k": "\xff\xfe\xfd"}}', JSON),
    "invalid_utf8_key": (b'{"\xc3\x28": 1}', JSON),
    "lone_surrogate": (b'{"metadata": {"k": "\\ud800"}, "amount": 1', JSON),
    "huge_integer": (b'{"amount": 1' + b"0" * 4000 + b"}", JSON),
    "huge_float": (b'{"amount": 1e999}', JSON),
    "nan": (b'{"amount": NaN}', JSON),
    "deep_arrays": (b"[" * 50_000 + b"]" * 50_000, JSON),
    "deep_objects": (b'{"a":' * 20_000 + b"1" + b"}" * 20_000, JSON),
    "deep_metadata_arrays": (
        b'{"amount": 1, "metadata": {"a": ' + b"[" * 20_000 + b"]" * 20_000 + b"}}",
        JSON,
    ),
    "top_level_array": (b"[]", JSON),
    "top_level_string": (b'"amount"', JSON),
    "oversized": (b'{"metadata": {"k": "' + b"x" * (MAX_BODY_BYTES + 1) + b'"}}', JSON),
    "plain_text": (b'{"amount": 1}', "text/plain"),
    "form": (b'{"amount": 1}', "application/x-www-form-urlencoded"),
    "xml": (b"<debit><amount>1</amount></debit>", "application/xml"),
    "multipart": (b"--x\r\n\r\n1\r\n--x--", "multipart/form-data; boundary=x"),
}
"""Bodies that no operation may accept: name -> (bytes, Content-Type)."""


def seeded() -> tuple[CreditLedger, dict[str, str]]:
    ledger = make_ledger()
    ledger.open_wallet(OpenWallet(wallet_id="acme", overdraft_limit=10))
    ledger.grant(GrantCredits(wallet_id="acme", grant_id="g1", amount=10_000, category="paid"))
    ledger.place_hold(PlaceHold(wallet_id="acme", hold_id="h1", amount=10))
    debit = ledger.debit(Debit(wallet_id="acme", amount=5))
    ids = {
        "wallet_id": "acme",
        "grant_id": "g1",
        "hold_id": "h1",
        "debit_id": str(debit.body["debit_id"]),
    }
    return ledger, ids


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[Api, dict[str, str]]]:
    ledger, ids = seeded()
    with running_api(ledger, max_body_bytes=MAX_BODY_BYTES, rate_limit_per_second=0) as running:
        yield running, ids


def body_operations(api: Api, ids: dict[str, str]) -> list[tuple[str, str]]:
    """(method, concrete path) of every operation that takes a body."""
    document = api.get("/schema/openapi.json").json()
    found = []
    for template, operations in document["paths"].items():
        path = re.sub(r"\{(\w+)\}", lambda m: ids.get(m[1], "x-1"), template)
        found += [(m.upper(), path) for m, op in operations.items() if "requestBody" in op]
    return sorted(found)


def position(ledger: CreditLedger) -> int:
    return ledger.recorder.max_notification_id() or 0


def send(api: Api, method: str, path: str, body: bytes, content_type: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": content_type}
    return api.client.request(method, path, content=body, headers=headers)


def assert_refused_without_writing(api: Api, response: httpx.Response, before: int) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == response.status_code
    assert problem["code"]
    assert position(api.ledger) == before, "a refused request wrote to the ledger"


def test_every_body_operation_refuses_every_bad_body_without_writing(
    api: tuple[Api, dict[str, str]],
) -> None:
    running, ids = api
    operations = body_operations(running, ids)
    statuses: dict[int, int] = {}
    for method, path in operations:
        for name, (body, content_type) in BAD_BODIES.items():
            before = position(running.ledger)
            response = send(running, method, path, body, content_type)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            try:
                assert_refused_without_writing(running, response, before)
            except AssertionError as failure:
                raise AssertionError(f"{method} {path} with {name}: {failure}") from None
    report(
        "hostile_bodies",
        {
            "operations": len(operations),
            "bad_bodies": len(BAD_BODIES),
            "requests": len(operations) * len(BAD_BODIES),
            "answers": statuses,
        },
    )
    assert len(operations) >= 10


def nested(depth: int) -> dict[str, Any]:
    """Metadata ``depth`` levels deep: ``{"n": {"n": ... {}}}``."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"n": value}
    return value


TOO_MUCH_METADATA = {
    "too_deep": nested(MAX_METADATA_DEPTH + 1),
    "too_deep_in_a_list": {"l": [[[[[[[[1]]]]]]]]},
    "too_many_keys": {f"k{n}": n for n in range(MAX_METADATA_KEYS + 1)},
    "too_many_nested_keys": {f"k{n}": {"a": 1} for n in range(MAX_METADATA_KEYS // 2 + 1)},
    "too_large": {"k": "x" * MAX_METADATA_BYTES},
}
METADATA_ROUTES = [
    ("/v1/wallets", {"wallet_id": "w-meta"}),
    ("/v1/wallets/acme/grants", {"amount": 10, "category": "paid"}),
    ("/v1/wallets/acme/debits", {"amount": 1}),
    ("/v1/wallets/acme/holds", {"amount": 1}),
]


@pytest.mark.parametrize(("path", "body"), METADATA_ROUTES)
@pytest.mark.parametrize("metadata", TOO_MUCH_METADATA.values(), ids=TOO_MUCH_METADATA.keys())
def test_refuses_metadata_beyond_its_limits(
    api: tuple[Api, dict[str, str]], path: str, body: dict[str, Any], metadata: dict[str, Any]
) -> None:
    running, _ = api
    before = position(running.ledger)
    response = running.post(path, {**body, "metadata": metadata})
    problem = assert_problem(response, 422, "validation_error")
    assert [error["field"] for error in problem["errors"]] == ["metadata"]
    assert position(running.ledger) == before


def test_accepts_metadata_at_its_limits(api: tuple[Api, dict[str, str]]) -> None:
    running, _ = api
    deepest = nested(MAX_METADATA_DEPTH)
    widest = {f"k{n}": n for n in range(MAX_METADATA_KEYS)}
    largest = {"k": "x" * (MAX_METADATA_BYTES - len(json.dumps({"k": ""})))}
    for metadata in (deepest, widest, largest):
        response = running.post("/v1/wallets/acme/debits", {"amount": 1, "metadata": metadata})
        assert response.status_code == 201, response.text
        assert response.json()["amount"] == 1


def test_a_body_without_content_type_is_read_as_json(api: tuple[Api, dict[str, str]]) -> None:
    running, _ = api
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    response = running.client.post(
        "/v1/wallets/acme/debits", content=b'{"amount": 1}', headers=headers
    )
    assert response.status_code == 201, response.text


def test_a_json_body_with_a_charset_is_accepted(api: tuple[Api, dict[str, str]]) -> None:
    running, _ = api
    response = send(
        running, "POST", "/v1/wallets/acme/debits", b'{"amount": 1}', f"{JSON}; charset=utf-8"
    )
    assert response.status_code == 201, response.text


def usage_event(n: int) -> dict[str, Any]:
    return {
        "event_id": f"e-{n}",
        "wallet_id": "acme",
        "type": "llm.completion",
        "occurred_at": "2026-01-01T00:00:00Z",
    }


RATE = {"model": "m", "input_per_million": 1, "output_per_million": 1}
BUDGET = {"scope": {}, "limit": 10, "period": "month"}
OVER_BATCH_LIMITS = {
    "usage_events": ("POST", "/v1/usage-events", "events", [usage_event(n) for n in range(1001)]),
    "price_book_rates": ("PUT", "/v1/price-books/big", "rates", [RATE] * 1001),
    "api_key_scopes": ("POST", "/v1/api-keys", "scopes", ["service"] * 17),
    "budget_thresholds": ("PUT", "/v1/wallets/acme/budgets/b", "alert_thresholds", [0.5] * 33),
}
"""name -> (method, path, the array, one item more than it may hold)."""


@pytest.mark.parametrize(
    ("method", "path", "field", "items"), OVER_BATCH_LIMITS.values(), ids=OVER_BATCH_LIMITS.keys()
)
def test_refuses_a_batch_over_its_limit_without_writing(
    api: tuple[Api, dict[str, str]], method: str, path: str, field: str, items: list[Any]
) -> None:
    running, _ = api
    before = position(running.ledger)
    body = {**(BUDGET if "budgets" in path else {}), field: items}
    problem = assert_problem(running.request(method, path, json=body), 422, "validation_error")
    assert [error["field"] for error in problem["errors"]] == [field]
    assert position(running.ledger) == before
