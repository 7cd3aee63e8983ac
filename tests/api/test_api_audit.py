"""Audit routes: the journal (JSON and CSV) and the trial balance (usage: test_api_usage.py),
and who may read them.

They answer from the read models; each read passes the last write's position as
``min_position`` (``api.fresh``), so it sees that write.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest

from projections.export import CSV_COLUMNS, journal_csv
from tests.support.api import ADMIN_KEY, Api, assert_problem, error_fields, running_api, spend
from tests.support.builders import at


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as running:
        yield running


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_journal_lists_both_legs_of_every_posting(api: Api) -> None:
    api.funded_wallet()
    spend(api, 30, key="d-1")

    body = api.get(api.fresh("/v1/journal")).json()

    legs = [(e["account"], e["debit"], e["credit"]) for e in body["entries"]]
    assert legs == [
        ("platform:credits:issued:paid", 1000, 0),
        ("wallet:acme:grant:g1", 0, 1000),
        ("wallet:acme:grant:g1", 30, 0),
        ("platform:credits:consumed", 0, 30),
    ]
    debit_leg = body["entries"][2]
    assert debit_leg["event"] == {"wallet_id": "acme", "version": 3, "type": "CreditsDebited"}
    assert debit_leg["transaction_id"] == "acme/3"
    assert debit_leg["idempotency_key"] == "d-1"
    assert debit_leg["occurred_at"] == "2026-01-01T00:00:00Z"
    assert debit_leg["recorded_at"].endswith("Z")
    assert body["next_after"] == debit_leg["position"]


def test_journal_pages_hold_at_most_limit_rows_and_whole_events_while_they_fit(
    api: Api,
) -> None:
    api.funded_wallet()
    spend(api, 10)
    spend(api, 20)

    first = api.get(api.fresh("/v1/journal?limit=3")).json()
    second = api.get(api.fresh(f"/v1/journal?limit=3&after={first['next_after']}")).json()
    third = api.get(api.fresh(f"/v1/journal?limit=3&after={second['next_after']}")).json()

    # limit=3 gave 4 rows (the grant's 2 and the debit's 2): a page never exceeds limit
    assert [e["debit"] + e["credit"] for e in first["entries"]] == [1000, 1000]
    assert [e["debit"] + e["credit"] for e in second["entries"]] == [10, 10]
    assert [e["debit"] + e["credit"] for e in third["entries"]] == [20, 20]
    assert first["next_after_leg"] is second["next_after_leg"] is None


def _pages(api: Api, limit: int) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor = ""
    while True:
        page = api.get(api.fresh(f"/v1/journal?limit={limit}{cursor}")).json()
        if not page["entries"]:
            return pages
        pages.append(page["entries"])
        cursor = f"&after={page['next_after']}"
        if page["next_after_leg"] is not None:
            cursor += f"&after_leg={page['next_after_leg']}"


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
def test_journal_pages_at_any_limit_add_up_to_the_whole_journal(api: Api, limit: int) -> None:
    api.funded_wallet()
    spend(api, 10)
    spend(api, 20)
    whole = api.get(api.fresh("/v1/journal?limit=1000")).json()["entries"]

    pages = _pages(api, limit)

    assert all(len(page) <= limit for page in pages)
    assert [row for page in pages for row in page] == whole


def test_an_event_larger_than_a_page_is_split_and_continued_by_its_leg(api: Api) -> None:
    api.funded_wallet()

    first = api.get(api.fresh("/v1/journal?limit=1")).json()
    second = api.get(
        api.fresh(f"/v1/journal?limit=1&after={first['next_after']}&after_leg=0")
    ).json()

    assert [(e["debit"], e["credit"]) for e in first["entries"]] == [(1000, 0)]
    assert (first["next_after"], first["next_after_leg"]) == (first["entries"][0]["position"], 0)
    assert [(e["debit"], e["credit"]) for e in second["entries"]] == [(0, 1000)]
    assert second["next_after_leg"] is None  # the event ended with this page


def test_a_leg_without_its_position_is_refused(api: Api) -> None:
    assert_problem(api.get("/v1/journal?after_leg=1"), 422, "validation_error")


def journal(api: Api, **params: str) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    query = {**params, "min_position": str(api.position)}
    response = api.client.get("/v1/journal", params=query, headers=headers)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def test_journal_filters_by_wallet_account_and_time(api: Api) -> None:
    api.funded_wallet("acme")
    api.funded_wallet("beta")
    api.clock.set(at("2026-01-02T00:00"))
    spend(api, 7)

    everything = journal(api)
    by_wallet = journal(api, wallet_id="beta")
    by_account = journal(api, account="platform:credits:consumed")
    # [from, to): the debit at 2026-01-02T00:00Z is in, the grants of the day before are not.
    on_day_two = journal(api, **{"from": "2026-01-02T00:00:00Z", "to": "2026-01-03T01:00:00+01:00"})
    before_day_two = journal(api, to="2026-01-02T00:00:00Z")

    assert len(everything) == 6
    assert {e["wallet_id"] for e in by_wallet} == {"beta"}
    assert [(e["wallet_id"], e["credit"]) for e in by_account] == [("acme", 7)]
    assert [e["debit"] + e["credit"] for e in on_day_two] == [7, 7]
    assert [e["event"]["type"] for e in before_day_two] == ["CreditsGranted"] * 4


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-01-01T00:00:00", "from"),
        ("to=2026-01-01T00:00:00", "to"),
        ("from=yesterday", "from"),
        ("to=0.5", "to"),
        ("from=2026-01-01", "from"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("after=-1", "after"),
        ("min_position=-1", "min_position"),
        ("min_position=soon", "min_position"),
    ],
)
def test_bad_journal_queries_name_the_parameter(api: Api, query: str, field: str) -> None:
    assert error_fields(api.get(f"/v1/journal?{query}")) == [field]


def test_the_journal_as_csv_is_the_same_rows_flattened(api: Api) -> None:
    api.funded_wallet()
    spend(api, 30, key="=HYPERLINK(1)")

    as_json = api.get(api.fresh("/v1/journal")).json()["entries"]
    response = api.get(api.fresh("/v1/journal"), headers={"Accept": "text/csv"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.text.splitlines()[0] == ",".join(CSV_COLUMNS)
    rows = csv_rows(response.text)
    assert len(rows) == len(as_json)
    for row, entry in zip(rows, as_json, strict=True):
        assert row["position"] == str(entry["position"])
        assert row["account"] == entry["account"]
        assert (row["debit"], row["credit"]) == (str(entry["debit"]), str(entry["credit"]))
        assert row["occurred_at"] == entry["occurred_at"]
        assert row["recorded_at"] == entry["recorded_at"]
        assert row["event_wallet_id"] == entry["event"]["wallet_id"]
        assert row["event_version"] == str(entry["event"]["version"])
        assert row["event_type"] == entry["event"]["type"]
    assert rows[0]["idempotency_key"] == ""
    assert rows[2]["idempotency_key"] == "'=HYPERLINK(1)"  # not a formula in a spreadsheet


def test_the_csv_export_streams_every_matching_row(api: Api) -> None:
    api.funded_wallet()
    for amount in range(1, 6):
        spend(api, amount)

    api.read_models.wait_for(api.position, ["journal"])
    views = api.read_models.views
    chunks = list(journal_csv(views, account="platform:credits:consumed", chunk_rows=2))
    response = api.get(api.fresh("/v1/journal?limit=1"), headers={"Accept": "text/csv"})

    assert chunks[0] == ",".join(CSV_COLUMNS) + "\r\n"
    assert len(chunks) == 4  # header, then pages of 2, 2 and 1 rows
    assert [row["credit"] for row in csv_rows("".join(chunks))] == ["1", "2", "3", "4", "5"]
    assert len(csv_rows(response.text)) == 12  # `limit` pages JSON, not the export


@pytest.mark.parametrize(
    ("accept", "csv_wanted"),
    [
        ("text/csv", True),
        ("text/csv, application/json;q=0.5", True),
        ("application/json, text/csv;q=0.5", False),
        ("*/*", False),
        ("text/html", False),
    ],
)
def test_csv_only_when_preferred(api: Api, accept: str, csv_wanted: bool) -> None:
    response = api.get(api.fresh("/v1/journal"), headers={"Accept": accept})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv") is csv_wanted


def test_the_trial_balance_balances(api: Api) -> None:
    api.funded_wallet()
    spend(api, 30)

    body = api.get(api.fresh("/v1/trial-balance")).json()

    assert body["as_of"] == "2026-01-01T00:00:00Z"  # now, by the ledger's clock
    assert body["balanced"] is True
    assert body["debit_total"] == body["credit_total"] == 1030
    accounts = {a["account"]: a for a in body["accounts"]}
    assert accounts["wallet:acme:grant:g1"] == {
        "account": "wallet:acme:grant:g1",
        "debit_total": 30,
        "credit_total": 1000,
        "balance": -970,
    }


def test_the_trial_balance_as_of_a_time_and_by_unit(api: Api) -> None:
    api.funded_wallet()
    api.clock.set(at("2026-02-01T00:00"))
    spend(api, 30)
    api.open_wallet("tokens", unit="tokens")

    earlier = api.get(api.fresh("/v1/trial-balance?as_of=2026-01-15T00:00:00Z")).json()
    other_unit = api.get(api.fresh("/v1/trial-balance?unit=tokens")).json()

    assert (earlier["debit_total"], earlier["balanced"]) == (1000, True)
    assert earlier["as_of"] == "2026-01-15T00:00:00Z"
    assert (other_unit["unit"], other_unit["accounts"], other_unit["balanced"]) == (
        "tokens",
        [],
        True,
    )
    assert error_fields(api.get("/v1/trial-balance?as_of=2026-01-15T00:00:00")) == ["as_of"]


def test_who_may_read_audit_routes(api: Api) -> None:
    api.open_wallet("acme")
    api.open_wallet("beta")
    auditor = api.issue_key("auditor")
    service = api.issue_key("service")
    customer = api.issue_key("customer:acme")

    for path in ("/v1/journal", "/v1/trial-balance"):
        assert api.get(path, key=auditor).status_code == 200
        assert_problem(api.get(path, key=service), 403, "forbidden")
        assert_problem(api.get(path, key=customer), 403, "forbidden")
        assert_problem(api.get(path, key=None), 401, "unauthenticated")
    for key in (auditor, service, customer):
        assert api.get("/v1/wallets/acme/usage", key=key).status_code == 200
    assert_problem(api.get("/v1/wallets/beta/usage", key=customer), 404, "wallet_not_found")
    assert_problem(api.get("/v1/wallets/acme/usage", key=None), 401, "unauthenticated")


def test_the_openapi_document_offers_the_journal_as_csv(api: Api) -> None:
    document = api.get("/schema/openapi.json", key=None).json()

    answer = document["paths"]["/v1/journal"]["get"]["responses"]["200"]
    assert set(answer["content"]) == {"application/json", "text/csv"}
    parameters = document["paths"]["/v1/wallets/{wallet_id}/usage"]["get"]["parameters"]
    assert {"from", "to", "window", "group_by", "min_position"} <= {p["name"] for p in parameters}
    bounds = {p["name"]: p["description"] for p in parameters if p["name"] in {"from", "to"}}
    assert all("hour boundary" in text for text in bounds.values())


@pytest.mark.parametrize("as_of", ["0.5", "2026-01-01", "2026-01-01T00:00:00", "soon"])
def test_as_of_is_an_rfc_3339_time_with_an_offset(api: Api, as_of: str) -> None:
    api.open_wallet()

    assert error_fields(api.get(f"/v1/trial-balance?as_of={as_of}")) == ["as_of"]
    assert error_fields(api.get(f"/v1/wallets/acme?as_of={as_of}")) == ["as_of"]


@pytest.mark.parametrize(
    "path",
    [
        # Valid RFC 3339 times whose UTC falls outside years 1-9999 (found by schemathesis)
        "/v1/trial-balance?as_of=0001-01-01T00%3A00%3A00.0%2B01%3A01",
        "/v1/journal?from=9999-12-31T23%3A30%3A00-01%3A00",
        "/v1/wallets/acme?as_of=0001-01-01T00%3A00%3A00%2B00%3A01",
    ],
)
def test_a_time_outside_the_utc_calendar_is_refused_naming_it(api: Api, path: str) -> None:
    response = api.get(path)

    assert response.status_code == 422
    assert error_fields(response) == [path.split("?")[1].split("=", maxsplit=1)[0]]


def test_a_debit_dated_before_year_one_in_utc_is_refused(api: Api) -> None:
    api.open_wallet("acme")
    response = api.post(
        "/v1/wallets/acme/debits",
        json={"amount": 1, "occurred_at": "0001-01-01T00:00:00+05:00"},
    )

    assert response.status_code == 422
    assert error_fields(response) == ["occurred_at"]


def test_the_csv_export_continues_inside_an_event_from_its_leg(api: Api) -> None:
    api.funded_wallet()
    first = api.get(api.fresh("/v1/journal?limit=1")).json()
    cursor = f"after={first['next_after']}&after_leg={first['next_after_leg']}"

    response = api.get(api.fresh(f"/v1/journal?{cursor}"), headers={"Accept": "text/csv"})

    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["debit"], r["credit"]) for r in rows] == [("0", "1000")]  # the grant's credit leg
