"""Every error the API answers, as RFC 9457 ``application/problem+json``.

One table, :data:`ERROR_STATUS`, gives the HTTP status of each ledger error; one handler,
:func:`problem_response`, renders every exception: ledger refusals, the API's own errors
(:class:`ApiError`: authentication, permissions, readiness), litestar's errors (unknown
route, wrong method, body too large, bad query parameters) and unexpected failures.

A problem body has ``type``, ``title``, ``status``, ``detail`` and a stable snake_case
``code``, plus the members of the error's ``details()`` (for example ``available`` and
``requested`` of ``insufficient_credits``). ``type`` is ``PROBLEM_TYPE_BASE + code``: one
URI per code that clients may compare, never one per occurrence. Clients should branch on
``code``; ``title`` and ``detail`` are for people and may change.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, ClassVar, cast

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.exceptions import ValidationException as LitestarValidationError

from api.rendering import as_utc
from ledger.domain.errors import (
    AllowanceNotFound,
    BudgetExceeded,
    BudgetNotFound,
    CaptureExceedsHold,
    Contention,
    DebitNotFound,
    FieldError,
    GrantExists,
    GrantNotFound,
    GrantNotVoidable,
    HoldExists,
    HoldNotFound,
    HoldNotOpen,
    IdempotencyConflict,
    InsufficientCredits,
    LedgerError,
    MeterNotFound,
    Overloaded,
    PriceBookNotFound,
    RefundExceedsDebit,
    UnknownModel,
    ValidationFailed,
    WalletExists,
    WalletNotFound,
    WebhookNotFound,
)

__all__ = [
    "ERROR_STATUS",
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPE_BASE",
    "RETRY_AFTER_SECONDS",
    "ApiError",
    "ApiKeyNotFound",
    "Forbidden",
    "NotReady",
    "Problem",
    "RateLimited",
    "Relayed",
    "Unauthenticated",
    "UnsupportedMediaType",
    "parameter_names",
    "problem_response",
    "to_problem",
]

# A URN, not a URL: it names the problem kind without implying a page we would have to host.
PROBLEM_TYPE_BASE = "urn:credit-ledger:problem:"
PROBLEM_MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_SECONDS = 1
"""What transient errors (``contention``, ``not_ready``) ask clients to wait before retrying."""

logger = logging.getLogger(__name__)

ERROR_STATUS: dict[type[LedgerError], int] = {
    ValidationFailed: 422,
    WalletNotFound: 404,
    GrantNotFound: 404,
    HoldNotFound: 404,
    BudgetNotFound: 404,
    AllowanceNotFound: 404,
    DebitNotFound: 404,
    PriceBookNotFound: 404,
    MeterNotFound: 404,
    WebhookNotFound: 404,
    UnknownModel: 422,
    WalletExists: 409,
    GrantExists: 409,
    HoldExists: 409,
    GrantNotVoidable: 409,
    HoldNotOpen: 409,
    CaptureExceedsHold: 409,
    RefundExceedsDebit: 409,
    IdempotencyConflict: 409,
    InsufficientCredits: 402,
    BudgetExceeded: 402,
    Contention: 503,
    Overloaded: 503,
    # A refusal this table does not know yet is still about the client's request: keep its
    # code. tests/api/test_api_errors.py fails when a ledger error is missing here.
    LedgerError: 400,
}
"""The HTTP status of each ledger error; subclasses resolve through their MRO."""


class ApiError(Exception):
    """An error of the HTTP layer itself (not a ledger refusal)."""

    code: ClassVar[str] = "api_error"
    title: ClassVar[str] = "API error"
    status: ClassVar[int] = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def headers(self) -> dict[str, str]:
        """Response headers the error needs (``WWW-Authenticate``, ``Retry-After``)."""
        return {}

    def members(self) -> dict[str, Any]:
        """Extension members of the problem body (``position`` of ``projection_lagging``)."""
        return {}


class Unauthenticated(ApiError):
    """No key, an unknown key or a revoked key; deliberately one answer for all three."""

    code = "unauthenticated"
    title = "Authentication required"
    status = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="credit-ledger"'}


class Forbidden(ApiError):
    """A valid key without the scope the route needs."""

    code = "forbidden"
    title = "Forbidden"
    status = 403


class ApiKeyNotFound(ApiError):
    """No issued API key has this id."""

    code = "api_key_not_found"
    title = "API key not found"
    status = 404


class NotReady(ApiError):
    """The event store does not answer; a load balancer should route elsewhere."""

    code = "not_ready"
    title = "Not ready"
    status = 503

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}


class UnsupportedMediaType(ApiError):
    """A body sent as something other than JSON (a form, plain text, XML)."""

    code = "unsupported_media_type"
    title = "Unsupported media type"
    status = 415


class RateLimited(ApiError):
    """The key sent more requests than its rate allows (``api.middleware.rate_limit``)."""

    code = "rate_limited"
    title = "Too many requests"
    status = 429

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = max(1, retry_after_seconds)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}

    def members(self) -> dict[str, Any]:
        return {"retry_after_seconds": self.retry_after_seconds}


@dataclass(frozen=True)
class Problem:
    """An RFC 9457 problem, ready to render."""

    status: int
    code: str
    title: str
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        core = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        body: dict[str, Any] = as_utc({**self.extra, **core})
        return body


class Relayed(Exception):
    """A problem another process answered for this request — the owner of its wallet's
    shard (decision 0016) — answered here exactly as it is."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.problem = problem


