"""Real examples of the problem answers, per HTTP status, for the OpenAPI document.

Documentation only: each example is a body the API really answers (same members, same
types), so "Try it out" pages and generated clients show what a client will parse.
tests/unit/test_openapi_document.py checks every one against the code and status table.
"""

from __future__ import annotations

from typing import Any

from litestar.openapi.spec import Example

__all__ = ["PROBLEM_EXAMPLES", "problem_examples"]

_BASE = "urn:credit-ledger:problem:"


def _problem(status: int, code: str, title: str, detail: str, **members: Any) -> dict[str, Any]:
    return {
        "type": _BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **members,
    }


PROBLEM_EXAMPLES: dict[int, dict[str, dict[str, Any]]] = {
    400: {
        "bad_request": _problem(400, "bad_request", "Bad Request", "Malformed JSON body"),
    },
    401: {
        "unauthenticated": _problem(
            401, "unauthenticated", "Authentication required", "missing or unknown API key"
        ),
    },
    402: {
        "insufficient_credits": _problem(
            402,
            "insufficient_credits",
            "Insufficient credits",
            "requested 30 but only 12 available",
            available=12,
            requested=30,
        ),
        "budget_exceeded": _problem(
            402,
            "budget_exceeded",
            "Budget exceeded",
            "budget 'team-t1' allows 500, 490 spent, 30 requested",
            budget_id="team-t1",
            limit=500,
            spent=490,
            requested=30,
            period_end="2026-02-01T00:00:00Z",
        ),
    },
    403: {
        "forbidden": _problem(403, "forbidden", "Forbidden", "this API key lacks scope 'admin'"),
    },
    404: {
        "wallet_not_found": _problem(
            404, "wallet_not_found", "Wallet not found", "wallet 'acme' not found"
        ),
    },
    409: {
        "hold_not_open": _problem(
            409,
            "hold_not_open",
            "Hold is not open",
            "hold 'h1' is captured",
            hold_status="captured",
        ),
        "idempotency_conflict": _problem(
            409,
            "idempotency_conflict",
            "Idempotency key reused for a different request",
            "idempotency key 'r-9' was used for a different request",
        ),
    },
    413: {
        "payload_too_large": _problem(
            413, "payload_too_large", "Request Entity Too Large", "Request Entity Too Large"
        ),
    },
    415: {
        "unsupported_media_type": _problem(
            415,
            "unsupported_media_type",
            "Unsupported media type",
            "send the body as application/json",
        ),
    },
    422: {
        "validation_error": _problem(
            422,
            "validation_error",
            "Invalid request",
            "amount: Expected `int`, got `str`",
            errors=[{"field": "amount", "message": "Expected `int`, got `str`"}],
        ),
        "unknown_model": _problem(
            422,
            "unknown_model",
            "Unknown model",
            "model 'gpt-9' has no rate in price book 'default'",
            model="gpt-9",
            price_book_id="default",
        ),
    },
    429: {
        "rate_limited": _problem(
            429,
            "rate_limited",
            "Too many requests",
            "rate limit of this API key exceeded",
            retry_after_seconds=1,
        ),
    },
    503: {
        "contention": _problem(
            503,
            "contention",
            "Too much contention",
            "wallet 'acme' changed under 8 attempts; retry",
        ),
        "projection_lagging": _problem(
            503,
            "projection_lagging",
            "Projection lagging",
            "the read models are at position 41, not yet at 42; retry shortly",
            position=41,
            required=42,
        ),
    },
}
"""Per status, a few of its codes with a body each (the first is the one a UI shows)."""


def problem_examples(status: int) -> list[Example]:
    """The OpenAPI examples of a problem answer with ``status``."""
    return [Example(summary=code, value=body) for code, body in PROBLEM_EXAMPLES[status].items()]
