"""Bodies of the operational and admin routes and of problems (for the OpenAPI document)."""

from __future__ import annotations

from api.schemas.fields import ResponseBody

__all__ = [
    "FieldProblemOut",
    "ProblemOut",
    "ProjectionOut",
    "ProjectionRebuildOut",
    "ProjectionsOut",
    "RebuildAcceptedOut",
    "StatusOut",
]


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


class ProjectionRebuildOut(ResponseBody):
    """The generation a running rebuild is building beside the live one, and its progress."""

    generation: int
    position: int
    lag: int


class ProjectionOut(ResponseBody):
    """One read model: where its live generation stands against the log's head.

    ``lag`` is ``head - position`` in events (0 exactly when caught up); ``lag_seconds`` is
    the age of the oldest event not applied yet. ``status`` is ``running`` (a worker's
    heartbeat is fresh), ``stopped`` or ``rebuilding``.
    """

    name: str
    generation: int | None
    position: int
    head: int
    lag: int
    lag_seconds: float
    status: str
    worker: str | None
    rebuild: ProjectionRebuildOut | None


class ProjectionsOut(ResponseBody):
    """Every read model the ledger keeps."""

    projections: list[ProjectionOut]


class RebuildAcceptedOut(ResponseBody):
    """A rebuild was started in the background; follow it in ``GET /v1/admin/projections``."""

    name: str
    status: str
