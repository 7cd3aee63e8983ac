"""Security: tenant isolation as a property, keys stored hashed and compared in constant time,
and nothing secret in the logs.

Isolation is checked over the app's own OpenAPI document, so operations added later are
covered: hypothesis picks a customer's key, a wallet (its own or another customer's) and an
operation, with a body that would succeed for an admin. Another customer's wallet is never
answered with anything but 403 or 404 ``wallet_not_found`` (the same answers as for a wallet
that does not exist), and a refused request never writes.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.access.keys import parse_key
from ledger.app.commands import Debit, GrantCredits, OpenWallet, PlaceHold, SetBudget
from tests.support.api import Api, running_api
from tests.support.builders import make_ledger
from tests.support.live_server import TEST_ADMIN_KEY, server_env
from tests.support.reliability.common import admin_client, service_key
from tests.support.reliability.processes import ServerProcess

pytestmark = pytest.mark.reliability

CUSTOMERS = ["c-0", "c-1", "c-2"]
WALLETS = {f"{customer}-w{n}": customer for customer in CUSTOMERS for n in range(2)}
PUBLIC = {"/healthz", "/readyz", "/metrics"}
CUSTOMER_READS = {
    "getWallet",
    "listWalletEvents",
    "getHold",
    "listBudgets",
    "getBudget",
    "getWalletUsage",
    "listAllowances",
    "getAllowance",
}
"""What a customer key may do on its own wallets (``READ`` and ``MANAGE_BUDGETS`` guards)."""
CUSTOMER_BUDGET_CHANGES = {"setBudget", "removeBudget"}
NEVER_FOR_CUSTOMERS = {
    "debitWallet",
    "refundDebit",
    "placeHold",
    "captureHold",
    "releaseHold",
    "grantCredits",
    "voidGrant",
    "setAllowance",
    "removeAllowance",
}
"""Spending and granting (allowances grant): ``service`` or ``admin`` only, even on the
customer's own wallet."""
BODIES: dict[str, Any] = {
    "debitWallet": {"amount": 1},
    "placeHold": {"amount": 1},
    "captureHold": {"amount": 1},
    "grantCredits": {"amount": 1, "category": "paid"},
    "voidGrant": {"reason": "probe"},
    "refundDebit": {"amount": 1},
    "setBudget": {"scope": {}, "limit": 10, "period": "month"},
    "setAllowance": {"amount": 1, "period": "month"},
    "openWallet": {"wallet_id": "probe"},
    "issueApiKey": {"scopes": ["admin"]},
    "putPriceBook": {"rates": [{"model": "m", "input_per_million": 1, "output_per_million": 1}]},
}
"""Bodies that would succeed for an admin; other operations get ``{}``."""


def seeded_api() -> Iterator[tuple[Api, dict[str, str], dict[str, str]]]:
    ledger = make_ledger()
    debits = {}
    for wallet, customer in WALLETS.items():
        ledger.open_wallet(OpenWallet(wallet_id=wallet, customer_id=customer))
        ledger.grant(GrantCredits(wallet_id=wallet, grant_id="g1", amount=10**6, category="paid"))
        ledger.place_hold(PlaceHold(wallet_id=wallet, hold_id="h1", amount=10))
        ledger.set_budget(
            SetBudget(wallet_id=wallet, budget_id="b1", limit=10**6, period="month", scope={})
        )
        debits[wallet] = str(ledger.debit(Debit(wallet_id=wallet, amount=1)).body["debit_id"])
    with running_api(ledger) as api:
        keys = {customer: api.issue_key(f"customer:{customer}") for customer in CUSTOMERS}
        yield api, keys, debits


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Api, dict[str, str], dict[str, str]]]:
    yield from seeded_api()


def operations(api: Api) -> list[tuple[str, str, str]]:
    """(method, path template, operationId) of every keyed operation of the document."""
    document = api.get("/schema/openapi.json").json()
    return sorted(
        (method.upper(), template, op["operationId"])
        for template, ops in document["paths"].items()
        for method, op in ops.items()
        if template not in PUBLIC
    )


