"""``/v1/admin/projections``: the read models' status, and rebuilding one (admin only)."""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_202_ACCEPTED

from api.middleware.auth import ADMIN
from api.openapi import BEARER, problems
from api.read_models import ReadModels
from api.rendering import render
from api.routes.params import PathId
from api.schemas.operations import ProjectionsOut, RebuildAcceptedOut

__all__ = ["ADMIN_ROUTES", "ProjectionAdminController"]


class ProjectionAdminController(Controller):
    """Read models (journal, balances, usage, budget status): lag, status and rebuilds."""

    path = "/v1/admin/projections"
    tags = ["Operations"]
    guards = [ADMIN]
    security = BEARER

    @get(
        "/",
        operation_id="listProjections",
        summary="Read the projections' status",
        sync_to_thread=True,
        responses=problems(401, 403),
    )
    def list_projections(self, read_models: NamedDependency[ReadModels]) -> ProjectionsOut:
        """Each projection's live ``generation`` and ``position``, the log's ``head``, ``lag``
        in events and ``lag_seconds``, and ``status``: ``running`` (a worker's heartbeat is
        fresh), ``stopped`` or ``rebuilding`` (with the new generation's progress in
        ``rebuild``)."""
        return render({"projections": read_models.status()}, ProjectionsOut)

    @post(
        "/{name:str}/rebuild",
        operation_id="rebuildProjection",
        summary="Rebuild a projection",
        status_code=HTTP_202_ACCEPTED,
        sync_to_thread=False,
        responses=problems(401, 403, 404, 409, 503),
    )
    def rebuild(
        self, read_models: NamedDependency[ReadModels], name: PathId
    ) -> Response[RebuildAcceptedOut]:
        """Rebuild projection ``name`` from the whole log in the background, blue/green.

        The new generation is built beside the live one, which keeps answering reads, and
        takes over once it has caught up; the old one is then dropped. 404
        ``projection_not_found`` for an unknown name; 409 ``rebuild_in_progress`` while this
        server process is rebuilding it already. A rebuild cut short by a restart is resumed
        by the next one.
        """
        read_models.rebuild(name)
        body = RebuildAcceptedOut(name=name, status="rebuilding")
        return Response(body, status_code=HTTP_202_ACCEPTED)


ADMIN_ROUTES = [ProjectionAdminController]
