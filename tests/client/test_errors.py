"""Every problem the server answers raises its own class, carrying the problem document;
the client knows every code of the server's closed error set."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import credit_ledger
import pytest
from credit_ledger import (
    BudgetExceeded,
    Conflict,
    GrantNotVoidable,
    HoldNotOpen,
    InsufficientCredits,
    LedgerError,
    NotFound,
    RouteNotFound,
    ServerError,
    Unavailable,
    ValidationFailed,
)
from credit_ledger.problems import error_from_problem

import api.errors
import api.read_models
from ledger.domain.errors import LedgerError as ServerLedgerError


def server_codes() -> dict[str, int]:
    """Every code the server can answer, with its status (its one table and its API errors)."""
    codes = {cls.code: status for cls, status in api.errors.ERROR_STATUS.items()}
    pending: list[type[Any]] = [api.errors.ApiError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        codes[cls.code] = cls.status
    for cls in (api.read_models.ProjectionLagging, api.read_models.RebuildInProgress):
        codes[cls.code] = cls.status
    subclasses: list[type[ServerLedgerError]] = [ServerLedgerError]
    while subclasses:
        cls = subclasses.pop()
        subclasses.extend(cls.__subclasses__())
        assert cls in api.errors.ERROR_STATUS or cls.code in codes, cls
    codes.pop("api_error")
    codes.pop("ledger_error")
    return codes


def problem(status: int, code: str, **members: Any) -> dict[str, Any]:
    return {"type": f"urn:x:{code}", "title": code, "status": status, "detail": code,
            "code": code, **members}  # fmt: skip


@pytest.mark.parametrize(("code", "status"), sorted(server_codes().items()))
def test_every_server_code_has_its_own_client_class(code: str, status: int) -> None:
    error = error_from_problem(status, problem(status, code))

    assert error.code == code
    assert type(error).__name__ in credit_ledger.__all__
    assert error.status == status
    assert error.problem["code"] == code


def test_insufficient_credits_carries_available_and_requested() -> None:
    error = error_from_problem(
        402, problem(402, "insufficient_credits", available=940, requested=1000)
    )

    assert isinstance(error, InsufficientCredits)
    assert (error.available, error.requested) == (940, 1000)


def test_budget_exceeded_carries_the_budget_and_its_period_end() -> None:
    body = problem(
        402,
        "budget_exceeded",
        budget_id="team-t1",
        limit=500,
        spent=480,
        requested=30,
        period_end="2026-02-01T00:00:00Z",
    )
    error = error_from_problem(402, body)

    assert isinstance(error, BudgetExceeded)
    assert (error.budget_id, error.limit, error.spent, error.requested) == ("team-t1", 500, 480, 30)
    assert error.period_end == datetime(2026, 2, 1, tzinfo=UTC)
    total = error_from_problem(402, {**body, "period_end": None})
    assert isinstance(total, BudgetExceeded)
    assert total.period_end is None


def test_hold_not_open_reads_hold_status_and_keeps_the_http_status() -> None:
    error = error_from_problem(409, problem(409, "hold_not_open", hold_status="expired"))

    assert isinstance(error, HoldNotOpen)
    assert error.hold_status == "expired"
    assert error.status == 409


def test_hold_not_open_from_a_server_before_contract_1_1_reads_status() -> None:
    # Before 1.1 the server put the hold's state in `status` (a string).
    error = error_from_problem(409, {**problem(409, "hold_not_open"), "status": "captured"})

    assert isinstance(error, HoldNotOpen)
    assert error.hold_status == "captured"
    assert error.status == 409
    voided = error_from_problem(409, {**problem(409, "grant_not_voidable"), "status": "expired"})
    assert isinstance(voided, GrantNotVoidable)
    assert voided.grant_status == "expired"


def test_validation_errors_name_each_field() -> None:
    body = problem(422, "validation_error", errors=[{"field": "amount", "message": "must be > 0"}])
    error = error_from_problem(422, body)

    assert isinstance(error, ValidationFailed)
    assert [(e.field, e.message) for e in error.errors] == [("amount", "must be > 0")]


def test_an_unknown_code_raises_its_status_family_with_the_document() -> None:
    gone = error_from_problem(404, problem(404, "allowance_gone"))
    clash = error_from_problem(409, problem(409, "something_new"))
    odd = error_from_problem(418, problem(418, "teapot"))

    assert type(gone) is NotFound
    assert type(clash) is Conflict
    assert type(odd) is LedgerError
    assert gone.problem_code == "allowance_gone"


def test_an_answer_that_is_not_a_problem_document_still_raises_by_status() -> None:
    page = "<html>Bad Gateway</html>"

    bad_gateway = error_from_problem(502, None, page)
    unavailable = error_from_problem(503, None, "")
    missing = error_from_problem(404, None, "")

    assert isinstance(bad_gateway, ServerError)
    assert isinstance(bad_gateway, Unavailable)
    assert bad_gateway.detail == page
    assert type(unavailable) is Unavailable
    assert isinstance(missing, RouteNotFound)


def test_every_client_error_class_is_a_ledger_error() -> None:
    exported = [getattr(credit_ledger, name) for name in credit_ledger.__all__]
    errors = [c for c in exported if isinstance(c, type) and issubclass(c, Exception)]

    assert len(errors) > 40
    assert all(issubclass(c, LedgerError) for c in errors if c.__name__ != "JournalInUse")
