"""Bodies of the operational and admin routes and of problems (for the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import UNSET, Meta, UnsetType

from api.schemas.fields import ResponseBody

__all__ = [
    "FieldProblemOut",
    "GrantStatus",
    "HoldStatus",
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


HoldStatus = Literal["open", "captured", "released", "expired"]
GrantStatus = Literal["pending", "active", "depleted", "expired", "voided"]


class ProblemOut(ResponseBody, omit_defaults=True):
    """An RFC 9457 problem. ``status`` is always the integer HTTP status; branch on ``code``.

    The optional members are present only for the codes that name them (never null, but
    ``period_end`` of a ``total`` budget and ``price_book_id`` when no book applies):
    ``errors`` (``validation_error``); ``available``, ``requested``
    (``insufficient_credits``); ``budget_id``, ``limit``, ``spent``, ``requested``,
    ``period_end`` (``budget_exceeded``); ``hold_status`` (``hold_not_open``);
    ``grant_status`` (``grant_not_voidable``); ``held``, ``requested``
    (``capture_exceeds_hold``); ``refundable``, ``requested`` (``refund_exceeds_debit``);
    ``model``, ``price_book_id`` (``unknown_model``); ``retry_after_seconds``
    (``rate_limited``); ``position``, ``required`` (``projection_lagging``).
    """

    type: str
    title: str
    status: Annotated[int, Meta(ge=100, le=599)]
    detail: str
    code: str
    errors: list[FieldProblemOut] | UnsetType = UNSET
    available: int | UnsetType = UNSET
    requested: int | UnsetType = UNSET
    budget_id: str | UnsetType = UNSET
    limit: int | UnsetType = UNSET
    spent: int | UnsetType = UNSET
    period_end: datetime | UnsetType | None = UNSET
    hold_status: HoldStatus | UnsetType = UNSET
    grant_status: GrantStatus | UnsetType = UNSET
    held: int | UnsetType = UNSET
    refundable: int | UnsetType = UNSET
    model: str | UnsetType = UNSET
    price_book_id: str | UnsetType | None = UNSET
    retry_after_seconds: int | UnsetType = UNSET
    position: int | UnsetType = UNSET
    required: int | UnsetType = UNSET


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
