"""``GET /v1/wallets/{wallet_id}/usage``: debited credits per UTC window and subject group.

Answered from the usage read model, kept per UTC hour: ``from``/``to`` must be on an hour.
Reads pass the last write's position as ``min_position`` (``api.fresh``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.routes.audit import HOUR_BOUNDARY
from tests.support.api import Api, assert_problem, error_fields, running_api, spend
from tests.support.builders import at


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as running:
        yield running


def test_usage_is_grouped_by_window_and_subject(api: Api) -> None:
    api.funded_wallet()
    spend(api, 10, model="m1", user_id="u1")
    spend(api, 20, model="m1", user_id="u2")
    api.clock.set(at("2026-01-01T05:00"))
    spend(api, 5, model="m2")

    by_model = api.get(api.fresh("/v1/wallets/acme/usage?group_by=model")).json()["series"]
    by_hour = api.get(
        api.fresh("/v1/wallets/acme/usage?window=hour&group_by=model,user_id&group_by=model")
    ).json()["series"]

    assert by_model == [
        {
            "window_start": "2026-01-01T00:00:00Z",
            "group": {"model": "m1"},
            "debited": 30,
            "count": 2,
            "uncollected": 0,
        },
        {
            "window_start": "2026-01-01T00:00:00Z",
            "group": {"model": "m2"},
            "debited": 5,
            "count": 1,
            "uncollected": 0,
        },
    ]
    assert [(p["window_start"][11:13], p["group"], p["debited"]) for p in by_hour] == [
        ("00", {"model": "m1", "user_id": "u1"}, 10),
        ("00", {"model": "m1", "user_id": "u2"}, 20),
        ("05", {"model": "m2", "user_id": None}, 5),
    ]


def test_usage_as_csv_is_the_same_series_one_row_per_window_and_group(api: Api) -> None:
    api.funded_wallet()
    spend(api, 10, model="m1", user_id="u1")
    spend(api, 20, model="m1", user_id="=cmd()")
    api.clock.set(at("2026-01-01T05:00"))
    spend(api, 5, model="m2")
    query = "/v1/wallets/acme/usage?window=hour&group_by=model,user_id"

    response = api.get(api.fresh(query), headers={"Accept": "text/csv"})
    series = api.get(api.fresh(query)).json()["series"]

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.text.splitlines() == [
        "window_start,model,user_id,debited,count",
        "2026-01-01T00:00:00Z,m1,'=cmd(),20,1",  # a formula is defused for spreadsheets
        "2026-01-01T00:00:00Z,m1,u1,10,1",
        "2026-01-01T05:00:00Z,m2,,5,1",  # the subject had no user_id
    ]
    assert [(p["group"]["user_id"], p["debited"]) for p in series] == [
        ("=cmd()", 20),
        ("u1", 10),
        (None, 5),
    ]


def test_usage_as_csv_without_groups_has_only_the_totals(api: Api) -> None:
    api.funded_wallet()
    spend(api, 10, model="m1")

    response = api.get(api.fresh("/v1/wallets/acme/usage"), headers={"Accept": "text/csv"})

    assert response.text.splitlines() == ["window_start,debited,count", "2026-01-01T00:00:00Z,10,1"]


def test_usage_counts_hold_captures_and_filters_by_time(api: Api) -> None:
    api.funded_wallet()
    spend(api, 10)
    api.clock.set(at("2026-01-03T00:00"))
    placed = api.post("/v1/wallets/acme/holds", {"hold_id": "h1", "amount": 50})
    assert placed.status_code == 201
    captured = api.post("/v1/wallets/acme/holds/h1/capture", {"amount": 40})
    assert captured.status_code == 200

    series = api.get(
        api.fresh(
            "/v1/wallets/acme/usage?window=month&from=2026-01-02T00:00:00Z&to=2026-02-01T00:00:00Z"
        )
    ).json()["series"]

    assert series == [
        {
            "window_start": "2026-01-01T00:00:00Z",
            "group": {},
            "debited": 40,
            "count": 1,
            "uncollected": 0,
        }
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("window=week", "window"),
        ("group_by=colour", "group_by"),
        ("from=2026-01-01T00:00:00", "from"),
        ("to=2026-01-01", "to"),
        ("from=1767225600", "from"),
        ("min_position=-1", "min_position"),
    ],
)
def test_bad_usage_queries_name_the_parameter(api: Api, query: str, field: str) -> None:
    api.open_wallet()

    assert error_fields(api.get(f"/v1/wallets/acme/usage?{query}")) == [field]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-01-01T00:30:00Z", "from"),
        ("to=2026-01-01T05:00:00.001Z", "to"),
        ("from=2026-01-01T00:00:00Z&to=2026-01-01T01:00:00%2B00:30", "to"),
    ],
)
def test_usage_bounds_must_be_on_an_hour(api: Api, query: str, field: str) -> None:
    api.open_wallet()

    response = api.get(f"/v1/wallets/acme/usage?{query}")

    assert error_fields(response) == [field]
    assert response.json()["errors"][0]["message"] == HOUR_BOUNDARY


def test_usage_bounds_may_have_any_offset_on_a_utc_hour(api: Api) -> None:
    api.funded_wallet()
    spend(api, 10)

    # 01:30+01:30 is 00:00Z: on the hour, so the debit at 00:00Z is in.
    window = "from=2026-01-01T01:30:00%2B01:30&to=2026-01-01T01:00:00Z"
    series = api.get(api.fresh(f"/v1/wallets/acme/usage?{window}")).json()["series"]

    assert [(p["window_start"], p["debited"]) for p in series] == [("2026-01-01T00:00:00Z", 10)]


def test_usage_of_an_unknown_wallet(api: Api) -> None:
    assert_problem(api.get("/v1/wallets/nope/usage"), 404, "wallet_not_found")
    assert_problem(api.get("/v1/wallets/nope/usage?min_position=0"), 404, "wallet_not_found")
