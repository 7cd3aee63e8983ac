"""HTTP: webhooks (PUT/GET/DELETE, the delivery log) and a wallet's alert settings."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.support.api import Api, assert_problem, error_fields, running_api
from tests.support.builders import T0

SECRET = "a-secret-of-twenty-chars"  # noqa: S105 - a test secret
HOOK: dict[str, Any] = {
    "url": "http://127.0.0.1:9/hook",
    "secret": SECRET,
    "events": ["budget.threshold_crossed", "wallet.balance_low", "hold.expired", "grant.expiring"],
}


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as running:
        running.funded_wallet("acme", 1000)
        yield running


def test_a_new_webhook_answers_201_without_its_secret(api: Api) -> None:
    response = api.put("/v1/webhooks/ops", HOOK)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["webhook_id"] == "ops"
    assert body["url"] == HOOK["url"]
    assert body["secret_set"] is True
    assert "secret" not in body
    assert SECRET not in response.text
    assert sorted(body["events"]) == sorted(HOOK["events"])


def test_changing_a_webhook_answers_200_and_get_shows_it(api: Api) -> None:
    api.put("/v1/webhooks/ops", HOOK)

    changed = api.put("/v1/webhooks/ops", {**HOOK, "events": ["hold.expired"]})
    read = api.get("/v1/webhooks/ops")

    assert changed.status_code == 200
    assert read.status_code == 200
    assert read.json()["events"] == ["hold.expired"]
    assert SECRET not in read.text


def test_a_repeated_put_with_its_idempotency_key_is_replayed(api: Api) -> None:
    first = api.put("/v1/webhooks/ops", HOOK, idempotency_key="k1")
    again = api.put("/v1/webhooks/ops", HOOK, idempotency_key="k1")

    assert again.status_code == first.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"url": "ftp://example.com/x"}, "url", id="scheme"),
        pytest.param({"url": "http:///no-host"}, "url", id="no-host"),
        pytest.param({"url": "http://[::1/x"}, "url", id="broken-ipv6"),
        pytest.param({"url": "http://h:99999/x"}, "url", id="bad-port"),
        pytest.param({"url": "http://h/" + "x" * 2048}, "url", id="too-long"),
        pytest.param({"secret": "short"}, "secret", id="short-secret"),
        pytest.param({"events": []}, "events", id="no-events"),
        pytest.param({"events": ["wallet.exploded"]}, "events", id="unknown-event"),
    ],
)
def test_rejects_an_invalid_webhook(api: Api, change: dict[str, Any], field: str) -> None:
    response = api.put("/v1/webhooks/ops", {**HOOK, **change})

    assert field in " ".join(error_fields(response))


def test_unknown_and_deleted_webhooks_answer_webhook_not_found(api: Api) -> None:
    api.put("/v1/webhooks/ops", HOOK)

    deleted = api.delete("/v1/webhooks/ops")

    assert deleted.status_code == 204
    assert_problem(api.get("/v1/webhooks/ops"), 404, "webhook_not_found")
    assert_problem(api.delete("/v1/webhooks/ops"), 404, "webhook_not_found")
    assert_problem(api.get("/v1/webhooks/nope"), 404, "webhook_not_found")
    assert_problem(api.get("/v1/webhooks/nope/deliveries"), 404, "webhook_not_found")


def test_a_deleted_webhook_put_again_is_created_again(api: Api) -> None:
    api.put("/v1/webhooks/ops", HOOK)
    api.delete("/v1/webhooks/ops")

    again = api.put("/v1/webhooks/ops", HOOK)

    assert again.status_code == 201
    assert api.get("/v1/webhooks/ops").status_code == 200


def test_webhooks_are_for_admin_keys_only(api: Api) -> None:
    service = api.issue_key("service")

    assert_problem(api.put("/v1/webhooks/ops", HOOK, key=service), 403, "forbidden")
    assert_problem(api.get("/v1/webhooks/ops", key=service), 403, "forbidden")


def test_the_delivery_log_shows_a_queued_alert(api: Api) -> None:
    api.put("/v1/webhooks/ops", HOOK)
    api.put("/v1/wallets/acme/alert-settings", {"balance_low_threshold": 500})
    api.post("/v1/wallets/acme/debits", {"amount": 600})
    api.read_models.wait_for(api.position, ["alerts"])

    log = api.get("/v1/webhooks/ops/deliveries")

    assert log.status_code == 200, log.text
    entries = log.json()["deliveries"]
    assert entries[0]["type"] == "wallet.balance_low"
    assert entries[0]["alert_id"].startswith("wallet.balance_low:acme:")
    assert entries[0]["status"] == "pending"
    assert entries[0]["attempt"] == 0


def test_the_in_process_worker_attempts_and_the_log_pages_with_next_after(api: Api) -> None:
    api.put("/v1/webhooks/ops", HOOK)  # nothing listens on port 9: the attempt is refused
    api.put("/v1/wallets/acme/alert-settings", {"balance_low_threshold": 500})
    api.post("/v1/wallets/acme/debits", {"amount": 600})

    # The worker runs on the ledger's fake clock, which stands still: one attempt, no retry.
    entries = _eventually(lambda: api.get("/v1/webhooks/ops/deliveries").json()["deliveries"])
    first = api.get("/v1/webhooks/ops/deliveries?limit=1").json()
    rest = api.get(f"/v1/webhooks/ops/deliveries?after={first['next_after']}").json()

    assert [e["status"] for e in first["deliveries"]] == ["pending"]
    assert [(e["attempt"], e["status"]) for e in rest["deliveries"]] == [(1, "retrying")]
    assert rest["deliveries"][0]["error"]
    # Attempt 1 waits the 1 s base, less up to half of it at random (jitter).
    retry_at = datetime.fromisoformat(rest["deliveries"][0]["next_attempt_at"])
    assert T0 + timedelta(seconds=0.5) <= retry_at <= T0 + timedelta(seconds=1)
    assert rest["next_after"] is None
    assert len(entries) == 2


def _eventually(read: Callable[[], list[Any]], size: int = 2) -> list[Any]:
    """What ``read`` returns once it has ``size`` entries (a background thread's work)."""
    deadline = time.monotonic() + 10
    while len(found := read()) < size:
        assert time.monotonic() < deadline, f"only {found}"
        time.sleep(0.05)
    return found


def test_alert_settings_default_until_set(api: Api) -> None:
    response = api.get("/v1/wallets/acme/alert-settings")

    assert response.status_code == 200
    assert response.json() == {
        "wallet_id": "acme",
        "balance_low_threshold": None,
        "grant_expiring_lead_seconds": 259200,
        "updated_at": None,
    }


def test_alert_settings_are_set_and_read_back(api: Api) -> None:
    put = api.put(
        "/v1/wallets/acme/alert-settings",
        {"balance_low_threshold": 100, "grant_expiring_lead_seconds": 3600},
    )
    read = api.get("/v1/wallets/acme/alert-settings")

    assert put.status_code == 200, put.text
    assert read.json()["balance_low_threshold"] == 100
    assert read.json()["grant_expiring_lead_seconds"] == 3600


def test_alert_settings_of_an_unknown_wallet_answer_wallet_not_found(api: Api) -> None:
    assert_problem(
        api.put("/v1/wallets/nope/alert-settings", {"balance_low_threshold": 1}),
        404,
        "wallet_not_found",
    )
    assert_problem(api.get("/v1/wallets/nope/alert-settings"), 404, "wallet_not_found")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"balance_low_threshold": -1}, id="negative"),
        pytest.param({"balance_low_threshold": 1.5}, id="float"),
        pytest.param({"grant_expiring_lead_seconds": -5}, id="negative-lead"),
        pytest.param({"surprise": 1}, id="unknown-field"),
    ],
)
def test_rejects_invalid_alert_settings(api: Api, body: dict[str, Any]) -> None:
    assert_problem(api.put("/v1/wallets/acme/alert-settings", body), 422, "validation_error")


def test_a_customer_key_reads_only_its_own_wallets_settings(api: Api) -> None:
    api.open_wallet("other", customer_id="globex")
    acme = api.issue_key("customer:acme")

    own = api.get("/v1/wallets/acme/alert-settings", key=acme)
    other = api.get("/v1/wallets/other/alert-settings", key=acme)
    write = api.put("/v1/wallets/acme/alert-settings", {"balance_low_threshold": 1}, key=acme)

    assert own.status_code == 200
    assert_problem(other, 404, "wallet_not_found")
    assert_problem(write, 403, "forbidden")
