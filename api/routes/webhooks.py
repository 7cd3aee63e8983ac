"""``/v1/webhooks``: where alerts are delivered, and each webhook's delivery log (admin)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from api.dependencies import settings_of
from api.middleware.auth import ADMIN
from api.middleware.metrics import decision
from api.openapi import BEARER, POSITION_HEADERS, problems
from api.read_models import ReadModels
from api.rendering import render, respond
from api.routes.params import IdempotencyKey, PathId, Position
from api.schemas.webhooks import DeliveriesOut, WebhookIn, WebhookOut
from ledger.app.alerting import Alerting, DeleteWebhook, PutWebhook
from ledger.app.service import CreditLedger
from ledger.domain.validation import fail
from projections.alerts.http import refused_destination
from projections.alerts.outbox import delivery_log

__all__ = ["WEBHOOK_ROUTES", "WebhookController"]


class WebhookController(Controller):
    """Webhooks: signed, at-least-once deliveries of alerts (see docs/operations.md)."""

    path = "/v1/webhooks"
    tags = ["Alerts"]
    guards = [ADMIN]
    security = BEARER

    @put(
        "/{webhook_id:str}",
        operation_id="putWebhook",
        opt=decision(PutWebhook),
        response_headers=POSITION_HEADERS,
        summary="Create or change a webhook",
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses={
            201: ResponseSpec(data_container=WebhookOut, description="The webhook was created."),
            **problems(401, 403, 409, 422, 503),
        },
    )
    def put_webhook(
        self,
        state: State,
        ledger: NamedDependency[CreditLedger],
        webhook_id: PathId,
        data: JSONBody[WebhookIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[WebhookOut]:
        """Create a webhook (201; also when it had been deleted) or replace its definition
        (200; a disabled webhook is enabled again). Alerts of the listed ``events`` made from
        now on are POSTed to ``url``, signed with ``secret`` twice: ``Ledger-Signature:
        t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` and the Standard Webhooks headers
        ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (verify them with the
        key ``whsec_`` + base64 of the secret's UTF-8 bytes). The secret is never returned:
        the answer says ``secret_set``. A link-local ``url`` (169.254.0.0/16, fe80::/10: cloud
        metadata) is refused with 422 unless the server allows it
        (``LEDGER_WEBHOOK_ALLOW_LINK_LOCAL``).
        """
        refused = refused_destination(data.url, settings_of(state).webhook_egress())
        if refused is not None:
            raise fail("url", refused)
        outcome = Alerting(ledger).put_webhook(data.to_command(webhook_id, idempotency_key))
        created = bool(outcome.body.get("created"))
        return respond(outcome, WebhookOut, HTTP_201_CREATED if created else HTTP_200_OK)

    @get(
        "/{webhook_id:str}",
        operation_id="getWebhook",
        summary="Read a webhook",
        sync_to_thread=True,
        responses=problems(401, 403, 404, 422),
    )
    def get_webhook(self, ledger: NamedDependency[CreditLedger], webhook_id: PathId) -> WebhookOut:
        """A webhook's URL and alert types (never its secret) and ``status``: ``disabled``
        once its endpoint answered 410 Gone; 404 ``webhook_not_found`` when unknown or
        deleted."""
        return render(Alerting(ledger).webhook(webhook_id), WebhookOut)

    @delete(
        "/{webhook_id:str}",
        operation_id="deleteWebhook",
        opt=decision(DeleteWebhook),
        summary="Delete a webhook",
        status_code=HTTP_204_NO_CONTENT,
        sync_to_thread=True,
        responses=problems(401, 403, 404, 409, 422, 503),
    )
    def delete_webhook(
        self,
        ledger: NamedDependency[CreditLedger],
        webhook_id: PathId,
        idempotency_key: IdempotencyKey = None,
    ) -> None:
        """Stop deliveries to this webhook: queued ones are given up (``failed`` in its
        log). 404 ``webhook_not_found`` when unknown or already deleted."""
        Alerting(ledger).delete_webhook(
            DeleteWebhook(webhook_id=webhook_id, idempotency_key=idempotency_key)
        )

    @get(
        "/{webhook_id:str}/deliveries",
        operation_id="listWebhookDeliveries",
        summary="Read a webhook's delivery log",
        sync_to_thread=True,
        responses=problems(401, 403, 404, 422),
    )
    def list_deliveries(
        self,
        ledger: NamedDependency[CreditLedger],
        read_models: NamedDependency[ReadModels],
        webhook_id: PathId,
        after: Position = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> DeliveriesOut:
        """The delivery log, oldest first: one ``pending`` entry (attempt 0) when an alert
        is queued for this webhook, then one per attempt with its HTTP status or error and,
        while ``retrying``, when the next attempt is due (jittered exponential backoff, not
        before the receiver's ``Retry-After``). A 410 Gone answer is ``failed`` and disables
        the webhook. ``next_after`` continues the page.
        """
        Alerting(ledger).check_known(webhook_id)
        with read_models.views.read() as tx:
            page = delivery_log(tx, webhook_id, after, limit)
        return render(page, DeliveriesOut)


WEBHOOK_ROUTES = [WebhookController]
