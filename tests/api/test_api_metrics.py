"""``/metrics``: who may read it, and what the middleware and the ledger hook count."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.app import create_app
from api.middleware.metrics import DECISION, operation_name
from api.settings import Settings
from ledger.app import commands
from tests.support.api import Api, assert_problem, running_api
from tests.support.api import metric_samples as samples
from tests.support.api import metric_value as value
from tests.support.builders import make_ledger


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api() as running:
        yield running


def test_settings_make_metrics_public_by_default() -> None:
    assert Settings(database_url="memory://").metrics_public is True


def test_metrics_are_prometheus_text_without_a_key(api: Api) -> None:
    response = api.get("/metrics", key=None)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE ledger_decisions_total counter" in response.text
    assert "# TYPE ledger_contention_retries_total counter" in response.text
    assert "_created" not in response.text


def test_private_metrics_take_an_admin_or_auditor_key() -> None:
    with running_api(metrics_public=False) as api:
        auditor = api.issue_key("auditor")
        service = api.issue_key("service")

        assert_problem(api.get("/metrics", key=None), 401, "unauthenticated")
        assert_problem(api.get("/metrics", key="lk_nope"), 401, "unauthenticated")
        assert_problem(api.get("/metrics", key=service), 403, "forbidden")
        assert api.get("/metrics", key=auditor).status_code == 200
        assert api.get("/metrics").status_code == 200  # the bootstrap admin key


def test_requests_are_counted_by_route_template(api: Api) -> None:
    api.open_wallet("acme")
    api.open_wallet("beta")
    api.get("/v1/wallets/acme")
    api.get("/v1/wallets/beta")
    api.get("/v1/wallets/gamma")
    api.get("/v1/wallets/acme", key=None)

    route = "/v1/wallets/{wallet_id}"
    assert value(api, "ledger_http_requests_total", method="GET", route=route, status="200") == 2
    assert value(api, "ledger_http_requests_total", method="GET", route=route, status="404") == 1
    assert value(api, "ledger_http_requests_total", method="GET", route=route, status="401") == 1
    latency = {"method": "GET", "route": route, "status": "200"}
    assert value(api, "ledger_http_request_duration_seconds_count", **latency) == 2
    assert value(api, "ledger_http_request_duration_seconds_sum", **latency) > 0
    assert not any(
        "/v1/wallets/acme" in dict(labels).get("route", "") for _, labels in samples(api)
    )


def test_decisions_are_counted_by_outcome(api: Api) -> None:
    api.funded_wallet(amount=100)
    debit = {"amount": 10}
    api.post("/v1/wallets/acme/debits", debit, idempotency_key="k")
    api.post("/v1/wallets/acme/debits", debit, idempotency_key="k")
    api.post("/v1/wallets/acme/debits", {"amount": 10_000})
    api.post("/v1/wallets/acme/debits", {"amount": "10"})
    api.post("/v1/wallets/acme/debits", debit, key=None)
    api.post("/v1/wallets/acme/debits", debit, key=api.issue_key("auditor"))
    api.post("/v1/wallets/nope/debits", debit)

    def decisions(outcome: str) -> float:
        return value(api, "ledger_decisions_total", operation="debit", outcome=outcome)

    assert decisions("ok") == 1
    assert decisions("replayed") == 1
    assert decisions("insufficient_credits") == 1
    assert decisions("validation_error") == 1
    assert decisions("wallet_not_found") == 1
    assert decisions("unauthenticated") == decisions("forbidden") == 0
    assert value(api, "ledger_decisions_total", operation="open_wallet", outcome="ok") == 1
    assert value(api, "ledger_decisions_total", operation="grant_credits", outcome="ok") == 1


def test_reads_and_key_management_are_not_decisions(api: Api) -> None:
    api.open_wallet()
    api.get("/v1/wallets/acme")
    api.issue_key("service")

    operations = {
        dict(labels)["operation"]
        for name, labels in samples(api)
        if name == "ledger_decisions_total"
    }
    assert operations == {"open_wallet"}


def test_contention_retries_come_from_the_ledger_hook() -> None:
    seen: list[str] = []
    ledger = make_ledger()
    ledger.on_conflict = seen.append

    with running_api(ledger) as api:
        assert ledger.on_conflict is not None
        ledger.on_conflict("CaptureHold")
        ledger.on_conflict("CaptureHold")
        ledger.on_conflict("Debit")

        retries = "ledger_contention_retries_total"
        assert value(api, retries, operation="capture_hold") == 2
        assert value(api, retries, operation="debit") == 1
    assert seen == ["CaptureHold", "CaptureHold", "Debit"]  # the hook it had still runs
    assert ledger.on_conflict == seen.append  # and is back once the app has stopped


def test_every_app_counts_for_itself() -> None:
    with running_api() as first:
        first.open_wallet()
        with running_api() as second:
            assert (
                value(second, "ledger_decisions_total", operation="open_wallet", outcome="ok") == 0
            )
        assert value(first, "ledger_decisions_total", operation="open_wallet", outcome="ok") == 1


def test_every_command_route_is_a_decision_named_after_its_command() -> None:
    app = create_app(Settings(database_url="memory://"), ledger=make_ledger())
    marked = {
        str(handler.opt[DECISION])
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        if DECISION in handler.opt
    }
    # Commands live in ledger.app.commands and beside their features (meters, webhooks, ...);
    # the app imports them all, so every subclass of Command is known here.
    command_names = {
        operation_name(cls.__name__)
        for cls in _subclasses(commands.Command)
        if cls.__name__ not in _NOT_ROUTES
    }

    assert marked == command_names  # every command has its route, every route its command


# The operator's sweep (``ledger sweep``) and the delivery worker's disabling of a webhook
# that answered 410 Gone: commands, but not HTTP ones.
_NOT_ROUTES = {"ExpireDue", "DisableWebhook"}


def _subclasses(cls: type) -> set[type]:
    found: set[type] = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


@pytest.mark.parametrize(
    ("command", "operation"),
    [("Debit", "debit"), ("CaptureHold", "capture_hold"), ("OpenWallet", "open_wallet")],
)
def test_operation_names_are_snake_case(command: str, operation: str) -> None:
    assert operation_name(command) == operation
