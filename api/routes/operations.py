"""``/healthz``, ``/readyz`` and ``/metrics``: probes and Prometheus metrics.

The probes need no API key; ``/metrics`` needs none either unless ``LEDGER_METRICS_PUBLIC`` is
false (see :func:`api.middleware.auth.metrics_access`).
"""

from __future__ import annotations

from typing import Any, cast

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency

from api.errors import NotReady
from api.middleware.auth import PUBLIC, metrics_access
from api.middleware.metrics import EXPOSITION_MEDIA_TYPE, metrics_of
from api.openapi import problem_spec
from api.readiness import READINESS_KEY, Readiness
from api.schemas.operations import StatusOut
from ledger.app.service import CreditLedger

__all__ = ["OPERATIONS_ROUTES", "OperationsController"]


class OperationsController(Controller):
    """Probes for orchestrators and load balancers, and metrics for Prometheus."""

    path = "/"
    tags = ["Operations"]
    opt = {PUBLIC: True}

    @get("/healthz", operation_id="getHealth", summary="Liveness", sync_to_thread=False)
    def health(self) -> StatusOut:
        """200 while the process runs (it touches nothing else)."""
        return StatusOut(status="ok")

    @get(
        "/readyz",
        operation_id="getReadiness",
        summary="Readiness",
        sync_to_thread=True,
        responses={503: problem_spec(503)},
    )
    def ready(self, ledger: NamedDependency[CreditLedger], state: State) -> StatusOut:
        """200 when every event store (each shard) answers a cheap read, else 503 ``not_ready``
        naming every shard whose store (on whichever cluster) does not answer within 2 s."""
        failing = cast("Readiness", state[READINESS_KEY]).failing(ledger.shards)
        if failing:
            names = ", ".join(str(index) for index in failing)
            if len(failing) == 1:
                raise NotReady(f"event store of shard {names} does not answer")
            raise NotReady(f"event stores of shards {names} do not answer")
        return StatusOut(status="ready")

    @get(
        "/metrics",
        operation_id="getMetrics",
        summary="Prometheus metrics",
        guards=[metrics_access],
        media_type=EXPOSITION_MEDIA_TYPE,
        sync_to_thread=True,  # the projection gauges read the views
        responses={401: problem_spec(401), 403: problem_spec(403)},
    )
    def metrics(self, request: Request[Any, Any, Any]) -> Response[str]:
        """This process's metrics in the Prometheus text format.

        Requests by route template, method and status (count and latency histogram), ledger
        decisions by operation and outcome, contention retries by operation, and each
        projection's position and lag (events and seconds). Public by default; with
        ``LEDGER_METRICS_PUBLIC=false`` it takes an admin or auditor key.
        """
        body = metrics_of(request.app.state).exposition().decode()
        return Response(body, media_type=EXPOSITION_MEDIA_TYPE)


OPERATIONS_ROUTES = [OperationsController]
