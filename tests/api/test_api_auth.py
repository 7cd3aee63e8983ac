"""HTTP: bearer keys, scopes, customer isolation, and issuing and revoking API keys."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from ledger.access.keys import ApiKey, api_key_uuid
from tests.support.api import Api, assert_problem, error_fields, running_api
from tests.support.builders import FakeClock, make_ledger


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as api:
        api.funded_wallet("acme", 1000)
        api.open_wallet("globex")
        yield api


def test_issuing_a_key_shows_it_once(api: Api) -> None:
    response = api.post("/v1/api-keys", {"scopes": ["customer:acme"], "name": "acme dashboard"})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"key_id", "key", "scopes", "name", "created_at"}
    assert body["key"].startswith(f"lk_{body['key_id']}_")
    assert body["scopes"] == ["customer:acme"]
    assert body["name"] == "acme dashboard"
    assert body["created_at"] == "2026-01-01T00:00:00Z"


def test_only_a_digest_of_the_secret_is_stored(api: Api) -> None:
    body = api.post("/v1/api-keys", {"scopes": ["service"]}).json()
    secret = body["key"].split("_", 2)[2]

    stored = api.ledger.find(api_key_uuid(body["key_id"]))

    assert isinstance(stored, ApiKey)
    assert secret not in repr(vars(stored))
    everything = b"".join(n.state for n in api.ledger.recorder.select_notifications(1, 1000))
    assert secret.encode() not in everything


@pytest.mark.parametrize("scopes", [[], ["root"], ["customer:"], ["customer:a b"]])
def test_scopes_are_checked(api: Api, scopes: list[str]) -> None:
    assert error_fields(api.post("/v1/api-keys", {"scopes": scopes}))[0].startswith("scopes")


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Basic abc", "Bearer lk_nope", "Bearer lk_0123456789abcdef_secret"],
)
def test_a_missing_or_unknown_key_is_unauthenticated(api: Api, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}

    response = api.get("/v1/wallets/acme", key=None, headers=headers)

    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_key_stops_working_at_once(api: Api) -> None:
    key = api.issue_key("service")
    key_id = key.split("_")[1]
    assert api.get("/v1/wallets/acme", key=key).status_code == 200

    revoked = api.delete(f"/v1/api-keys/{key_id}")

    assert revoked.status_code == 204
    assert_problem(api.get("/v1/wallets/acme", key=key), 401, "unauthenticated")
    assert api.delete(f"/v1/api-keys/{key_id}").status_code == 204  # revoking twice is harmless


def test_revoking_an_unknown_key_is_not_found(api: Api) -> None:
    assert_problem(api.delete("/v1/api-keys/0123456789abcdef"), 404, "api_key_not_found")


def test_a_revocation_reaches_every_process(tmp_path: Path) -> None:
    clock = FakeClock()
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    with (
        closing(make_ledger(url, clock)) as one_ledger,
        closing(make_ledger(url, clock)) as other_ledger,
        running_api(one_ledger, clock) as first,
        running_api(other_ledger, clock) as second,
    ):
        first.open_wallet("acme")
        key = first.issue_key("auditor")
        assert second.get("/v1/wallets/acme", key=key).status_code == 200  # now in its cache

        first.delete(f"/v1/api-keys/{key.split('_')[1]}")

        assert_problem(second.get("/v1/wallets/acme", key=key), 401, "unauthenticated")


def test_a_wrong_secret_for_a_real_key_id_is_unauthenticated(api: Api) -> None:
    key = api.issue_key("admin")
    forged = key[: key.rindex("_") + 1] + "x" * 43

    assert_problem(api.get("/v1/wallets/acme", key=forged), 401, "unauthenticated")


@pytest.mark.parametrize(
    ("scope", "method", "path", "body"),
    [
        ("service", "POST", "/v1/wallets", {"wallet_id": "w"}),
        ("service", "POST", "/v1/wallets/acme/grants", {"amount": 1, "category": "paid"}),
        ("service", "PUT", "/v1/wallets/acme/budgets/b", {"limit": 1, "period": "day"}),
        ("service", "POST", "/v1/api-keys", {"scopes": ["admin"]}),
        ("auditor", "POST", "/v1/wallets/acme/debits", {"amount": 1}),
        ("auditor", "POST", "/v1/wallets/acme/holds", {"amount": 1}),
        ("customer:acme", "POST", "/v1/wallets/acme/debits", {"amount": 1}),
        ("customer:acme", "POST", "/v1/wallets/acme/grants", {"amount": 1, "category": "paid"}),
        ("customer:acme", "POST", "/v1/wallets", {"wallet_id": "w"}),
        ("customer:acme", "DELETE", "/v1/api-keys/0123456789abcdef", None),
    ],
)
def test_a_key_without_the_scope_is_forbidden(
    api: Api, scope: str, method: str, path: str, body: dict[str, object] | None
) -> None:
    key = api.issue_key(scope)

    assert_problem(api.request(method, path, json=body, key=key), 403, "forbidden")
    assert api.get("/v1/wallets/acme").json()["version"] == 2  # nothing was recorded


def test_a_service_key_spends_and_reads(api: Api) -> None:
    key = api.issue_key("service")

    assert api.post("/v1/wallets/acme/debits", {"amount": 1}, key=key).status_code == 201
    assert api.post("/v1/wallets/acme/holds", {"amount": 1}, key=key).status_code == 201
    assert api.get("/v1/wallets/acme/events", key=key).status_code == 200


def test_an_auditor_key_reads_every_wallet(api: Api) -> None:
    key = api.issue_key("auditor")

    assert api.get("/v1/wallets/acme", key=key).status_code == 200
    assert api.get("/v1/wallets/globex/budgets", key=key).status_code == 200


def test_a_customer_key_reads_its_own_wallets(api: Api) -> None:
    key = api.issue_key("customer:acme")

    assert api.get("/v1/wallets/acme", key=key).json()["balance"]["available"] == 1000
    assert api.get("/v1/wallets/acme/events", key=key).status_code == 200


@pytest.mark.parametrize(
    "path", ["/v1/wallets/globex", "/v1/wallets/globex/events", "/v1/wallets/ghost"]
)
def test_another_customers_wallet_looks_absent(api: Api, path: str) -> None:
    key = api.issue_key("customer:acme")

    assert_problem(api.get(path, key=key), 404, "wallet_not_found")


def test_a_customer_key_manages_its_own_budgets(api: Api) -> None:
    key = api.issue_key("customer:acme")
    path = "/v1/wallets/acme/budgets/team-t1"

    created = api.put(path, {"limit": 10, "period": "day"}, key=key)
    read = api.get(path, key=key)
    listed = api.get("/v1/wallets/acme/budgets", key=key)
    removed = api.delete(path, key=key)

    assert (created.status_code, read.status_code, listed.status_code) == (201, 200, 200)
    assert removed.status_code == 204


def test_a_customer_key_cannot_touch_another_customers_budgets(api: Api) -> None:
    key = api.issue_key("customer:acme")

    response = api.put("/v1/wallets/globex/budgets/b", {"limit": 1, "period": "day"}, key=key)

    assert_problem(response, 404, "wallet_not_found")
    assert api.get("/v1/wallets/globex/budgets").json() == {"budgets": []}


def test_a_key_for_two_customers_reads_both(api: Api) -> None:
    key = api.issue_key("customer:acme", "customer:globex")

    assert api.get("/v1/wallets/globex", key=key).status_code == 200


def test_health_probes_and_the_schema_need_no_key(api: Api) -> None:
    assert api.get("/healthz", key=None).status_code == 200
    assert api.get("/readyz", key=None).status_code == 200
    assert api.get("/schema/openapi.json", key=None).status_code == 200


def test_checks_run_in_order_authentication_scope_then_body(api: Api) -> None:
    auditor = api.issue_key("auditor")
    bad_body = {"amount": "x"}

    assert_problem(api.post("/v1/wallets/acme/debits", bad_body, key=None), 401, "unauthenticated")
    assert_problem(api.post("/v1/wallets/acme/debits", bad_body, key=auditor), 403, "forbidden")
    assert error_fields(api.post("/v1/wallets/acme/debits", bad_body)) == ["amount"]


def test_options_answers_without_a_key() -> None:
    # The authentication middleware skips OPTIONS (CORS preflight); guards must not then fail.
    with running_api() as api:
        response = api.request("OPTIONS", "/v1/wallets/acme/grants", key=None)

    assert response.status_code == 204
    assert "POST" in response.headers["allow"]
