"""HTTP on a sharded ledger: the API is the same, wallets land in their shards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.alerts.settings import alert_settings_uuid
from ledger.app.shards import decode_position
from ledger.domain.ids import wallet_uuid
from tests.support.api import Api, assert_problem, running_api
from tests.support.builders import FakeClock, make_ledger
from tests.support.shards import wallets_per_shard

SHARDS = 3


@pytest.fixture
def api() -> Iterator[Api]:
    clock = FakeClock()
    ledger = make_ledger(clock=clock, env={"SHARDS": str(SHARDS)})
    try:
        with running_api(ledger, clock) as api:
            yield api
    finally:
        ledger.close()


def test_wallet_routes_answer_from_every_shard(api: Api) -> None:
    for shard, group in enumerate(wallets_per_shard(SHARDS, 1)):
        wallet_id = group[0]
        api.funded_wallet(wallet_id, 100)
        response = api.post(
            f"/v1/wallets/{wallet_id}/debits", {"amount": 10}, headers={"Idempotency-Key": "d1"}
        )
        assert response.status_code == 201, response.text
        assert decode_position(int(response.headers["Ledger-Position"]))[0] == shard
        body = api.get(f"/v1/wallets/{wallet_id}").json()
        assert body["balance"] == {"available": 90, "held": 0, "debt": 0}
        holders = [s.shard_index for s in api.ledger.shards if s.find(wallet_uuid(wallet_id))]
        assert holders == [shard]


def test_alert_settings_and_usage_events_follow_the_wallet(api: Api) -> None:
    wallet_id = wallets_per_shard(SHARDS, 1)[2][0]
    api.funded_wallet(wallet_id, 100)
    put = api.put(f"/v1/wallets/{wallet_id}/alert-settings", {"balance_low_threshold": 5})
    assert put.status_code == 200, put.text
    got = api.get(f"/v1/wallets/{wallet_id}/alert-settings").json()
    assert got["balance_low_threshold"] == 5
    settings_id = alert_settings_uuid(wallet_id)
    assert [s.find(settings_id) is not None for s in api.ledger.shards] == [False, False, True]
    event = {
        "event_id": "e1",
        "wallet_id": wallet_id,
        "type": "llm.completion",
        "occurred_at": "2026-01-01T00:00:00Z",
        "subject": {"user_id": "u1"},
        "quantities": {"input_tokens": 3},
    }
    response = api.post("/v1/usage-events", {"events": [event, {**event, "wallet_id": "nope"}]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 1
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [(1, "wallet_not_found")]
    recorded = [len(s.usage_ids.existing_usage_ids([(wallet_id, "e1")])) for s in api.ledger.shards]
    assert recorded == [0, 0, 1]


def test_a_customer_key_reaches_its_wallet_in_another_shard(api: Api) -> None:
    wallet_id = wallets_per_shard(SHARDS, 1)[1][0]
    api.open_wallet(wallet_id, customer_id="c1")
    key = api.issue_key("customer:c1")
    own = api.get(f"/v1/wallets/{wallet_id}", key=key)
    assert own.status_code == 200, own.text
    other = wallets_per_shard(SHARDS, 1)[2][0]
    api.open_wallet(other, customer_id="c2")
    denied = api.get(f"/v1/wallets/{other}", key=key)
    assert denied.status_code == 404


def test_readiness_fails_when_any_shard_does_not_answer(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert api.get("/readyz", key=None).status_code == 200

    def down() -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(api.ledger.shards[2].recorder, "max_notification_id", down)
    response = assert_problem(api.get("/readyz", key=None), 503, "not_ready")
    assert "shard 2" in response["detail"]
