"""The OpenAPI document: its metadata, the bearer scheme and the documented problem answers."""

from __future__ import annotations

from litestar.datastructures import ResponseHeader
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import Components, SecurityScheme

from api.errors import PROBLEM_MEDIA_TYPE
from api.openapi_ui import render_plugins
from api.problem_examples import problem_examples
from api.schemas.operations import ProblemOut
from api.version import VERSION

__all__ = ["BEARER", "POSITION_HEADERS", "openapi_config", "problem_spec", "problems"]

BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
"""``security`` of every route that needs an API key."""
POSITION_HEADERS = [
    ResponseHeader(
        name="Ledger-Position",
        documentation_only=True,
        description="The ledger position (notification id) of the last event this command "
        "recorded. Pass it as `min_position` to the journal, trial balance or usage to read "
        "your own write. Absent on an idempotent replay and when nothing was recorded.",
    )
]
"""``response_headers`` of every route that runs a ledger command (see api.rendering)."""


def openapi_config() -> OpenAPIConfig:
    """The document's metadata; served at ``/schema/openapi.json`` (fresh for every app)."""
    return OpenAPIConfig(
        title="Credit Ledger",
        version=VERSION,  # the package's (pyproject.toml), as `ledger --version`
        description=(
            "Event-sourced, double-entry credit ledger. Errors are RFC 9457 problems "
            "(application/problem+json) with a stable `code`."
        ),
        path="/schema",
        render_plugins=render_plugins(),  # pages whose scripts this service serves (offline)
        use_handler_docstrings=True,  # a handler's docstring is its operation's description
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(
                    type="http", scheme="bearer", description="An API key: lk_<key_id>_<secret>"
                )
            }
        ),
    )


_WHY = {
    400: "Malformed request that is not about a field (`bad_request`).",
    401: "Missing, unknown or revoked API key (`unauthenticated`).",
    402: "Refused: `insufficient_credits` or `budget_exceeded`; nothing was recorded.",
    403: "The API key lacks the scope (`forbidden`).",
    404: "Not found (`wallet_not_found`, `grant_not_found`, ...).",
    409: "Conflicts with what exists (`wallet_exists`, `idempotency_conflict`, ...).",
    413: "The body is larger than the server accepts (`payload_too_large`).",
    415: "The body is not sent as `application/json` (`unsupported_media_type`).",
    422: "Invalid request (`validation_error`, with `errors` naming each field).",
    429: "The API key sent more requests than its rate limit (`rate_limited`); retry after "
    "`Retry-After` seconds.",
    503: "The store is busy or does not answer, or (reads with `min_position`) the read "
    "models have not reached it yet (`projection_lagging`); retry after `Retry-After` seconds.",
}


def problem_spec(status: int) -> ResponseSpec:
    """The OpenAPI response of a problem answer with this status."""
    return ResponseSpec(
        data_container=ProblemOut,
        description=_WHY[status],
        media_type=PROBLEM_MEDIA_TYPE,
        # Real bodies, not the random text litestar would make up (status "LqpHU..." in a
        # member that is always the integer HTTP status).
        generate_examples=False,
        examples=problem_examples(status),
    )


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI ``responses`` for the problem answers of a route that takes parameters.

    400 is always listed: litestar documents one for every route with parameters, in its own
    error format, and this replaces it with the problem the API really answers. So is 429:
    every request with a key counts against its rate limit (api.middleware.rate_limit).
    """
    return {status: problem_spec(status) for status in sorted({400, 429, *statuses})}