_RESERVED_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "code"})
_INTERNAL = Problem(500, "internal_error", "Internal server error", "An unexpected error occurred.")


def _status_of(error: LedgerError) -> int:
    return next(ERROR_STATUS[c] for c in type(error).__mro__ if c in ERROR_STATUS)


def _extension_members(error: LedgerError) -> dict[str, Any]:
    """``details()``, with names RFC 9457 reserves prefixed by the code's subject.

    ``hold_not_open`` and ``grant_not_voidable`` carry the object's ``status``, but ``status``
    is the problem's HTTP status code (always the integer, contract 1.1); they become
    ``hold_status`` and ``grant_status``.
    """
    subject = error.code.split("_", 1)[0]
    return {
        f"{subject}_{name}" if name in _RESERVED_MEMBERS else name: value
        for name, value in error.details().items()
    }


def _from_litestar_validation(
    exc: LitestarValidationError, names: Mapping[str, str]
) -> ValidationFailed:
    # litestar reports bad query/path parameters as {"key", "message", "source"} entries,
    # keyed by the handler's Python name: ``names`` maps those back to what the client sent.
    entries = exc.extra if isinstance(exc.extra, list) else []
    errors = [
        FieldError(
            names.get(str(e.get("key")), str(e.get("key") or "request")),
            str(e.get("message", "invalid")),
        )
        for e in entries
        if isinstance(e, dict)
    ]
    return ValidationFailed(*(errors or [FieldError("request", str(exc.detail))]))


def parameter_names(request: Request[Any, Any, Any]) -> dict[str, str]:
    """Python name -> wire name of the route's parameters declared under another name.

    ``from_`` is the query parameter ``from``: its errors must name ``from``.
    """
    # No route handler when the request failed before routing (unknown path, bad host).
    handler = cast("dict[str, Any]", request.scope).get("route_handler")
    if handler is None:
        return {}
    names = {}
    for name, definition in handler.parsed_fn_signature.parameters.items():
        kwarg = definition.kwarg_definition
        wire = next(
            (w for a in ("name", "query", "header", "cookie") if (w := getattr(kwarg, a, None))),
            None,
        )
        if isinstance(wire, str) and wire != name:
            names[name] = wire
    return names


def _http_code(status: int) -> str:
    """A stable code for a status litestar answers itself: ``not_found``, ``method_not_allowed``."""
    known = {401: Unauthenticated.code, 403: Forbidden.code, 413: "payload_too_large"}
    return known.get(status) or re.sub(r"[^a-z0-9]+", "_", HTTPStatus(status).phrase.lower())


def to_problem(exc: Exception, names: Mapping[str, str] | None = None) -> Problem:
    """The problem an exception answers with; anything unexpected is a bare 500.

    ``names`` maps parameters' Python names to their wire names (see :func:`parameter_names`).
    """
    if isinstance(exc, Relayed):
        return exc.problem
    if isinstance(exc, LitestarValidationError):
        exc = _from_litestar_validation(exc, names or {})
    if isinstance(exc, LedgerError):
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if exc.transient else {}
        extra = _extension_members(exc)
        return Problem(_status_of(exc), exc.code, exc.title, exc.detail, extra, headers)
    if isinstance(exc, ApiError):
        return Problem(exc.status, exc.code, exc.title, exc.detail, exc.members(), exc.headers())
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        # litestar's own client errors: unknown route (404), wrong method (405), 413, ...
        status = exc.status_code
        title = HTTPStatus(status).phrase
        detail = str(exc.detail or title)
        return Problem(status, _http_code(status), title, detail, {}, dict(exc.headers or {}))
    return _INTERNAL


def problem_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The one exception handler of the app: every error becomes problem+json."""
    problem = to_problem(exc, parameter_names(request))
    if problem is _INTERNAL:
        # Full detail goes to the server log only; the client learns nothing internal.
        logger.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    return Response(
        problem.body(),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=problem.headers,
    )
