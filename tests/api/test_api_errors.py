"""HTTP: one problem+json shape for every error, and the status of every ledger error."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest

import ledger.domain.errors
from api import readiness
from api.errors import ERROR_STATUS
from ledger.domain.errors import Contention, LedgerError
from tests.support.api import Api, assert_problem, error_fields, running_api


@pytest.fixture
def api() -> Iterator[Api]:
    with running_api(max_body_bytes=2048) as api:
        api.funded_wallet("acme", 1000)
        yield api


def _ledger_error_classes() -> list[type[LedgerError]]:
    return [
        cls
        for _, cls in inspect.getmembers(ledger.domain.errors, inspect.isclass)
        if issubclass(cls, LedgerError)
        and cls is not LedgerError
        and not cls.__name__.startswith("_")
    ]


def test_every_ledger_error_has_its_own_status() -> None:
    missing = [cls.__name__ for cls in _ledger_error_classes() if cls not in ERROR_STATUS]

    assert missing == []


def test_statuses_follow_the_contract() -> None:
    by_code = {cls.code: ERROR_STATUS[cls] for cls in _ledger_error_classes()}

    assert by_code == {
        "validation_error": 422,
        "wallet_not_found": 404,
        "grant_not_found": 404,
        "hold_not_found": 404,
        "budget_not_found": 404,
        "allowance_not_found": 404,
        "debit_not_found": 404,
        "price_book_not_found": 404,
        "webhook_not_found": 404,
        "meter_not_found": 404,
        "unknown_model": 422,
        "wallet_exists": 409,
        "grant_exists": 409,
        "hold_exists": 409,
        "grant_not_voidable": 409,
        "hold_not_open": 409,
        "capture_exceeds_hold": 409,
        "refund_exceeds_debit": 409,
        "idempotency_conflict": 409,
        "insufficient_credits": 402,
        "budget_exceeded": 402,
        "contention": 503,
        "overloaded": 503,
    }


def test_an_unknown_route_is_a_problem(api: Api) -> None:
    assert_problem(api.get("/v1/nowhere"), 404, "not_found")


def test_a_wrong_method_is_a_problem(api: Api) -> None:
    response = api.request("PATCH", "/v1/wallets/acme")

    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_a_body_over_the_limit_is_refused_before_parsing(api: Api) -> None:
    response = api.post("/v1/wallets", {"wallet_id": "w", "metadata": {"x": "y" * 4096}})

    assert_problem(response, 413, "payload_too_large")


def test_contention_asks_to_retry(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def contended(*_: object, **__: object) -> None:
        raise Contention("acme", 8)

    monkeypatch.setattr(api.ledger, "debit_later", contended)

    response = api.post("/v1/wallets/acme/debits", {"amount": 1})

    assert_problem(response, 503, "contention")
    assert response.headers["Retry-After"] == "1"


def test_an_unexpected_failure_leaks_nothing(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("password=hunter2 at /srv/ledger/internal.py")

    monkeypatch.setattr(api.ledger, "debit_later", broken)

    response = api.post("/v1/wallets/acme/debits", {"amount": 1})

    body = assert_problem(response, 500, "internal_error")
    assert set(body) == {"type", "title", "status", "detail", "code"}
    assert "hunter2" not in response.text
    assert "internal.py" not in response.text


def test_a_ledger_error_missing_from_the_table_keeps_its_code(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    class NewRefusal(LedgerError):
        code: ClassVar[str] = "new_refusal"
        title: ClassVar[str] = "A refusal added later"

    def refuse(*_: object, **__: object) -> None:
        raise NewRefusal("not today")

    monkeypatch.setattr(api.ledger, "debit_later", refuse)

    assert_problem(api.post("/v1/wallets/acme/debits", {"amount": 1}), 400, "new_refusal")


def test_a_validation_error_lists_fields_with_messages(api: Api) -> None:
    response = api.post("/v1/wallets/acme/debits", {"amount": 1.5})

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"] == [{"field": "amount", "message": "Expected `int`, got `float`"}]
    assert "amount" in body["detail"]


def test_a_body_of_the_wrong_json_type_is_refused(api: Api) -> None:
    assert error_fields(api.post("/v1/wallets/acme/debits", [1, 2])) == ["body"]


def test_readiness_fails_when_the_store_does_not_answer(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down() -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(api.ledger.recorder, "max_notification_id", down)

    response = api.get("/readyz", key=None)

    assert_problem(response, 503, "not_ready")
    assert response.headers["Retry-After"] == "1"
    assert api.get("/healthz", key=None).status_code == 200


def test_readiness_answers_while_a_store_hangs_and_checks_it_once_at_a_time(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a store that hangs (a cluster down: connect timeouts and retries)
    released, finished = threading.Event(), threading.Event()
    reads: list[int] = []

    def hangs() -> None:
        reads.append(1)
        released.wait(30)
        finished.set()
        raise OSError("timed out")

    monkeypatch.setattr(api.ledger.recorder, "max_notification_id", hangs)
    monkeypatch.setattr(readiness, "READY_WITHIN_SECONDS", 0.2)
    try:
        # When two probes arrive while it hangs
        first = api.get("/readyz", key=None)
        second = api.get("/readyz", key=None)
        answered_before_the_store = not finished.is_set()
    finally:
        released.set()

    # Then both say not ready before the store answered, and the store was read once
    assert answered_before_the_store
    assert_problem(first, 503, "not_ready")
    assert_problem(second, 503, "not_ready")
    assert reads == [1]
