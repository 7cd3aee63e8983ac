"""The app itself: settings, its own ledger's lifespan, probes and the OpenAPI document."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from pydantic import SecretStr, ValidationError

from api.app import create_app
from api.settings import Settings
from tests.support.api import ADMIN_KEY, assert_problem, running_api

CONTRACT_OPERATIONS = {
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/v1/journal"),
    ("get", "/v1/trial-balance"),
    ("get", "/v1/wallets/{wallet_id}/usage"),
    ("post", "/v1/wallets"),
    ("get", "/v1/wallets/{wallet_id}"),
    ("get", "/v1/wallets/{wallet_id}/events"),
    ("post", "/v1/wallets/{wallet_id}/grants"),
    ("post", "/v1/wallets/{wallet_id}/grants/{grant_id}/void"),
    ("post", "/v1/wallets/{wallet_id}/debits"),
    ("post", "/v1/wallets/{wallet_id}/debits/{debit_id}/refunds"),
    ("post", "/v1/wallets/{wallet_id}/holds"),
    ("get", "/v1/wallets/{wallet_id}/holds/{hold_id}"),
    ("post", "/v1/wallets/{wallet_id}/holds/{hold_id}/capture"),
    ("post", "/v1/wallets/{wallet_id}/holds/{hold_id}/release"),
    ("get", "/v1/wallets/{wallet_id}/budgets"),
    ("get", "/v1/wallets/{wallet_id}/budgets/{budget_id}"),
    ("put", "/v1/wallets/{wallet_id}/budgets/{budget_id}"),
    ("delete", "/v1/wallets/{wallet_id}/budgets/{budget_id}"),
    ("get", "/v1/wallets/{wallet_id}/allowances"),
    ("get", "/v1/wallets/{wallet_id}/allowances/{allowance_id}"),
    ("put", "/v1/wallets/{wallet_id}/allowances/{allowance_id}"),
    ("delete", "/v1/wallets/{wallet_id}/allowances/{allowance_id}"),
    ("put", "/v1/price-books/{price_book_id}"),
    ("get", "/v1/price-books/{price_book_id}"),
    ("put", "/v1/meters/{meter_id}"),
    ("get", "/v1/meters/{meter_id}"),
    ("get", "/v1/wallets/{wallet_id}/meters/{meter_id}"),
    ("post", "/v1/api-keys"),
    ("delete", "/v1/api-keys/{key_id}"),
    ("get", "/v1/admin/projections"),
    ("post", "/v1/admin/projections/{name}/rebuild"),
    ("post", "/v1/usage-events"),
    ("post", "/v1/batch"),
    ("put", "/v1/webhooks/{webhook_id}"),
    ("get", "/v1/webhooks/{webhook_id}"),
    ("delete", "/v1/webhooks/{webhook_id}"),
    ("get", "/v1/webhooks/{webhook_id}/deliveries"),
    ("put", "/v1/wallets/{wallet_id}/alert-settings"),
    ("get", "/v1/wallets/{wallet_id}/alert-settings"),
    # Contract 1.1, "Lists"
    ("get", "/v1/wallets"),
    ("get", "/v1/wallets/{wallet_id}/debits"),
    ("get", "/v1/wallets/{wallet_id}/debits/{debit_id}"),
    ("get", "/v1/wallets/{wallet_id}/holds"),
    ("get", "/v1/api-keys"),
    ("get", "/v1/webhooks"),
    ("get", "/v1/meters"),
    ("get", "/v1/price-books"),
    # An addition: the calling key (what the console offers)
    ("get", "/v1/whoami"),
}


def openapi_document() -> dict[str, Any]:
    with running_api() as api:
        document: dict[str, Any] = api.get("/schema/openapi.json", key=None).json()
    return document


def test_settings_have_safe_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "HOST", "PORT", "WORKERS", "BOOTSTRAP_ADMIN_KEY"):
        monkeypatch.delenv(f"LEDGER_{name}", raising=False)

    settings = Settings()

    assert settings.database_url == "sqlite:///var/ledger.sqlite3"
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)
    assert settings.bootstrap_admin_key is None
    assert settings.max_body_bytes == 1024 * 1024


def test_settings_come_from_ledger_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_PORT", "9000")
    monkeypatch.setenv("LEDGER_BOOTSTRAP_ADMIN_KEY", ADMIN_KEY)

    settings = Settings()

    assert settings.port == 9000
    assert settings.bootstrap_admin_key == SecretStr(ADMIN_KEY)
    assert ADMIN_KEY not in repr(settings)


def test_a_short_bootstrap_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(bootstrap_admin_key=SecretStr("hunter2"))

    assert "hunter2" not in str(refused.value)


def test_the_app_opens_and_closes_its_own_ledger(tmp_path: Path) -> None:
    database = tmp_path / "not-yet" / "ledger.sqlite3"
    settings = Settings(
        database_url=f"sqlite:///{database}", bootstrap_admin_key=SecretStr(ADMIN_KEY)
    )
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}

    with TestClient(create_app(settings)) as client:
        opened = client.post("/v1/wallets", json={"wallet_id": "acme"}, headers=headers)
        ready = client.get("/readyz")
    with TestClient(create_app(settings)) as client:
        reread = client.get("/v1/wallets/acme", headers=headers)

    assert (opened.status_code, ready.status_code) == (201, 200)
    assert database.exists()
    assert reread.json()["wallet_id"] == "acme"


def test_without_a_bootstrap_key_no_key_is_admin(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'l.sqlite3'}")

    with TestClient(create_app(settings)) as client:
        response = client.get("/v1/wallets/acme", headers={"Authorization": f"Bearer {ADMIN_KEY}"})

    assert_problem(response, 401, "unauthenticated")


def test_probes_answer() -> None:
    with running_api() as api:
        assert api.get("/healthz", key=None).json() == {"status": "ok"}
        assert api.get("/readyz", key=None).json() == {"status": "ready"}


def test_the_openapi_document_describes_the_api() -> None:
    document = openapi_document()

    assert document["info"]["title"] == "Credit Ledger"
    assert document["info"]["version"] == "1.0.0"
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_every_route_has_an_operation_id_and_a_description() -> None:
    operations = {
        (method, path): operation
        for path, item in openapi_document()["paths"].items()
        for method, operation in item.items()
    }

    assert set(operations) == CONTRACT_OPERATIONS
    ids = [operation.get("operationId") for operation in operations.values()]
    assert all(ids)
    assert len(set(ids)) == len(ids)
    assert all(operation.get("description") for operation in operations.values())
    assert all(operation.get("summary") for operation in operations.values())


def test_errors_are_documented_as_problems() -> None:
    for item in openapi_document()["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"]


def test_request_bodies_carry_the_contract_constraints() -> None:
    schemas = openapi_document()["components"]["schemas"]

    amount = schemas["GrantIn"]["properties"]["amount"]
    assert amount["type"] == "integer"
    assert amount["exclusiveMinimum"] == 0
    assert amount["maximum"] == 9_007_199_254_740_991
    # A debit gives amount or usage: neither is required on its own (the server wants one).
    debit = schemas["DebitIn"]
    assert {"amount", "usage"} <= set(debit["properties"])
    assert not debit["required"]
    assert debit["properties"]["amount"]["maximum"] == 9_007_199_254_740_991
    tokens = schemas["UsageIn"]["properties"]["output_tokens"]
    assert (tokens["type"], tokens["minimum"]) == ("integer", 0)
    rate = schemas["RateIn"]["properties"]["input_per_million"]
    assert (rate["type"], rate["minimum"], rate["maximum"]) == ("integer", 0, 2**53 - 1)
    assert set(schemas["Subject"]["properties"]) == {
        "user_id",
        "team_id",
        "agent_id",
        "project_id",
        "feature",
        "model",
    }


def test_objects_made_at_start_up_are_frozen_while_the_app_runs() -> None:
    before = gc.get_freeze_count()
    with running_api():
        assert gc.get_freeze_count() > before
    assert gc.get_freeze_count() == 0


def test_full_collections_are_rarer_while_the_app_runs_and_restored_after() -> None:
    before = gc.get_threshold()
    with running_api():
        assert gc.get_threshold() == (before[0], before[1], 100)
    assert gc.get_threshold() == before
