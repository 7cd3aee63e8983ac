"""The service did not decide (:class:`~credit_ledger.errors.Unavailable` and its kin),
and :func:`error_from_problem`, which turns any error answer into its exception class.

A code this version does not know yet still raises: the class of its HTTP status family
(404 -> ``NotFound``, 409 -> ``Conflict``, ...), with the problem document intact.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from credit_ledger.errors import (
    Conflict,
    Forbidden,
    LedgerError,
    NotFound,
    Refused,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
    ValidationFailed,
)

__all__ = [
    "ConnectionFailed",
    "Contention",
    "JournalFull",
    "NotReady",
    "Overloaded",
    "ProjectionLagging",
    "RateLimited",
    "ServerError",
    "error_from_problem",
]


class Contention(Unavailable):
    code = "contention"


class Overloaded(Unavailable):
    code = "overloaded"


class NotReady(Unavailable):
    code = "not_ready"


class RateLimited(Unavailable):
    """429: the key sent more requests than its rate allows."""

    code = "rate_limited"

    @property
    def retry_after_seconds(self) -> int:
        return self._int("retry_after_seconds")


class ProjectionLagging(Unavailable):
    """503: the read models had not reached ``min_position`` in time."""

    code = "projection_lagging"

    @property
    def position(self) -> int:
        return self._int("position")

    @property
    def required(self) -> int:
        return self._int("required")


class ServerError(Unavailable):
    """5xx without a more specific code (``internal_error``, a proxy's 502 or 504)."""

    code = "internal_error"


class ConnectionFailed(Unavailable):
    """No answer at all (connection refused or reset, timeout). The problem document is made
    by the client (``code`` ``connection_failed``, ``status`` 503); the server never sends it.
    """

    code = "connection_failed"

    @classmethod
    def from_exception(cls, exc: BaseException) -> ConnectionFailed:
        problem = {
            "type": "urn:credit-ledger:client:connection_failed",
            "title": "Ledger unreachable",
            "status": 503,
            "detail": f"{type(exc).__name__}: {exc}",
            "code": cls.code,
        }
        return cls(problem, 503)


class JournalFull(Unavailable):
    """The ledger is unavailable and the local journal of deferred calls is full, so the
    open policy refuses like the closed one (made by the client; ``status`` 503)."""

    code = "journal_full"

    @classmethod
    def make(cls, entries: int) -> JournalFull:
        problem = {
            "type": "urn:credit-ledger:client:journal_full",
            "title": "Local journal full",
            "status": 503,
            "detail": f"the ledger is unavailable and the local journal holds {entries} calls",
            "code": cls.code,
        }
        return cls(problem, 503)


def _known() -> dict[str, type[LedgerError]]:
    found: dict[str, type[LedgerError]] = {}
    pending: list[type[LedgerError]] = [LedgerError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "code" in cls.__dict__:
            found[cls.code] = cls
    return found


_BY_CODE = _known()
_BY_STATUS: dict[int, type[LedgerError]] = {
    401: Unauthenticated,
    402: Refused,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    415: UnsupportedMediaType,
    422: ValidationFailed,
    429: RateLimited,
    503: Unavailable,
}


def error_from_problem(status: int, body: Any, text: str = "") -> LedgerError:
    """The exception for an error answer: by ``code``, else by HTTP status family.

    ``body`` is the decoded JSON (a problem document, normally); ``text`` the raw body, kept
    as ``detail`` when the answer was not a problem document (a proxy's HTML page).
    """
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        problem: dict[str, Any] = body
    else:
        phrase = _phrase(status)
        problem = {
            "type": "about:blank",
            "title": phrase,
            "status": status,
            "detail": text[:500],
            "code": re.sub(r"[^a-z0-9]+", "_", phrase.lower()).strip("_"),
        }
    cls = _BY_CODE.get(problem["code"])
    if cls is None:
        cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else LedgerError)
    return cls(problem, status)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"
