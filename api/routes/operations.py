"""``/healthz`` and ``/readyz``: liveness and readiness probes (no API key needed)."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency

from api.auth import PUBLIC
from api.errors import NotReady
from api.openapi import problem_spec
from api.schemas.operations import StatusOut
from ledger.service import CreditLedger

__all__ = ["OPERATIONS_ROUTES", "OperationsController"]


class OperationsController(Controller):
    """Probes for orchestrators and load balancers."""

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
    def ready(self, ledger: NamedDependency[CreditLedger]) -> StatusOut:
        """200 when the event store answers a cheap read, else 503 ``not_ready``."""
        try:
            ledger.recorder.max_notification_id()
        except Exception as exc:  # any failure of the store means "not ready", whatever it is
            raise NotReady("the event store does not answer") from exc
        return StatusOut(status="ready")


OPERATIONS_ROUTES = [OperationsController]