def position(api: Api) -> int:
    return api.ledger.recorder.max_notification_id() or 0


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_customer_key_reaches_only_its_own_wallets(
    world: tuple[Api, dict[str, str], dict[str, str]], data: st.DataObject
) -> None:
    api, keys, debits = world
    customer = data.draw(st.sampled_from(CUSTOMERS), label="customer")
    wallet = data.draw(st.sampled_from(sorted(WALLETS)), label="wallet")
    method, template, operation = data.draw(st.sampled_from(operations(api)), label="operation")
    ids = {"wallet_id": wallet, "grant_id": "g1", "hold_id": "h1", "budget_id": "b1"}
    ids["debit_id"] = debits[wallet]
    path = re.sub(r"\{(\w+)\}", lambda m: ids.get(m[1], "x-1"), template)
    before = position(api)
    body = BODIES.get(operation, {}) if method in {"POST", "PUT"} else None
    response = api.request(method, path, json=body, key=keys[customer])
    code = response.json().get("code") if response.content else None
    changed = position(api) != before

    assert response.status_code < 500, (operation, response.text)
    if operation == "listWallets":
        # Contract 1.1: a customer key lists only its own wallets.
        assert response.status_code == 200, (operation, response.text)
        listed = {w["customer_id"] for w in response.json()["wallets"]}
        assert listed <= {customer}, (operation, response.text)
    elif operation == "whoAmI":
        assert response.status_code == 200, (operation, response.text)  # any key may ask
    elif "{wallet_id}" not in template:
        # Every wallet at once, or shared by all wallets: never for a customer key.
        assert (response.status_code, code) == (403, "forbidden"), (operation, response.text)
    elif WALLETS[wallet] != customer:
        assert (response.status_code, code) in {(403, "forbidden"), (404, "wallet_not_found")}, (
            operation,
            response.text,
        )
    elif operation in CUSTOMER_READS:
        # The customer may have removed budget b1 in an earlier example; no allowance exists.
        assert response.status_code == 200 or code in {"budget_not_found", "allowance_not_found"}, (
            operation,
            response.text,
        )
    elif operation in CUSTOMER_BUDGET_CHANGES:
        assert response.status_code in {200, 201, 204, 404}, (operation, response.text)
    elif operation in NEVER_FOR_CUSTOMERS:
        assert (response.status_code, code) == (403, "forbidden"), (operation, response.text)
    if response.status_code >= 400:
        assert not changed, f"{operation} was refused but wrote"


def test_issued_keys_are_stored_only_as_digests() -> None:
    for api, _, _ in seeded_api():
        key = api.issue_key("service", name="digest check")
        parsed = parse_key(key)  # the key's own parser: secrets may contain "_" themselves
        assert parsed is not None
        secret = parsed[1]
        assert len(secret) >= 32
        stored = b"".join(
            n.state for n in api.ledger.recorder.select_notifications(start=1, limit=100_000)
        )
        assert secret.encode() not in stored
        assert key.encode() not in stored
        assert api.get("/v1/wallets/c-0-w0", key=key).status_code == 200


def test_keys_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every comparison of a presented key goes through ``hmac.compare_digest``, on digests
    of equal length whatever was presented (so not even the length leaks)."""
    compared: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def recording(a: Any, b: Any) -> bool:
        compared.append((len(a), len(b)))
        return real(a, b)

    for api, _, _ in seeded_api():
        key = api.issue_key("service")
        key_id = key.split("_")[1]
        monkeypatch.setattr(hmac, "compare_digest", recording)
        for presented in (key, f"lk_{key_id}_wrong", f"lk_{key_id}_{'x' * 500}", "short"):
            api.get("/v1/wallets/c-0-w0", key=presented)
        monkeypatch.setattr(hmac, "compare_digest", real)
    assert len(compared) >= 4
    assert all(a == b for a, b in compared), compared


def test_no_key_secret_or_body_is_logged(tmp_path: Path) -> None:
    """A real ``ledger serve`` with its access log on: keys, secrets and bodies go through it,
    accepted and refused, and none of them may appear in what it wrote."""
    marker = "body-marker-7f3a9c"
    webhook_secret = "webhook-secret-0123456789abcdef-0123456789"  # noqa: S105 - a test value
    env = server_env(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    env["LEDGER_ACCESS_LOG"] = "true"
    server = ServerProcess(env, tmp_path / "logs")
    server.start()
    try:
        with admin_client(server.url) as admin:
            admin.post("/v1/wallets", json={"wallet_id": "acme", "metadata": {"m": marker}})
            admin.post("/v1/wallets/acme/grants", json={"amount": 100, "category": "paid"})
            service = service_key(admin)
            hook = {
                "url": "http://127.0.0.1:9/hook",
                "secret": webhook_secret,
                "events": ["wallet.balance_low"],
            }
            assert admin.put("/v1/webhooks/wh-1", json=hook).status_code == 201
            # Below the threshold at once: an alert is signed and sent (to a closed port), so
            # the delivery worker's path runs with the secret in hand.
            settings = {"balance_low_threshold": 1000}
            assert admin.put("/v1/wallets/acme/alert-settings", json=settings).status_code == 200
            _wait_for_an_attempt(admin)
        body = {"amount": 1, "metadata": {"m": marker}}
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for key in (service, service.replace("_", "_x", 2), "not-a-key"):
                headers = {"Authorization": f"Bearer {key}"}
                http.post("/v1/wallets/acme/debits", json=body, headers=headers)
                http.post(
                    "/v1/wallets/acme/debits", json={**body, "amount": marker}, headers=headers
                )
                http.post("/v1/wallets/acme/debits", content=marker.encode(), headers=headers)
    finally:
        server.stop()
    logged = "".join(path.read_text() for path in (tmp_path / "logs").iterdir())
    assert "POST /v1/wallets/acme/debits" in logged, "no access log: nothing was checked"
    for secret in (TEST_ADMIN_KEY, service, webhook_secret, marker):
        assert secret not in logged


def _wait_for_an_attempt(admin: httpx.Client, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = admin.get("/v1/webhooks/wh-1/deliveries").json()["deliveries"]
        if any(d["attempt"] >= 1 for d in found):
            return
        time.sleep(0.2)
    raise AssertionError("the alert was never attempted: the delivery path did not run")
