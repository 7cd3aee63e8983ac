"""Bodies of the operational routes and of problems (for the OpenAPI document)."""

from __future__ import annotations

from api.schemas.fields import ResponseBody

__all__ = ["FieldProblemOut", "ProblemOut", "StatusOut"]


class StatusOut(ResponseBody):
    """Liveness or readiness."""

    status: str


class FieldProblemOut(ResponseBody):
    """One invalid field of a ``validation_error``."""

    field: str
    message: str


class ProblemOut(ResponseBody, omit_defaults=True):
    """An RFC 9457 problem; errors add the members their ``code`` documents."""

    type: str
    title: str
    status: int | str
    """The HTTP status; for ``hold_not_open`` the hold's (``captured``, ``released``, ...)."""
    detail: str
    code: str
    errors: list[FieldProblemOut] | None = None
