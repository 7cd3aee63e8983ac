"""Every refusal the ledger answers, as one exception class per problem ``code``.

The server's closed error set (its ``ledger/errors.py`` and ``api/errors.py``) is mirrored
here class for class, with the same names where the server has one. Every exception is a
:class:`LedgerError` carrying the RFC 9457 problem document it was made from
(:attr:`LedgerError.problem`), so a caller may catch one class, a family
(:class:`NotFound`, :class:`Conflict`, :class:`Refused`, :class:`Unavailable`) or everything.

The classes of the service not deciding (:class:`Unavailable` and its kin) and the lookup
from a problem document to its class are in :mod:`credit_ledger.problems`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

__all__ = [
    "AllowanceNotFound",
    "ApiKeyNotFound",
    "BudgetExceeded",
    "BudgetNotFound",
    "CaptureExceedsHold",
    "Conflict",
    "DebitNotFound",
    "FieldProblem",
    "Forbidden",
    "GrantExists",
    "GrantNotFound",
    "GrantNotVoidable",
    "HoldExists",
    "HoldNotFound",
    "HoldNotOpen",
    "IdempotencyConflict",
    "InsufficientCredits",
    "LedgerError",
    "MeterNotFound",
    "NotFound",
    "PriceBookNotFound",
    "ProjectionNotFound",
    "RebuildInProgress",
    "RefundExceedsDebit",
    "Refused",
    "RouteNotFound",
    "Unauthenticated",
    "Unavailable",
    "UnknownModel",
    "UnsupportedMediaType",
    "ValidationFailed",
    "WalletExists",
    "WalletNotFound",
    "WebhookNotFound",
]


class LedgerError(Exception):
    """A request the ledger did not carry out; :attr:`problem` is the document it answered."""

    code: ClassVar[str] = "ledger_error"

    def __init__(self, problem: Mapping[str, Any], status: int) -> None:
        self.problem: dict[str, Any] = dict(problem)
        member = self.problem.get("status")
        # RFC 9457: ``status`` is the HTTP status. Servers before contract 1.1 put a hold's
        # state there for hold_not_open; the response line is the HTTP status either way.
        self.status: int = member if isinstance(member, int) else status
        self.title: str = str(self.problem.get("title", ""))
        self.detail: str = str(self.problem.get("detail", ""))
        super().__init__(f"{self.problem.get('code', self.code)}: {self.detail or self.title}")

    @property
    def problem_code(self) -> str:
        """The ``code`` the server sent (equal to :attr:`code` for every known class)."""
        return str(self.problem.get("code", self.code))

    def _int(self, name: str) -> int:
        value = self.problem.get(name)
        return value if isinstance(value, int) else 0


class FieldProblem:
    """One invalid field of a :class:`ValidationFailed`."""

    __slots__ = ("field", "message")

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message

    def __repr__(self) -> str:
        return f"FieldProblem({self.field!r}, {self.message!r})"


# --- 4xx families ---------------------------------------------------------------------


class ValidationFailed(LedgerError):
    """422 ``validation_error``: the request is malformed; :attr:`errors` names each field."""

    code = "validation_error"

    @property
    def errors(self) -> list[FieldProblem]:
        entries = self.problem.get("errors") or []
        return [
            FieldProblem(str(e.get("field", "")), str(e.get("message", "")))
            for e in entries
            if isinstance(e, dict)
        ]


class UnknownModel(LedgerError):
    """422 ``unknown_model``: the wallet's price book has no rate for the usage's model."""

    code = "unknown_model"

    @property
    def model(self) -> str:
        return str(self.problem.get("model", ""))

    @property
    def price_book_id(self) -> str | None:
        value = self.problem.get("price_book_id")
        return None if value is None else str(value)


class UnsupportedMediaType(LedgerError):
    code = "unsupported_media_type"


class Unauthenticated(LedgerError):
    """401: no key, an unknown key or a revoked key."""

    code = "unauthenticated"


class Forbidden(LedgerError):
    """403: the key lacks the scope the route needs."""

    code = "forbidden"


class Refused(LedgerError):
    """402: a spending decision said no; nothing was recorded."""


class InsufficientCredits(Refused):
    code = "insufficient_credits"

    @property
    def available(self) -> int:
        return self._int("available")

    @property
    def requested(self) -> int:
        return self._int("requested")


class BudgetExceeded(Refused):
    code = "budget_exceeded"

    @property
    def budget_id(self) -> str:
        return str(self.problem.get("budget_id", ""))

    @property
    def limit(self) -> int:
        return self._int("limit")

    @property
    def spent(self) -> int:
        return self._int("spent")

    @property
    def requested(self) -> int:
        return self._int("requested")

    @property
    def period_end(self) -> datetime | None:
        """When the budget's period ends (None for a ``total`` budget)."""
        value = self.problem.get("period_end")
        return None if value is None else datetime.fromisoformat(str(value))


