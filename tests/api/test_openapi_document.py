"""The served OpenAPI document, walked for what hurt generated clients and "Try it out".

Each test names one fault a new user met (issue 14): parameters documented as ``string |
null``, times without ``format: date-time``, random-text problem examples, untyped problem
members, untyped usage events, plain strings where the contract has a closed set, a debit
example that the API refuses, a budget scope shown as ``additionalProp1``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from api.errors import ERROR_STATUS, RateLimited, to_problem
from api.read_models import ProjectionLagging
from api.schemas.usage_events import UsageEventShape
from ledger.domain.errors import (
    BudgetExceeded,
    CaptureExceedsHold,
    FieldError,
    GrantNotVoidable,
    HoldNotOpen,
    InsufficientCredits,
    LedgerError,
    RefundExceedsDebit,
    UnknownModel,
    ValidationFailed,
)
from tests.support.api import Api, running_api


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    with running_api() as api:
        document: dict[str, Any] = api.get("/schema/openapi.json").json()
    return document


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as api:
        api.funded_wallet("acme", 1000)
        yield api


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def _component(doc: dict[str, Any], name: str) -> dict[str, Any]:
    schema: dict[str, Any] = doc["components"]["schemas"][name]
    return schema


def _body_examples(doc: dict[str, Any], path: str) -> list[dict[str, Any]]:
    content = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    examples: list[dict[str, Any]] = content["schema"]["examples"]
    return examples


def test_no_parameter_is_documented_as_null(doc: dict[str, Any]) -> None:
    nullable = [
        (path, method, parameter["name"])
        for path, method, operation in _operations(doc)
        for parameter in operation.get("parameters", [])
        if parameter["name"] in ("Idempotency-Key", "from", "to", "as_of")
        and "null" in json.dumps(parameter["schema"])
    ]

    assert nullable == []


def test_every_time_parameter_is_a_date_time_string(doc: dict[str, Any]) -> None:
    times = [
        parameter["schema"]
        for _, _, operation in _operations(doc)
        for parameter in operation.get("parameters", [])
        if parameter["name"] in ("from", "to", "as_of")
    ]

    assert len(times) >= 7  # journal, usage, meters (from, to), trial balance, wallet (as_of)
    assert all(s.get("type") == "string" and s.get("format") == "date-time" for s in times)


def test_every_problem_example_is_a_real_problem_of_its_status(doc: dict[str, Any]) -> None:
    problem_members = set(_component(doc, "ProblemOut")["properties"])
    seen = 0
    for _, _, operation in _operations(doc):
        for status, response in operation["responses"].items():
            content = (response.get("content") or {}).get("application/problem+json")
            if content is None:
                continue
            assert content["examples"], (status, "a problem answer without an example")
            for example in content["examples"].values():
                body = example["value"]
                seen += 1
                assert body["status"] == int(status)  # the integer, never random text
                assert body["type"] == f"urn:credit-ledger:problem:{body['code']}"
                assert example["summary"] == body["code"]
                assert set(body) <= problem_members

    assert seen > 100


def _samples() -> dict[type[Exception], Exception]:
    return {
        ValidationFailed: ValidationFailed(FieldError("amount", "must be an integer")),
        InsufficientCredits: InsufficientCredits(12, 30),
        BudgetExceeded: BudgetExceeded("b", 500, 490, 30, datetime(2026, 2, 1, tzinfo=UTC)),
        HoldNotOpen: HoldNotOpen("h1", "captured"),
        GrantNotVoidable: GrantNotVoidable("g1", "voided"),
        CaptureExceedsHold: CaptureExceedsHold(50, 60),
        RefundExceedsDebit: RefundExceedsDebit(10, 20),
        UnknownModel: UnknownModel("gpt-9", "default"),
        RateLimited: RateLimited("slow down", 2),
        ProjectionLagging: ProjectionLagging(41, 42),
    }


def _error_classes() -> Iterator[type[LedgerError]]:
    pending = [LedgerError]
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        yield cls


def test_every_problem_member_is_typed_in_the_document(doc: dict[str, Any]) -> None:
    properties = _component(doc, "ProblemOut")["properties"]
    with_members = {c for c in _error_classes() if c.details is not LedgerError.details}

    assert with_members <= set(_samples())  # a new error with members needs a sample here
    for sample in _samples().values():
        body = to_problem(sample).body()
        assert set(body) <= set(properties), type(sample).__name__
    assert properties["status"]["type"] == "integer"
    assert properties["available"]["oneOf"] == [{"type": "integer"}]
    assert properties["hold_status"]["oneOf"][0]["enum"] == [
        "open",
        "captured",
        "released",
        "expired",
    ]
    assert set(ERROR_STATUS) <= set(_error_classes())


def test_usage_event_items_are_typed_like_the_events_the_ledger_checks(
    doc: dict[str, Any],
) -> None:
    items = _component(doc, "UsageEventsIn")["properties"]["events"]["items"]

    assert set(items["properties"]) == {f.name for f in msgspec.structs.fields(UsageEventShape)}
    assert items["properties"]["occurred_at"]["format"] == "date-time"
    assert items["additionalProperties"] is False


@pytest.mark.parametrize(
    ("schema", "field", "values"),
    [
        ("HoldOut", "status", ["open", "captured", "released", "expired"]),
        ("BudgetOut", "period", ["day", "week", "month", "total"]),
        ("BudgetOut", "mode", ["hard", "soft"]),
        ("BudgetIn", "period", ["day", "week", "month", "total"]),
        ("BudgetIn", "mode", ["hard", "soft"]),
        ("GrantOut", "category", ["paid", "promotional", "trial", "refund", "rollover"]),
        ("CaptureOut", "status", ["captured"]),
        ("ReleaseOut", "status", ["released"]),
    ],
)
def test_closed_sets_are_enums(
    doc: dict[str, Any], schema: str, field: str, values: list[str]
) -> None:
    documented = _component(doc, schema)["properties"][field]
    assert documented.get("enum", [documented.get("const")]) == values


@pytest.mark.parametrize(("schema", "field"), [("BudgetOut", "scope"), ("HoldOut", "subject")])
def test_subjects_in_answers_name_their_keys(doc: dict[str, Any], schema: str, field: str) -> None:
    ref = _component(doc, schema)["properties"][field]["$ref"]
    subject = _component(doc, ref.rsplit("/", 1)[-1])

    assert set(subject["properties"]) == {
        "user_id",
        "team_id",
        "agent_id",
        "project_id",
        "feature",
        "model",
    }
    assert "additionalProperties" not in subject  # what showed as additionalProp1..3


@pytest.mark.parametrize(
    ("path", "status"),
    [("/v1/wallets/{wallet_id}/debits", 201), ("/v1/wallets/{wallet_id}/holds", 201)],
)
def test_the_first_body_example_is_accepted_as_is(
    doc: dict[str, Any], api: Api, path: str, status: int
) -> None:
    # "Try it out" sends the first example: with amount and usage at once it answered 422.
    example = _body_examples(doc, path)[0]
    api.put(
        "/v1/price-books/default",
        {"rates": [{"model": "gpt-4.1", "input_per_million": 2, "output_per_million": 8}]},
    )

    response = api.post(path.format(wallet_id="acme"), example)

    assert response.status_code == status, response.text
    assert not {"amount", "usage"} <= set(example)


def test_every_body_example_is_accepted(doc: dict[str, Any], api: Api) -> None:
    api.put(
        "/v1/price-books/default",
        {"rates": [{"model": "gpt-4.1", "input_per_million": 2, "output_per_million": 8}]},
    )
    for index, example in enumerate(_body_examples(doc, "/v1/wallets/{wallet_id}/debits")):
        answer = api.post("/v1/wallets/acme/debits", example, idempotency_key=f"k{index}")
        assert answer.status_code == 201, answer.text


def test_no_union_makes_an_integer_invalid(doc: dict[str, Any]) -> None:
    # oneOf [integer, number, ...]: an integer matches two members, so a validating client
    # (schemathesis found it on meter series) refused every integer answer.
    found = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            kinds = [member.get("type") for member in node.get("oneOf", [])]
            if "integer" in kinds and "number" in kinds:
                found.append(where)
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}[{index}]")

    walk(doc, "")

    assert found == []
