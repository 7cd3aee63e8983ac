"""``/v1/meters/{meter_id}`` and ``/v1/wallets/{wallet_id}/meters/{meter_id}``.

Usage events are recorded straight into the ledger (``record``) and, in the last test,
through ``POST /v1/usage-events``; reads pass the write's position as ``min_position``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ledger.metering.usage import UsageBatch
from tests.support.api import Api, assert_problem, error_fields, running_api
from tests.support.builders import at
from tests.support.meters import BATCHES, usage

TOKENS = {
    "event_type": "llm.completion",
    "aggregation": "sum",
    "value": "quantities.output_tokens",
    "group_by": ["model"],
}


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as running:
        yield running


def record(api: Api, events: list[dict[str, Any]]) -> None:
    """Record one usage batch in the ledger and remember its position (read your writes)."""
    recordings = api.ledger.save(
        UsageBatch.record(received_at="2026-03-01T00:00:00Z", usage=events)
    )
    api.position = max(api.position, *(r.notification.id for r in recordings))


def meter_ready(api: Api, meter_id: str = "tokens", body: dict[str, Any] | None = None) -> None:
    response = api.put(f"/v1/meters/{meter_id}", body or TOKENS)
    assert response.status_code == 201, response.text


def test_putting_a_new_meter_answers_201_and_reads_back(api: Api) -> None:
    response = api.put("/v1/meters/tokens", TOKENS)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body == {
        **TOKENS,
        "meter_id": "tokens",
        "version": 1,
        "created_at": "2026-01-01T00:00:00Z",
        "latest_version": 1,
    }
    assert response.headers["Ledger-Position"]
    assert api.get("/v1/meters/tokens").json() == body


def test_a_change_is_200_with_the_next_version_and_an_equal_put_changes_nothing(
    api: Api,
) -> None:
    meter_ready(api)
    changed = api.put("/v1/meters/tokens", {**TOKENS, "aggregation": "max"})
    same = api.put("/v1/meters/tokens", {**TOKENS, "aggregation": "max"})
    assert (changed.status_code, changed.json()["version"]) == (200, 2)
    assert (same.status_code, same.json()["version"]) == (200, 2)
    assert "Ledger-Position" not in same.headers
    assert api.get("/v1/meters/tokens?version=1").json()["aggregation"] == "sum"


def test_a_put_replays_with_its_idempotency_key(api: Api) -> None:
    first = api.put("/v1/meters/tokens", TOKENS, idempotency_key="k1")
    again = api.put("/v1/meters/tokens", TOKENS, idempotency_key="k1")
    other = api.put("/v1/meters/tokens", {**TOKENS, "aggregation": "min"}, idempotency_key="k1")
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert_problem(other, 409, "idempotency_conflict")


def test_an_unknown_meter_or_version_is_not_found(api: Api) -> None:
    assert_problem(api.get("/v1/meters/nope"), 404, "meter_not_found")
    meter_ready(api)
    assert_problem(api.get("/v1/meters/tokens?version=2"), 404, "meter_not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**TOKENS, "aggregation": "median"}, "aggregation"),
        ({**TOKENS, "value": "output_tokens"}, "value"),
        ({**TOKENS, "value": None}, "value"),
        ({**TOKENS, "group_by": ["colour"]}, "group_by"),
        ({**TOKENS, "event_type": ""}, "event_type"),
        ({**TOKENS, "extra": 1}, "extra"),
    ],
)
def test_malformed_meters_are_refused(api: Api, body: dict[str, Any], field: str) -> None:
    response = api.put("/v1/meters/tokens", body)
    if field == "extra":  # unknown fields are named by the body check, not the ledger
        assert_problem(response, 422, "validation_error")
    else:
        assert error_fields(response) == [field]


def test_the_wallet_series_sums_per_day_and_model(api: Api) -> None:
    api.open_wallet("acme")
    meter_ready(api)
    for batch in BATCHES:
        record(api, batch)
    response = api.get(api.fresh("/v1/wallets/acme/meters/tokens"))
    assert response.status_code == 200, response.text
    assert response.json()["series"] == [
        {"window_start": "2026-01-31T00:00:00Z", "group": {"model": "m1"}, "value": 10},
        {"window_start": "2026-02-01T00:00:00Z", "group": {"model": "m1"}, "value": 15},
        {"window_start": "2026-02-01T00:00:00Z", "group": {"model": "m2"}, "value": 20},
        {"window_start": "2026-02-01T00:00:00Z", "group": {"model": None}, "value": 12},
        {"window_start": "2026-03-01T00:00:00Z", "group": {"model": "m1"}, "value": 1},
    ]


def test_the_query_chooses_window_range_and_grouping(api: Api) -> None:
    api.open_wallet("acme")
    meter_ready(
        api,
        "latency",
        {"event_type": "llm.completion", "aggregation": "avg", "value": "properties.latency_ms"},
    )
    meter_ready(
        api,
        "users",
        {
            "event_type": "llm.completion",
            "aggregation": "unique_count",
            "value": "subject.user_id",
            "group_by": ["model"],
        },
    )
    for batch in BATCHES:
        record(api, batch)
    month = api.get(api.fresh("/v1/wallets/acme/meters/latency?window=month")).json()
    ungrouped = api.get(
        api.fresh(
            "/v1/wallets/acme/meters/users?window=hour&group_by="
            "&from=2026-02-01T02:00:00%2B01:00&to=2026-02-01T02:00:00Z"
        )
    ).json()
    assert [(p["window_start"], p["value"]) for p in month["series"]] == [
        ("2026-01-01T00:00:00Z", 120.0),
        ("2026-02-01T00:00:00Z", 50.5),
    ]
    assert ungrouped["series"] == [
        {"window_start": "2026-02-01T01:00:00Z", "group": {}, "value": 3},
    ]


def test_an_unknown_wallet_or_meter_is_not_found(api: Api) -> None:
    meter_ready(api)
    assert_problem(api.get("/v1/wallets/nope/meters/tokens"), 404, "wallet_not_found")
    api.open_wallet("acme")
    assert_problem(api.get("/v1/wallets/acme/meters/nope"), 404, "meter_not_found")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("window=week", "window"),
        ("group_by=colour", "group_by"),
        ("group_by=quantities.output_tokens", "group_by"),
        ("from=2026-01-01T00:00:00", "from"),
        ("to=yesterday", "to"),
    ],
)
def test_malformed_queries_are_refused(api: Api, query: str, field: str) -> None:
    api.open_wallet("acme")
    meter_ready(api)
    response = api.get(f"/v1/wallets/acme/meters/tokens?{query}")
    assert_problem(response, 422, "validation_error")
    assert field in response.text


def test_who_may_define_read_and_query_meters(api: Api) -> None:
    api.open_wallet("acme", customer_id="acme")
    api.open_wallet("globex", customer_id="globex")
    meter_ready(api)
    service, auditor = api.issue_key("service"), api.issue_key("auditor")
    customer = api.issue_key("customer:acme")
    for key in (service, auditor, customer):
        assert_problem(api.put("/v1/meters/other", TOKENS, key=key), 403, "forbidden")
    assert api.get("/v1/meters/tokens", key=service).status_code == 200
    assert api.get("/v1/meters/tokens", key=auditor).status_code == 200
    assert_problem(api.get("/v1/meters/tokens", key=customer), 403, "forbidden")
    assert api.get("/v1/wallets/acme/meters/tokens", key=customer).status_code == 200
    assert_problem(
        api.get("/v1/wallets/globex/meters/tokens", key=customer), 404, "wallet_not_found"
    )
    assert_problem(api.get("/v1/meters/tokens", key=None), 401, "unauthenticated")


def test_usage_events_posted_through_the_api_are_metered(api: Api) -> None:
    api.funded_wallet("acme")
    meter_ready(api)
    api.clock.set(at("2026-01-01T12:00"))
    events = [
        {
            key: value
            for key, value in usage(
                f"e{i}", f"2026-01-01T0{i}:00:00Z", {"model": "m1"}, 10 * i
            ).items()
            if key in {"event_id", "wallet_id", "type", "occurred_at", "subject", "quantities"}
        }
        for i in (1, 2)
    ]
    posted = api.post("/v1/usage-events", {"events": events})
    assert posted.status_code == 200, posted.text
    assert posted.json()["accepted"] == 2
    series = api.get(api.fresh("/v1/wallets/acme/meters/tokens")).json()["series"]
    assert series == [
        {"window_start": "2026-01-01T00:00:00Z", "group": {"model": "m1"}, "value": 30},
    ]
