"""The list endpoints on real stores (an SQLite file and a Postgres schema): the lists read
model's SQL (JSON text, time columns, the status filter, both paging directions) in both
dialects, through the same harness as ``test_api_postgres``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.api import Api, running_api
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


def test_every_list_on_a_real_store(api: Api) -> None:
    api.funded_wallet("acme")
    api.open_wallet("acme-2", customer_id="acme")
    api.open_wallet("globex")
    made = api.post(
        "/v1/wallets/acme/debits", {"amount": 30, "subject": {"model": "m1"}, "metadata": {"r": 1}}
    ).json()["debit_id"]
    assert api.post(f"/v1/wallets/acme/debits/{made}/refunds", {"amount": 4}).status_code == 201
    for hold_id, minutes in (("h1", 5), ("h2", 60)):
        expires = f"2026-01-01T{minutes // 60:02d}:{minutes % 60:02d}:00Z"
        body = {"hold_id": hold_id, "amount": 10, "expires_at": expires}
        assert api.post("/v1/wallets/acme/holds", body).status_code == 201
    key = api.post("/v1/api-keys", {"scopes": ["customer:acme"], "name": "acme"})
    api.position = max(api.position, int(key.headers["Ledger-Position"]))
    hook = {"url": "http://127.0.0.1:9/h", "secret": "s" * 24, "events": ["hold.expired"]}
    assert api.put("/v1/webhooks/w1", hook).status_code == 201
    api.clock.advance(minutes=10)

    customer = key.json()["key"]
    wallets = api.get(api.fresh("/v1/wallets?limit=1"), key=customer).json()
    assert [w["wallet_id"] for w in wallets["wallets"]] == ["acme"]
    assert wallets["next_after"] == "acme"
    assert wallets["wallets"][0]["balance"] == {"available": 964, "held": 10, "debt": 0}
    debits = api.get(api.fresh("/v1/wallets/acme/debits?order=desc")).json()["debits"]
    assert [(d["amount"], d["refunded"], d["metadata"]) for d in debits] == [(30, 4, {"r": 1})]
    detail = api.get(api.fresh(f"/v1/wallets/acme/debits/{made}")).json()
    assert [r["amount"] for r in detail["refunds"]] == [4]
    expired = api.get(api.fresh("/v1/wallets/acme/holds?status=expired")).json()["holds"]
    assert [(h["hold_id"], h["closed_at"]) for h in expired] == [("h1", "2026-01-01T00:05:00Z")]
    still_open = api.get(api.fresh("/v1/wallets/acme/holds?status=open")).json()["holds"]
    assert [h["hold_id"] for h in still_open] == ["h2"]
    keys = api.get(api.fresh("/v1/api-keys")).json()["api_keys"]
    assert [(k["name"], k["revoked_at"]) for k in keys] == [("acme", None)]
    assert [h["webhook_id"] for h in api.get(api.fresh("/v1/webhooks")).json()["webhooks"]] == [
        "w1"
    ]