class NotFound(LedgerError):
    """404: the addressed object (or route) does not exist."""


class WalletNotFound(NotFound):
    code = "wallet_not_found"


class GrantNotFound(NotFound):
    code = "grant_not_found"


class HoldNotFound(NotFound):
    code = "hold_not_found"


class BudgetNotFound(NotFound):
    code = "budget_not_found"


class DebitNotFound(NotFound):
    code = "debit_not_found"


class PriceBookNotFound(NotFound):
    code = "price_book_not_found"


class MeterNotFound(NotFound):
    code = "meter_not_found"


class WebhookNotFound(NotFound):
    code = "webhook_not_found"


class AllowanceNotFound(NotFound):
    code = "allowance_not_found"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"


class ProjectionNotFound(NotFound):
    code = "projection_not_found"


class RouteNotFound(NotFound):
    """404 ``not_found``: the server has no such route (an older server, a wrong base URL)."""

    code = "not_found"


class Conflict(LedgerError):
    """409: the request contradicts what the ledger holds."""


class WalletExists(Conflict):
    code = "wallet_exists"


class GrantExists(Conflict):
    code = "grant_exists"


class HoldExists(Conflict):
    code = "hold_exists"


class GrantNotVoidable(Conflict):
    code = "grant_not_voidable"

    @property
    def grant_status(self) -> str:
        return _object_status(self.problem, "grant_status")


class HoldNotOpen(Conflict):
    """409 ``hold_not_open``; :attr:`hold_status` is ``captured``, ``released`` or ``expired``."""

    code = "hold_not_open"

    @property
    def hold_status(self) -> str:
        return _object_status(self.problem, "hold_status")


class CaptureExceedsHold(Conflict):
    code = "capture_exceeds_hold"

    @property
    def held(self) -> int:
        return self._int("held")

    @property
    def requested(self) -> int:
        return self._int("requested")


class RefundExceedsDebit(Conflict):
    code = "refund_exceeds_debit"

    @property
    def refundable(self) -> int:
        return self._int("refundable")

    @property
    def requested(self) -> int:
        return self._int("requested")


class IdempotencyConflict(Conflict):
    """409: the idempotency key was used before for a different request."""

    code = "idempotency_conflict"


class RebuildInProgress(Conflict):
    code = "rebuild_in_progress"


class Unavailable(LedgerError):
    """The ledger did not decide: unreachable, overloaded or failing. Retrying with the same
    idempotency key is safe; the client already did, as far as its retry policy allows."""


def _object_status(problem: Mapping[str, Any], member: str) -> str:
    # Contract 1.1 names the object's state ``<subject>_status``; earlier servers put it in
    # ``status`` (a string there, never the HTTP status). Both are read during the change.
    value = problem.get(member)
    if value is None and isinstance(problem.get("status"), str):
        value = problem["status"]
    return "" if value is None else str(value)
