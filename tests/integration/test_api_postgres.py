"""The API through litestar's TestClient on real stores: an SQLite file and a Postgres schema.

The unit tests run the API on the in-memory store; these run every endpoint's happy path and
the main error codes again where the events really go through a database (transcoding, the
notification log, receipts and keys as rows), using the same harness. The read models live
in the same database; on PostgreSQL the app is told to project in process here
(``LEDGER_PROJECTIONS_IN_PROCESS``), as no separate worker runs beside a TestClient.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from projections.catalog import PROJECTIONS
from tests.support.api import Api, assert_problem, error_fields, running_api
from tests.support.builders import FakeClock, make_ledger
from tests.support.live_server import pg_store_url


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    if request.param == "postgres":
        postgres_url: str = request.getfixturevalue("postgres_url")
        schema: str = request.getfixturevalue("pg_schema")
        url = pg_store_url(postgres_url, schema)
    else:
        url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    clock = FakeClock()
    ledger = make_ledger(url, clock=clock)
    try:
        with running_api(ledger, clock, projections_in_process=True) as running:
            yield running
    finally:
        ledger.close()


def test_wallets_and_grants(api: Api) -> None:
    opened = api.open_wallet("acme", metadata={"plan": "pro"}, overdraft_limit=5)
    assert (opened["wallet_id"], opened["overdraft_limit"], opened["version"]) == ("acme", 5, 1)
    assert_problem(api.post("/v1/wallets", {"wallet_id": "acme"}), 409, "wallet_exists")
    assert error_fields(api.post("/v1/wallets", {"wallet_id": "a b"})) == ["wallet_id"]
    assert_problem(api.get("/v1/wallets/nope"), 404, "wallet_not_found")

    granted = api.grant("acme", 1000, "g1", expires_at="2027-01-01T00:00:00+01:00")
    assert (granted["status"], granted["expires_at"]) == ("active", "2026-12-31T23:00:00Z")
    assert_problem(
        api.post("/v1/wallets/acme/grants", {"amount": 1, "category": "paid", "grant_id": "g1"}),
        409,
        "grant_exists",
    )
    api.clock.advance(hours=1)
    api.grant("acme", 50, "g2")
    voided = api.post("/v1/wallets/acme/grants/g2/void", {"reason": "mistake"})
    assert voided.json()["status"] == "voided"
    assert_problem(api.post("/v1/wallets/acme/grants/g9/void"), 404, "grant_not_found")

    wallet = api.get("/v1/wallets/acme").json()
    assert wallet["balance"] == {"available": 1000, "held": 0, "debt": 0}
    then = api.get("/v1/wallets/acme?as_of=2026-01-01T00:30:00Z").json()
    assert [g["grant_id"] for g in then["grants"]] == ["g1"]
    events = api.get("/v1/wallets/acme/events?after_version=1&limit=2").json()
    assert [e["type"] for e in events["events"]] == ["CreditsGranted", "CreditsGranted"]
    assert events["next_after_version"] == 3


def test_debits_refunds_and_idempotency(api: Api) -> None:
    api.funded_wallet(amount=100)
    debit = {"amount": 60, "subject": {"user_id": "u1"}}

    first = api.post("/v1/wallets/acme/debits", debit, idempotency_key="d1")
    again = api.post("/v1/wallets/acme/debits", debit, idempotency_key="d1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert_problem(
        api.post("/v1/wallets/acme/debits", {"amount": 61}, idempotency_key="d1"),
        409,
        "idempotency_conflict",
    )
    refused = assert_problem(
        api.post("/v1/wallets/acme/debits", {"amount": 41}), 402, "insufficient_credits"
    )
    assert (refused["available"], refused["requested"]) == (40, 41)

    debit_id = first.json()["debit_id"]
    refund = api.post(f"/v1/wallets/acme/debits/{debit_id}/refunds", {"amount": 10})
    assert refund.status_code == 201
    assert refund.json()["balance"]["available"] == 50
    assert_problem(
        api.post(f"/v1/wallets/acme/debits/{debit_id}/refunds", {"amount": 51}),
        409,
        "refund_exceeds_debit",
    )
    assert_problem(api.post("/v1/wallets/acme/debits/nope/refunds"), 404, "debit_not_found")


def test_holds(api: Api) -> None:
    api.funded_wallet(amount=100)

    placed = api.post("/v1/wallets/acme/holds", {"hold_id": "h1", "amount": 50})
    assert placed.status_code == 201
    assert placed.json()["balance"] == {"available": 50, "held": 50, "debt": 0}
    assert api.get("/v1/wallets/acme/holds/h1").json()["status"] == "open"
    assert_problem(
        api.post("/v1/wallets/acme/holds/h1/capture", {"amount": 51}),
        409,
        "capture_exceeds_hold",
    )
    captured = api.post("/v1/wallets/acme/holds/h1/capture", {"amount": 20})
    assert (captured.json()["captured"], captured.json()["released"]) == (20, 30)
    not_open = assert_problem(api.post("/v1/wallets/acme/holds/h1/release"), 409, "hold_not_open")
    assert not_open["hold_status"] == "captured"

    api.post("/v1/wallets/acme/holds", {"hold_id": "h2", "amount": 10})
    released = api.post("/v1/wallets/acme/holds/h2/release")
    assert (released.status_code, released.json()["released"]) == (200, 10)
    assert api.get("/v1/wallets/acme/holds/h1").json()["status"] == "captured"
    assert_problem(api.get("/v1/wallets/acme/holds/h9"), 404, "hold_not_found")


def test_budgets(api: Api) -> None:
    api.funded_wallet(amount=1000)
    budget = {"scope": {"team_id": "t1"}, "limit": 100, "period": "month", "timezone": "UTC"}

    assert api.put("/v1/wallets/acme/budgets/b1", budget).status_code == 201
    assert api.put("/v1/wallets/acme/budgets/b1", {**budget, "limit": 50}).status_code == 200
    spent = api.post("/v1/wallets/acme/debits", {"amount": 40, "subject": {"team_id": "t1"}})
    assert spent.json()["budgets"][0]["remaining"] == 10
    exceeded = assert_problem(
        api.post("/v1/wallets/acme/debits", {"amount": 11, "subject": {"team_id": "t1"}}),
        402,
        "budget_exceeded",
    )
    assert (exceeded["budget_id"], exceeded["limit"], exceeded["spent"]) == ("b1", 50, 40)
    assert api.get("/v1/wallets/acme/budgets/b1").json()["spent"] == 40
    assert [b["budget_id"] for b in api.get("/v1/wallets/acme/budgets").json()["budgets"]] == ["b1"]
    assert error_fields(
        api.put("/v1/wallets/acme/budgets/b2", {**budget, "timezone": "Mars/Base"})
    ) == ["timezone"]
    assert api.delete("/v1/wallets/acme/budgets/b1").status_code == 204
    assert_problem(api.get("/v1/wallets/acme/budgets/b1"), 404, "budget_not_found")


def test_api_keys_and_scopes(api: Api) -> None:
    api.open_wallet("acme")
    api.open_wallet("beta", customer_id="other")
    issued = api.post("/v1/api-keys", {"scopes": ["customer:acme"], "name": "dashboard"})
    assert issued.status_code == 201
    key = issued.json()["key"]

    assert api.get("/v1/wallets/acme", key=key).status_code == 200
    assert_problem(api.get("/v1/wallets/beta", key=key), 404, "wallet_not_found")
    assert_problem(api.post("/v1/wallets", {"wallet_id": "x"}, key=key), 403, "forbidden")
    assert api.delete(f"/v1/api-keys/{issued.json()['key_id']}").status_code == 204
    assert_problem(api.get("/v1/wallets/acme", key=key), 401, "unauthenticated")
    assert_problem(api.delete("/v1/api-keys/0000000000000000"), 404, "api_key_not_found")


def test_audit_and_usage(api: Api) -> None:
    api.funded_wallet(amount=1000)
    api.post("/v1/wallets/acme/debits", {"amount": 30, "subject": {"model": "m1"}})

    entries = api.get(api.fresh("/v1/journal?wallet_id=acme")).json()["entries"]
    assert sum(e["debit"] for e in entries) == sum(e["credit"] for e in entries) == 1030
    csv = {"Accept": "text/csv"}
    exported = api.get(api.fresh("/v1/journal?wallet_id=acme"), headers=csv).text
    assert len(exported.strip().splitlines()) == len(entries) + 1
    balance = api.get(api.fresh("/v1/trial-balance")).json()
    assert (balance["balanced"], balance["debit_total"]) == (True, 1030)
    usage = api.get(api.fresh("/v1/wallets/acme/usage?group_by=model")).json()["series"]
    assert [(p["group"], p["debited"], p["count"]) for p in usage] == [({"model": "m1"}, 30, 1)]
    assert error_fields(api.get("/v1/journal?from=2026-01-01T00:00:00")) == ["from"]
    assert_problem(api.get("/v1/journal", key=None), 401, "unauthenticated")


def test_projections_admin(api: Api) -> None:
    api.funded_wallet(amount=10)
    api.read_models.wait_for(api.position, list(PROJECTIONS))

    status = api.get("/v1/admin/projections").json()["projections"]
    assert {(p["name"], p["position"], p["lag"]) for p in status} == {
        (name, api.position, 0) for name in PROJECTIONS
    }
    assert api.post("/v1/admin/projections/balances/rebuild").status_code == 202
    assert_problem(api.post("/v1/admin/projections/nope/rebuild"), 404, "projection_not_found")


def test_operations(api: Api) -> None:
    assert api.get("/healthz", key=None).json() == {"status": "ok"}
    assert api.get("/readyz", key=None).json() == {"status": "ready"}
    api.open_wallet()
    metrics = api.get("/metrics", key=None).text
    assert 'ledger_decisions_total{operation="open_wallet",outcome="ok"} 1.0' in metrics
    assert api.get("/schema/openapi.json", key=None).json()["info"]["title"] == "Credit Ledger"


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_key_revoked_by_another_process_stops_its_spending_at_once(
    request: pytest.FixtureRequest, tmp_path: Path, store: str
) -> None:
    # Two API processes on one store (two ledgers, two apps, each with its own key cache)
    if store == "postgres":
        url = pg_store_url(
            request.getfixturevalue("postgres_url"), request.getfixturevalue("pg_schema")
        )
    else:
        url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    clock = FakeClock()
    here, there = make_ledger(url, clock=clock), make_ledger(url, clock=clock)
    try:
        with running_api(here, clock) as first, running_api(there, clock) as second:
            first.funded_wallet(amount=100)
            key = first.issue_key("service")
            # the first process verifies the key once and then trusts its cached copy
            assert first.post("/v1/wallets/acme/debits", {"amount": 1}, key=key).status_code == 201

            # the second process revokes it
            assert second.delete(f"/v1/api-keys/{key.split('_')[1]}").status_code == 204

            # the first process refuses the key's next debit, and records nothing
            refused = first.post("/v1/wallets/acme/debits", {"amount": 1}, key=key)
            assert_problem(refused, 401, "unauthenticated")
            assert here.wallet("acme")["balance"]["available"] == 99
    finally:
        here.close()
        there.close()
